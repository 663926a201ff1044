r"""Figure ``rb_efficiency`` (F-B4): improvement per token against xi, with its idealised peak.

Efficiency :math:`=\tfrac12\sqrt\kappa\,\sigma_R/(n_iH)` with Theorem 6.2's :math:`n_i`
(constants 1), which equals :math:`\kappa\,\mathrm{ac}(\kappa)\operatorname{Var}(\tilde R)
/(4H^2)`: the "variance per unit budget" weighted by anti-concentration (notes §2.4 table,
last column). Exact for :math:`T\sim\mathrm{Gamma}(k,p)`; each curve is shown divided by
its maximum. The peak (golden-section refinement of the grid argmax) is written to
``data.csv`` and compared with the paper's empirical band :math:`[1.5,2.0]`.

``data.csv`` columns: ``kind, shape, kappa, xi, efficiency, normalised`` (``kind`` =
``curve`` or ``peak``; a peak row has ``xi`` = the argmax and ``efficiency`` = the max).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize

from solvers.relative_budget import sample_size
from solvers.time_to_solution import GammaTime

from . import Figure, register_figure
from .rb_q_var_ac import BAND
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "efficiency", "efficiency_peak", "rb_efficiency_data"]

HEADER = ("kind", "shape", "kappa", "xi", "efficiency", "normalised")


def efficiency(shape: float, xi: float, kappa: float) -> float:
    r"""Improvement per sampled token :math:`\tfrac12\sqrt\kappa\sigma_R/(n_iH)` at H = 1."""
    return sample_size(GammaTime.from_mean(shape, 1.0 / xi), 1.0, kappa).efficiency


def efficiency_peak(shape: float, kappa: float) -> tuple[float, float]:
    """(argmax xi, max efficiency): grid on [0.2, 5], then bounded Brent to xatol 1e-7."""
    grid = np.linspace(0.2, 5.0, 97)
    i = int(np.argmax([efficiency(shape, x, kappa) for x in grid]))
    res = optimize.minimize_scalar(lambda x: -efficiency(shape, x, kappa),
                                   bounds=(grid[max(i - 1, 0)], grid[min(i + 1, 96)]),
                                   method="bounded", options={"xatol": 1e-7})
    return float(res.x), float(-res.fun)


def rb_efficiency_data(config: Mapping[str, Any]) -> list[tuple]:
    """Curve rows and one peak row per (shape, kappa)."""
    rows: list[tuple] = []
    xs = np.geomspace(float(config["xi_min"]), float(config["xi_max"]), int(config["n_xi"]))
    for kappa in map(float, config["kappas"]):
        for k in map(float, config["shapes"]):
            x_pk, e_pk = efficiency_peak(k, kappa)
            rows += [("curve", k, kappa, float(x), efficiency(k, x, kappa),
                      efficiency(k, x, kappa) / e_pk) for x in xs]
            rows.append(("peak", k, kappa, x_pk, e_pk, 1.0))
    return rows


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute and plot; writes figure.png, figure.pdf and data.csv."""
    rows = rb_efficiency_data(config)
    with paper_style():
        fig, axes = new_figure(figsize=(6.8, 2.5), ncols=len(config["kappas"]))
        axes = np.atleast_1d(axes)
        for ax, kappa in zip(axes, map(float, config["kappas"]), strict=True):
            ax.axvspan(*BAND, color=OKABE_ITO[4], alpha=0.25, linewidth=0)
            for j, k in enumerate(map(float, config["shapes"])):
                pts = [r for r in rows if r[0] == "curve" and r[1] == k and r[2] == kappa]
                pk = next(r for r in rows if r[0] == "peak" and r[1] == k and r[2] == kappa)
                ax.plot([r[3] for r in pts], [r[5] for r in pts], color=OKABE_ITO[j],
                        label=rf"k={k:g}: peak $\xi$={pk[3]:.2f}")
                ax.axvline(pk[3], color=OKABE_ITO[j], linewidth=0.5, linestyle=":")
            ax.set_xscale("log")
            ax.set_xlabel(r"$\xi=H/E[T]$")
            ax.set_title(rf"$\kappa={kappa:g}$")
            ax.legend(loc="lower center")
        axes[0].set_ylabel("improvement per token / max")
        fig.tight_layout(pad=0.3)
        paths = save_figure(fig, out_dir)
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="rb_efficiency",
    caption=(r"F-B4: learning efficiency (guaranteed improvement per sampled token, "
             r"$\frac12\sqrt\kappa\sigma_R/(n_iH)\propto\kappa\,\mathrm{ac}(\kappa)"
             r"\mathrm{Var}(\tilde R)/H^2$) against $\xi$ for $T\sim\mathrm{Gamma}(k,p)$, each "
             r"curve divided by its maximum. Exact for the idealised one-law model; the peaks "
             r"(dotted, in data.csv) lie at $\xi\approx1.0$-$1.5$, a little below the paper's "
             r"empirical band $[1.5,2.0]$ (orange)."),
    config={"shapes": [1, 2, 4, 8], "kappas": [1.0, 0.25], "xi_min": 0.05, "xi_max": 20.0,
            "n_xi": 300},
    quick_config={"shapes": [1, 2, 4, 8], "kappas": [1.0, 0.25], "xi_min": 0.05,
                  "xi_max": 20.0, "n_xi": 60},
    run=run,
))
