r"""Mixtures of finitely many points under one budget: the LP, its dual, the concave majorant.

Given n points :math:`(C_i, V_i)` (a cost and a value each, e.g. the
:math:`(V_c, V_r)` of deterministic policies, or one action's safety and
action value in one state), the best *mixture* under a budget b is the LP

.. math::
    M(b)=\max_{w\in\mathbb R^n}\ \sum_i w_iV_i\quad\text{s.t.}\quad
    \sum_i w_iC_i\le b,\qquad \sum_i w_i=1,\qquad w\ge0,

with dual :math:`\min_{\lambda\ge0}\ \max_i(V_i-\lambda C_i)+\lambda b`. A basic
(vertex) solution has at most two nonzero weights (two rows), and :math:`M(b)` is
the least concave non-decreasing majorant of the step function
:math:`J(b)=\max\{V_i: C_i\le b\}`.

Two independent ways to compute :math:`M(b)` are provided:

- :func:`solve_mixture_lp`: the LP by HiGHS dual simplex (a vertex), with a
  re-checkable primal-dual certificate :meth:`MixtureLPResult.verify`;
- :func:`upper_hull` (Andrew's monotone chain, the package's one hull routine),
  :func:`concave_majorant` / :func:`majorant_value` and :func:`hull_pair`: the upper
  hull of the points, no LP involved;
- :func:`best_pair_mixture`: brute force over all pairs (and singletons),
  :math:`O(n^2)`, no LP and no hull.

A probability-of-safety constraint :math:`\sum_iw_iF_i\ge1-\delta` is the
budget form with :math:`C_i=1-F_i` and :math:`b=\delta`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from .errors import ModelError
from .tolerances import LP_FEASIBILITY_TOL

__all__ = [
    "Majorant",
    "MixtureCertificate",
    "MixtureLPResult",
    "best_pair_mixture",
    "concave_majorant",
    "hull_pair",
    "majorant_value",
    "solve_mixture_lp",
    "upper_hull",
]


def _points(costs: object, values: object) -> tuple[np.ndarray, np.ndarray]:
    C = np.asarray(costs, dtype=float)
    V = np.asarray(values, dtype=float)
    if C.ndim != 1 or C.size == 0:
        raise ModelError(f"costs has shape {C.shape}, expected (n,) with n >= 1", field="costs")
    if V.shape != C.shape:
        raise ModelError(f"values has shape {V.shape}, expected {C.shape} like costs",
                         field="values")
    for name, arr in (("costs", C), ("values", V)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ModelError(f"{name}[{bad[0]}] = {arr[bad[0]]}, expected a finite number",
                             field=name)
    return C, V


def _budget(b: object) -> float:
    try:
        val = float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ModelError(f"budget = {b!r}, expected a finite number", field="budget") from None
    if not math.isfinite(val):
        raise ModelError(f"budget = {b!r}, expected a finite number", field="budget")
    return val


# -- the LP ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MixtureCertificate:
    """Residuals of a mixture-LP solution, recomputed from the points alone.

    Attributes
    ----------
    primal_infeasibility : float
        max(|sum w - 1|, max(-w), max(sum w C - b, 0)).
    dual_infeasibility : float
        max(-lam, 0): the dual objective ``max_i(V_i - lam C_i) + lam b`` is an
        upper bound on every feasible mixture for any ``lam >= 0``.
    gap : float
        dual objective - primal objective (>= 0 up to rounding).
    """

    primal_infeasibility: float
    dual_infeasibility: float
    gap: float

    def ok(self, tol: float) -> bool:
        """All residuals within ``tol`` (|gap| as well)."""
        return max(self.primal_infeasibility, self.dual_infeasibility, abs(self.gap)) <= tol


@dataclass(frozen=True, eq=False)
class MixtureLPResult:
    r"""Solution of the mixture LP. Read ``status`` before the other fields.

    Attributes
    ----------
    status : {"optimal", "infeasible"}
        "infeasible" when :math:`\min_iC_i>b` (then no mixture meets the budget).
    weights : ndarray (n,) or None
        A vertex solution :math:`w` (at most two nonzeros up to rounding).
    value : float
        :math:`\sum_iw_iV_i` (nan unless optimal).
    lam : float
        Multiplier of the budget row, :math:`\lambda\ge0`, the slope :math:`dM/db`.
    costs, values : ndarray (n,)
    budget : float
    message : str
    """

    status: str
    weights: np.ndarray | None
    value: float
    lam: float
    costs: np.ndarray
    values: np.ndarray
    budget: float
    message: str

    def verify(self) -> MixtureCertificate:
        """Primal feasibility, dual feasibility and duality gap, recomputed from the points."""
        if self.status != "optimal" or self.weights is None:
            raise ModelError(f"status is {self.status!r}; only an optimal result has a primal-"
                             "dual certificate", field="status")
        w, C, V, b, lam = self.weights, self.costs, self.values, self.budget, self.lam
        primal = max(abs(float(w.sum()) - 1.0), float(max(-w.min(), 0.0)),
                     max(float(w @ C) - b, 0.0))
        dual_obj = float(np.max(V - lam * C)) + lam * b
        return MixtureCertificate(primal, max(-lam, 0.0), dual_obj - float(w @ V))


def solve_mixture_lp(costs: object, values: object, budget: object) -> MixtureLPResult:
    r"""Best mixture :math:`\max_{w\in\Delta_n}\{w^\top V: w^\top C\le b\}` by HiGHS dual simplex.

    Dual simplex (``linprog(method="highs-ds")``) returns a *basic* solution:
    with two rows (the budget and :math:`\sum_iw_i=1`) at most two weights are
    basic, so at most two are nonzero (flipping paper, arXiv 2410.06474, Thm 7).

    Parameters
    ----------
    costs, values : array_like (n,)
        :math:`C_i` and :math:`V_i`, finite.
    budget : float
        :math:`b`.

    Returns
    -------
    MixtureLPResult
        "optimal" with the vertex weights, the value and the multiplier, or
        "infeasible" when :math:`\min_iC_i>b` (certificate: every point costs more than b).

    Raises
    ------
    ModelError
        Empty, mismatched or non-finite points; a non-finite budget.
    """
    C, V = _points(costs, values)
    b = _budget(budget)
    n = C.size
    if C.min() > b:
        return MixtureLPResult("infeasible", None, math.nan, math.nan, C, V, b,
                               f"min cost {C.min()!r} > budget {b!r}: no mixture meets it")
    res = linprog(-V, A_ub=C[None, :], b_ub=[b], A_eq=np.ones((1, n)), b_eq=[1.0],
                  bounds=(0, None), method="highs-ds",
                  options={"primal_feasibility_tolerance": LP_FEASIBILITY_TOL,
                           "dual_feasibility_tolerance": LP_FEASIBILITY_TOL})
    if res.status != 0:
        raise RuntimeError(f"mixture LP (highs-ds) failed with status {res.status} on a feasible "
                           f"budget: {res.message}")
    w = np.asarray(res.x, dtype=float)
    lam = max(-float(res.ineqlin.marginals[0]), 0.0)
    return MixtureLPResult("optimal", w, float(w @ V), lam, C, V, b, str(res.message))


# -- the concave majorant by a hull -----------------------------------------------------------
@dataclass(frozen=True)
class Majorant:
    r"""Least concave non-decreasing majorant of :math:`J(b)=\max\{V_i:C_i\le b\}`.

    Attributes
    ----------
    index : ndarray (m,) of int
        Indices (into the input points) of the hull vertices, by increasing cost;
        costs and values strictly increase along them.
    costs, values : ndarray (m,)
        The vertices. The majorant interpolates linearly between consecutive
        vertices, is constant :math:`=V_{max}` right of the last and
        :math:`-\infty` left of the first.
    """

    index: np.ndarray
    costs: np.ndarray
    values: np.ndarray

    @property
    def max_slope(self) -> float:
        """Largest slope of a segment (the first one, by concavity); 0 for one vertex."""
        if self.costs.size < 2:
            return 0.0
        with np.errstate(over="ignore"):  # costs 1e-300 apart: an infinite slope is honest
            return float(np.max(np.diff(self.values) / np.diff(self.costs)))


def upper_hull(costs: object, values: object) -> np.ndarray:
    r"""Vertices of the upper concave hull of the points :math:`(C_i,V_i)`, by increasing cost.

    Andrew's monotone chain, :math:`O(n\log n)`: sort by cost (ties: larger value first),
    keep the best point of each cost, and pop the last vertex while it lies on or below
    the chord from the one before it to the new point (cross product :math:`\ge0`). The
    piecewise-linear interpolation of the vertices is the least concave majorant of the
    points on :math:`[\min C,\max C]` (not monotone: it decreases right of the best
    point). This is the one hull routine of the package; :func:`concave_majorant`,
    :func:`hull_pair`, :func:`solvers.flipping.envelope_pair` and
    :func:`solvers.ccmdp_frontier.least_concave_majorant` call it.

    Returns
    -------
    ndarray (m,) of int
        Indices into the points; costs strictly increase along them.
    """
    C, V = _points(costs, values)
    order = np.lexsort((-V, C))  # by cost, then value descending
    keep = [int(k) for n, k in enumerate(order) if n == 0 or C[k] != C[order[n - 1]]]
    hull: list[int] = []
    for k in keep:
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            cross = (C[a] - C[o]) * (V[k] - V[o]) - (V[a] - V[o]) * (C[k] - C[o])
            if cross >= 0:  # a is on or below the chord o -> k: not a hull vertex
                hull.pop()
            else:
                break
        hull.append(k)
    return np.array(hull, dtype=np.int64)


def hull_pair(costs: object, values: object, budget: object,
              hull: np.ndarray | None = None) -> tuple[int, int, float, float]:
    r"""The upper hull at cost exactly b and the two adjacent vertices that straddle b.

    With hull vertices :math:`h_0,\dots,h_{m-1}` (:func:`upper_hull`) and
    :math:`C_{h_{k-1}}<b<C_{h_k}`: :math:`\nu=(C_{h_k}-b)/(C_{h_k}-C_{h_{k-1}})` and
    value :math:`\nu V_{h_{k-1}}+(1-\nu)V_{h_k}`; a vertex at cost b is returned twice
    with :math:`\nu=1`. The mixture of the pair at weight :math:`\nu` costs exactly b.

    Parameters
    ----------
    costs, values : array_like (n,)
    budget : float in :math:`[\min C,\max C]`
    hull : ndarray of int, optional
        :func:`upper_hull` of the same points, to reuse across budgets.

    Returns
    -------
    (i, j, nu, value) : low-cost index, high-cost index, weight of i, hull value at b.

    Raises
    ------
    ModelError
        ``field="budget"`` when b is outside the cost range.
    """
    C, V = _points(costs, values)
    b = _budget(budget)
    h = upper_hull(C, V) if hull is None else np.asarray(hull, dtype=np.int64)
    hc = C[h]
    if not hc[0] <= b <= hc[-1]:
        raise ModelError(f"budget = {b!r} is outside the cost range [{hc[0]!r}, {hc[-1]!r}]",
                         field="budget")
    pos = int(np.searchsorted(hc, b, side="left"))
    if hc[pos] == b:
        k = int(h[pos])
        return k, k, 1.0, float(V[k])
    i, j = int(h[pos - 1]), int(h[pos])
    nu = float((C[j] - b) / (C[j] - C[i]))
    return i, j, nu, float(nu * V[i] + (1.0 - nu) * V[j])


def concave_majorant(costs: object, values: object) -> Majorant:
    r"""Least concave non-decreasing majorant of :math:`J(b)=\max\{V_i:C_i\le b\}`, no LP.

    The :func:`upper_hull` of the points up to its first vertex of largest value: left
    of that vertex the hull increases (concave, and its slope changes sign there), so it
    equals :math:`\max\{\sum_iw_iV_i:\sum_iw_iC_i\le b\}`; right of it the majorant is
    the constant :math:`V_{max}`.
    """
    C, V = _points(costs, values)
    hull = upper_hull(C, V)
    idx = hull[: int(np.argmax(V[hull])) + 1]  # argmax: the first (cheapest) maximiser
    return Majorant(idx, C[idx], V[idx])


def majorant_value(maj: Majorant, budget: object) -> tuple[float, int, int, float]:
    r"""Majorant at b and the (at most) two points that attain it.

    Returns
    -------
    (value, i, j, w) : value :math:`wV_i+(1-w)V_j` with :math:`wC_i+(1-w)C_j\le b`,
    i and j indices into the original points; ``(-inf, -1, -1, nan)`` when
    b is below every cost.
    """
    b = _budget(budget)
    Cs, Vs, idx = maj.costs, maj.values, maj.index
    if b < Cs[0]:
        return -math.inf, -1, -1, math.nan
    if b >= Cs[-1]:
        return float(Vs[-1]), int(idx[-1]), int(idx[-1]), 1.0
    k = int(np.searchsorted(Cs, b, side="right"))  # Cs[k-1] <= b < Cs[k]
    w = float((Cs[k] - b) / (Cs[k] - Cs[k - 1]))
    return float(w * Vs[k - 1] + (1 - w) * Vs[k]), int(idx[k - 1]), int(idx[k]), w


def best_pair_mixture(costs: object, values: object,
                      budget: object) -> tuple[float, int, int, float]:
    r"""Brute force over singletons and pairs: :math:`\max\{wV_i+(1-w)V_j\}` within budget.

    For a pair with :math:`C_i\le b<C_j` the best weight puts the mixture at cost
    exactly b: :math:`w=(C_j-b)/(C_j-C_i)`; a singleton needs :math:`C_i\le b`.
    :math:`O(n^2)`, independent of any LP or hull. Returns ``(value, i, j, w)``,
    ``(-inf, -1, -1, nan)`` when no point meets the budget.
    """
    C, V = _points(costs, values)
    b = _budget(budget)
    best = (-math.inf, -1, -1, math.nan)
    cheap = np.flatnonzero(C <= b)
    for i in cheap:
        if V[i] > best[0]:
            best = (float(V[i]), int(i), int(i), 1.0)
    for i in cheap:
        for j in np.flatnonzero(C > b):
            w = float((C[j] - b) / (C[j] - C[i]))
            val = float(w * V[i] + (1 - w) * V[j])
            if val > best[0]:
                best = (val, int(i), int(j), w)
    return best
