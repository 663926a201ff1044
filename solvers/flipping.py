r"""Per-step flipping versus per-episode mixing of two policies (flipping-based CCMDP policies).

Two ways to "play :math:`\pi_1` with probability :math:`p`, else :math:`\pi_2`":

- **per episode** (draw once at :math:`t=0`, then follow the drawn policy): the
  values are linear in the weight,
  :math:`(V,C)=\nu(V_1,C_1)+(1-\nu)(V_2,C_2)` (cmdp_ccmdp notes §2.3);
- **per step** (re-flip at every step, Algorithm 2 of Shen et al., arXiv
  2410.06474): the stationary policy :math:`\pi_p=p\,\pi_1+(1-p)\,\pi_2`, whose
  values are rational, in general *nonlinear* functions of :math:`p`
  (notes §3.9-B). When :math:`\pi_1,\pi_2` are deterministic and differ in exactly
  one state, :math:`(V,C)(\pi_p)` stays on the segment between the endpoints
  (Feinberg & Rothblum 2012; notes §2.3), but its position on it is nonlinear
  in :math:`p`, so the LP weight :math:`\nu` does not give the LP point.

:func:`recalibrate_flip` finds the per-step probability that meets a budget
exactly by bracketing root finding on :math:`p\mapsto V_{c_k}(\pi_p)`.
All values are :math:`E[\sum_t\gamma^t\,\cdot\,]` from :math:`\mu_0`, not scaled by
:math:`1-\gamma` (finite horizon: :math:`E[\sum_{t<H}\cdot]`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from .errors import ModelError
from .evaluation import PolicyValues, evaluate
from .flip_lp import hull_pair
from .mdp import TabularMDP
from .policies import as_policy
from .tolerances import EPS, FLIP_RTOL, FLIP_XTOL

__all__ = [
    "FLIP_RTOL",
    "FLIP_XTOL",
    "FlipResult",
    "envelope_pair",
    "episode_mixture_values",
    "flip_lipschitz",
    "per_step_flip",
    "recalibrate_flip",
]


def _probability(p: object, name: str = "p") -> float:
    try:
        val = float(p)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ModelError(f"{name} = {p!r}, expected a real number in [0, 1]", field=name) from None
    if not (math.isfinite(val) and 0.0 <= val <= 1.0):
        raise ModelError(f"{name} = {p!r}, expected a probability in [0, 1]", field=name)
    return val


def _policies(mdp: TabularMDP, pi1: object, pi2: object) -> tuple[np.ndarray, np.ndarray]:
    a = as_policy(mdp, pi1, "pi1")
    b = as_policy(mdp, pi2, "pi2")
    if a.shape != b.shape:
        raise ModelError(f"pi1 has shape {a.shape} and pi2 has shape {b.shape}, expected equal "
                         "shapes", field="pi2")
    return a, b


def per_step_flip(mdp: TabularMDP, pi1: object, pi2: object, p: object) -> PolicyValues:
    r"""Exact values of per-step flipping: every step play :math:`\pi_1` w.p. p, else :math:`\pi_2`.

    The flip is independent across steps, so the behaviour is the stationary
    (Markov, for time-dependent inputs) policy

    .. math:: \pi_p(a\mid s)=p\,\pi_1(a\mid s)+(1-p)\,\pi_2(a\mid s),

    evaluated exactly by :func:`solvers.evaluate`. Its values are **not**
    :math:`p(V_1,C_1)+(1-p)(V_2,C_2)` in general (notes §3.9-B).

    Parameters
    ----------
    mdp : TabularMDP
    pi1, pi2 : ndarray (S, A) (or (H, S, A) for a finite-horizon model)
        Policies, e.g. deterministic one-hot tables.
    p : float in [0, 1]

    Returns
    -------
    PolicyValues
        ``value`` :math:`=E[\sum_t\gamma^t r_t]`, ``cost_values`` per constraint.

    Raises
    ------
    ModelError
        p outside [0, 1] or not finite; malformed or mismatched policies (a
        time-dependent policy for a discounted model).
    """
    q = _probability(p)
    a, b = _policies(mdp, pi1, pi2)
    return evaluate(mdp, q * a + (1.0 - q) * b)


def episode_mixture_values(mdp: TabularMDP, pi1: object, pi2: object,
                           nu: object) -> tuple[float, np.ndarray]:
    r"""Values of drawing :math:`\pi_1` once per episode w.p. :math:`\nu`, else :math:`\pi_2`.

    .. math:: (V,C)=\nu\,(V_r(\pi_1),V_c(\pi_1))+(1-\nu)\,(V_r(\pi_2),V_c(\pi_2)),

    linear in :math:`\nu` (notes §2.3). Returns ``(value, cost_values (K,))``.
    """
    w = _probability(nu, "nu")
    a, b = _policies(mdp, pi1, pi2)
    v1, v2 = evaluate(mdp, a), evaluate(mdp, b)
    return (w * v1.value + (1.0 - w) * v2.value,
            w * v1.cost_values + (1.0 - w) * v2.cost_values)


def flip_lipschitz(mdp: TabularMDP, k: int = 0) -> float:
    r"""Lipschitz constant of :math:`p\mapsto V_{c_k}(\pi_p)`: :math:`2\|c_k\|_\infty T^2`.

    By the performance-difference identity,
    :math:`\frac{d}{dp}V_c(\pi_p)=\sum_t\gamma^t
    E_{\pi_p}[\langle\pi_1-\pi_2,Q^{\pi_p}_c\rangle(s_t)]`,
    and :math:`|\langle\pi_1-\pi_2,Q\rangle|\le2\|Q\|_\infty\le2\|c\|_\infty T`, with
    :math:`T=1/(1-\gamma)` (discounted) or H (finite horizon).
    """
    T = float(mdp.horizon) if mdp.finite_horizon else 1.0 / (1.0 - mdp.gamma)
    cmax = float(np.abs(mdp.costs[k]).max()) if mdp.K else 0.0
    return 2.0 * cmax * T * T


@dataclass(frozen=True, eq=False)
class FlipResult:
    r"""Result of :func:`recalibrate_flip`. Read ``status`` before using ``p``.

    Attributes
    ----------
    status : {"optimal", "infeasible"}
        "infeasible" when b is outside :math:`[\min(C(0),C(1)),\max(C(0),C(1))]`.
    p : float or None
        Per-step probability of :math:`\pi_1` with :math:`V_{c_k}(\pi_p)=b`.
    value : float or None
        :math:`V_r(\pi_p)` (not scaled by :math:`1-\gamma`).
    cost_values : ndarray (K,) or None
    values : PolicyValues or None
    bracket : tuple of float
        :math:`(C(0), C(1))` = costs of :math:`\pi_2` and :math:`\pi_1`.
    residual : float
        :math:`|V_{c_k}(\pi_p)-b|` as computed (NaN when infeasible).
    message : str
    """

    status: str
    p: float | None
    value: float | None
    cost_values: np.ndarray | None
    values: PolicyValues | None
    bracket: tuple[float, float]
    residual: float
    message: str


def recalibrate_flip(mdp: TabularMDP, pi1: object, pi2: object, b: object, k: int = 0, *,
                     xtol: float = FLIP_XTOL, rtol: float = FLIP_RTOL) -> FlipResult:
    r"""Per-step probability p with :math:`V_{c_k}(p\,\pi_1+(1-p)\,\pi_2)=b` (notes §3.9-B).

    :math:`f(p)=V_{c_k}(\pi_p)-b` is continuous on [0, 1] (a rational function
    of p without poles: :math:`I-\gamma P_{\pi_p}` is invertible for every p),
    so when :math:`f(0)f(1)\le0` Brent's method (``scipy.optimize.brentq``)
    returns a p within ``xtol + rtol*p`` of a sign change of the computed f.
    The signs at both ends are checked first; a budget outside
    :math:`[C(0),C(1)]` returns status "infeasible" with the bracket. The miss
    :math:`|V_{c_k}(\pi_p)-b|` is then at most the solve rounding plus
    :func:`flip_lipschitz` times the bracket width.

    Parameters
    ----------
    mdp : TabularMDP with K >= 1
    pi1, pi2 : ndarray (S, A)
    b : float
        Budget of constraint ``k`` (a (K,) array is accepted; entry k is used).
    k : int
        Which constraint.

    Raises
    ------
    ModelError
        No constraint costs, k out of range, b not finite, bad tolerances or policies.
    """
    if mdp.K == 0:
        raise ModelError("the model has no constraint costs (K = 0), expected K >= 1",
                         field="costs")
    if not (isinstance(k, (int, np.integer)) and 0 <= int(k) < mdp.K):
        raise ModelError(f"k = {k!r}, expected a constraint index in [0, {mdp.K})", field="k")
    k = int(k)
    arr = np.asarray(b, dtype=float) if not isinstance(b, str) else np.array(np.nan)
    if arr.ndim == 1 and arr.shape == (mdp.K,):
        arr = arr[k]
    if arr.ndim != 0 or not np.isfinite(arr):
        raise ModelError(f"b = {b!r}, expected a finite budget (a number or shape ({mdp.K},))",
                         field="b")
    budget = float(arr)
    if not (xtol > 0 and rtol >= 4 * EPS):
        raise ModelError(f"xtol = {xtol!r}, rtol = {rtol!r}, expected xtol > 0 and "
                         "rtol >= 4 eps", field="xtol")
    a, c = _policies(mdp, pi1, pi2)

    def values(p: float) -> PolicyValues:
        return evaluate(mdp, p * a + (1.0 - p) * c)

    def f(p: float) -> float:
        return float(values(p).cost_values[k]) - budget

    end0, end1 = values(0.0), values(1.0)
    c0, c1 = float(end0.cost_values[k]), float(end1.cost_values[k])
    f0, f1 = c0 - budget, c1 - budget
    if f0 == 0.0 or f1 == 0.0:
        p, pv = (0.0, end0) if f0 == 0.0 else (1.0, end1)
    elif f0 * f1 > 0:
        return FlipResult("infeasible", None, None, None, None, (c0, c1), math.nan,
                          f"b = {budget!r} is outside [C(0), C(1)] = [{min(c0, c1)!r}, "
                          f"{max(c0, c1)!r}]: no per-step mixture of pi1 and pi2 meets it exactly")
    else:
        p = float(brentq(f, 0.0, 1.0, xtol=xtol, rtol=rtol, maxiter=200))
        pv = values(p)
    cost = float(pv.cost_values[k])
    return FlipResult("optimal", p, pv.value, pv.cost_values, pv, (c0, c1), abs(cost - budget),
                      f"per-step p = {p!r} meets b = {budget!r} (cost {cost!r})")


def envelope_pair(points: np.ndarray, b: float) -> tuple[int, int, float, float]:
    r"""The two deterministic policies whose episode mixture attains the upper envelope at cost b.

    The upper concave hull of the (cost, value) points at cost exactly b, i.e. the best
    mixture :math:`\nu V_i+(1-\nu)V_j` with :math:`\nu C_i+(1-\nu)C_j=b`, attained by
    the two **adjacent** hull vertices :math:`C_i<b<C_j` with
    :math:`\nu=(C_j-b)/(C_j-C_i)` (a vertex at cost b is returned twice, :math:`\nu=1`).
    This is the least concave majorant of the deterministic points at b (notes §2.3).
    A thin wrapper of :func:`solvers.flip_lp.hull_pair` (monotone chain, O(n log n)).

    Parameters
    ----------
    points : ndarray (n, 2)
        Rows :math:`(V_r, V_c)` as from :func:`solvers.enumeration.deterministic_policy_values`.
    b : float
        In :math:`[\min_iC_i,\max_iC_i]`.

    Returns
    -------
    (i, j, nu, value) : the low-cost index i, the high-cost index j, the weight of i,
    and the envelope value at b.

    Raises
    ------
    ModelError
        ``field="points"`` for a shape other than (n, 2); ``field="b"`` outside the range.
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ModelError(f"points has shape {pts.shape}, expected (n, 2) (one constraint)",
                         field="points")
    V, C = pts[:, 0], pts[:, 1]
    if not (C.min() <= b <= C.max()):
        raise ModelError(f"b = {b!r} is outside the deterministic cost range "
                         f"[{C.min()!r}, {C.max()!r}]", field="b")
    return hull_pair(C, V, b)
