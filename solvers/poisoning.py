r"""Minimum-cost label-flip poisoning of RLHF/DPO as a convex program (poisoning notes §1.1-1.2).

The attacker sets the preference proportions :math:`\theta\in[0,1]^{N}` of
:math:`N` (``n_pairs``) comparisons with features :math:`\Phi\in\mathbb R^{n_f\times N}`
(``feat_dim`` x ``n_pairs``, column :math:`\phi_i` = chosen minus rejected). Since
:math:`L(r;\theta)-L(r;\theta')=-(\theta-\theta')^\top\mathrm{diag}(m)\Phi^\top r`, every
:math:`\theta` with :math:`\Phi\theta=\Phi\theta_A` yields the same Bradley-Terry/DPO
objective as the target :math:`\theta_A`, and the cheapest such :math:`\theta` solves

.. math::

    \text{(P1)}\quad\min_\zeta\|\zeta\|\ \ \text{s.t.}\ \ \Phi\zeta=\Phi\Delta,\ \
    -\theta_O\le\zeta\le 1-\theta_O,\qquad \Delta=\theta_A-\theta_O\ (\texttt{shift}),\ \
    \theta^\star=\theta_O+\zeta^\star.

With the :math:`\ell_1` cost it is the LP :math:`\min 1^\top(u+v)` s.t.
:math:`[\Phi,-\Phi](u,v)=\Phi\Delta`, :math:`0\le u\le1-\theta_O`, :math:`0\le v\le\theta_O`,
solved by HiGHS dual simplex (a vertex, with duals). Its Lagrangian dual is

.. math::

    \max_\lambda\ g(\lambda)=b^\top\lambda-\sum_i\big[(1-\theta_{O,i})(\phi_i^\top\lambda-1)_+
    +\theta_{O,i}(-\phi_i^\top\lambda-1)_+\big],\qquad b=\Phi\Delta,

and *every* :math:`\lambda` gives the certified lower bound :math:`g(\lambda)\le OPT`.

This module holds the solvers; the validated instance is in :mod:`solvers.poisoning_instance`,
the result and its :class:`~solvers.poisoning_result.PoisoningCertificate` (returned by
``PoisoningResult.verify``) in :mod:`solvers.poisoning_result`, both re-exported here. The
Bradley-Terry loss is :func:`solvers.bt_fit.bt_loss`.

References
----------
Kusaka, Saito, Kudo, Tanabe, Wachi, Akimoto, "Cost-Minimized Label-Flipping Poisoning
Attack to LLM Alignment", arXiv 2511.09105 (AAAI 2026), Theorem 1 and the LP of its code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .errors import ModelError
from .poisoning_instance import PoisoningInstance, sigmoid
from .poisoning_result import (
    POISONING_EXACT_MAX_PAIRS,
    PoisoningCertificate,
    PoisoningResult,
    dual_objective,
)
from .tolerances import LP_FEASIBILITY_TOL

# the instance and the result live in their own modules; they are re-exported here because
# instance files, docs and callers import them from solvers.poisoning
__all__ = ["COLGEN_MIN_PAIRS", "POISONING_EXACT_MAX_PAIRS", "PoisoningCertificate",
           "PoisoningInstance", "PoisoningResult", "dual_objective", "min_cost_poisoning",
           "sigmoid"]

#: ``method="auto"`` switches to column generation from this many pairs.
COLGEN_MIN_PAIRS: int = 5000


def min_cost_poisoning(instance: PoisoningInstance, norm: str = "l1", method: str = "auto"
                       ) -> PoisoningResult:
    r"""Solve (P1): the cheapest proportions with the same BT/DPO objective as the target.

    ``norm="l1"`` (flip count / m) uses HiGHS dual simplex on the split LP with sparse
    constraints and returns a vertex with its duals; ``"l2"`` and ``"linf"`` use cvxpy.
    An infeasible target (no :math:`\theta\in[0,1]^N` with :math:`\Phi\theta=\Phi\theta_A`;
    impossible when :math:`\theta_A\in[0,1]^N`, but reachable through a ``target_moment``)
    returns status "infeasible" and a Farkas vector.

    Parameters
    ----------
    method : {"auto", "direct", "colgen"}
        l1 only. "direct" solves the full LP. "colgen" (column generation) solves the LP on a
        working set of pairs that contains the support of :math:`\Delta` (so it is feasible),
        prices every other pair by :math:`|\phi_i^\top\lambda|\le1` (its LP reduced cost)
        and adds violators until none is left; the restricted vertex padded with zeros is a
        vertex of the full LP with the same duals. "auto" uses colgen when
        n_pairs >= ``COLGEN_MIN_PAIRS`` and the shift is supported on at most half the pairs.

    Returns
    -------
    PoisoningResult
    """
    if not isinstance(instance, PoisoningInstance):
        raise TypeError(f"instance is {type(instance).__name__}, expected PoisoningInstance")
    if norm not in ("l1", "l2", "linf"):
        raise ModelError(f"norm = {norm!r}, expected 'l1', 'l2' or 'linf'", field="norm")
    if method not in ("auto", "direct", "colgen"):
        raise ModelError(f"method = {method!r}, expected 'auto', 'direct' or 'colgen'",
                         field="method")
    n = instance.n_pairs
    # Pi_Phi = I iff rank(Phi) = n_pairs, which needs feat_dim >= n_pairs
    no_saving = bool(instance.feat_dim >= n and np.linalg.matrix_rank(instance.Phi) == n)
    if norm != "l1":
        return _solve_cvxpy(instance, norm, no_saving)
    support = (np.flatnonzero(instance.shift) if instance.theta_A is not None else None)
    if method == "colgen" and support is None:
        raise ModelError("column generation needs theta_A (its support makes the working set "
                         "feasible)", field="method")
    if method == "auto":
        method = ("colgen" if support is not None and n >= COLGEN_MIN_PAIRS
                  and support.size <= n // 2 else "direct")
    if method == "direct":
        res = _highs_l1(instance.Phi, instance.theta_O, instance.target)
        if res.status == 2:
            return _infeasible(instance, "l1", res.message, no_saving)
        zeta, lam, msg = res.x[:n] - res.x[n:], np.asarray(res.eqlin.marginals, float), \
            res.message
        duals = {"lam": lam, "upper_u": 0.0 - np.asarray(res.upper.marginals[:n], float),
                 "upper_v": 0.0 - np.asarray(res.upper.marginals[n:], float)}
    else:
        zeta, lam, msg = _colgen_l1(instance, support)
        s = instance.Phi.T @ lam
        # optimal box multipliers for a given lam: (s - 1)_+ and (-s - 1)_+ (module docstring)
        duals = {"lam": lam, "upper_u": np.maximum(s - 1, 0.0),
                 "upper_v": np.maximum(-s - 1, 0.0)}
    cost = float(np.abs(zeta).sum())
    return PoisoningResult(instance, "optimal", "l1", cost, zeta, instance.theta_O + zeta,
                           instance.m * cost, duals, no_saving_possible=no_saving, message=msg)


def _highs_l1(Phi: np.ndarray, th: np.ndarray, target: np.ndarray) -> Any:
    """HiGHS dual simplex on the split LP; raises unless optimal or infeasible."""
    n = Phi.shape[1]
    A = sp.hstack([sp.csr_array(Phi), -sp.csr_array(Phi)], format="csr")
    bounds = np.concatenate([np.stack([np.zeros(n), 1 - th], 1), np.stack([np.zeros(n), th], 1)])
    res = linprog(np.ones(2 * n), A_eq=A, b_eq=target, bounds=bounds, method="highs-ds",
                  options={"primal_feasibility_tolerance": LP_FEASIBILITY_TOL,
                           "dual_feasibility_tolerance": LP_FEASIBILITY_TOL})
    if res.status not in (0, 2):
        raise RuntimeError(f"HiGHS returned status {res.status}: {res.message}")
    return res


def _colgen_l1(instance: PoisoningInstance, support: np.ndarray) -> tuple[np.ndarray,
                                                                         np.ndarray, str]:
    """Column generation for the l1 LP (see :func:`min_cost_poisoning`)."""
    Phi, th, n, fd = instance.Phi, instance.theta_O, instance.n_pairs, instance.feat_dim
    can_up, can_down = th < 1, th > 0
    # seed the working set with the pairs the Theorem 2 dual point prices highest
    lam0 = np.linalg.lstsq(Phi @ Phi.T, instance.target, rcond=None)[0]
    score = np.abs(Phi.T @ lam0)
    work = np.zeros(n, bool)
    work[support] = True
    work[np.argsort(-score)[: 4 * fd]] = True
    # a pair whose reduced cost is below -tol enters; HiGHS's own dual tolerance is 1e-9 on the
    # scaled LP, so 1e-9 * max|phi| keeps the pricing consistent with it
    tol = LP_FEASIBILITY_TOL * max(1.0, float(np.abs(Phi).max()))
    batch = max(100, 4 * fd)
    for rounds in range(1, 1000):
        idx = np.flatnonzero(work)
        res = _highs_l1(Phi[:, idx], th[idx], instance.target)
        if res.status != 0:  # a superset of supp(shift) is always feasible
            raise RuntimeError(f"restricted LP returned {res.message}")
        lam = np.asarray(res.eqlin.marginals, float)
        s = Phi.T @ lam
        viol = np.where(can_up, s - 1, 0.0).clip(0) + np.where(can_down, -s - 1, 0.0).clip(0)
        viol[work] = 0.0
        bad = np.flatnonzero(viol > tol)
        if bad.size == 0:
            zeta = np.zeros(n)
            zeta[idx] = res.x[: idx.size] - res.x[idx.size:]
            return zeta, lam, f"{res.message} (column generation: {rounds} rounds, " \
                              f"{idx.size} of {n} pairs)"
        work[bad[np.argsort(-viol[bad])[:batch]]] = True
    raise RuntimeError("column generation did not converge in 1000 rounds")


def _solve_cvxpy(instance: PoisoningInstance, norm: str, no_saving: bool) -> PoisoningResult:
    import cvxpy as cp

    th = instance.theta_O
    z = cp.Variable(instance.n_pairs)
    eq = instance.Phi @ z == instance.target
    obj = cp.norm(z, 2) if norm == "l2" else cp.norm(z, "inf")
    prob = cp.Problem(cp.Minimize(obj), [eq, z >= -th, z <= 1 - th])
    prob.solve(solver="CLARABEL")
    if prob.status in ("infeasible", "infeasible_inaccurate"):
        return _infeasible(instance, norm, prob.status, no_saving)
    if prob.status != "optimal":
        raise RuntimeError(f"cvxpy ({norm}) returned status {prob.status}")
    zeta = np.clip(np.asarray(z.value, float), -th, 1 - th)
    cost = float(np.linalg.norm(zeta, 2 if norm == "l2" else np.inf))
    return PoisoningResult(instance, "optimal", norm, cost, zeta, th + zeta,
                           instance.m * float(np.abs(zeta).sum()),
                           {"lam": -np.asarray(eq.dual_value, float)},
                           no_saving_possible=no_saving, message=prob.status)


def _infeasible(instance: PoisoningInstance, norm: str, message: str, no_saving: bool
                ) -> PoisoningResult:
    r"""Farkas vector for :math:`b\notin\Phi([0,1]^N-\theta_O)`: maximise the separation.

    Solves :math:`\max_y\ b^\top y-\sum_i[(1-\theta_{O,i})(\phi_i^\top y)_++\theta_{O,i}
    (-\phi_i^\top y)_+]` over :math:`\|y\|_\infty\le1` (an LP); a positive optimum proves
    infeasibility.
    """
    Phi, th = instance.Phi, instance.theta_O
    fd, n = Phi.shape
    # variables y (fd), p, q >= 0 with p - q = Phi^T y; the support function of the box is
    # (1-th)^T p + th^T q at the optimum (p, q = positive/negative parts), so minimise
    # -b^T y + (1-th)^T p + th^T q.
    c = np.concatenate([-instance.target, 1 - th, th])
    A_eq = sp.hstack([sp.csr_array(Phi.T), -sp.eye_array(n), sp.eye_array(n)], format="csr")
    bounds = [(-1, 1)] * fd + [(0, None)] * (2 * n)
    res = linprog(c, A_eq=A_eq, b_eq=np.zeros(n), bounds=bounds, method="highs-ds")
    if res.status != 0:
        raise RuntimeError(f"Farkas LP failed: {res.message}")
    y = res.x[:fd]
    return PoisoningResult(instance, "infeasible", norm, float("nan"), None, None,
                           float("nan"), {}, farkas=y, no_saving_possible=no_saving,
                           message=message)
