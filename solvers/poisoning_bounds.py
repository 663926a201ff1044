r"""Bounds on the minimum poisoning cost that need no LP solver (poisoning notes §1.3).

- Theorem 2 (lower bound): :math:`OPT\ge\|\Pi_\Phi\Delta\|_2^2/\|\Pi_\Phi\Delta\|_*`, returned
  as the explicit dual point :math:`\lambda=(\Phi^\top)^\dagger\Pi_\Phi\Delta/
  \|\Pi_\Phi\Delta\|_\infty` of the :math:`\ell_1` LP (a certificate: any reader can evaluate
  the dual objective :math:`g(\lambda)` of :func:`solvers.poisoning.dual_objective`).
- Theorem 3 (upper bound, constants reconstructed in notes §1.3): the point
  :math:`\zeta(\eta)=\Delta+\eta(\Pi_\Phi\Delta-\Delta)` with
  :math:`\eta=\bar\alpha/(\alpha^\ast+\bar\alpha)`,
  :math:`\bar\alpha=\min_i\min(\theta_{A,i},1-\theta_{A,i})`,
  :math:`\alpha^\ast=\|(\Pi_\Phi-I)\Delta\|_\infty`; and the best box-feasible point on the
  segment.
- Theorem 6 (adaptive embedding): the single-constraint problem
  :math:`\min\|\zeta\|_1` s.t. :math:`a^\top\zeta=h`, box, solved by the greedy fractional
  knapsack.

Costs are :math:`\|\zeta\|` in proportion units (flips / m).

References
----------
Kusaka et al., arXiv 2511.09105 (AAAI 2026), Theorems 2, 3 and 6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .poisoning import PoisoningInstance

__all__ = ["KnapsackResult", "LowerBound", "SegmentUpperBound", "knapsack_single_constraint",
           "projected_shift", "projection_lower_bound", "segment_upper_bound"]

_DUAL_NORM = {"l1": np.inf, "l2": 2, "linf": 1}
_NORM = {"l1": 1, "l2": 2, "linf": np.inf}


def projected_shift(instance: PoisoningInstance) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`(\Pi_\Phi\Delta,\ \lambda_0)` with :math:`\lambda_0=(\Phi\Phi^\top)^\dagger b`.

    :math:`\Pi_\Phi\Delta=\Phi^\top\lambda_0=\Phi^\dagger b` depends on :math:`\Delta` only
    through :math:`b=\Phi\Delta`, so it is the same for every feasible :math:`\zeta`.
    """
    Phi = instance.Phi
    lam0 = np.linalg.lstsq(Phi @ Phi.T, instance.target, rcond=None)[0]
    return Phi.T @ lam0, lam0


@dataclass(frozen=True)
class LowerBound:
    r"""Theorem 2: ``value`` = :math:`\|\Pi_\Phi\Delta\|_2^2/\|\Pi_\Phi\Delta\|_*`.

    ``lam`` (feat_dim,) is the dual point (l1 cost), with :math:`\|\Phi^\top\lambda\|_\infty=1`
    so that :math:`g(\lambda)=b^\top\lambda=` ``value``; ``proj_shift`` is
    :math:`\Pi_\Phi\Delta`.
    """

    value: float
    lam: np.ndarray
    proj_shift: np.ndarray
    norm: str


def projection_lower_bound(instance: PoisoningInstance, norm: str = "l1") -> LowerBound:
    r"""Theorem 2 lower bound on OPT(P1) as an explicit dual point (no solver).

    .. math:: OPT\ \ge\ \frac{\|\Pi_\Phi\Delta\|_2^2}{\|\Pi_\Phi\Delta\|_*},\qquad
              \lambda=\frac{(\Phi\Phi^\top)^\dagger b}{\|\Pi_\Phi\Delta\|_\infty}.

    Proof: a feasible :math:`\zeta` has :math:`\Pi_\Phi\zeta=\Pi_\Phi\Delta`, so
    :math:`\|\Pi_\Phi\Delta\|_2^2=\langle\Pi_\Phi\Delta,\zeta\rangle\le
    \|\Pi_\Phi\Delta\|_*\|\zeta\|`. For ``l2`` without the box it is exact.
    """
    if norm not in _DUAL_NORM:
        raise ModelError(f"norm = {norm!r}, expected 'l1', 'l2' or 'linf'", field="norm")
    p, lam0 = projected_shift(instance)
    dual = float(np.linalg.norm(p, _DUAL_NORM[norm]))
    pinf = float(np.abs(p).max())
    if pinf == 0.0:
        return LowerBound(0.0, np.zeros(instance.feat_dim), p, norm)
    return LowerBound(float(p @ p) / dual, lam0 / pinf, p, norm)


@dataclass(frozen=True)
class SegmentUpperBound:
    r"""Theorem 3 upper bound and the best feasible point on its segment.

    ``value`` = :math:`\min\{\|\zeta(\eta)\|,\|\Delta\|\}` at the reconstructed
    :math:`\eta`; ``best`` = :math:`\min_{\eta\in[0,\eta_{max}]}\|\zeta(\eta)\|` attained at
    ``best_step`` with point ``best_zeta``; ``step_max`` = :math:`\eta_{max}`.
    """

    value: float
    step: float
    zeta: np.ndarray
    alpha_star: float
    alpha_bar: float
    step_max: float
    best: float
    best_step: float
    best_zeta: np.ndarray


def segment_upper_bound(instance: PoisoningInstance, norm: str = "l1") -> SegmentUpperBound:
    r"""Theorem 3 upper bound (reconstructed constants, notes §1.3).

    .. math:: OPT\le\min\Big\{\Big\|\frac{\alpha^\ast I+\bar\alpha\Pi_\Phi}{\alpha^\ast+
              \bar\alpha}\Delta\Big\|,\ \|\Delta\|\Big\},\quad
              \bar\alpha=\min_i\min(\theta_{A,i},1-\theta_{A,i}),\ \
              \alpha^\ast=\|(\Pi_\Phi-I)\Delta\|_\infty.

    :math:`|\zeta_i(\eta)-\Delta_i|\le\eta\alpha^\ast\le\bar\alpha`, so
    :math:`\theta_O+\zeta(\eta)` stays in the box. The best step on the segment minimises the
    convex piecewise-linear (l1) or convex (l2, linf) function over the exact feasible
    interval; for l1 the minimum is at a breakpoint, which are all enumerated.
    """
    if instance.theta_A is None:
        raise ModelError("the segment upper bound needs theta_A (not a bare target_moment)",
                         field="theta_A")
    ord_ = _NORM[norm]
    delta = instance.shift
    p, _ = projected_shift(instance)
    d = p - delta
    a_star = float(np.abs(d).max())
    th_A = instance.theta_A
    a_bar = float(np.minimum(th_A, 1 - th_A).min())
    step = a_bar / (a_star + a_bar) if a_star + a_bar > 0 else 0.0
    zeta = delta + step * d
    value = min(float(np.linalg.norm(zeta, ord_)), float(np.linalg.norm(delta, ord_)))
    # exact largest step: theta_A + eta d in [0, 1] coordinatewise
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = np.where(d > 0, (1 - th_A) / d, np.where(d < 0, -th_A / d, np.inf))
    step_max = float(min(1.0, cap.min()))
    cands = [0.0, step_max]
    if norm == "l1":
        with np.errstate(divide="ignore", invalid="ignore"):
            br = np.where(d != 0, -delta / d, -1.0)
        cands += [float(t) for t in br if 0.0 < t < step_max]
    else:
        from scipy.optimize import minimize_scalar
        if step_max > 0:
            opt = minimize_scalar(lambda t: np.linalg.norm(delta + t * d, ord_),
                                  bounds=(0.0, step_max), method="bounded",
                                  options={"xatol": 1e-12})
            cands.append(float(opt.x))
    vals = [float(np.linalg.norm(delta + t * d, ord_)) for t in cands]
    k = int(np.argmin(vals))
    return SegmentUpperBound(value, step, zeta, a_star, a_bar, step_max, vals[k], cands[k],
                             delta + cands[k] * d)


@dataclass(frozen=True)
class KnapsackResult:
    r"""Greedy solution of :math:`\min\|\zeta\|_1` s.t. :math:`a^\top\zeta=h`, box.

    ``status`` is "optimal" or "infeasible" (the box cannot reach h; ``reach`` is
    :math:`\max_{\zeta\in\mathrm{box}}\mathrm{sign}(h)a^\top\zeta`).
    """

    status: str
    cost: float
    zeta: np.ndarray | None
    reach: float


def knapsack_single_constraint(a: np.ndarray, h: float, lower: np.ndarray, upper: np.ndarray
                               ) -> KnapsackResult:
    r"""Theorem 6 oracle: fractional knapsack for one equality constraint (notes §1.3).

    .. math:: \min_\zeta\|\zeta\|_1\ \ \text{s.t.}\ \ a^\top\zeta=h,\ \ \ell\le\zeta\le u,
              \qquad \ell\le0\le u.

    Sort :math:`|a_i|` in descending order and move :math:`\zeta_i` toward
    :math:`\mathrm{sign}(a_i)\mathrm{sign}(h)` as far as the box allows until
    :math:`a^\top\zeta=h`: each unit of :math:`|\zeta_i|` buys :math:`|a_i|` of progress, so
    the best ratio first is optimal (exchange argument).
    """
    a = np.asarray(a, float)
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    if np.any(lower > 0) or np.any(upper < 0):
        raise ModelError("the box must contain 0 (lower <= 0 <= upper)", field="lower")
    zeta = np.zeros_like(a)
    if h == 0:
        return KnapsackResult("optimal", 0.0, zeta, 0.0)
    sgn = np.sign(a) * np.sign(h)
    cap = np.where(sgn > 0, upper, np.where(sgn < 0, -lower, 0.0))
    need = abs(float(h))
    reach = float(np.sum(np.abs(a) * cap))
    if reach < need:
        return KnapsackResult("infeasible", float("nan"), None, reach)
    for i in np.argsort(-np.abs(a), kind="stable"):
        if need <= 0 or a[i] == 0:
            break
        step = min(cap[i], need / abs(a[i]))
        zeta[i] = sgn[i] * step
        need -= step * abs(a[i])
    return KnapsackResult("optimal", float(np.abs(zeta).sum()), zeta, reach)
