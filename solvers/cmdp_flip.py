r"""Exact one-constraint CMDPs without an LP: ``solve_cmdp(..., method="flip")``.

For K = 1 the Lagrangian dual (cmdp_ccmdp notes §2.4)

.. math::
    D(\lambda)=\max_\pi V_{r-\lambda c}(\pi)+\lambda b
    =\max_{\pi\ \text{deterministic}}\big[V_r(\pi)+\lambda\,(b-V_c(\pi))\big]

is the upper envelope of the lines :math:`\ell_\pi(\lambda)=V_r(\pi)+\lambda(b-V_c(\pi))`
of the deterministic policies, so it is convex and piecewise linear, and its
subdifferential at :math:`\lambda` is :math:`[b-C_{\max}(\lambda),\,b-C_{\min}(\lambda)]`
(the costs of the Lagrangian-optimal policies). The solver

1. solves the unconstrained problem (:math:`\lambda=0`); if that policy meets the
   budget it is optimal with :math:`\lambda^\star=0`;
2. computes :math:`C_{\min}=\min_\pi V_c(\pi)` (policy iteration on :math:`-c`); if
   :math:`C_{\min}>b` it returns status "infeasible" with the same
   :class:`~solvers.cmdp.InfeasibilityCertificate` as the LP path (weights ``[1]``);
3. otherwise runs the chord (Newton--Eisner--Severance) search on :math:`D`
   (:mod:`solvers.cmdp_flip_search`): keep a
   line of slope < 0 (a policy with cost > b) and one of slope >= 0 (cost <= b),
   move to their intersection :math:`\lambda'=(V_r^{hi}-V_r^{lo})/(C^{hi}-C^{lo})`,
   re-solve the Lagrangian there by policy iteration warm-started from the high-cost
   policy, and replace the line on the side of the new policy's cost. Each solve gives a
   tangent line of a piece of :math:`D`, so the search ends after finitely many steps
   (at most the number of pieces; 13-17 on the benchmark models with S = 2e3..1e5). It
   stops when optimal policies on both sides of b are known at the same
   :math:`\lambda'` -- the new one, or an old one whose line touches :math:`D` at
   :math:`\lambda'` (within :data:`FLIP_TIE_RTOL`) -- because then
   :math:`0\in\partial D(\lambda')`, i.e. :math:`\lambda'=\lambda^\star`;
4. walks from :math:`\pi_{hi}` to :math:`\pi_{lo}` one state at a time. Both are made
   greedy with respect to the same :math:`Q^\star_{\lambda^\star}` *in every state*
   (policy iteration certifies all states; an old policy gets the greedy action at the
   states it never visits, which changes none of its values), so every intermediate
   policy is greedy too, hence Lagrangian-optimal. Costs along the walk need not be
   monotone, but cost(prefix 0) > b >= cost(prefix m), so bisection on the prefix
   length finds an adjacent pair straddling b in :math:`O(\log m)` evaluations;
5. mixes that pair at its single differing state
   (:func:`~solvers.flipping_decomposition.one_state_mixture_probability`).
   The resulting stationary policy is Lagrangian-optimal, has cost exactly b and
   randomises in one state, so (complementary slackness) it is a CMDP optimum.

Finite-horizon models work the same way over (t, s) pairs, with backward induction
in place of policy iteration. Values are :math:`E[\sum_t\gamma^tr_t]` (finite horizon:
:math:`E[\sum_{t<H}r_t]`), not scaled by :math:`1-\gamma`.

References: Altman, *Constrained Markov Decision Processes* (1999), ch. 3; Feinberg &
Rothblum, Math. Oper. Res. 37(1), 2012 (splitting); Shen et al., arXiv 2410.06474
(flipping-based policies); cmdp_ccmdp notes §2.1-2.4.
"""

from __future__ import annotations

import numpy as np

from .cmdp import CMDPResult, InfeasibilityCertificate
from .cmdp_flip_search import (
    FLIP_MAX_CHORD_STEPS,
    _chord_search,
    _evaluate,
    _meets,
    _one_hot,
    _Plan,
    _plan,
    _Point,
)
from .errors import ModelError
from .evaluation import evaluate, occupancy
from .flipping_decomposition import one_state_mixture_probability
from .mdp import TabularMDP
from .tolerances import FLIP_TIE_RTOL

__all__ = ["FLIP_MAX_CHORD_STEPS", "FLIP_TIE_RTOL", "solve_cmdp_flip"]


def solve_cmdp_flip(mdp: TabularMDP, b: np.ndarray) -> CMDPResult:
    r"""Solve a K = 1 CMDP exactly by the flipping construction (module docstring).

    Parameters
    ----------
    mdp : TabularMDP
        Discounted or finite-horizon model with exactly one cost.
    b : ndarray (1,)
        Validated budget (:func:`solvers.cmdp.solve_cmdp` checks it).

    Returns
    -------
    CMDPResult
        ``method == "flip"``; when optimal, ``pi`` randomises in at most one state
        ((t, s) pair), ``d`` is its occupancy (:func:`~solvers.evaluation.occupancy`),
        ``lam == [lam*]`` and ``v`` is the optimal value function of
        :math:`r-\lambda^\star c` (policy iteration / backward induction), so that
        ``value == mu0 @ v + lam @ b``. Values are :math:`E[\sum_t\gamma^tr_t]`.

    Raises
    ------
    ModelError
        ``field="costs"`` when K != 1.
    RuntimeError
        If policy iteration or the chord search fails to terminate (numerical stall).
    """
    if mdp.K != 1:
        raise ModelError(f"method='flip' solves one-constraint CMDPs; the model has K = {mdp.K} "
                         "costs, expected K = 1 (use method='lp' for K >= 2)", field="costs")
    budget = float(b[0])
    cost = mdp.costs[0]
    plan0, start = _plan(mdp, 1.0, 0.0, np.argmax(mdp.r, axis=1))
    if _meets(start, budget):
        return _deterministic_result(mdp, b, start, 0.0, plan0,
                                     "unconstrained optimum meets the budget: lam* = 0")
    plan_c, lo = _plan(mdp, 0.0, -1.0, np.argmin(cost, axis=1))
    cmin, cmin_error = -plan_c.value, plan_c.value_error_bound + lo.error
    if not _meets(lo, budget) and cmin - budget > cmin_error:
        cert = InfeasibilityCertificate(np.array([1.0]), cmin, budget, plan_c.value_error_bound,
                                        cmin - budget)
        nan = float("nan")
        return CMDPResult(mdp, b, "infeasible",
                          f"min_pi V_c(pi) = {cmin!r} > b = {budget!r} (policy iteration on -c, "
                          f"error <= {cmin_error:.3g})", "flip", nan, None, None, None, None,
                          None, cert)
    note = ""
    if not _meets(lo, budget):  # b = min cost up to the certified error: relax b by that
        budget = lo.cost
        note = f"; b is the minimum cost up to {cmin_error:.3g}, met as {lo.cost!r}"
        if _meets(start, budget):
            return _deterministic_result(mdp, b, start, 0.0, plan0, "unconstrained optimum "
                                         "meets the budget: lam* = 0" + note)
    lam, plan_hi, hi, lo, steps = _chord_search(mdp, budget, start, lo)
    pair, visited = _walk(mdp, budget, hi, lo)
    p1, p2, slot = pair
    msg = (f"flip: lam* = {lam!r} after {steps} chord steps; walk of {visited} evaluations "
           "between two Lagrangian-optimal deterministic policies" + note)
    if p2.cost >= budget or slot is None:  # p2 meets b exactly (within its error)
        return _deterministic_result(mdp, b, p2, lam, plan_hi, msg + "; deterministic optimum")
    return _mixed_result(mdp, b, budget, p1, p2, slot, lam, plan_hi, msg)


# -- the walk between the two Lagrangian-optimal policies ---------------------------------


def _walk(mdp: TabularMDP, budget: float, hi: _Point,
          lo: _Point) -> tuple[tuple[_Point, _Point, int | None], int]:
    """Adjacent pair on the one-state-at-a-time walk hi -> lo with cost(p1) > b >= cost(p2).

    Returns ((p1, p2, flat index of the differing slot), number of evaluations).
    """
    diff = np.flatnonzero(hi.actions.ravel() != lo.actions.ravel())
    if _meets(hi, budget) or diff.size == 0:
        return (lo, lo, None), 0
    left, right = 0, diff.size  # cost(prefix left) > b >= cost(prefix right)
    pts = {0: hi, diff.size: lo}
    evals = 0
    while right - left > 1:
        mid = (left + right) // 2
        pts[mid] = _evaluate(mdp, _prefix(hi.actions, lo.actions, diff[:mid]), hi)
        evals += 1
        if not _meets(pts[mid], budget):
            left = mid
        else:
            right = mid
    return (pts[left], pts[right], int(diff[left])), evals


def _prefix(hi: np.ndarray, lo: np.ndarray, slots: np.ndarray) -> np.ndarray:
    acts = hi.ravel().copy()
    acts[slots] = lo.ravel()[slots]
    return acts.reshape(hi.shape)


# -- results ---------------------------------------------------------------------------------


def _mixed_result(mdp: TabularMDP, b: np.ndarray, budget: float, p1: _Point, p2: _Point,
                  slot: int, lam: float, plan: _Plan, msg: str) -> CMDPResult:
    """Randomise at ``slot`` between p1 (cost > b) and p2 (cost <= b) to meet b exactly."""
    w = (budget - p2.cost) / (p1.cost - p2.cost)
    occ1 = occupancy(mdp, _one_hot(mdp, p1.actions)).reshape(-1, mdp.A)[slot].sum()
    occ2 = occupancy(mdp, _one_hot(mdp, p2.actions)).reshape(-1, mdp.A)[slot].sum()
    p = one_state_mixture_probability(w, float(occ1), float(occ2))
    pi = _one_hot(mdp, p2.actions)
    flat = pi.reshape(-1, mdp.A)
    a1 = int(p1.actions.ravel()[slot])
    flat[slot] *= 1.0 - p
    flat[slot, a1] += p
    where = np.unravel_index(slot, p1.actions.shape)
    return _result(mdp, b, pi, lam, plan,
                   msg + f"; mixed at {tuple(int(i) for i in where)} with p = {p!r} "
                   f"(episode weight {w!r})")


def _deterministic_result(mdp: TabularMDP, b: np.ndarray, point: _Point, lam: float,
                          plan: _Plan, msg: str) -> CMDPResult:
    return _result(mdp, b, _one_hot(mdp, point.actions), lam, plan, msg)


def _result(mdp: TabularMDP, b: np.ndarray, pi: np.ndarray, lam: float,
            plan: _Plan, msg: str) -> CMDPResult:
    ev = evaluate(mdp, pi)
    d = occupancy(mdp, pi)
    return CMDPResult(mdp, b, "optimal", msg, "flip", float(ev.value),
                      np.asarray(ev.cost_values, dtype=float), pi, d, np.array([lam]),
                      np.asarray(plan.v, dtype=float).copy())

