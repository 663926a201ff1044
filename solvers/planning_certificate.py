r"""Independent re-verification of planning results (float or exact rational).

Given only the model and a result's ``v`` and ``pi``, recompute:

- the Bellman residual :math:`\rho=\|Tv-v\|_\infty`, which bounds
  :math:`\|v-V^\star\|_\infty\le\rho/(1-\gamma)` for *any* ``v``;
- the policy's own values :math:`V^\pi` by a separate solve, which bounds its
  sub-optimality :math:`\|V^\star-V^\pi\|_\infty\le\|v-V^\pi\|_\infty+\rho/(1-\gamma)`.

Finite horizon: :math:`\|v_t-V^\star_t\|_\infty\le(H-t)\,\max_t\rho_t`.
With ``exact=True`` every quantity is recomputed in rational arithmetic on
the stored floats; for a deterministic policy the exact advantage
:math:`\max_{s,a}[q^\pi(s,a)-V^\pi(s)]` is 0 iff the policy is exactly optimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from .evaluation import evaluate
from .exact import exact_bellman_q, exact_policy_values, fraction_array
from .tolerances import EPS, linear_solve_tol

if TYPE_CHECKING:
    from .planning import PlanningResult

__all__ = ["Certificate", "verify_planning"]


@dataclass(frozen=True)
class Certificate:
    """Outcome of re-verifying a result from the model alone.

    ``ok`` is True when every recomputed bound is within the claimed one
    (plus the float rounding allowance ``allowance``; 0 extra for exact).
    """

    ok: bool
    exact: bool
    bellman_residual: float
    value_error_bound: float
    policy_gap_bound: float
    policy_exactly_optimal: bool | None
    allowance: float
    message: str


def _allowance(result: PlanningResult) -> float:
    """Float rounding in recomputing a residual: the solve bound (discounted) or H^2 S eps."""
    mdp = result.mdp
    scale = max(float(np.max(np.abs(mdp.r))), float(np.max(np.abs(result.v))), 1.0)
    if mdp.finite_horizon:
        return 64.0 * mdp.horizon**2 * mdp.S * EPS * scale
    return linear_solve_tol(mdp.S, scale, mdp.gamma)


def verify_planning(result: PlanningResult, exact: bool = False) -> Certificate:
    """Recompute ``result``'s certificate from ``result.mdp``; see the module docstring."""
    mdp = result.mdp
    if mdp.finite_horizon:
        return _verify_finite(result, exact)
    gamma = mdp.gamma
    allow = _allowance(result)
    if exact:
        v = fraction_array(result.v)
        q = exact_bellman_q(mdp, v)
        rho = max(abs(q[s].max() - v[s]) for s in range(mdp.S))
        vpi = exact_policy_values(mdp, result.pi)
        qpi = exact_bellman_q(mdp, vpi)
        adv = max(qpi[s].max() - (fraction_array(result.pi[s]) * qpi[s]).sum()
                  for s in range(mdp.S))
        one_minus = 1 - Fraction(gamma)
        gap = max(adv, Fraction(0)) / one_minus
        dist = max(abs(v[s] - vpi[s]) for s in range(mdp.S))
        value_bound = min(rho / one_minus, dist + gap)
        ok = (value_bound <= Fraction(result.value_error_bound) + Fraction(allow)
              and gap <= Fraction(result.policy_gap_bound) + Fraction(allow))
        return Certificate(
            ok=bool(ok), exact=True, bellman_residual=float(rho),
            value_error_bound=float(value_bound), policy_gap_bound=float(gap),
            policy_exactly_optimal=bool(adv <= 0), allowance=allow,
            message=("policy exactly optimal (rational advantage <= 0)" if adv <= 0
                     else f"rational advantage {float(adv):.3g} > 0: policy within "
                          f"{float(gap):.3g} of optimal"),
        )
    q = result.mdp.r + gamma * (mdp.transition_matrix @ result.v).reshape(mdp.S, mdp.A)
    rho = float(np.max(np.abs(q.max(axis=1) - result.v)))
    ev = evaluate(mdp, result.pi)
    value_bound = rho / (1.0 - gamma)
    gap = float(np.max(np.abs(result.v - ev.v))) + value_bound + ev.error_bound
    ok = (value_bound <= result.value_error_bound + allow
          and gap <= result.policy_gap_bound + 2 * allow)
    return Certificate(
        ok=bool(ok), exact=False, bellman_residual=rho, value_error_bound=value_bound,
        policy_gap_bound=gap, policy_exactly_optimal=None, allowance=allow,
        message=f"recomputed ||Tv - v||_inf = {rho:.3g}; ||v - V*||_inf <= {value_bound:.3g}",
    )


def _verify_finite(result: PlanningResult, exact: bool) -> Certificate:
    mdp = result.mdp
    H, S = mdp.horizon, mdp.S
    allow = _allowance(result)
    if exact:
        vstar = exact_policy_values(mdp, result.pi)  # (H+1, S) exact values of pi
        # exact optimal values by backward induction in rationals
        opt = np.empty((H + 1, S), dtype=object)
        opt[H] = [Fraction(0)] * S
        for t in range(H - 1, -1, -1):
            qt = exact_bellman_q(mdp, opt[t + 1], discount=Fraction(1))
            opt[t] = [qt[s].max() for s in range(S)]
        v = fraction_array(result.v)
        value_err = max(abs(v[t, s] - opt[t, s]) for t in range(H) for s in range(S))
        gap = max(opt[t, s] - vstar[t, s] for t in range(H) for s in range(S))
        ok = (value_err <= Fraction(result.value_error_bound) + Fraction(allow)
              and gap <= Fraction(result.policy_gap_bound) + Fraction(allow))
        return Certificate(
            ok=bool(ok), exact=True, bellman_residual=float(value_err),
            value_error_bound=float(value_err), policy_gap_bound=float(gap),
            policy_exactly_optimal=bool(gap <= 0), allowance=allow,
            message=("policy exactly optimal (rational backward induction)" if gap <= 0
                     else f"policy {float(gap):.3g} below the rational optimum"),
        )
    Pm = mdp.transition_matrix
    vnext = np.vstack([result.v[1:], np.zeros((1, S))])
    Q = mdp.r[None] + (Pm @ vnext.T).T.reshape(H, S, mdp.A)
    rho = float(np.max(np.abs(Q.max(axis=2) - result.v)))
    ev = evaluate(mdp, result.pi)
    value_bound = H * rho
    gap = float(np.max(np.abs(result.v - ev.v))) + value_bound
    ok = value_bound <= result.value_error_bound + allow and gap <= result.policy_gap_bound + allow
    return Certificate(
        ok=bool(ok), exact=False, bellman_residual=rho, value_error_bound=value_bound,
        policy_gap_bound=gap, policy_exactly_optimal=None, allowance=allow,
        message=f"recomputed max_t ||T v_(t+1) - v_t||_inf = {rho:.3g}",
    )
