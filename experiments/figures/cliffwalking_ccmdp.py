r"""Figure ``cliffwalking_ccmdp``: gymnasium's CliffWalking as a chance-constrained MDP.

The 4x12 CliffWalking of gymnasium (``is_slippery``: the intended move or either
perpendicular one, 1/3 each), reward -1 per step, -100 for stepping into the cliff, which
in gymnasium sends the agent back to the start; the goal terminates. A cliff fall is a
*transition*, not a state, in gymnasium's table, so the unsafe set is made a state: falls
lead to a new state "fell" (index 48), :math:`U=\{\text{fell}\}`, and
:math:`\Pr(\exists t\le H: s_t\in U)` is the probability of falling at least once within
H steps. Two readings of the fall (``cliff``):

- ``"reset"`` (gymnasium's own): "fell" is a copy of the start state (same outgoing
  transitions and rewards), the fall keeps gymnasium's reward (-100 by default);
- ``"absorbing"`` (the safe-RL reading: entering the unsafe set ends the episode): "fell"
  is absorbing with reward 0, and the fall step earns ``fall_reward``.

The table then goes through :func:`solvers.from_gymnasium` (absorbing terminal state for
the goal, finite horizon H). With gymnasium installed the table is read from
``gymnasium.make("CliffWalking-v1", is_slippery=...)`` and checked to equal boundlab's
replica (:func:`cliff_table`); without it the replica is used; ``data.csv`` says which.

**Finding: gymnasium's setting is flat.** On the slippery grid every risky action (one
with a cliff outcome) is *dominated* by a safe action in the same state whose outcomes are
the risky action's non-fall outcomes plus one more non-cliff cell
(:func:`dominating_safe_actions`; all 33 risky actions of the non-cliff, non-goal states,
e.g. at an edge cell "right" = {right, up, fall} against "up" = {up, left, right}); on the
deterministic grid the shortest path (13 steps along the edge) is safe. So risk can buy
value only through the fall outcome itself. Under gymnasium's reset the fall is the worst
outcome there is (back to the start, -100; and with the fall reward set to -1 it is still
back to the start), so an optimal policy never falls: exact optimum -29.9309 for every
:math:`\delta` at H = 30 (-100 or -1 fall reward alike; -13 without slip). An absorbing
cliff with gymnasium's -100 is flat as well while the remaining walk costs less than 100:
-53.069 at H = 60 and -64.594 at H = 150 for every :math:`\delta` (the safe slippery walk
from the start, the farthest state, takes 64.709 expected steps untruncated, by value
iteration over the safe actions: less than the 100 a fall costs, for every H).

**The setting that binds** (the figure's main curves): slippery, ``cliff="absorbing"``
and ``fall_reward=-1``, i.e. the chance constraint, not the -100 penalty, keeps the agent
off the cliff, and a fall ends the episode. Now a fall saves the remaining -1 per step
(the safe walk does not reach the goal within H = 20 or 30 with appreciable
probability), so risk buys value: J rises from -29.93 (:math:`\delta=0`) to -3.00
(:math:`\delta=1`) at H = 30, concave and piecewise linear, and the optimal policy's exact
violation probability equals :math:`\delta` on the whole binding range (at H = 20 it
binds up to :math:`\delta` = 0.9995, the largest fall probability of any policy). The
Boole surrogate :math:`\sum_t\Pr(s_t\in U)\le\delta` counts every step spent in the
absorbing "fell" state and is therefore very conservative here; :math:`H_{unsafe}`
(discount ``gamma_u``) likewise. The deterministic frontier :math:`J_{det}` is left out:
the MILP (8000 binaries at H = 20) did not finish in 150 s.

Checked while computing (:class:`CliffCheckFailed` otherwise): every exact solution meets
:math:`\delta`, :math:`J` is nondecreasing in :math:`\delta`, the Boole policy meets
:math:`\delta` and does not beat the exact optimum, and the gymnasium-semantics reference
curve is flat. Values are :math:`E[\sum_{t<H}r_t]` (finite horizon, undiscounted).

``data.csv`` columns: ``source, setting, method, delta, status, value, violation,
constraint_value, lam`` (``setting`` "main" = the configured semantics, "gym_reset" =
gymnasium's reset with -100; ``lam`` = the multiplier, the slope dJ/d(delta)).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from solvers import from_gymnasium
from solvers.ccmdp_solve import CCMDPResult, solve_ccmdp
from solvers.errors import ModelError
from solvers.tolerances import LP_FEASIBILITY_TOL

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "CliffCheckFailed", "cliff_ccmdp", "cliff_table", "cliffwalking_data",
           "dominating_safe_actions"]

SHAPE = (4, 12)
START, GOAL = 36, 47
FELL = SHAPE[0] * SHAPE[1]
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # gymnasium's UP, RIGHT, DOWN, LEFT
CLIFF_MODES = ("reset", "absorbing")
#: Values up to 100 H; HiGHS feasibility 1e-9 relative, 1e3 x covers H <= 100 with slack.
TOL = 1e3 * LP_FEASIBILITY_TOL
CSV_HEADER = ("source", "setting", "method", "delta", "status", "value", "violation",
              "constraint_value", "lam")


class CliffCheckFailed(AssertionError):
    """A consistency check of the CliffWalking CCMDP data failed (names delta and check)."""


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


def is_cliff(s: int) -> bool:
    """True for the cliff cells (bottom row, columns 1..10), which no episode occupies."""
    row, col = divmod(s, SHAPE[1])
    return row == SHAPE[0] - 1 and 0 < col < SHAPE[1] - 1


def dominating_safe_actions(table: Mapping[int, Mapping[int, list]]) -> dict[tuple[int, int],
                                                                          int | None]:
    r"""For every risky (s, a) of a non-cliff state, a safe action that dominates it, or None.

    (s, a) is risky when one of its outcomes is a fall (reward -100 in gymnasium's table).
    A safe action b dominates it when b has no fall outcome and the multiset of b's
    successor states contains that of a's non-fall outcomes, all outcomes having the same
    probability: then b's outcome distribution is a's with the fall replaced by a cell, so
    b is at least as good whenever a fall is worth no more than any cell.
    """
    out: dict[tuple[int, int], int | None] = {}
    for s, acts in table.items():
        if is_cliff(s) or s == GOAL:  # never occupied: the goal terminates
            continue
        for a, outcomes in acts.items():
            if not any(r == -100 for _, _, r, _ in outcomes):
                continue
            rest = sorted(s2 for p, s2, r, _ in outcomes if r != -100)
            out[(s, a)] = None
            for b, other in acts.items():
                probs = {p for p, *_ in other} | {p for p, *_ in outcomes}
                if any(r == -100 for _, _, r, _ in other) or len(probs) != 1 \
                        or len(other) != len(outcomes):
                    continue
                got = sorted(s2 for _, s2, _, _ in other)
                if all(rest.count(x) <= got.count(x) for x in set(rest)):
                    out[(s, a)] = b
                    break
    return out


def cliff_ccmdp(slippery: bool, horizon: int, fall_reward: float = -100.0,
                cliff: str = "reset") -> tuple[Any, np.ndarray, str]:
    """(finite-horizon TabularMDP, unsafe mask, source); state 48 = "fell", 49 = terminal.

    ``cliff="reset"``: gymnasium's semantics, "fell" is a copy of the start state.
    ``cliff="absorbing"``: "fell" is absorbing with reward 0 (the fall ends the episode).
    ``fall_reward`` replaces gymnasium's -100 on the fall step. Values of the model are
    :math:`E[\\sum_{t<H}r_t]`.
    """
    if cliff not in CLIFF_MODES:
        raise ModelError(f"cliff = {cliff!r}, expected one of {CLIFF_MODES}", field="cliff")
    replica = cliff_table(slippery)
    got = _gym_table(slippery)
    if got is None:
        table, source = replica, "boundlab replica (gymnasium not installed)"
    else:
        table, source = got
        if table != replica:
            raise RuntimeError("gymnasium's CliffWalking table differs from boundlab's replica")
    new = {s: {a: [(p, FELL, fall_reward, t) if r == -100 else (p, s2, r, t)
                   for p, s2, r, t in out]
               for a, out in acts.items()} for s, acts in table.items()}
    if cliff == "reset":
        new[FELL] = new[START]  # the copy behaves exactly like the start state
    else:
        new[FELL] = {a: [(1.0, FELL, 0.0, False)] for a in range(len(MOVES))}
    mu0 = np.zeros(FELL + 1)
    mu0[START] = 1.0
    env = SimpleNamespace(P=new, initial_state_distrib=mu0,
                          observation_space=SimpleNamespace(n=FELL + 1),
                          action_space=SimpleNamespace(n=len(MOVES)))
    env.unwrapped = env
    mdp = from_gymnasium(env, horizon=horizon)
    unsafe = np.zeros(mdp.S, dtype=bool)
    unsafe[FELL] = True
    return mdp, unsafe, source


def _row(source: str, setting: str, method: str, delta: float, r: CCMDPResult) -> tuple:
    ok = r.status == "optimal"
    return (source, setting, method, delta, r.status, r.value if ok else None,
            r.violation_probability if ok else None,
            r.constraint_value if ok else r.min_constraint_value, r.lam if ok else None)


def cliffwalking_data(config: Mapping[str, Any]) -> list[tuple]:
    """Rows of ``data.csv`` (module docstring); raises :class:`CliffCheckFailed` on a failed check.

    For every delta: the exact CCMDP optimum and the Boole and :math:`H_{unsafe}` surrogate
    solutions (the latter only when ``config["gamma_u"]`` is set) in the configured
    setting, and the exact optimum under gymnasium's own
    semantics (reset to start, -100). Values are :math:`E[\\sum_{t<H}r_t]`.
    """
    H, slippery = int(config["horizon"]), bool(config["slippery"])
    mdp, unsafe, source = cliff_ccmdp(slippery, H, float(config["fall_reward"]),
                                      str(config["cliff"]))
    gym_mdp, gym_unsafe, _ = cliff_ccmdp(slippery, H)
    rows, exact, reference = [], [], []
    for delta in sorted(float(x) for x in config["deltas"]):
        ex = solve_ccmdp(mdp, unsafe, delta)
        bo = solve_ccmdp(mdp, unsafe, delta, surrogate="boole")
        hu = (solve_ccmdp(mdp, unsafe, delta, surrogate="h_unsafe",
                          gamma_u=float(config["gamma_u"])) if config["gamma_u"] else None)
        ref = solve_ccmdp(gym_mdp, gym_unsafe, delta)
        for r in (ex, ref):
            if r.status != "optimal" or r.violation_probability > delta + TOL:
                raise CliffCheckFailed(f"delta = {delta}: exact CCMDP status {r.status!r} or "
                                       f"its policy violates delta")
        if bo.status == "optimal" and (bo.violation_probability > delta + TOL
                                       or bo.value > ex.value + TOL):
            raise CliffCheckFailed(f"delta = {delta}: the Boole policy violates delta or "
                                   "beats the exact optimum")
        exact.append(ex.value)
        reference.append(ref.value)
        rows += [_row(source, "main", "exact", delta, ex), _row(source, "main", "boole", delta, bo),
                 _row(source, "gym_reset", "exact", delta, ref)]
        if hu is not None:
            rows.append(_row(source, "main", "h_unsafe", delta, hu))
    if np.any(np.diff(exact) < -TOL):
        raise CliffCheckFailed(f"J(delta) decreases somewhere: {exact}")
    if max(reference) - min(reference) > TOL:
        raise CliffCheckFailed(f"gymnasium's reset semantics are not flat: {reference}")
    return rows


def _plot(rows: list, out_dir: Path) -> dict[str, Path]:
    curves = (("main", "exact", "exact (flag LP)", "-"), ("main", "boole", "Boole", "-"),
              ("main", "h_unsafe", r"$H_{unsafe}$", "-"),
              ("gym_reset", "exact", "gym reset, -100", "--"))
    with paper_style():
        fig, (ax, ax_p) = new_figure(figsize=(6.8, 2.6), ncols=2)
        for i, (setting, name, label, ls) in enumerate(curves):
            r = [x for x in rows if x[1] == setting and x[2] == name and x[4] == "optimal"]
            if not r:  # H_unsafe is optional
                continue
            d = [x[3] for x in r]
            kw = {"color": OKABE_ITO[i], "markersize": 3, "linestyle": ls, "label": label}
            ax.plot(d, [x[5] for x in r], marker="o", **kw)
            ax_p.plot(d, [x[6] for x in r], marker="o", **kw)
        lim = [min(x[3] for x in rows), max(x[3] for x in rows)]
        ax_p.plot(lim, lim, color="0.4", linewidth=0.7, linestyle=":", label=r"$=\delta$")
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
             r"event and horizon $H$: value and exact fall probability against $\delta$. Main "
             r"curves: the fall ends the episode and the chance constraint replaces the -100 "
             r"penalty; the constraint binds (exact violation $=\delta$) and $J(\delta)$ rises, "
             r"with the Boole and $H_{unsafe}$ surrogate solutions below it. Dashed: gymnasium's "
             r"own semantics (reset to start, -100), where every risky action is dominated by a "
             r"safe one and $J(\delta)$ is flat."),
    config={"slippery": True, "horizon": 30, "cliff": "absorbing", "fall_reward": -1.0,
            "gamma_u": 0.95, "deltas": [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0]},
    # quick: 3 levels (the H_unsafe LP on the time-layered model is the slow part, ~1-4 s)
    quick_config={"slippery": True, "horizon": 20, "cliff": "absorbing", "fall_reward": -1.0,
                  "gamma_u": 0.95, "deltas": [0.0, 0.3, 1.0]},
    run=run,
))
