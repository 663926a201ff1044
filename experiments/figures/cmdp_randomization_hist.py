r"""Figure ``cmdp_randomization_hist``: randomised states of a vertex CMDP optimum, against K.

Altman (1999, ch. 3), Feinberg & Shwartz (1996); cmdp_ccmdp notes §2.2. A
**basic (vertex)** optimum :math:`d` of the discounted occupancy LP has at most
:math:`S+\#\{\text{active constraints}\}` positive coordinates (:math:`S` flow rows,
and the slacks of inactive cost rows are basic), and with :math:`\mu_0>0` every
state has :math:`d(s)>0`, so

.. math::
    \#\{s:|\mathrm{supp}\,\pi(\cdot|s)|>1\}\ \le\ \sum_s\big(|\mathrm{supp}\,\pi(\cdot|s)|-1\big)
    \ \le\ \#\{\text{active}\}\ \le\ K.

For each K in the config, ``n_models`` seeded random CMDPs
(:func:`solvers.random_mdp`, Dirichlet rows, :math:`\mu_0>0`) are solved with
``solve_cmdp(method="lp")`` (HiGHS dual simplex, a vertex); the budgets are the
exact costs of a random stationary policy (so the LP is feasible, and often
several constraints bind). The histogram counts randomised states per K; all
three inequalities above are asserted for every model (:class:`BoundViolated`).
A state-action pair is in the support when :math:`d(s,a)>` ``LP_FEASIBILITY_TOL``
(HiGHS's primal feasibility tolerance: anything below is rounding of a zero
basic or nonbasic variable); a constraint is active when its slack is below
``CMDP_VERIFY_RTOL`` times the value scale. The bound holds only for vertex
solutions; an interior-point solution can randomise in more states.

``data.csv`` columns: ``K, model, randomised_states, extra_actions, active_constraints,
value`` (value :math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers import evaluate, random_mdp, solve_cmdp
from solvers.tolerances import CMDP_VERIFY_RTOL, LP_FEASIBILITY_TOL

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "BoundViolated", "randomization_counts"]

CSV_HEADER = ("K", "model", "randomised_states", "extra_actions", "active_constraints", "value")


class BoundViolated(AssertionError):
    """A vertex optimum randomised in more states than the theorem allows."""


def randomization_counts(config: Mapping[str, Any]) -> list[tuple[int, int, int, int, int, float]]:
    r"""One row per model: ``(K, model, randomised_states, extra_actions, active, value)``.

    Parameters
    ----------
    config : mapping
        ``S``, ``A``, ``gamma``, ``Ks`` (list of K), ``n_models`` (per K),
        ``policy_concentration`` (Dirichlet parameter of the budget policy), ``seed``.

    Raises
    ------
    RuntimeError
        If the LP does not return status "optimal" on a feasible budget.
    BoundViolated
        If any inequality of the module docstring fails.
    """
    seed = int(config["seed"])
    S, A, gamma = int(config["S"]), int(config["A"]), float(config["gamma"])
    rows = []
    for K in (int(k) for k in config["Ks"]):
        rng = np.random.default_rng([seed, K])
        for i in range(int(config["n_models"])):
            mdp = random_mdp(rng, S, A, K, gamma=gamma)
            budget_pi = rng.dirichlet(np.full(A, float(config["policy_concentration"])), size=S)
            b = evaluate(mdp, budget_pi).cost_values
            res = solve_cmdp(mdp, b, method="lp")
            if res.status != "optimal":
                raise RuntimeError(f"cmdp_randomization_hist: K = {K}, model {i}: solve_cmdp "
                                   f"returned {res.status} on a feasible budget: {res.message}")
            support = res.d > LP_FEASIBILITY_TOL
            visited = support.any(axis=1)
            randomised = int((support.sum(axis=1) > 1).sum())
            extra = int((support.sum(axis=1) - 1)[visited].sum())
            scale = max(1.0, float(np.abs(mdp.r).max()) + float(res.lam @ np.abs(
                mdp.costs).reshape(K, -1).max(axis=1))) / (1.0 - gamma)
            active = int((b - res.cost_values <= CMDP_VERIFY_RTOL * scale).sum())
            if not (visited.all() and randomised <= extra <= active <= K):
                raise BoundViolated(
                    f"cmdp_randomization_hist: K = {K}, model {i}: {randomised} randomised states,"
                    f" {extra} extra actions, {active} active constraints, "
                    f"{int(visited.sum())}/{S} visited states; expected randomised <= extra <= "
                    f"active <= K with every state visited")
            rows.append((K, i, randomised, extra, active, float(res.value)))
    return rows


def _plot(rows: list[tuple], Ks: list[int], out_dir: Path) -> dict[str, Path]:
    kmax = max(Ks)
    with paper_style():
        fig, axes = new_figure(figsize=(6.8, 2.3), ncols=len(Ks))
        axes = np.atleast_1d(axes)
        for ax, K, color in zip(axes, Ks, OKABE_ITO[: len(Ks)], strict=True):
            counts = np.array([r[2] for r in rows if r[0] == K])
            freq = np.bincount(counts, minlength=kmax + 2)[: kmax + 2] / counts.size
            ax.bar(np.arange(kmax + 2), freq, width=0.7, color=color,
                   label=f"{counts.size} random CMDPs")
            ax.axvline(K + 0.5, color="0.2", linestyle="--", linewidth=0.8,
                       label=rf"bound $K={K}$")
            ax.set_xticks(np.arange(kmax + 2))
            ax.set_xlabel("randomised states of the LP vertex")
            ax.set_title(rf"$K={K}$ constraint{'s' if K > 1 else ''}")
            ax.set_ylim(0, 1.05)
            ax.legend(loc="upper right")
        axes[0].set_ylabel("fraction of models")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = randomization_counts(config)
    paths = _plot(rows, [int(k) for k in config["Ks"]], Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="cmdp_randomization_hist",
    caption=(r"Number of states in which the vertex (basic) optimum of the occupancy LP "
             r"randomises, over seeded random discounted CMDPs with $K=1,2,3$ constraints "
             r"(HiGHS dual simplex; budgets = costs of a random stationary policy). The dashed "
             r"line is the bound $K$ (Altman 1999; Feinberg & Shwartz 1996); every model is "
             r"checked to satisfy randomised states $\le$ extra actions $\le$ active "
             r"constraints $\le K$."),
    config={"S": 10, "A": 3, "gamma": 0.9, "Ks": [1, 2, 3], "n_models": 300,
            "policy_concentration": 0.5},
    quick_config={"S": 6, "A": 3, "gamma": 0.9, "Ks": [1, 2, 3], "n_models": 40,
                  "policy_concentration": 0.5},
    run=run,
))
