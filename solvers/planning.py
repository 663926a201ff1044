r"""Optimal control of a TabularMDP: value iteration, policy iteration, backward induction.

Bellman optimality operator (discounted):

.. math::
    (T v)(s) = \max_a\Big[r(s,a) + \gamma\sum_{s'}P(s'|s,a)v(s')\Big].

:math:`T` is a :math:`\gamma`-contraction in :math:`\|\cdot\|_\infty`, so for any
:math:`v`, :math:`\|v-V^\star\|_\infty\le\|Tv-v\|_\infty/(1-\gamma)`, and if
:math:`v_{k+1}=Tv_k` with :math:`\|v_{k+1}-v_k\|_\infty=\varepsilon` then
:math:`\|v_{k+1}-V^\star\|_\infty\le\varepsilon\gamma/(1-\gamma)` (Puterman 1994,
Thm 6.3.1). Value iteration stops on that certified bound, never on the
greedy policy ceasing to change.

Policy iteration (Howard) evaluates each policy exactly and stops when no
action improves any state by more than the evaluation's certified error;
backward induction solves finite-horizon models exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .evaluation import evaluate
from .mdp import TabularMDP
from .planning_certificate import Certificate, verify_planning
from .policies import greedy_policy
from .tolerances import BELLMAN_TOL, EPS

__all__ = [
    "PlanningResult",
    "backward_induction",
    "bellman_q",
    "bellman_rounding",
    "policy_iteration",
    "value_iteration",
]


@dataclass(frozen=True, eq=False)
class PlanningResult:
    r"""Optimal values and a greedy policy, with a certificate of optimality.

    Values are :math:`E[\sum_t\gamma^tr_t]` (finite horizon: :math:`E[\sum_{t<H}r_t]`).

    Attributes
    ----------
    status : {"optimal", "iteration_limit"}
        Read it before using the solution.
    message : str
        What was certified, or which parameter to change.
    v : ndarray (S,) or (H, S)
        Value estimate; ``v[t]`` is the value-to-go from time t (finite horizon).
    q : ndarray (S, A) or (H, S, A)
        :math:`r+\gamma Pv` (finite horizon: :math:`q_t=r+Pv_{t+1}`).
    pi : ndarray (S, A) or (H, S, A)
        Deterministic greedy policy (one-hot rows).
    actions : ndarray (S,) or (H, S)
        The greedy actions as indices.
    value : float
        :math:`\mu_0^\top v`.
    bellman_residual : float
        :math:`\|Tv-v\|_\infty` of the returned ``v`` (0 for backward induction).
    value_error_bound : float
        Certified bound on :math:`\|v-V^\star\|_\infty`.
    policy_gap_bound : float
        Certified bound on :math:`\|V^\pi-V^\star\|_\infty` for the returned policy.
    iterations : int
    method : str
    """

    mdp: TabularMDP = field(repr=False)
    status: str
    message: str
    v: np.ndarray
    q: np.ndarray
    pi: np.ndarray
    actions: np.ndarray
    value: float
    bellman_residual: float
    value_error_bound: float
    policy_gap_bound: float
    iterations: int
    method: str

    def certificate(self) -> Certificate:
        """Recompute the optimality certificate from the model (float arithmetic)."""
        return verify_planning(self, exact=False)

    def verify(self, exact: bool = False) -> Certificate:
        """Recompute the Bellman residual from the model alone; ``exact=True`` uses rationals.

        The returned :class:`Certificate` has ``ok`` True when the recomputed
        bounds are no larger than the ones this result claims.
        """
        return verify_planning(self, exact=exact)


def bellman_q(mdp: TabularMDP, v: np.ndarray) -> np.ndarray:
    r""":math:`q(s,a)=r(s,a)+\gamma\sum_{s'}P(s'|s,a)v(s')`, shape (S, A).

    For a finite-horizon model the discount is 1 (one backward step).
    """
    return mdp.r + mdp.gamma * (mdp.transition_matrix @ v).reshape(mdp.S, mdp.A)


class _ActionMajorBackup:
    r"""The backup :math:`q^\top=r^\top+\gamma\,(P_{a\cdot}v)_{a}` in action-major layout (A, S).

    Rows of P are reordered once per solve so that the max over actions runs
    over a contiguous axis; dense models use a BLAS matrix-vector product.
    """

    def __init__(self, mdp: TabularMDP) -> None:
        S, A = mdp.S, mdp.A
        if mdp.is_sparse:
            order = (np.arange(S)[None, :] * A + np.arange(A)[:, None]).ravel()
            self.Pa = mdp.transition_matrix[order]
        else:
            self.Pa = np.ascontiguousarray(np.swapaxes(mdp.P, 0, 1).reshape(A * S, S))
        self.ra = np.ascontiguousarray(mdp.r.T)
        self.gamma, self.shape = mdp.gamma, (A, S)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        Q = (self.Pa @ v).reshape(self.shape)
        Q *= self.gamma
        Q += self.ra
        return Q


def bellman_rounding(mdp: TabularMDP, v: np.ndarray) -> float:
    r"""Bound on the float64 rounding in the fixed point of computed Bellman updates.

    One update :math:`r+\gamma Pv` with at most ``m`` successors per row is
    exact to :math:`(m+2)\,\varepsilon\,(\|r\|_\infty+\gamma\|v\|_\infty)`
    (recursive summation); the contraction turns a per-step error
    :math:`\delta` into at most :math:`\delta/(1-\gamma)` on the fixed point.
    """
    indptr = mdp.transition_matrix.indptr
    m = int(np.max(np.diff(indptr))) if indptr.size > 1 else 1
    vmax = float(np.max(np.abs(v))) if v.size else 0.0
    step = (m + 2) * EPS * (float(np.max(np.abs(mdp.r))) + mdp.gamma * vmax)
    return step / (1.0 - mdp.gamma)


def value_iteration(
    mdp: TabularMDP,
    tol: float = BELLMAN_TOL,
    *,
    v0: np.ndarray | None = None,
    max_iter: int | None = None,
) -> PlanningResult:
    r"""Value iteration :math:`v_{k+1}=Tv_k` with a certified stop.

    Stops at the first k with :math:`\varepsilon_k\gamma/(1-\gamma)+\rho_{fl}\le` ``tol``,
    where :math:`\varepsilon_k=\|v_{k+1}-v_k\|_\infty` and :math:`\rho_{fl}` bounds
    float64 rounding (:func:`bellman_rounding`); then
    :math:`\|v_{k+1}-V^\star\|_\infty\le` ``tol`` (Puterman 1994, Thm 6.3.1) and
    the greedy policy is :math:`2\gamma\,\mathrm{tol}/(1-\gamma)`-optimal.
    A finite-horizon model is solved exactly by :func:`backward_induction`.

    Parameters
    ----------
    mdp : TabularMDP
    tol : float
        Target bound on :math:`\|v-V^\star\|_\infty`.
    v0 : ndarray (S,), optional
        Starting point (default 0).
    max_iter : int, optional
        Default: the iteration count the contraction guarantees, plus 10.

    Returns
    -------
    PlanningResult
        ``status == "iteration_limit"`` if rounding prevents reaching ``tol``.
    """
    if mdp.finite_horizon:
        return backward_induction(mdp)
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol = {tol!r}, expected a positive finite number")
    gamma = mdp.gamma
    backup = _ActionMajorBackup(mdp)
    v = np.zeros(mdp.S) if v0 is None else np.asarray(v0, dtype=float).copy()
    v_new = backup(v).max(axis=0)
    eps = float(abs(v_new - v).max())
    if max_iter is None:
        if gamma == 0.0 or eps == 0.0:
            max_iter = 10
        else:
            # in logs: gamma * eps can underflow to 0 for tiny gamma and rewards
            log_ratio = math.log(tol) + math.log1p(-gamma) - math.log(gamma) - math.log(eps)
            need = log_ratio / math.log(gamma)
            max_iter = max(math.ceil(need), 0) + 10
    rounding = bellman_rounding(mdp, v_new)
    k = 1
    while eps * gamma / (1.0 - gamma) + rounding > tol and k < max_iter:
        v = v_new
        v_new = backup(v).max(axis=0)
        eps = float(abs(v_new - v).max())
        k += 1
        if k % 64 == 0:
            rounding = bellman_rounding(mdp, v_new)
    q = np.ascontiguousarray(backup(v_new).T)
    residual = float(np.max(np.abs(q.max(axis=1) - v_new)))
    rounding = bellman_rounding(mdp, v_new)
    bound = min(eps * gamma, residual) / (1.0 - gamma) + rounding
    ok = bound <= tol
    actions = np.argmax(q, axis=1)
    message = (
        f"certified: ||v - V*||_inf <= eps*gamma/(1-gamma) + rounding = {bound:.3g} "
        f"<= tol = {tol:g} after {k} iterations (eps = {eps:.3g})"
        if ok
        else f"iteration limit {max_iter} reached with ||v - V*||_inf <= {bound:.3g} > tol = "
        f"{tol:g}; increase tol (rounding floor) or max_iter"
    )
    return PlanningResult(
        mdp=mdp, status="optimal" if ok else "iteration_limit", message=message,
        v=v_new, q=q, pi=greedy_policy(q), actions=actions, value=float(mdp.mu0 @ v_new),
        bellman_residual=residual, value_error_bound=bound,
        policy_gap_bound=2.0 * gamma * bound / (1.0 - gamma), iterations=k,
        method="value_iteration",
    )


def policy_iteration(
    mdp: TabularMDP, *, actions0: np.ndarray | None = None, max_iter: int = 10_000
) -> PlanningResult:
    r"""Howard's policy iteration with exact evaluation.

    Each step evaluates the deterministic policy by a linear solve (warm-started
    from the previous values on large models) and switches a state's action
    only if it improves :math:`q` by more than twice the certified error of the
    computed :math:`q` (measured residual plus rounding), so every switch is a
    true improvement and ties cannot make it cycle. On exit no action improves any state by more
    than that bound, so :math:`\|V^\pi-V^\star\|_\infty\le\rho/(1-\gamma)`
    with :math:`\rho` the reported Bellman residual. Finite-horizon models
    are solved by :func:`backward_induction`.
    """
    if mdp.finite_horizon:
        return backward_induction(mdp)
    S, A = mdp.S, mdp.A
    actions = np.argmax(mdp.r, axis=1) if actions0 is None else np.asarray(actions0).copy()
    eye = np.eye(A)
    status = "iteration_limit"
    iterations = 0
    v_prev = None
    while True:
        iterations += 1
        ev = evaluate(mdp, eye[actions], v0=v_prev)
        v_prev = ev.v
        q = ev.q
        # A switch must beat the error of the computed q: |q_hat - q| <= gamma e + rounding.
        thr = 2.0 * (ev.error_bound + bellman_rounding(mdp, ev.v))
        best = np.argmax(q, axis=1)
        gain = q[np.arange(S), best] - q[np.arange(S), actions]
        improve = gain > thr
        if not improve.any():
            status = "optimal"
            break
        if iterations >= max_iter:
            break  # keep the evaluated policy so that v, q and pi agree
        actions = np.where(improve, best, actions)
    v = ev.v
    residual = float(np.max(np.abs(q.max(axis=1) - v)))
    bound = residual / (1.0 - mdp.gamma) + ev.error_bound + bellman_rounding(mdp, v)
    if status == "optimal":
        message = (f"certified after {iterations} policy evaluations: no action improves any "
                   f"state by more than {thr:.3g}; ||V^pi - V*||_inf <= {bound:.3g}")
    else:
        message = (f"policy iteration hit max_iter = {max_iter}; the last policy is within "
                   f"{bound:.3g} of optimal; increase max_iter")
    return PlanningResult(
        mdp=mdp, status=status, message=message, v=v, q=q, pi=eye[actions], actions=actions,
        value=float(mdp.mu0 @ v), bellman_residual=residual, value_error_bound=bound,
        policy_gap_bound=bound, iterations=iterations, method="policy_iteration",
    )


def backward_induction(mdp: TabularMDP) -> PlanningResult:
    r"""Exact finite-horizon dynamic programming.

    :math:`V_H=0`, :math:`Q_t=r+PV_{t+1}`, :math:`\pi_t=\arg\max_aQ_t`,
    :math:`V_t=\max_aQ_t` for :math:`t=H-1,\dots,0`; value :math:`\mu_0^\top V_0
    = \max_\pi E[\sum_{t<H}r_t]`.
    """
    if not mdp.finite_horizon:
        raise ValueError("backward_induction needs a finite-horizon model (horizon set)")
    H, S, A = mdp.horizon, mdp.S, mdp.A
    Pm = mdp.transition_matrix
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    for t in range(H - 1, -1, -1):
        Q[t] = mdp.r + (Pm @ V[t + 1]).reshape(S, A)
        V[t] = Q[t].max(axis=1)
    actions = np.argmax(Q, axis=2)
    return PlanningResult(
        mdp=mdp, status="optimal", message=f"exact backward induction over H = {H} steps",
        v=V[:H], q=Q, pi=np.eye(A)[actions], actions=actions, value=float(mdp.mu0 @ V[0]),
        bellman_residual=0.0, value_error_bound=0.0, policy_gap_bound=0.0, iterations=H,
        method="backward_induction",
    )
