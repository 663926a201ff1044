r"""The KL-regularised constrained bandit written in cvxpy: an independent cross-check.

Solves the same problem as :func:`solvers.kl_bandit.solve_kl_bandit`,

.. math::

    \max_{\pi\ge0}\ \sum_s\mu_0(s)\Big[\sum_a\pi(a|s)r(s,a)
    -\beta\sum_{a}\mathrm{rel\_entr}(\pi(a|s),\pi_{ref}(a|s))\Big]
    \ \text{s.t.}\ \sum_a\pi(a|s)=1,\ \sum_{s,a}\mu_0\pi g\ge b,

with a generic conic solver (exponential cone; ``cp.rel_entr``), no closed form and no
bisection. The multiplier is the dual value of the safety constraint. Variables live
only on the support of :math:`\pi_{ref}`. Values are one-step expectations
(:math:`\gamma=0`), not rescaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from .kl_bandit import KLBandit

__all__ = ["CvxpyKLResult", "solve_kl_bandit_cvxpy"]


@dataclass(frozen=True)
class CvxpyKLResult:
    """cvxpy's answer: ``status`` ("optimal", "infeasible" or cvxpy's own status string).

    ``policy`` (S, A) is meaningful on prompts with :math:`\\mu_0>0` (elsewhere the
    objective does not depend on it); ``value`` is :math:`R(\\pi)`; ``lam`` the dual value
    of :math:`G(\\pi)\\ge b`.
    """

    status: str
    value: float | None = None
    policy: np.ndarray | None = None
    lam: float | None = None
    G: float | None = None


def solve_kl_bandit_cvxpy(problem: KLBandit, solver: str = "CLARABEL") -> CvxpyKLResult:
    r"""Solve :class:`~solvers.kl_bandit.KLBandit` with cvxpy (KL via ``cp.rel_entr``).

    Parameters
    ----------
    problem : KLBandit
    solver : str
        A cvxpy solver supporting the exponential cone (default CLARABEL).

    Returns
    -------
    CvxpyKLResult
    """
    S, A = problem.S, problem.A
    idx = np.argwhere(problem.support)  # (n, 2) rows (s, a) of the support
    n = len(idx)
    x = cp.Variable(n, nonneg=True)
    w = problem.mu0[idx[:, 0]]
    ref = problem.pi_ref[idx[:, 0], idx[:, 1]]
    r = problem.r[idx[:, 0], idx[:, 1]]
    g = problem.g[idx[:, 0], idx[:, 1]]
    rows = np.zeros((S, n))
    rows[idx[:, 0], np.arange(n)] = 1.0
    objective = cp.Maximize((w * r) @ x - problem.beta * (w @ cp.rel_entr(x, ref)))
    safety = (w * g) @ x >= problem.b
    prob = cp.Problem(objective, [rows @ x == 1, safety])
    prob.solve(solver=solver)
    if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        status = "infeasible" if prob.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE) \
            else str(prob.status)
        return CvxpyKLResult(status)
    pi = np.zeros((S, A))
    pi[idx[:, 0], idx[:, 1]] = np.clip(x.value, 0.0, None)
    pi /= pi.sum(axis=1, keepdims=True)
    return CvxpyKLResult("optimal" if prob.status == cp.OPTIMAL else str(prob.status),
                         value=float(prob.value), policy=pi, lam=float(safety.dual_value),
                         G=float(problem.mu0 @ np.sum(pi * problem.g, axis=1)))
