r"""Figure ``cliffwalking_ccmdp``: gymnasium's CliffWalking as a chance-constrained MDP.

The 4x12 CliffWalking of gymnasium (``is_slippery`` option: the intended move or either
perpendicular one, 1/3 each), reward -1 per step, -100 for stepping into the cliff, which
sends the agent back to the start; the goal terminates. A cliff fall is a *transition*,
not a state, in gymnasium's table, so the unsafe set is made a state without changing the
dynamics: falls lead to a copy "fell" of the start state (same outgoing transitions and
rewards), and :math:`U=\{\text{fell}\}`, so :math:`\Pr(\exists t\le H: s_t\in U)` is the
probability of falling at least once within H steps. The table then goes through
:func:`solvers.from_gymnasium` (absorbing terminal state, finite horizon H).

With gymnasium installed the table is read from ``gymnasium.make("CliffWalking-v1",
is_slippery=...)`` and checked to equal boundlab's own replica (:func:`cliff_table`);
without it (gymnasium is an optional extra) the replica is used; ``data.csv`` and the
caption's ``source`` column say which. For each :math:`\delta`: the exact CCMDP optimum
(flag LP), and the Boole and :math:`H_{unsafe}` surrogate solutions, each with the exact
violation probability of its policy. Finding (exact): on the slippery 4x12 grid the
constraint never binds, for the -100 penalty and even with the fall reward set to -1
(config ``fall_reward``): a step along the cliff edge makes the same expected progress
(1/3) as one along the top wall, so falling buys nothing and :math:`J(\delta)` is flat with
an optimal policy of violation 0 for every :math:`\delta`. Checked while computing: the
exact solution meets :math:`\delta`, dominates the Boole solution, and the Boole policy
meets :math:`\delta` (Boole is conservative). Values are :math:`E[\sum_{t<H}r_t]` (undiscounted).

``data.csv`` columns: ``source, method, delta, status, value, violation, constraint_value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from solvers import from_gymnasium
from solvers.ccmdp_solve import solve_ccmdp
from solvers.tolerances import LP_FEASIBILITY_TOL

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "cliff_ccmdp", "cliff_table", "cliffwalking_data"]

SHAPE = (4, 12)
START, GOAL = 36, 47
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # gymnasium's UP, RIGHT, DOWN, LEFT
#: Values up to 100 H; HiGHS feasibility 1e-9 relative, 1e3 x covers H <= 100 with slack.
TOL = 1e3 * LP_FEASIBILITY_TOL
CSV_HEADER = ("source", "method", "delta", "status", "value", "violation", "constraint_value")


def cliff_table(slippery: bool) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
    """boundlab's replica of gymnasium's CliffWalking ``P[s][a]`` table (same semantics)."""
    table: dict[int, dict[int, list]] = {}
    for s in range(SHAPE[0] * SHAPE[1]):
        row, col = divmod(s, SHAPE[1])
        table[s] = {}
        for a in range(4):
            moves = [(a - 1) % 4, a, (a + 1) % 4] if slippery else [a]
            out = []
            for b in moves:
                r2 = min(max(row + MOVES[b][0], 0), SHAPE[0] - 1)
                c2 = min(max(col + MOVES[b][1], 0), SHAPE[1] - 1)
                s2 = r2 * SHAPE[1] + c2
                if r2 == SHAPE[0] - 1 and 0 < c2 < SHAPE[1] - 1:  # the cliff
                    out.append((1 / len(moves), START, -100, False))
                else:
                    out.append((1 / len(moves), s2, -1, s2 == GOAL))
            table[s][a] = out
    return table


def _gym_table(slippery: bool) -> tuple[dict, str] | None:
    try:
        import gymnasium
    except ImportError:
        return None
    env = gymnasium.make("CliffWalking-v1", is_slippery=slippery)
    try:
        raw = env.unwrapped.P
        table = {s: {a: [(float(p), int(s2), float(r), bool(t)) for p, s2, r, t in raw[s][a]]
                     for a in raw[s]} for s in raw}
    finally:
        env.close()
    return table, f"gymnasium {gymnasium.__version__} CliffWalking-v1"


def cliff_ccmdp(slippery: bool, horizon: int,
                fall_reward: float = -100.0) -> tuple[Any, np.ndarray, str]:
    """(finite-horizon TabularMDP, unsafe mask, source); state 48 = "fell", 49 = terminal.

    ``fall_reward`` replaces gymnasium's -100 on a fall (e.g. -1: the chance constraint,
    not a penalty, is then what keeps the agent away from the cliff).
    """
    replica = cliff_table(slippery)
    got = _gym_table(slippery)
    if got is None:
        table, source = replica, "boundlab replica (gymnasium not installed)"
    else:
        table, source = got
        if table != replica:
            raise RuntimeError("gymnasium's CliffWalking table differs from boundlab's replica")
    fell = SHAPE[0] * SHAPE[1]
    new = {s: {a: [(p, fell, fall_reward, t) if r == -100 else (p, s2, r, t)
                   for p, s2, r, t in out]
               for a, out in acts.items()} for s, acts in table.items()}
    new[fell] = new[START]  # the copy behaves exactly like the start state
    mu0 = np.zeros(fell + 1)
    mu0[START] = 1.0
    env = SimpleNamespace(P=new, initial_state_distrib=mu0,
                          observation_space=SimpleNamespace(n=fell + 1),
                          action_space=SimpleNamespace(n=4))
    env.unwrapped = env
    mdp = from_gymnasium(env, horizon=horizon)
    unsafe = np.zeros(mdp.S, dtype=bool)
    unsafe[fell] = True
    return mdp, unsafe, source


def cliffwalking_data(config: Mapping[str, Any]) -> list[tuple]:
    """Rows of ``data.csv`` (see the module docstring); raises AssertionError on a failed check."""
    mdp, unsafe, source = cliff_ccmdp(bool(config["slippery"]), int(config["horizon"]),
                                      float(config["fall_reward"]))
    rows = []
    for delta in config["deltas"]:
        delta = float(delta)
        res = {"exact": solve_ccmdp(mdp, unsafe, delta),
               "boole": solve_ccmdp(mdp, unsafe, delta, surrogate="boole"),
               "h_unsafe": solve_ccmdp(mdp, unsafe, delta, surrogate="h_unsafe",
                                       gamma_u=float(config["gamma_u"]))}
        ex, bo = res["exact"], res["boole"]
        if ex.status == "optimal" and ex.violation_probability > delta + TOL:
            raise AssertionError(f"delta = {delta}: exact CCMDP policy violates delta")
        if bo.status == "optimal":
            if bo.violation_probability > delta + TOL:
                raise AssertionError(f"delta = {delta}: the Boole policy violates delta")
            if ex.status != "optimal" or ex.value < bo.value - TOL:
                raise AssertionError(f"delta = {delta}: Boole beats the exact optimum")
        for name, r in res.items():
            ok = r.status == "optimal"
            rows.append((source, name, delta, r.status, r.value if ok else None,
                         r.violation_probability if ok else None,
                         r.constraint_value if ok else r.min_constraint_value))
    return rows


def _plot(rows: list, out_dir: Path) -> dict[str, Path]:
    with paper_style():
        fig, (ax, ax_p) = new_figure(figsize=(6.8, 2.6), ncols=2)
        for i, (name, label) in enumerate((("exact", "exact (flag LP)"), ("boole", "Boole"),
                                           ("h_unsafe", r"$H_{unsafe}$"))):
            r = [x for x in rows if x[1] == name and x[3] == "optimal"]
            d = [x[2] for x in r]
            ax.plot(d, [x[4] for x in r], "o-", color=OKABE_ITO[i], markersize=3, label=label)
            ax_p.plot(d, [x[5] for x in r], "o-", color=OKABE_ITO[i], markersize=3, label=label)
        lim = [min(x[2] for x in rows), max(x[2] for x in rows)]
        ax_p.plot(lim, lim, color="0.4", linewidth=0.7, linestyle="--", label=r"$=\delta$")
        ax.set_xlabel(r"$\delta$")
        ax.set_ylabel(r"value $E[\sum_{t<H} r_t]$")
        ax_p.set_xlabel(r"$\delta$")
        ax_p.set_ylabel(r"exact $\Pr(\mathrm{fall\ within}\ H)$")
        ax.legend(fontsize=7)
        ax_p.legend(fontsize=7)
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = cliffwalking_data(config)
    paths = _plot(rows, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="cliffwalking_ccmdp",
    caption=(r"gymnasium's slippery CliffWalking (or boundlab's identical replica when gymnasium "
             r"is absent; data.csv names the source) as a CCMDP with the cliff fall as the unsafe "
             r"event and horizon $H$: value and exact fall probability against $\delta$ for the "
             r"exact flag-LP solution and the Boole and $H_{unsafe}$ surrogate solutions. The "
             r"constraint never binds here: walking along the cliff edge is no faster than "
             r"along the top wall under gymnasium's slip, so $J(\delta)$ is flat."),
    config={"slippery": True, "horizon": 30, "fall_reward": -100.0, "gamma_u": 0.95,
            "deltas": [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0]},
    quick_config={"slippery": True, "horizon": 20, "fall_reward": -100.0, "gamma_u": 0.95,
                  "deltas": [0.1, 0.3, 0.6, 1.0]},
    run=run,
))
