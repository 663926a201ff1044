r"""Figure ``vi_error``: value-iteration error against iteration, with two bounds.

On one seeded random MDP (:func:`solvers.random_mdp`), for several discounts
:math:`\gamma`, value iteration :math:`V_k=TV_{k-1}` from :math:`V_0=0` is
compared with :math:`V^\star` from policy iteration (its status is read
first). Plotted on a log scale against :math:`k`:

- the true error :math:`\|V_k-V^\star\|_\infty`;
- the a-priori bound :math:`\gamma^k\|V_0-V^\star\|_\infty` (Banach contraction;
  Puterman 1994, Thm 6.2.3);
- the certified a-posteriori bound :math:`\varepsilon_k\gamma/(1-\gamma)` with
  :math:`\varepsilon_k=\|V_k-V_{k-1}\|_\infty` (Puterman 1994, Thm 6.3.1),
  which is what :func:`solvers.value_iteration` stops on.

Both bounds are asserted to lie above the error at every :math:`k` while the
data are computed (a theorem check in figure form; :class:`BoundViolated` is
raised otherwise), up to the certified error of :math:`V^\star` and float
rounding. Values are :math:`E[\sum_t\gamma^tr_t]` (not scaled by
:math:`1-\gamma`). Each curve stops once the certified bound falls below
``rel_floor`` times :math:`\max(1,\|V^\star\|_\infty)`, where rounding would
dominate.

``data.csv`` columns: ``gamma, k, error, apriori_bound, certified_bound``
(``certified_bound`` is empty at :math:`k=0`, where :math:`\varepsilon_0` is undefined).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.lines import Line2D

from solvers import bellman_q, policy_iteration, random_mdp
from solvers.tolerances import EPS

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "BoundViolated", "vi_error_data"]

CSV_HEADER = ("gamma", "k", "error", "apriori_bound", "certified_bound")


class BoundViolated(AssertionError):
    """A bound the figure illustrates fell below the error it bounds."""


def vi_error_data(config: Mapping[str, Any]) -> list[tuple[float, int, float, float, float | None]]:
    r"""Rows ``(gamma, k, error, apriori_bound, certified_bound)`` for every gamma in the config.

    Parameters
    ----------
    config : mapping
        ``S``, ``A`` (model size), ``gammas`` (list of discounts), ``max_iter``,
        ``rel_floor`` (stop below this relative certified error) and ``seed``.

    Raises
    ------
    RuntimeError
        If policy iteration does not certify :math:`V^\star`.
    BoundViolated
        If either bound is below the error beyond the tolerance
        :math:`e^\star(1+\gamma^k)+4(S+1)\,\epsilon\,v_{\max}/(1-\gamma)`, where
        :math:`e^\star` is the certified error of :math:`V^\star` and the second
        term bounds the accumulated float rounding of the iterates (each step
        rounds by at most :math:`(S+1)\epsilon v_{\max}`, damped by the contraction).
    """
    rows: list[tuple[float, int, float, float, float | None]] = []
    for gamma in config["gammas"]:
        gamma = float(gamma)
        mdp = random_mdp(int(config["seed"]), int(config["S"]), int(config["A"]), gamma=gamma)
        opt = policy_iteration(mdp)
        if opt.status != "optimal":
            raise RuntimeError(f"vi_error: policy iteration did not certify V* for gamma = "
                               f"{gamma}: {opt.message}")
        vstar, e_star = opt.v, opt.value_error_bound
        vmax = max(1.0, float(np.max(np.abs(vstar))), float(np.max(np.abs(mdp.r))))
        rounding = 4.0 * (mdp.S + 1) * EPS * vmax / (1.0 - gamma)
        floor = float(config["rel_floor"]) * vmax
        v = np.zeros(mdp.S)
        err0 = float(np.max(np.abs(v - vstar)))
        rows.append((gamma, 0, err0, err0, None))
        for k in range(1, int(config["max_iter"]) + 1):
            v_new = bellman_q(mdp, v).max(axis=1)
            eps = float(np.max(np.abs(v_new - v)))
            v = v_new
            err = float(np.max(np.abs(v - vstar)))
            apriori = gamma**k * err0
            certified = eps * gamma / (1.0 - gamma)
            tol = e_star * (1.0 + gamma**k) + rounding
            for name, bound in (("a-priori", apriori), ("certified", certified)):
                if err > bound + tol:
                    raise BoundViolated(
                        f"vi_error: gamma = {gamma}, k = {k}: error {err!r} exceeds the "
                        f"{name} bound {bound!r} by more than tol = {tol!r}")
            rows.append((gamma, k, err, apriori, certified))
            if certified <= floor or eps == 0.0:
                break
    return rows


def _plot(rows: list[tuple[float, int, float, float, float | None]],
          config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Left: error and bounds against k(1-gamma); right: bound / error (tightness)."""
    gammas = [float(g) for g in config["gammas"]]
    with paper_style():
        fig, (ax, ax_ratio) = new_figure(figsize=(6.8, 2.6), ncols=2)
        for i, gamma in enumerate(gammas):
            color = OKABE_ITO[i % len(OKABE_ITO)]
            g_rows = [r for r in rows if r[0] == gamma and r[1] >= 1 and r[2] > 0]
            x = np.array([r[1] for r in g_rows], dtype=float) * (1.0 - gamma)
            err = np.array([r[2] for r in g_rows])
            apriori = np.array([r[3] for r in g_rows])
            certified = np.array([r[4] for r in g_rows])
            ax.plot(x, err, color=color, linestyle="-")
            ax.plot(x, apriori, color=color, linestyle="--", linewidth=0.9)
            ax.plot(x, certified, color=color, linestyle=":", linewidth=1.1)
            ax_ratio.plot(x, apriori / err, color=color, linestyle="--", linewidth=0.9)
            ax_ratio.plot(x, certified / err, color=color, linestyle=":", linewidth=1.1)
        ax.set_yscale("log")
        ax.set_xlabel(r"$k\,(1-\gamma)$  (iterations in units of $1/(1-\gamma)$)")
        ax.set_ylabel(r"error / bound (reward units)")
        ax_ratio.set_xscale("log")
        ax_ratio.axhline(1.0, color="0.3", linewidth=0.6)
        ax_ratio.set_xlabel(r"$k\,(1-\gamma)$ (log scale)")
        ax_ratio.set_ylabel(r"bound / $\|V_k-V^\star\|_\infty$  ($\geq 1$)")
        handles = [Line2D([], [], color=OKABE_ITO[i % len(OKABE_ITO)], label=rf"$\gamma={g:g}$")
                   for i, g in enumerate(gammas)]
        handles += [
            Line2D([], [], color="0.2", linestyle="-", label=r"$\|V_k-V^\star\|_\infty$"),
            Line2D([], [], color="0.2", linestyle="--",
                   label=r"$\gamma^k\|V_0-V^\star\|_\infty$"),
            Line2D([], [], color="0.2", linestyle=":",
                   label=r"$\gamma\,\varepsilon_k/(1-\gamma)$"),
        ]
        ax.legend(handles=handles, loc="upper right", ncol=2, handlelength=2.2,
                  columnspacing=1.0)
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = vi_error_data(config)
    paths = _plot(rows, config, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="vi_error",
    caption=(r"Value iteration on a seeded random MDP: the error $\|V_k-V^\star\|_\infty$ "
             r"(solid) for several discounts $\gamma$, the a-priori bound "
             r"$\gamma^k\|V_0-V^\star\|_\infty$ (dashed) and the certified a-posteriori bound "
             r"$\gamma\varepsilon_k/(1-\gamma)$ with $\varepsilon_k=\|V_k-V_{k-1}\|_\infty$ "
             r"(dotted), which value iteration stops on, against $k(1-\gamma)$; right: each bound "
             r"divided by the error (1 = tight). $V^\star$ from policy iteration; both bounds "
             r"are checked to lie above the error at every $k$."),
    config={"S": 50, "A": 4, "gammas": [0.5, 0.9, 0.99], "max_iter": 5000, "rel_floor": 1e-10},
    quick_config={"S": 10, "A": 3, "gammas": [0.5, 0.9, 0.99], "max_iter": 2000,
                  "rel_floor": 1e-6},
    run=run,
))
