r"""Figure ``bnpo_variance_surface``: BNPO's advantage variance over the Beta parameters.

For success rates :math:`p\sim\mathrm{Beta}(\alpha_0,\beta_0)` and binary rewards, the
variance of the BNPO advantage :math:`(R-p)/f_N(p;\alpha,\beta)` is
:math:`B(\alpha,\beta)^2B(\alpha_0+3-2\alpha,\beta_0+3-2\beta)/B(\alpha_0,\beta_0)`
(:func:`solvers.bnpo.advantage_variance`). Each panel (one prior) shows
:math:`\log_{10}` of it on a grid over the finite-variance region, with REINFORCE
:math:`(1,1)`, GRPO :math:`(3/2,3/2)` and the optimum :math:`(1+\alpha_0/3,1+\beta_0/3)`
marked. While the data are computed, the optimum's variance is checked to be no larger
than every grid value (:class:`OptimumNotMinimal` otherwise).

``data.csv`` columns: ``alpha0, beta0, alpha, beta, variance`` (``variance`` empty
outside the finite region).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers.bnpo import advantage_variance, optimal_beta_parameters, variance_domain
from solvers.tolerances import EPS

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "OptimumNotMinimal", "variance_surface_data"]

CSV_HEADER = ("alpha0", "beta0", "alpha", "beta", "variance")


class OptimumNotMinimal(AssertionError):
    """A grid point has a smaller variance than the claimed optimum."""


def variance_surface_data(config: Mapping[str, Any]) -> list[tuple]:
    """Rows ``(alpha0, beta0, alpha, beta, variance or None)`` for every prior in the config.

    Parameters
    ----------
    config : mapping
        ``priors`` (list of [alpha0, beta0]), ``grid`` (points per axis), ``lo`` (smallest
        alpha and beta on the grid) and ``seed`` (unused: the figure is deterministic).

    Raises
    ------
    OptimumNotMinimal
        If a grid value is below the optimum's by more than 64 EPS relative (the
        rounding of ``exp`` of a sum of four ``betaln`` terms).
    """
    rows: list[tuple] = []
    n, lo = int(config["grid"]), float(config["lo"])
    for a0, b0 in config["priors"]:
        a0, b0 = float(a0), float(b0)
        a_max, b_max = variance_domain(a0, b0)
        v_star = advantage_variance(*optimal_beta_parameters(a0, b0), a0, b0)
        for a in np.linspace(lo, a_max, n + 1)[:-1]:  # the limit itself has infinite variance
            for b in np.linspace(lo, b_max, n + 1)[:-1]:
                v = advantage_variance(float(a), float(b), a0, b0)
                if v < v_star * (1 - 64 * EPS):
                    raise OptimumNotMinimal(f"prior ({a0}, {b0}): Var at ({a}, {b}) = {v!r} "
                                            f"< Var at the optimum = {v_star!r}")
                rows.append((a0, b0, float(a), float(b), v if np.isfinite(v) else None))
    return rows


def _plot(rows: list[tuple], config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    priors = [tuple(map(float, pr)) for pr in config["priors"]]
    n = int(config["grid"])
    with paper_style():
        fig, axes = new_figure(figsize=(3.4 * len(priors), 2.9), ncols=len(priors))
        axes = np.atleast_1d(axes)
        for ax, (a0, b0) in zip(axes, priors, strict=True):
            sel = [r for r in rows if r[0] == a0 and r[1] == b0]
            A = np.array([r[2] for r in sel]).reshape(n, n)
            B = np.array([r[3] for r in sel]).reshape(n, n)
            V = np.array([np.nan if r[4] is None else r[4] for r in sel]).reshape(n, n)
            cs = ax.contourf(A, B, np.log10(V), levels=20, cmap="viridis")
            fig.colorbar(cs, ax=ax, label=r"$\log_{10}\operatorname{Var}[A_{\alpha,\beta}]$")
            sa, sb = optimal_beta_parameters(a0, b0)
            ax.plot([1.0], [1.0], "s", color=OKABE_ITO[1], label="REINFORCE (1, 1)")
            ax.plot([1.5], [1.5], "^", color=OKABE_ITO[3], label="GRPO (3/2, 3/2)")
            ax.plot([sa], [sb], "*", color="white", markeredgecolor="black", markersize=9,
                    label=r"optimum $(1+\alpha_0/3,1+\beta_0/3)$")
            ax.set_xlabel(r"$\alpha$")
            ax.set_ylabel(r"$\beta$")
            ax.set_title(rf"$p\sim\mathrm{{Beta}}({a0:g},{b0:g})$")
            ax.grid(False)
        axes[0].legend(loc="lower right", fontsize=5.5, frameon=True)
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = variance_surface_data(config)
    paths = _plot(rows, config, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="bnpo_variance_surface",
    caption=(r"BNPO: $\log_{10}$ of the variance of the Beta-normalised advantage "
             r"$(R-p)/f_N(p;\alpha,\beta)$ when $p\sim\mathrm{Beta}(\alpha_0,\beta_0)$, over the "
             r"finite-variance region $\alpha<(\alpha_0+3)/2$, $\beta<(\beta_0+3)/2$. Markers: "
             r"REINFORCE $(1,1)$, GRPO $(3/2,3/2)$ and the optimum $(1+\alpha_0/3,1+\beta_0/3)$, "
             r"checked to be no larger than every grid value."),
    config={"priors": [[0.5, 0.5], [1.5, 1.5], [2.0, 6.0]], "grid": 120, "lo": 0.2},
    quick_config={"priors": [[0.5, 0.5], [2.0, 6.0]], "grid": 40, "lo": 0.2},
    run=run,
))
