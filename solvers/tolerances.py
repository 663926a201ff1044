"""Named numerical tolerances, in one place (DESIGN.md, Contracts).

Every tolerance used by a solver or a check is defined here with the reason
for its size; code elsewhere imports the name instead of writing a literal.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BELLMAN_TOL",
    "CMDP_EXACT_MAX_SA",
    "CMDP_VERIFY_RTOL",
    "DIRECT_SOLVE_MAX_STATES",
    "EPS",
    "ITERATIVE_RTOL",
    "LP_FEASIBILITY_TOL",
    "PEEL_ZERO_RTOL",
    "PROB_SUM_TOL",
    "linear_solve_tol",
]

#: Machine epsilon of float64.
EPS: float = float(np.finfo(np.float64).eps)

#: A probability vector's entries must sum to 1 within this (DESIGN.md).
#: Rows built from decimal data or from a normalisation in float64 are exact
#: to about S * EPS ~ 1e-12 for S up to 1e4, so 1e-9 rejects real mistakes
#: (a dropped transition) while accepting every honest rounding.
PROB_SUM_TOL: float = 1e-9

#: Above 400 states policy evaluation uses Jacobi-preconditioned BiCGSTAB;
#: if it fails to converge, sparse LU is the fallback up to this many states
#: (LU fill-in on random sparse kernels reaches ~0.3 S^2 nonzeros: 40 s at
#: S = 1e4, against milliseconds for BiCGSTAB), GMRES above.
DIRECT_SOLVE_MAX_STATES: int = 20_000

#: Relative residual requested from the iterative solver; the achieved
#: residual is measured and reported, never assumed.
ITERATIVE_RTOL: float = 1e-12

#: Default target accuracy ||V - V*||_inf of value iteration.
BELLMAN_TOL: float = 1e-8


#: Primal and dual feasibility tolerance passed to HiGHS (its default is 1e-7);
#: HiGHS accepts no less than 1e-10.
LP_FEASIBILITY_TOL: float = 1e-9

#: CMDP ``verify()`` residual allowance relative to the model's value scale
#: :math:`\max(1,\|r\|_\infty+\lambda^\top\|c\|_\infty)\cdot T` (T = 1/(1-gamma) or H).
#: HiGHS stops at feasibility tolerance 1e-9 on its internally *scaled* LP; unscaling
#: and summing over S*A entries can lose up to a few orders of magnitude, so 1e-6 accepts
#: every honest solution, while a tampered value, cost or multiplier (off by more than
#: 1e-6 of the value scale) fails. The residuals HiGHS actually returns are ~1e-15.
CMDP_VERIFY_RTOL: float = 1e-6

#: CMDP ``verify(exact=True)`` refuses models with more state-action pairs.
CMDP_EXACT_MAX_SA: int = 60

#: Absolute bracket width in p at which the flip-probability root finder stops (brentq's
#: ``xtol``; ``solvers.flipping.recalibrate_flip``). The cost is Lipschitz in p with constant
#: ``flipping.flip_lipschitz``, so this bounds the budget miss caused by stopping, on top of
#: the solve rounding.
FLIP_XTOL: float = 1e-14
#: Relative bracket width (brentq's ``rtol``; scipy's smallest admissible is 4 eps).
FLIP_RTOL: float = 4 * EPS

#: Relative tie tolerance at the multiplier computed by ``solvers.cmdp_flip``. lam' carries
#: ~1e-13 relative error on the models we test (a few ulps of values ~1/(1-gamma) divided by
#: cost gaps ~1e-2..1), which shifts tied Q-values apart by ~1e-13 of the value scale;
#: 1e-11 covers that 100 times, and a policy accepted within it loses at most that much of
#: the value scale, 100 times below the 1e-9 relative agreement with the LP that we test.
FLIP_TIE_RTOL: float = 1e-11

#: ``solvers.flipping_decomposition`` peeling: a coordinate of :math:`d-\omega d^{\pi_k}` at
#: most this fraction of :math:`d(s,a)` is set to 0 (the pair leaves the support). The two
#: terms carry the rounding of one occupancy solve each, ~1e-14 relative on the models we
#: decompose, so genuine ties (a pair and every state reachable only through it vanish
#: together) leave ~1e-14; 1e-9 is 1e5 above that, and a genuinely positive coordinate below
#: it moves at most 1e-9 of the occupancy mass, which the measured residual still reports.
PEEL_ZERO_RTOL: float = 1e-9


def linear_solve_tol(n: int, scale: float, gamma: float) -> float:
    r"""Absolute error bound for a value from one float64 solve of (I - gamma P) v = r.

    The infinity-norm condition number of :math:`I-\gamma P_\pi` is at most
    :math:`(1+\gamma)/(1-\gamma)` because :math:`\|(I-\gamma P_\pi)^{-1}\|_\infty
    \le 1/(1-\gamma)`. A backward-stable solve has a relative residual of order
    ``n * EPS``, so the value error is at most
    :math:`n\,\varepsilon\,\mathrm{scale}\,(1+\gamma)/(1-\gamma)^2` where
    ``scale`` bounds :math:`\|r\|_\infty`. A safety factor of 64 covers the
    constant in the backward-error bound of LU with partial pivoting on these
    diagonally dominant matrices.

    Parameters
    ----------
    n : int
        Size of the linear system (number of states).
    scale : float
        Bound on the magnitude of the right-hand side, e.g. max |r|.
    gamma : float
        Discount factor in [0, 1).
    """
    scale = max(float(scale), 1.0)
    return 64.0 * max(n, 1) * EPS * scale * (1.0 + gamma) / (1.0 - gamma) ** 2
