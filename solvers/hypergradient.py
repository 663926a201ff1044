r"""Exact hypergradients of the leader objective under a soft-optimal follower (notes §1.2-1.3, §5).

Hyper-objective (a value :math:`E[\sum_t\gamma_U^tr_U]`, not scaled by :math:`1-\gamma_U`):

.. math::
    F(x)=\mu_0^\top V_U,\qquad Q_U=r_U+\gamma_UP_xV_U,\qquad V_U(s)=\sum_a\pi_x(a|s)Q_U(s,a),

with :math:`\pi_x` the Boltzmann policy of the follower's soft Q-function :math:`Q_F`
(temperature :math:`\tau`, discount :math:`\gamma_F`). With
:math:`M_\pi[(s,a),(s',a')]=P_x(s'|s,a)\pi_x(a'|s')` and :math:`J_Q=\nabla_xQ_F`,

.. math::
    J_Q=(I-\gamma_FM_\pi)^{-1}\big[\nabla_xr_F+\gamma_F(\nabla_xP_x)V_F\big]
    \qquad\text{(implicit soft-Bellman gradient, §1.3)}.

Four ways to get :math:`\nabla F` (they must agree):

1. ``"implicit"``: forward-mode differentiation of the fixed points,
   :math:`\nabla\pi=\pi(J_Q-\textstyle\sum_a\pi J_Q)/\tau`,
   :math:`(I-\gamma_UM_\pi)\nabla Q_U=\nabla r_U+\gamma_U(\nabla P)V_U
   +\gamma_UP(\sum_a\nabla\pi\,Q_U)`,
   :math:`\nabla F=\mu_0^\top(\sum_a\nabla\pi\,Q_U+\pi\nabla Q_U)`;
2. ``"bc"`` (Boltzmann covariance, BC-HG): direct :math:`+\frac1\tau\sum\bar d_UA_UJ_Q`;
3. ``"score"`` (HPGD): direct :math:`+\sum\bar d_UQ_U\nabla\log\pi`;
4. :func:`finite_difference_hypergradient`: central differences of F.

Here :math:`\bar d_U(s,a)=\sum_t\gamma_U^t\Pr(s_t=s,a_t=a)` (unnormalised; times
:math:`1-\gamma_U` it is DESIGN's ``d``) and direct
:math:`=\sum\bar d_U[\nabla r_U+\gamma_U(\nabla P)V_U]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .configurable_mdp import ConfigurableMDP
from .errors import ModelError
from .soft_dp import SOFT_TOL, SoftResult, precise_tol, soft_policy_iteration
from .tolerances import EPS

__all__ = ["EXACT_METHODS", "BilevelPoint", "FiniteDifference", "bilevel_point",
           "exact_hypergradient", "finite_difference_hypergradient", "hyper_objective"]

EXACT_METHODS = ("implicit", "bc", "score")

#: Up to this many states the S x S system is factorised densely (LU of a 2000 x 2000 matrix
#: takes ~0.2 s; sparse LU of a random sparse kernel fills in almost completely anyway).
_DENSE_MAX = 2000


@dataclass(frozen=True, eq=False)
class BilevelPoint:
    r"""Exact quantities at x. Shapes: ``pi, Q_U, A_U, dbar_U`` (S, A); ``V_U, V_F`` (S,);
    ``J_Q`` (S, A, n); ``direct`` (n,). ``F`` is the leader value :math:`\mu_0^\top V_U`."""

    model: ConfigurableMDP
    data: dict
    follower: SoftResult
    pi: np.ndarray
    Q_U: np.ndarray
    V_U: np.ndarray
    A_U: np.ndarray
    dbar_U: np.ndarray
    V_F: np.ndarray
    J_Q: np.ndarray
    direct: np.ndarray
    F: float

    def gradient(self, method: str = "bc") -> np.ndarray:
        """The hypergradient (n,) by ``method`` in EXACT_METHODS."""
        tau = self.model.tau
        if method == "bc":
            return self.direct + np.einsum("sa,san->n", self.dbar_U * self.A_U, self.J_Q) / tau
        if method == "score":
            return self.direct + np.einsum("sa,san->n", self.dbar_U * self.Q_U, self.score())
        if method == "implicit":
            return self._implicit()
        raise ModelError(f"method = {method!r}, expected one of {EXACT_METHODS}", field="method")

    def score(self) -> np.ndarray:
        r""":math:`\nabla_x\log\pi_x(a|s)=(J_Q(s,a)-\sum_{a'}\pi J_Q(s,a'))/\tau`, (S, A, n)."""
        mean = np.einsum("sa,san->sn", self.pi, self.J_Q)
        return (self.J_Q - mean[:, None, :]) / self.model.tau

    def _implicit(self) -> np.ndarray:
        d, m = self.data, self.model
        S, A = self.pi.shape
        dpi = self.pi[..., None] * self.score()
        mix = np.einsum("san,sa->sn", dpi, self.Q_U)
        rhs = d["J_rU"] + m.gamma_U * _kernel_term(d["J_P"], self.V_U, S, A, m.n)
        rhs = rhs.reshape(S * A, m.n) + m.gamma_U * (d["leader"].transition_matrix @ mix)
        dQ = _factor(d["leader"], self.pi, m.gamma_U).solve(rhs).reshape(S, A, m.n)
        dV = mix + np.einsum("sa,san->sn", self.pi, dQ)
        return m.mu0 @ dV

    @property
    def response(self) -> np.ndarray:
        """The response term (BC form minus the direct term), (n,)."""
        return self.gradient("bc") - self.direct


def _kernel_term(J_P: np.ndarray | None, V: np.ndarray, S: int, A: int, n: int) -> np.ndarray:
    r""":math:`\sum_{s'}\nabla_xP(s'|s,a)V(s')`, shape (S, A, n) (zero for a fixed kernel)."""
    if J_P is None:
        return np.zeros((S, A, n))
    return np.einsum("iakn,k->ian", J_P, V)


class _factor:
    r"""Solves with :math:`I-\gamma M_\pi` ((S*A) x (S*A)) through an S x S system.

    :math:`M_\pi=P\Pi` with :math:`P` (SA, S) and :math:`\Pi[s,(s,a)]=\pi(a|s)` (S, SA).
    :math:`(I-\gamma P\Pi)u=b` iff :math:`y=\Pi u` solves :math:`(I-\gamma P_\pi)y=\Pi b`
    (:math:`P_\pi=\Pi P`) and :math:`u=b+\gamma Py`; the transposed system
    :math:`(I-\gamma M_\pi)^\top z=c` gives :math:`(I-\gamma P_\pi^\top)w=P^\top c`,
    :math:`z=c+\gamma\Pi^\top w`. The S x S matrix is factorised once (dense LU up to
    ``_DENSE_MAX`` states, sparse LU above); ``solve`` takes (SA,) or (SA, n).
    """

    def __init__(self, mdp, pi: np.ndarray, gamma: float) -> None:
        S, A = pi.shape
        rows = np.repeat(np.arange(S), A)
        self.Pi = sp.csr_array((pi.ravel(), (rows, np.arange(S * A))), shape=(S, S * A))
        self.P = mdp.transition_matrix
        self.gamma = gamma
        K = sp.identity(S, format="csc") - gamma * sp.csc_array(self.Pi @ self.P)
        if S <= _DENSE_MAX:
            self.dense = sla.lu_factor(K.toarray())
        else:
            self.dense, self.lu = None, spla.splu(K)

    def _solve_small(self, b: np.ndarray, trans: str) -> np.ndarray:
        if self.dense is not None:
            return sla.lu_solve(self.dense, b, trans=0 if trans == "N" else 1)
        return self.lu.solve(np.ascontiguousarray(b), trans=trans)

    def solve(self, b: np.ndarray, trans: str = "N") -> np.ndarray:
        if trans == "N":
            y = self._solve_small(self.Pi @ b, "N")
            return b + self.gamma * (self.P @ y)
        w = self._solve_small(self.P.T @ b, "T")
        return b + self.gamma * (self.Pi.T @ w)


def bilevel_point(model: ConfigurableMDP, x: np.ndarray,
                  tol: float | None = SOFT_TOL) -> BilevelPoint:
    """Solve the follower (certified, raises ConvergenceError otherwise) and the leader at x.

    ``tol`` bounds the follower's ||Q - Q*||_inf; ``None`` asks for the tightest reachable
    (:func:`~solvers.soft_dp.precise_tol`: 1e-12 or 10x the rounding floor).
    """
    d = model.at(x)
    if tol is None:
        tol = precise_tol(d["follower"], model.tau)
    fol = soft_policy_iteration(d["follower"], model.tau, tol).require()
    S, A, n = fol.Q.shape[0], fol.Q.shape[1], model.n
    pi = fol.pi
    lead = d["leader"]
    fU = _factor(lead, pi, model.gamma_U)
    Q_U = fU.solve(lead.r.ravel()).reshape(S, A)
    V_U = (pi * Q_U).sum(axis=1)
    start = (model.mu0[:, None] * pi).ravel()
    dbar = fU.solve(start, trans="T").reshape(S, A)
    direct_sa = d["J_rU"] + model.gamma_U * _kernel_term(d["J_P"], V_U, S, A, n)
    direct = np.einsum("sa,san->n", dbar, direct_sa)
    rhsF = d["J_rF"] + model.gamma_F * _kernel_term(d["J_P"], fol.V, S, A, n)
    fF = _factor(d["follower"], pi, model.gamma_F)
    J_Q = fF.solve(rhsF.reshape(S * A, n)).reshape(S, A, n)
    return BilevelPoint(model=model, data=d, follower=fol, pi=pi, Q_U=Q_U, V_U=V_U,
                        A_U=Q_U - V_U[:, None], dbar_U=dbar, V_F=fol.V, J_Q=J_Q, direct=direct,
                        F=float(model.mu0 @ V_U))


def hyper_objective(model: ConfigurableMDP, x: np.ndarray, tol: float = SOFT_TOL) -> float:
    r""":math:`F(x)=\mu_0^\top V_U` under the soft-optimal follower (leader value, unscaled)."""
    return bilevel_point(model, x, tol).F


def exact_hypergradient(model: ConfigurableMDP, x: np.ndarray, method: str = "bc",
                        tol: float = SOFT_TOL) -> np.ndarray:
    """The exact hypergradient (n,) at x by ``method`` in ("implicit", "bc", "score")."""
    return bilevel_point(model, x, tol).gradient(method)


def objective_error_bound(point: BilevelPoint) -> float:
    r"""Bound on the error of the computed F from the follower's certificate and rounding.

    A Q error :math:`\epsilon` moves the Boltzmann policy by at most
    :math:`\|\Delta\pi(\cdot|s)\|_1\le2\epsilon/\tau`, hence F by at most
    :math:`2\epsilon\max|Q_U|/(\tau(1-\gamma_U))` (performance difference); the leader
    solve adds :math:`64\,SA\,\mathrm{eps}\,\max|Q_U|/(1-\gamma_U)` (LU backward error).
    """
    m = point.model
    q = max(float(np.abs(point.Q_U).max()), 1.0)
    SA = point.Q_U.size
    return (2 * point.follower.error_bound * q / m.tau + 64 * SA * EPS * q) / (1 - m.gamma_U)


@dataclass(frozen=True)
class FiniteDifference:
    """Central differences of F: ``grad`` (n,), ``h``, and error estimates (n,):
    ``truncation`` (Richardson, |g_h - g_2h| / 3), ``rounding`` (objective error / h)."""

    grad: np.ndarray
    h: float
    truncation: np.ndarray
    rounding: float

    @property
    def error_estimate(self) -> np.ndarray:
        """truncation + rounding, per component."""
        return self.truncation + self.rounding


def finite_difference_hypergradient(model: ConfigurableMDP, x: np.ndarray,
                                    h: float | None = None,
                                    tol: float | None = None) -> FiniteDifference:
    r"""Central differences :math:`(F(x+he_i)-F(x-he_i))/(2h)` with an error estimate.

    Truncation is :math:`h^2F'''/6`; estimated by Richardson from the same differences
    at step :math:`2h`: :math:`|g_h-g_{2h}|/3`. Rounding: each F carries at most
    :func:`objective_error_bound` :math:`\delta`, so the quotient at most :math:`\delta/h`.
    Default :math:`h=\delta^{1/3}\max(1,\|x\|_\infty)` (balances the two), at least 1e-6.
    """
    x = model._x(x)
    base = bilevel_point(model, x, tol)
    delta = objective_error_bound(base)
    if h is None:
        h = max(delta ** (1 / 3), 1e-6) * max(1.0, float(np.abs(x).max()))
    g1, g2 = np.empty(model.n), np.empty(model.n)
    worst = delta
    for i in range(model.n):
        e = np.zeros(model.n)
        e[i] = h
        vals = []
        for step in (e, -e, 2 * e, -2 * e):
            p = bilevel_point(model, x + step, tol)
            worst = max(worst, objective_error_bound(p))
            vals.append(p.F)
        g1[i] = (vals[0] - vals[1]) / (2 * h)
        g2[i] = (vals[2] - vals[3]) / (4 * h)
    return FiniteDifference(grad=g1, h=float(h), truncation=np.abs(g1 - g2) / 3,
                            rounding=worst / h)
