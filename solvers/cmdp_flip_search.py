r"""The multiplier search of ``method="flip"``: Lagrangian plans and the chord search on D.

For one constraint the Lagrangian dual (cmdp_ccmdp notes §2.4)

.. math::
    D(\lambda)=\max_{\pi\ \text{deterministic}}\big[V_r(\pi)+\lambda\,(b-V_c(\pi))\big]

is the upper envelope of the lines :math:`\ell_\pi(\lambda)=V_r(\pi)+\lambda(b-V_c(\pi))`,
convex and piecewise linear. Given a line of slope < 0 (``hi``: cost > b) and one of slope
>= 0 (``lo``: cost <= b), the chord (Newton--Eisner--Severance) step moves to their
intersection

.. math::
    \lambda'=\frac{V_r^{hi}-V_r^{lo}}{C^{hi}-C^{lo}},

solves the Lagrangian reward :math:`r-\lambda'c` there (Howard's policy iteration
warm-started from ``hi``; backward induction keeping ``hi``'s actions for a finite
horizon) and replaces the line on the side of the new policy's cost. It stops at
:math:`\lambda^\star` once optimal policies on both sides of b are known at the same
:math:`\lambda'` (:math:`0\in\partial D(\lambda')`). :mod:`solvers.cmdp_flip` then walks
between the two and mixes at one state.

Values are :math:`E[\sum_t\gamma^tr_t]` (finite horizon :math:`E[\sum_{t<H}r_t]`), not
scaled by :math:`1-\gamma`. References: Altman, *Constrained Markov Decision Processes*
(1999), ch. 3; cmdp_ccmdp notes §2.4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cmdp import _with_reward
from .evaluation import (
    evaluate,
    occupancy,
    policy_kernel,
    residual_rounding,
    solve_discounted_system,
)
from .mdp import TabularMDP
from .tolerances import EPS, FLIP_TIE_RTOL

__all__ = ["FLIP_MAX_CHORD_STEPS"]

#: The chord search ends after at most as many steps as D has pieces; on the models we
#: solve it takes 1-17. A run hitting this bound signals a numerical stall (RuntimeError).
FLIP_MAX_CHORD_STEPS: int = 200

#: Policy iteration ends in at most as many steps as there are policies; warm-started it
#: takes 1-5 here. Hitting this bound signals a numerical cycle (RuntimeError).
_PI_MAX_ITER: int = 1000


@dataclass(frozen=True, eq=False)
class _Point:
    """A deterministic policy (action indices (S,) or (H, S)), its values and cost from mu0,
    their certified error and (discounted) the value vectors of r and c, for warm starts."""

    actions: np.ndarray
    value: float
    cost: float
    error: float
    vr: np.ndarray | None = None
    vc: np.ndarray | None = None


@dataclass(frozen=True)
class _Plan:
    """Optimal values v ((S,) or (H, S)) of a reward and an optimal deterministic policy."""

    v: np.ndarray
    q: np.ndarray
    actions: np.ndarray
    value: float
    value_error_bound: float


def _meets(point: _Point, budget: float) -> bool:
    """Cost within the budget up to the point's certified evaluation error.

    Two policies with the same true cost can round to either side of b (e.g. -2.5 + 4e-16
    and -2.5 - 4e-16); comparing bare floats would then treat one as infeasible and send
    the chord search to a multiplier of 1e15.
    """
    return point.cost <= budget + point.error


# -- the chord search on D(lam) -----------------------------------------------------------


def _chord_search(mdp: TabularMDP, budget: float, hi: _Point,
                  lo: _Point) -> tuple[float, _Plan, _Point, _Point, int]:
    r"""Chord search for lam*: returns lam*, the plan there, two policies greedy for
    :math:`Q^\star_{\lambda^\star}` in every state with cost > b and cost <= b, and the number
    of steps.

    Each step solves the Lagrangian at the intersection lam' once (policy iteration
    warm-started from ``hi``). Then ``hi`` and ``lo`` are tested for optimality at lam'
    (:func:`_touches`); one that passes is made greedy in every state without changing its
    values (:func:`_repair`) and joins the candidates. Optimal candidates on both sides of b
    mean :math:`0\in\partial D(\lambda')`: lam' = lam*. Otherwise the line on the side of the
    candidates is replaced by a tangent at lam'.
    """
    for step in range(1, FLIP_MAX_CHORD_STEPS + 1):
        lam = max(0.0, (hi.value - lo.value) / (hi.cost - lo.cost))
        plan, point = _plan(mdp, 1.0, -lam, hi.actions, hi)
        found = [point]
        tie = _tie_tolerance(mdp, plan, lam)
        for old in (hi, lo):
            if not np.array_equal(old.actions, plan.actions) and _touches(old, plan, lam, tie):
                found.append(_repair(mdp, old, plan))
        above = [f for f in found if not _meets(f, budget)]
        below = [f for f in found if _meets(f, budget)]
        if above and below:
            hi, lo = min(above, key=lambda q: q.cost), max(below, key=lambda q: q.cost)
            return lam, plan, hi, lo, step
        if below:  # an optimal policy at lam meets the budget: lam >= lam*
            lo = max(below, key=lambda q: q.cost)
        else:
            hi = min(above, key=lambda q: q.cost)
    raise RuntimeError(f"flip: the chord search on D(lam) did not end in {FLIP_MAX_CHORD_STEPS} "
                       "steps (numerical stall); use method='lp'")


def _tie_tolerance(mdp: TabularMDP, plan: _Plan, lam: float) -> float:
    r"""Gap below :math:`\max_aQ^\star` that still counts as a tie at the computed lam'.

    lam' is an intersection of two computed lines, so it carries a relative error of a
    few ulps times the lines' condition; an action tied at :math:`\lambda^\star` then trails
    by up to :math:`|\delta\lambda|\,\|Q_c\|_\infty`. :data:`FLIP_TIE_RTOL` of the value scale
    :math:`T(\|r\|_\infty+\lambda\|c\|_\infty)` covers it, plus twice the plan's certified error.
    """
    T = float(mdp.horizon) if mdp.finite_horizon else 1.0 / (1.0 - mdp.gamma)
    scale = T * (float(np.max(np.abs(mdp.r))) + lam * float(np.max(np.abs(mdp.costs))))
    return FLIP_TIE_RTOL * max(scale, 1.0) + 2.0 * plan.value_error_bound


def _touches(point: _Point, plan: _Plan, lam: float, tie: float) -> bool:
    r"""Is the line of ``point`` within ``tie`` (plus its evaluation error) of D at lam?"""
    gap = plan.value - (point.value - lam * point.cost)
    return gap <= tie + 2.0 * (1.0 + lam) * point.error


def _repair(mdp: TabularMDP, point: _Point, plan: _Plan) -> _Point:
    r"""``point``'s policy with the plan's (greedy) actions at the states it never visits.

    A policy optimal from :math:`\mu_0` is greedy at the states it visits but arbitrary at
    the others; changing those changes neither its occupancy nor its values, and makes it
    greedy in every state, which the walk needs (an intermediate policy may visit them).
    A state counts as visited when its occupancy exceeds 64 ulps; since a round-off-sized
    occupancy still moves the values a little, a changed policy is evaluated again.
    """
    d = occupancy(mdp, _one_hot(mdp, point.actions)).reshape(-1, mdp.A).sum(axis=1)
    a = point.actions.ravel()
    acts = np.where(d > 64 * EPS, a, plan.actions.ravel()).reshape(point.actions.shape)
    return point if np.array_equal(acts, point.actions) else _evaluate(mdp, acts, point)


# -- Lagrangian plans and exact evaluation -------------------------------------------------


def _one_hot(mdp: TabularMDP, actions: np.ndarray) -> np.ndarray:
    return np.eye(mdp.A)[actions]


def _plan(mdp: TabularMDP, wr: float, wc: float, actions0: np.ndarray,
          start: _Point | None = None) -> tuple[_Plan, _Point]:
    r"""Optimal plan for the reward :math:`w_rr+w_cc` and its policy's values, keeping
    ``actions0`` wherever it is optimal.

    Discounted: Howard's policy iteration from ``actions0`` (values of ``start`` reused when
    it is that policy). Each policy's values of r and c are solved together, warm-started
    from the previous ones, so :math:`V_{w_rr+w_cc}=w_rV_r+w_cV_c` and the point's
    (value, cost) come free. As in :func:`~solvers.planning.policy_iteration`, a state
    switches only if the gain exceeds twice the certified error of the computed q, so tied
    actions are kept and ties cannot cycle; on exit
    :math:`\|V^\pi-V^\star\|_\infty\le\rho/(1-\gamma)+` errors, :math:`\rho` the Bellman
    residual. Finite horizon: :func:`_backward_induction_keeping`.
    """
    reward = wr * mdp.r + wc * mdp.costs[0]
    if mdp.finite_horizon:
        plan = _backward_induction_keeping(_with_reward(mdp, reward), np.broadcast_to(
            actions0, (mdp.horizon, mdp.S)))
        return plan, _evaluate(mdp, plan.actions)
    S, A, g = mdp.S, mdp.A, mdp.gamma
    Pm = mdp.transition_matrix
    m = int(np.max(np.diff(Pm.indptr)))
    rows = np.arange(S)
    same = start is not None and start.vr is not None and np.array_equal(start.actions,
                                                                            actions0)
    point = start if same else _evaluate(mdp, np.asarray(actions0), start)
    for _ in range(_PI_MAX_ITER):
        vL = wr * point.vr + wc * point.vc
        Q = reward + g * (Pm @ vL).reshape(S, A)
        err = (abs(wr) + abs(wc)) * point.error
        rounding = (m + 2) * EPS * (float(np.max(np.abs(reward))) + g * float(
            np.max(np.abs(vL)))) / (1.0 - g)
        best = np.argmax(Q, axis=1)
        improve = Q[rows, best] - Q[rows, point.actions] > 2.0 * (err + rounding)
        if not improve.any():
            break
        point = _evaluate(mdp, np.where(improve, best, point.actions), point)
    else:
        raise RuntimeError(f"flip: policy iteration did not end in {_PI_MAX_ITER} steps")
    bound = float(np.max(np.abs(Q.max(axis=1) - vL))) / (1.0 - g) + err + rounding
    return _Plan(vL, Q, point.actions, float(mdp.mu0 @ vL), bound), point


def _backward_induction_keeping(model: TabularMDP, actions0: np.ndarray | None) -> _Plan:
    r"""Backward induction :math:`Q_t=r+PV_{t+1}`, :math:`V_t=\max_aQ_t`, keeping ``actions0``.

    At (t, s) the action ``actions0[t, s]`` is kept when
    :math:`Q_t(s,a_0)\ge V_t(s)-\tau`, else the lowest argmax is taken. :math:`\tau`
    is twice the rounding bound of a computed :math:`Q_t` (H backward steps, each
    :math:`(m+2)\varepsilon(\|r\|_\infty+\|V\|_\infty)` with m the most successors), so a
    tie that float rounding broke is still a tie, and a kept action loses at most
    :math:`\tau` per step. Without the warm start, the chord search would see the same
    tie-broken policy at :math:`\lambda^\star` from both sides and stall.
    """
    H, S, A = model.horizon, model.S, model.A
    Pm = model.transition_matrix
    m = int(np.max(np.diff(Pm.indptr)))
    rmax = float(np.max(np.abs(model.r)))
    tau = 2.0 * H * (m + 2) * EPS * (rmax + H * rmax)
    V = np.zeros((H + 1, S))
    Qs = np.empty((H, S, A))
    actions = np.empty((H, S), dtype=np.int64)
    rows = np.arange(S)
    for t in range(H - 1, -1, -1):
        Q = model.r + (Pm @ V[t + 1]).reshape(S, A)
        V[t] = Q.max(axis=1)
        Qs[t] = Q
        best = np.argmax(Q, axis=1)
        if actions0 is not None:
            keep = Q[rows, actions0[t]] >= V[t] - tau
            best = np.where(keep, actions0[t], best)
        actions[t] = best
    return _Plan(V[:H], Qs, actions, float(model.mu0 @ V[0]), H * tau)


def _evaluate(mdp: TabularMDP, actions: np.ndarray, warm: _Point | None = None) -> _Point:
    """Exact values of r and c for a deterministic policy (discounted: one solve of
    (I - gamma P_pi) [v_r, v_c] = [r_pi, c_pi], warm-started from ``warm``)."""
    if mdp.finite_horizon:
        ev = evaluate(mdp, _one_hot(mdp, actions))
        return _Point(np.asarray(actions), float(ev.value), float(ev.cost_values[0]),
                      float(ev.error_bound))
    rows, g = np.arange(mdp.S), mdp.gamma
    P_pi = policy_kernel(mdp, _one_hot(mdp, actions))
    rhs = np.column_stack([mdp.r[rows, actions], mdp.costs[0][rows, actions]])
    x0 = None if warm is None or warm.vr is None else np.column_stack([warm.vr, warm.vc])
    X, residual, _method = solve_discounted_system(mdp, P_pi, rhs, transpose=False, x0=x0)
    error = (residual + residual_rounding(P_pi, g, rhs, X)) / (1.0 - g)
    value, cost = mdp.mu0 @ X
    return _Point(np.asarray(actions), float(value), float(cost), float(error), X[:, 0], X[:, 1])
