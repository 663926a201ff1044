r"""Figure ``rb_sample_size`` (F-B2): Theorem 6.2's n_i against xi, with fitted regime slopes.

:math:`n_i=2CH\log(|\mathcal R|/\delta)/(\sqrt\kappa\,\mathrm{ac}(\kappa)\sigma_R)` with
:math:`C=\log(|\mathcal R|/\delta)=1` and exact :math:`\sigma_R`, :math:`\mathrm{ac}` for
:math:`T\sim\mathrm{Gamma}(k,p)` (:func:`solvers.relative_budget.sample_size`). Least-squares
log-log slopes are fitted on the deficient decade ``deficient_xi`` and the ample decade
``ample_xi`` and printed next to Theorem 6.3's exponents (:math:`-3k/2` and :math:`+1`); the
balanced-range slope (on ``balanced_xi``) is reported too (the theorem says only
:math:`n_i=\tilde\Omega(\kappa^{-1/2})` there).

``data.csv`` columns: ``kind, shape, xi, n, regime, fitted_slope, predicted_slope``
(``kind`` = ``curve`` or ``slope``; a slope row has ``regime`` and both slopes).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers.relative_budget import log_slope, regime_exponent, sample_size
from solvers.time_to_solution import GammaTime

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "rb_sample_size_data"]

HEADER = ("kind", "shape", "xi", "n", "regime", "fitted_slope", "predicted_slope")


def _n(k: float, x: float, kappa: float) -> float:
    return sample_size(GammaTime.from_mean(k, 1.0 / x), 1.0, kappa).n


def rb_sample_size_data(config: Mapping[str, Any]) -> list[tuple]:
    """Curve rows on a log grid of xi and one slope row per shape and regime."""
    kappa = float(config["kappa"])
    rows: list[tuple] = []
    xs = np.geomspace(float(config["xi_min"]), float(config["xi_max"]), int(config["n_xi"]))
    for k in map(float, config["shapes"]):
        rows += [("curve", k, float(x), _n(k, x, kappa), None, None, None) for x in xs]
        for regime in ("deficient", "balanced", "ample"):
            fx = np.geomspace(*map(float, config[f"{regime}_xi"]), 5)
            slope = log_slope(fx, [_n(k, x, kappa) for x in fx])
            rows.append(("slope", k, None, None, regime, slope, regime_exponent(regime, k)))
    return rows


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute and plot; writes figure.png, figure.pdf and data.csv."""
    rows = rb_sample_size_data(config)
    with paper_style():
        fig, ax = new_figure(figsize=(3.6, 2.8))
        for i, k in enumerate(map(float, config["shapes"])):
            pts = [r for r in rows if r[0] == "curve" and r[1] == k and np.isfinite(r[3])]
            sl = {r[4]: r[5] for r in rows if r[0] == "slope" and r[1] == k}
            ax.plot([r[2] for r in pts], [r[3] for r in pts], color=OKABE_ITO[i],
                    label=(f"k={k:g}: slopes {sl['deficient']:.2f} / {sl['balanced']:.2f} / "
                           f"{sl['ample']:.2f}"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axvspan(1.5, 2.0, color=OKABE_ITO[4], alpha=0.25, linewidth=0)
        ax.set_xlabel(r"$\xi=H/E[T]$")
        ax.set_ylabel(rf"$n_i$ (Thm 6.2, $\kappa={float(config['kappa']):g}$)")
        ax.legend(loc="upper center", title="fitted: deficient / balanced / ample",
                  title_fontsize=6)
        fig.tight_layout(pad=0.3)
        paths = save_figure(fig, out_dir)
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="rb_sample_size",
    caption=(r"F-B2: Theorem 6.2's per-iteration sample size $n_i\propto H/(\sqrt\kappa\,"
             r"\mathrm{ac}(\kappa)\sigma_R)$ (constants set to 1) against $\xi$ for "
             r"$T\sim\mathrm{Gamma}(k,p)$, exact $\sigma_R$ and $\mathrm{ac}$ (idealised "
             r"one-law model). Legend: least-squares log-log slopes on the deficient, balanced "
             r"and ample decades; Theorem 6.3 predicts $-3k/2$, $0$ (order only) and $+1$. "
             r"Orange: the paper's empirical band $[1.5,2.0]$."),
    config={"shapes": [1, 2, 4, 8], "kappa": 0.25, "xi_min": 1e-2, "xi_max": 1e3,
            "n_xi": 200, "deficient_xi": [1e-4, 1e-3], "balanced_xi": [0.5, 2.0],
            "ample_xi": [20.0, 200.0]},
    quick_config={"shapes": [1, 2, 4, 8], "kappa": 0.25, "xi_min": 1e-2, "xi_max": 1e3,
                  "n_xi": 50, "deficient_xi": [1e-4, 1e-3], "balanced_xi": [0.5, 2.0],
                  "ample_xi": [20.0, 200.0]},
    run=run,
))
