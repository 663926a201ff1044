r"""Figure ``flip_fig2c_envelope``: deterministic frontier vs its concave majorant (Fig. 2c, exact).

On a gridworld with obstacles (``X`` cells = the unsafe set :math:`U`, slip probability
``slip``, horizon H, reward 1 for entering the goal), for a grid of levels :math:`\delta`:

- :math:`J_{det}(\delta)`: best deterministic Markov policy on :math:`(t,s,f)` by the MILP
  :func:`solvers.ccmdp_frontier.j_det_milp`;
- :math:`J_{mix}(\delta)`: the augmented LP optimum :func:`solvers.ccmdp_solve.solve_ccmdp`
  (best over all policies; equal to an episode-level mixture of two deterministic ones).

Shaded: where :math:`J_{mix}>J_{det}`, the flipping paper's "convex region" (Thm 6) made
exact. Checked while computing (:class:`EnvelopeMismatch` otherwise): the LP vertex
randomises in at most one :math:`(t,s,f)` and splits into two deterministic policies whose
values and violation probabilities (recomputed by evaluation) mix to :math:`J_{mix}`;
:math:`J_{mix}` equals the least concave majorant of all deterministic points found
(MILP solutions and split policies) within ``TOL``; and :math:`J_{det}\le J_{mix}`.
Values are :math:`E[\sum_{t<H}r_t]` = probability of reaching the goal within H steps.

``data.csv`` columns: ``kind, delta, value, violation``; kind "j_det" (MILP at delta: value
and exact violation of its policy), "j_mix" (LP), "majorant" (of the deterministic
points), "point" (a deterministic policy: delta empty).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers import evaluate, gridworld, violation_probability
from solvers.ccmdp_frontier import j_det_milp, least_concave_majorant
from solvers.ccmdp_solve import CCMDPResult, solve_ccmdp
from solvers.policies import deterministic_policy
from solvers.tolerances import LP_FEASIBILITY_TOL

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "TOL", "EnvelopeMismatch", "envelope_data", "split_vertex"]

#: Values are probabilities (<= 1); LP and MILP are solved to HiGHS feasibility 1e-9 on
#: scaled problems, so 100x that bounds the disagreement of two honest solutions.
TOL = 100 * LP_FEASIBILITY_TOL
CSV_HEADER = ("kind", "delta", "value", "violation")


class EnvelopeMismatch(AssertionError):
    """J_mix is not the least concave majorant of the deterministic frontier."""


def split_vertex(res: CCMDPResult) -> list[tuple[np.ndarray, float]]:
    r"""Deterministic augmented policies (actions (H, 2S)) and weights mixing to ``res``.

    A vertex of the K = 1 LP randomises at no more than one reachable :math:`(t,x)`
    (notes §2.2). Each :math:`(t,x)` is visited at most once per episode, so a coin flipped
    there equals a coin flipped at :math:`t=0`: the policy is the episode mixture of the two
    deterministic policies that take either action there, with the LP probabilities.
    """
    d, pi = res.cmdp.d, res.policy
    support = (d > LP_FEASIBILITY_TOL) & (d.sum(axis=2, keepdims=True) > LP_FEASIBILITY_TOL)
    mixed = np.argwhere(support.sum(axis=2) > 1)
    base = np.argmax(pi, axis=2)
    if len(mixed) == 0:
        return [(base, 1.0)]
    if len(mixed) > 1 or support[tuple(mixed[0])].sum() > 2:
        raise EnvelopeMismatch(f"LP vertex randomises at {len(mixed)} (t, x) pairs, expected <= 1")
    t, x = mixed[0]
    out = []
    for a in np.flatnonzero(support[t, x]):
        acts = base.copy()
        acts[t, x] = a
        out.append((acts, float(pi[t, x, a])))
    return out


def _point(res: CCMDPResult, acts: np.ndarray) -> tuple[float, float]:
    pi = deterministic_policy(acts, res.mdp.A)
    return (float(evaluate(res.augmented.mdp, pi).value),
            violation_probability(res.mdp, pi[:, :res.mdp.S], res.unsafe))


def envelope_data(config: Mapping[str, Any]) -> list[tuple[str, float | None, float, float]]:
    """Rows ``(kind, delta, value, violation)``; raises :class:`EnvelopeMismatch` on a failed
    check (see the module docstring)."""
    g = gridworld(list(config["layout"]), slip=float(config["slip"]),
                  horizon=int(config["horizon"]))
    m, unsafe = g.mdp, list(g.unsafe)
    deltas = np.linspace(0.0, 1.0, int(config["n_delta"]))
    rows: list[tuple[str, float | None, float, float]] = []
    points: list[tuple[float, float]] = []
    mix: list[tuple[float, CCMDPResult]] = []
    for delta in deltas:
        delta = float(delta)
        det = j_det_milp(m, unsafe, delta)
        lp = solve_ccmdp(m, unsafe, delta)
        if (det.status == "optimal") != (lp.status == "optimal"):
            raise EnvelopeMismatch(f"delta = {delta}: MILP {det.status} but LP {lp.status}")
        if lp.status != "optimal":
            continue
        rows.append(("j_det", delta, det.value, det.violation))
        rows.append(("j_mix", delta, lp.value, lp.violation_probability))
        points.append((det.violation, det.value))
        parts = [(w, *_point(lp, acts)) for acts, w in split_vertex(lp)]
        v_mix = sum(w * v for w, v, _ in parts)
        p_mix = sum(w * p for w, _, p in parts)
        if abs(v_mix - lp.value) > TOL or abs(p_mix - lp.violation_probability) > TOL:
            raise EnvelopeMismatch(f"delta = {delta}: split policies mix to ({v_mix}, {p_mix}), "
                                   f"LP has ({lp.value}, {lp.violation_probability})")
        points.extend((p, v) for _, v, p in parts)
        mix.append((delta, lp))
        if det.value > lp.value + TOL:
            raise EnvelopeMismatch(f"delta = {delta}: J_det = {det.value} > J_mix = {lp.value}")
    px, py = np.array([p for p, _ in points]), np.array([v for _, v in points])
    for delta, lp in mix:
        maj = least_concave_majorant(px, py, delta)
        if abs(maj - lp.value) > TOL:
            raise EnvelopeMismatch(f"delta = {delta}: J_mix = {lp.value} but the concave "
                                   f"majorant of the deterministic points is {maj}")
        rows.append(("majorant", delta, maj, float("nan")))
    rows.extend(("point", None, v, p) for p, v in sorted(set(points)))
    return [(k, d, v, None if p != p else p) for k, d, v, p in rows]


def _plot(rows: list, out_dir: Path) -> dict[str, Path]:
    def series(kind):
        r = [x for x in rows if x[0] == kind]
        return np.array([x[1] for x in r]), np.array([x[2] for x in r])

    dx, dv = series("j_det")
    mx, mv = series("j_mix")
    pts = np.array([(x[3], x[2]) for x in rows if x[0] == "point"])
    with paper_style():
        fig, ax = new_figure(figsize=(4.2, 3.0))
        ax.fill_between(mx, dv, mv, where=mv > dv + TOL, color=OKABE_ITO[1], alpha=0.25,
                        linewidth=0, label=r"$J_{mix}>J_{det}$")
        ax.step(dx, dv, where="post", color=OKABE_ITO[0],
                label=r"$J_{det}(\delta)$ (MILP, deterministic on $(t,s,f)$)")
        ax.plot(mx, mv, color=OKABE_ITO[2], label=r"$J_{mix}(\delta)$ (augmented LP)")
        ax.plot(pts[:, 0], pts[:, 1], "o", color="0.3", markersize=2.5,
                label="deterministic policies found")
        ax.set_xlabel(r"$\delta$ (allowed $\Pr(\exists t\leq H: s_t\in U)$)")
        ax.set_ylabel(r"value $E[\sum_{t<H} r_t]$")
        ax.legend(loc="lower right", fontsize=7)
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = envelope_data(config)
    paths = _plot(rows, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="flip_fig2c_envelope",
    caption=(r"Exact tabular analogue of the flipping paper's Fig. 2c: on a slippery gridworld "
             r"with obstacles (unsafe cells) and horizon $H$, the best deterministic policy on "
             r"$(t,s,f)$, $J_{det}(\delta)$ (MILP), against the augmented-LP optimum "
             r"$J_{mix}(\delta)$, checked to equal the least concave majorant of the "
             r"deterministic points; shaded where mixing two deterministic policies per "
             r"episode strictly beats every deterministic one."),
    config={"layout": ["S.X.G", "....."], "slip": 0.2, "horizon": 5, "n_delta": 21},
    quick_config={"layout": ["S.XG", "...."], "slip": 0.2, "horizon": 4, "n_delta": 11},
    run=run,
))
