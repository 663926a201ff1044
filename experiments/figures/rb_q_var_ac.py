r"""Figure ``rb_q_var_ac`` (F-B1): q, Var(R~)/H^2 and ac(kappa) against the relative budget xi.

Exact closed forms for :math:`T\sim\mathrm{Gamma}(k,p)` (:mod:`solvers.time_to_solution`),
reward :math:`\tilde R=(H-T)^+` (undiscounted, not scaled); :math:`\xi=H/E[T]` is
scale-free, so :math:`H=1`. Regimes are shaded for the exponential case :math:`k=1` with
:func:`solvers.relative_budget.classify_regime` (:math:`q<0.1` deficient, :math:`q>0.9`
ample); the paper's empirical band :math:`\xi\in[1.5,2.0]` is marked. The claim
:math:`\mathrm{ac}(\kappa)\le q` is checked on every point.

``data.csv`` columns: ``kind, shape, kappa, xi, q, var_over_H2, ac, regime``; ``kind`` is
``curve`` or ``peak_var`` / ``peak_binary`` (the argmax of Var/H^2 and of q(1-q), the
idealised peaks, with only ``shape`` and ``xi`` filled).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize

from solvers.relative_budget import classify_regime
from solvers.time_to_solution import GammaTime
from theory.relative_budget import variance_peak

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "ClaimViolated", "rb_q_var_ac_data"]

HEADER = ("kind", "shape", "kappa", "xi", "q", "var_over_H2", "ac", "regime")
BAND = (1.5, 2.0)


class ClaimViolated(AssertionError):
    """A property the figure relies on failed on a computed point."""


def rb_q_var_ac_data(config: Mapping[str, Any]) -> list[tuple]:
    """Rows of data.csv for ``shapes``, ``kappa``, ``xi_min``, ``xi_max``, ``n_xi``."""
    rows: list[tuple] = []
    kappa = float(config["kappa"])
    xs = np.geomspace(float(config["xi_min"]), float(config["xi_max"]), int(config["n_xi"]))
    for k in config["shapes"]:
        k = float(k)
        for x in xs:
            g = GammaTime.from_mean(k, 1.0 / x)
            q, v, ac = g.q(1.0), g.reward_var(1.0), g.anti_conc(1.0, kappa)
            if ac > q + 1e-15:
                raise ClaimViolated(f"ac = {ac!r} > q = {q!r} at shape {k}, xi {x}")
            rows.append(("curve", k, kappa, float(x), q, v, ac, classify_regime(g, 1.0)))
        rows.append(("peak_var", k, None, variance_peak(k), None, None, None, None))
        xb = optimize.minimize_scalar(
            lambda x, k=k: -GammaTime.from_mean(k, 1 / x).q(1.0)
            * (1 - GammaTime.from_mean(k, 1 / x).q(1.0)),
            bounds=(0.05, 5.0), method="bounded", options={"xatol": 1e-7}).x
        rows.append(("peak_binary", k, None, float(xb), None, None, None, None))
    return rows


def shade_regimes(ax: Any, xs: np.ndarray) -> None:
    """Shade the deficient / ample ranges of Gamma(1) (q < 0.1, q > 0.9) and mark the band."""
    reg = [classify_regime(GammaTime.from_mean(1.0, 1.0 / x), 1.0) for x in xs]
    for name, color in (("deficient", "0.85"), ("ample", "0.92")):
        sel = xs[[r == name for r in reg]]
        if sel.size:
            ax.axvspan(sel.min(), sel.max(), color=color, zorder=0, linewidth=0)
    ax.axvspan(*BAND, color=OKABE_ITO[4], alpha=0.25, zorder=0, linewidth=0)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv."""
    rows = rb_q_var_ac_data(config)
    xs = np.geomspace(float(config["xi_min"]), float(config["xi_max"]), int(config["n_xi"]))
    with paper_style():
        fig, axes = new_figure(figsize=(6.8, 2.3), ncols=3)
        for col, ax in enumerate(axes):
            shade_regimes(ax, xs)
            for i, k in enumerate(config["shapes"]):
                pts = [r for r in rows if r[0] == "curve" and r[1] == float(k)]
                ax.plot([r[3] for r in pts], [r[4 + col] for r in pts],
                        color=OKABE_ITO[i % len(OKABE_ITO)], label=f"k={k:g}")
            ax.set_xscale("log")
            ax.set_xlabel(r"$\xi=H/E[T]$")
        axes[0].set_ylabel(r"$q=\Pr[T\leq H]$")
        axes[1].set_ylabel(r"$\mathrm{Var}(\tilde R)/H^2$")
        axes[2].set_ylabel(rf"$\mathrm{{ac}}(\kappa={float(config['kappa']):g})$")
        axes[0].legend(loc="upper left")
        fig.tight_layout(pad=0.3)
        paths = save_figure(fig, out_dir)
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="rb_q_var_ac",
    caption=(r"F-B1 (arXiv 2602.01523): success probability $q$, reward variance per unit "
             r"budget $\mathrm{Var}(\tilde R)/H^2$ and anti-concentration $\mathrm{ac}(\kappa)$ "
             r"against $\xi=H/E[T]$ for $T\sim\mathrm{Gamma}(k,p)$, $\tilde R=(H-T)^+$. All "
             r"curves are exact closed forms (idealised model: one Gamma law per prompt). "
             r"Grey: deficient ($q<0.1$) and ample ($q>0.9$) ranges for $k=1$; orange: the "
             r"paper's empirical band $\xi\in[1.5,2.0]$. The idealised peaks are in data.csv."),
    config={"shapes": [1, 2, 4, 8], "kappa": 0.25, "xi_min": 0.02, "xi_max": 20.0,
            "n_xi": 300},
    quick_config={"shapes": [1, 2, 4, 8], "kappa": 0.25, "xi_min": 0.02, "xi_max": 20.0,
                  "n_xi": 60},
    run=run,
))
