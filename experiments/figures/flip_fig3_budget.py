r"""Figure ``flip_fig3_budget``: :math:`V^\star(b)` against the budget for four kinds of policy.

Tabular analogue of Fig. 3 of the flipping paper (Shen et al., NeurIPS 2024,
arXiv 2410.06474); cmdp_ccmdp notes §2.3, §3.7, §3.9-B. On a seeded random
discounted CMDP with one constraint, for budgets b from the cheapest
deterministic cost to the cost of the reward-maximal deterministic policy:

- :math:`J_{det}(b)=\max\{V_r(\pi):\pi\text{ deterministic},V_c(\pi)\le b\}` by
  enumeration of the :math:`A^S` policies (each its own linear solve);
- the LP optimum :math:`V^\star(b)` (``solve_cmdp``, status read first), asserted
  equal to the least concave majorant of the deterministic (cost, value) points
  at b (:func:`upper_hull` of the enumerated points; the same pair as
  :func:`solvers.flipping.envelope_pair`, tested);
- per-step flipping (Algorithm 2 as written) between the envelope pair
  :math:`\pi_1,\pi_2` with the LP *episode* weight :math:`\nu`, evaluated exactly
  (:func:`solvers.per_step_flip`); budgets it breaks are marked;
- per-step flipping with the recalibrated probability :math:`p^\star`
  (:func:`solvers.recalibrate_flip`), asserted to meet the budget, to be at most
  :math:`V^\star(b)`, and to equal it when the pair differs in one state
  (Feinberg & Rothblum 2012).

Values are :math:`E[\sum_t\gamma^tr_t]` (not scaled by :math:`1-\gamma`).
Tolerances: the LP side carries ``10 * LP_FEASIBILITY_TOL`` of the value scale
(HiGHS's scaled tolerance after unscaling); each exact evaluation carries
:func:`solvers.tolerances.linear_solve_tol`; the recalibrated cost carries the
root finder's bracket width times :func:`solvers.flipping.flip_lipschitz`, and
its value that miss times the slope of the segment.

``data.csv`` columns: ``b, j_det, lp_value, envelope_value, nu, flip_nu_value,
flip_nu_cost, flip_nu_violates, p_recal, recal_value, recal_cost, states_differing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers import (
    deterministic_policy,
    flip_lp,
    per_step_flip,
    random_mdp,
    recalibrate_flip,
    solve_cmdp,
)
from solvers.enumeration import deterministic_policy_values
from solvers.flipping import FLIP_RTOL, FLIP_XTOL, flip_lipschitz
from solvers.tolerances import LP_FEASIBILITY_TOL, linear_solve_tol

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "BoundViolated", "budget_curves", "upper_hull"]

CSV_HEADER = ("b", "j_det", "lp_value", "envelope_value", "nu", "flip_nu_value", "flip_nu_cost",
              "flip_nu_violates", "p_recal", "recal_value", "recal_cost", "states_differing")


class BoundViolated(AssertionError):
    """An identity or bound the figure illustrates failed beyond its tolerance."""


def budget_curves(config: Mapping[str, Any]) -> tuple[list[tuple], np.ndarray]:
    r"""Rows of ``data.csv`` (one per budget) and the deterministic points (n, 2) = (V_r, V_c).

    Parameters
    ----------
    config : mapping
        ``S``, ``A``, ``gamma`` (model), ``n_budgets``, ``seed``.

    Raises
    ------
    RuntimeError
        A solver status other than "optimal" where the budget is feasible.
    BoundViolated
        LP != concave majorant, recalibrated cost != b, recalibrated value > LP,
        or recalibrated value != LP for a pair differing in one state.
    """
    mdp = random_mdp(int(config["seed"]), int(config["S"]), int(config["A"]), 1,
                     gamma=float(config["gamma"]))
    acts, pts = deterministic_policy_values(mdp)
    V, C = pts[:, 0], pts[:, 1]
    c_best = float(C[V == V.max()].min())  # beyond this budget V*(b) is flat
    budgets = np.linspace(float(C.min()), c_best, int(config["n_budgets"]))
    value_scale = max(1.0, float(np.abs(mdp.r).max()), float(np.abs(mdp.costs).max())) / (
        1.0 - mdp.gamma)
    solve_tol = linear_solve_tol(mdp.S, value_scale * (1.0 - mdp.gamma), mdp.gamma)
    lp_tol = 10 * LP_FEASIBILITY_TOL * value_scale + 2 * solve_tol
    budget_tol = 3 * solve_tol + 2 * flip_lipschitz(mdp) * (FLIP_XTOL + FLIP_RTOL)
    hull = upper_hull(pts)
    rows = []
    for b in (float(x) for x in budgets):
        j_det = float(V[C <= b].max())
        i, j, nu, env = _hull_pair(hull, pts, b)
        res = solve_cmdp(mdp, [b], method="lp")
        if res.status != "optimal":
            raise RuntimeError(f"flip_fig3_budget: solve_cmdp at b = {b!r} returned "
                               f"{res.status}: {res.message}")
        if abs(res.value - env) > lp_tol:
            raise BoundViolated(f"flip_fig3_budget: b = {b!r}: LP value {res.value!r} != concave "
                                f"majorant {env!r} (tol {lp_tol!r})")
        pi1, pi2 = deterministic_policy(acts[i], mdp.A), deterministic_policy(acts[j], mdp.A)
        n_diff = int(np.sum(acts[i] != acts[j]))
        flip = per_step_flip(mdp, pi1, pi2, nu)
        flip_cost = float(flip.cost_values[0])
        recal = recalibrate_flip(mdp, pi1, pi2, b)
        if recal.status != "optimal":
            raise RuntimeError(f"flip_fig3_budget: recalibrate_flip at b = {b!r} returned "
                               f"{recal.status}: {recal.message}")
        check = per_step_flip(mdp, pi1, pi2, recal.p)  # re-evaluated apart from the root finder
        rc, rv = float(check.cost_values[0]), float(check.value)
        dC = C[i] - C[j]
        slope = abs((V[i] - V[j]) / dC) if dC != 0 else 0.0
        if abs(rc - b) > budget_tol:
            raise BoundViolated(f"flip_fig3_budget: b = {b!r}: recalibrated cost {rc!r} misses "
                                f"the budget by more than {budget_tol!r}")
        value_tol = lp_tol + slope * budget_tol
        if rv > res.value + value_tol or (n_diff == 1 and abs(rv - res.value) > value_tol):
            raise BoundViolated(f"flip_fig3_budget: b = {b!r}: recalibrated value {rv!r} vs LP "
                                f"{res.value!r} (pair differs in {n_diff} states, tol "
                                f"{value_tol!r})")
        violates = int(flip_cost > b + 2 * solve_tol)
        rows.append((b, j_det, float(res.value), env, nu, float(flip.value), flip_cost, violates,
                     float(recal.p), rv, rc, n_diff))
    return rows, pts


def upper_hull(points: np.ndarray) -> np.ndarray:
    r"""Indices of the upper concave hull of the (cost, value) points, by increasing cost.

    ``points`` rows are :math:`(V_r, V_c)`; a thin wrapper of
    :func:`solvers.flip_lp.upper_hull` (Andrew's monotone chain, O(n log n)), whose
    piecewise-linear interpolation is the least concave majorant of :math:`J_{det}`
    (notes §2.3).
    """
    return flip_lp.upper_hull(points[:, 1], points[:, 0])


def _hull_pair(hull: np.ndarray, points: np.ndarray, b: float) -> tuple[int, int, float, float]:
    """As :func:`solvers.flipping.envelope_pair`: (low-cost i, high-cost j, weight of i, value),
    reusing ``hull`` across budgets (:func:`solvers.flip_lp.hull_pair`)."""
    return flip_lp.hull_pair(points[:, 1], points[:, 0], b, hull)


def _plot(rows: list[tuple], pts: np.ndarray, out_dir: Path) -> dict[str, Path]:
    cols = {name: np.array([r[k] for r in rows], dtype=float) for k, name in enumerate(CSV_HEADER)}
    b = cols["b"]
    bad = cols["flip_nu_violates"] > 0
    with paper_style():
        fig, (ax, ax_c) = new_figure(figsize=(6.8, 2.7), ncols=2)
        ax.scatter(pts[:, 1], pts[:, 0], s=3, color="0.75", zorder=1,
                   label="deterministic policies")
        ax.plot(b, cols["j_det"], color=OKABE_ITO[7], drawstyle="steps-post", linewidth=0.9,
                label=r"best deterministic $J_{det}(b)$")
        ax.plot(b, cols["lp_value"], color=OKABE_ITO[0], label=r"LP $V^\star(b)$ (= concave "
                                                               "majorant)")
        ax.plot(b, cols["flip_nu_value"], color=OKABE_ITO[1], linestyle="--",
                label=r"per-step flip, LP weight $\nu$")
        ax.plot(b[bad], cols["flip_nu_value"][bad], color=OKABE_ITO[1], marker="x",
                linestyle="none", markersize=3.5, label="  ... breaks the budget")
        ax.plot(b, cols["recal_value"], color=OKABE_ITO[2], linestyle=":", linewidth=1.6,
                label=r"per-step flip, recalibrated $p^\star$")
        lo, hi = b.min(), b.max()
        ax.set_xlim(lo - 0.03 * (hi - lo), hi + 0.03 * (hi - lo))
        in_range = (pts[:, 1] >= lo) & (pts[:, 1] <= hi)
        ymin = min(cols["j_det"].min(), cols["flip_nu_value"].min())
        ymax = max(cols["lp_value"].max(), cols["flip_nu_value"].max(),
                   pts[in_range, 0].max() if in_range.any() else ymin)
        ax.set_ylim(ymin - 0.05 * (ymax - ymin), ymax + 0.05 * (ymax - ymin))
        ax.set_xlabel(r"budget $b$ (cost value $E[\Sigma_t\,\gamma^t c_t]$)")
        ax.set_ylabel(r"reward value $E[\Sigma_t\,\gamma^t r_t]$")
        ax.legend(loc="upper left")
        ax_c.axhline(0.0, color="0.3", linewidth=0.6)
        ax_c.plot(b, cols["flip_nu_cost"] - b, color=OKABE_ITO[1], linestyle="--",
                  label=r"per-step flip, $\nu$")
        ax_c.plot(b[bad], (cols["flip_nu_cost"] - b)[bad], color=OKABE_ITO[1], marker="x",
                  linestyle="none", markersize=3.5, label="budget broken")
        ax_c.plot(b, cols["recal_cost"] - b, color=OKABE_ITO[2], linestyle=":", linewidth=1.6,
                  label=r"recalibrated $p^\star$")
        ax_c.set_xlabel(r"budget $b$")
        ax_c.set_ylabel(r"cost $-$ budget ($>0$: constraint broken)")
        ax_c.legend(loc="best")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows, pts = budget_curves(config)
    paths = _plot(rows, pts, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="flip_fig3_budget",
    caption=(r"Tabular analogue of the flipping paper's Fig. 3 on a seeded random discounted "
             r"CMDP: left, reward value against the budget $b$ for the best deterministic "
             r"policy (enumeration), the LP optimum (checked equal to the least concave "
             r"majorant of the deterministic points), per-step flipping between the envelope "
             r"pair with the LP episode weight $\nu$ (Algorithm 2 as written; crosses: budget "
             r"broken) and per-step flipping with the recalibrated probability (checked to "
             r"meet $b$ and to equal the LP where the pair differs in one state); right, the "
             r"cost minus the budget of the two per-step policies."),
    config={"S": 6, "A": 3, "gamma": 0.9, "n_budgets": 121},
    quick_config={"S": 5, "A": 3, "gamma": 0.9, "n_budgets": 41},
    run=run,
))
