r"""Soft (entropy-regularised) dynamic programming: value iteration, Newton, backward induction.

Soft Bellman operator at temperature :math:`\tau>0` (bilevel notes §1.1, §5):

.. math::
    (TQ)(s,a) = r(s,a) + \gamma\sum_{s'}P(s'|s,a)\,V_Q(s'),\qquad
    V_Q(s) = \tau\log\sum_a\exp\big(Q(s,a)/\tau\big),

and the soft-optimal (Boltzmann) policy :math:`\pi(a|s)=\exp((Q(s,a)-V(s))/\tau)`.
The log-sum-exp is 1-Lipschitz in :math:`\|\cdot\|_\infty`, so :math:`T` is a
:math:`\gamma`-contraction and a Bellman residual :math:`\varepsilon=\|TQ-Q\|_\infty`
certifies :math:`\|Q-Q^\star\|_\infty\le\varepsilon/(1-\gamma)`.
Values are :math:`E[\sum_t\gamma^t(r_t+\tau\mathcal H(\pi(\cdot|s_t)))]` (not scaled by
:math:`1-\gamma`); finite-horizon values are undiscounted sums over :math:`t<H`.

Soft policy iteration evaluates the entropy-regularised value of the current
Boltzmann policy exactly (one sparse linear solve) and is Newton's method on the
soft Bellman equation (quadratic convergence near the fixed point); it stops on
the same certified residual as value iteration.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .errors import ModelError
from .mdp import TabularMDP
from .tolerances import EPS

__all__ = [
    "SOFT_TOL",
    "ConvergenceError",
    "SoftResult",
    "as_temperature",
    "boltzmann_policy",
    "logsumexp_value",
    "policy_kernel",
    "precise_tol",
    "soft_bellman_q",
    "soft_finite_horizon",
    "soft_policy_evaluation",
    "soft_policy_iteration",
    "soft_rounding",
    "soft_value_iteration",
]

#: Default certified target on ||Q - Q*||_inf. Float64 rounding of one backup is
#: ~ (m + A + 4) eps (|r| + gamma |V|) / (1 - gamma) (see soft_rounding), about 1e-13 for
#: unit rewards and gamma = 0.99, so 1e-10 is reachable on every model we build.
SOFT_TOL: float = 1e-10


class ConvergenceError(RuntimeError):
    """A solve did not reach its certified tolerance; the message names tau, tol and the bound."""


def as_temperature(tau: object, field_name: str = "tau") -> float:
    """Validate an entropy temperature tau > 0 (finite real); raise ModelError(field="tau")."""
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real):
        raise ModelError(f"{field_name} = {tau!r} is not a real number, expected tau > 0",
                         field=field_name)
    t = float(tau)
    if not (math.isfinite(t) and t > 0.0):
        raise ModelError(f"{field_name} = {t!r}, expected a finite temperature tau > 0",
                         field=field_name)
    return t


def logsumexp_value(Q: np.ndarray, tau: float) -> np.ndarray:
    r""":math:`V(s)=\tau\log\sum_a\exp(Q(s,a)/\tau)` along the last axis, max-shifted (stable).

    Computed as :math:`m+\tau\log\sum_a\exp((Q(s,a)-m)/\tau)` with :math:`m=\max_aQ(s,a)`:
    the exponents are :math:`\le0` and the maximiser contributes :math:`e^0=1`, so the sum
    lies in :math:`[1,A]` and neither it nor its logarithm can overflow. For tiny ``tau`` a
    quotient :math:`(Q-m)/\tau` below :math:`-1.8\cdot10^{308}` rounds to :math:`-\infty`,
    whose exponential 0 is the correctly rounded term; that overflow is intended and
    silenced (no RuntimeWarning). Soft values are value-to-go, not scaled by
    :math:`1-\gamma`.
    """
    m = Q.max(axis=-1)
    with np.errstate(over="ignore"):  # (Q - m) / tau <= 0 may round to -inf: exp gives 0
        shifted = (Q - m[..., None]) / tau
    return m + tau * np.log(np.exp(shifted).sum(axis=-1))


def boltzmann_policy(Q: np.ndarray, tau: float) -> np.ndarray:
    r""":math:`\pi(a|s)=\exp((Q(s,a)-V(s))/\tau)` along the last axis, rows summing to 1.

    Computed as :math:`z/\sum_az` with :math:`z=\exp((Q-\max_aQ)/\tau)\in[0,1]` and the
    maximiser's :math:`z=1`, so the denominator is in :math:`[1,A]`. As in
    :func:`logsumexp_value`, a quotient that overflows to :math:`-\infty` at tiny ``tau``
    is intended (its probability is exactly 0) and raises no RuntimeWarning.
    """
    with np.errstate(over="ignore"):  # (Q - max) / tau <= 0 may round to -inf: exp gives 0
        shifted = (Q - Q.max(axis=-1, keepdims=True)) / tau
    z = np.exp(shifted)
    return z / z.sum(axis=-1, keepdims=True)


def soft_bellman_q(mdp: TabularMDP, Q: np.ndarray, tau: float) -> np.ndarray:
    r"""One soft backup :math:`r+\gamma P\,V_Q`, shape (S, A) (dense or CSR kernel)."""
    V = logsumexp_value(Q, tau)
    return mdp.r + mdp.gamma * (mdp.transition_matrix @ V).reshape(mdp.S, mdp.A)


def soft_rounding(mdp: TabularMDP, V: np.ndarray) -> float:
    r"""Bound on float64 rounding of the computed soft fixed point.

    One backup sums at most ``m`` successors (``(m+2)eps`` relative) and a
    log-sum-exp over A shifted terms (``(A+2)eps`` relative to :math:`|V|`);
    the contraction turns a per-step error :math:`\delta` into :math:`\delta/(1-\gamma)`.
    """
    indptr = mdp.transition_matrix.indptr
    m = int(np.max(np.diff(indptr))) if indptr.size > 1 else 1
    vmax = float(np.max(np.abs(V))) if V.size else 0.0
    step = (m + mdp.A + 4) * EPS * (float(np.max(np.abs(mdp.r))) + mdp.gamma * vmax + vmax)
    return step / (1.0 - mdp.gamma)


def precise_tol(mdp: TabularMDP, tau: float, target: float = 1e-12) -> float:
    r"""The tightest tolerance worth asking for: ``max(target, 10 * rounding floor)``.

    The floor is :func:`soft_rounding` at the a-priori bound
    :math:`\|V^\star\|_\infty\le(\|r\|_\infty+\tau\log A)/(1-\gamma)`.
    """
    vmax = (float(np.max(np.abs(mdp.r))) + tau * math.log(mdp.A)) / (1.0 - mdp.gamma)
    return max(target, 10.0 * soft_rounding(mdp, np.array([vmax])))


@dataclass(frozen=True, eq=False)
class SoftResult:
    r"""Soft-optimal Q, V and Boltzmann policy with a certificate.

    Attributes
    ----------
    status : {"optimal", "iteration_limit"}
        Read it before using the solution (or call :meth:`require`).
    message : str
    Q : ndarray (S, A) or (H, S, A)
    V : ndarray (S,) or (H, S)
        Soft values :math:`\tau\log\sum_a e^{Q/\tau}` (value-to-go, not scaled by 1-gamma).
    pi : ndarray (S, A) or (H, S, A)
        Boltzmann policy.
    value : float
        :math:`\mu_0^\top V` (time 0 for a finite horizon).
    bellman_residual : float
        :math:`\|TQ-Q\|_\infty` of the returned Q (0 for backward induction).
    error_bound : float
        Certified bound on :math:`\|Q-Q^\star\|_\infty` (rounding included).
    tau, tol : float
    iterations : int
    method : str
    """

    mdp: TabularMDP = field(repr=False)
    status: str
    message: str
    Q: np.ndarray
    V: np.ndarray
    pi: np.ndarray
    value: float
    bellman_residual: float
    error_bound: float
    tau: float
    tol: float
    iterations: int
    method: str

    def require(self) -> SoftResult:
        """Return self if optimal, else raise :class:`ConvergenceError` naming tau and tol."""
        if self.status != "optimal":
            raise ConvergenceError(
                f"soft solve ({self.method}) did not certify ||Q - Q*||_inf <= tol = "
                f"{self.tol:g} at temperature tau = {self.tau:g}: bound {self.error_bound:.3g} "
                f"after {self.iterations} iterations; increase tol or max_iter, or raise tau")
        return self

    def certificate(self) -> float:
        r"""Recompute :math:`\|TQ-Q\|_\infty/(1-\gamma)+\text{rounding}` from the model alone."""
        res = float(np.max(np.abs(soft_bellman_q(self.mdp, self.Q, self.tau) - self.Q)))
        return res / (1.0 - self.mdp.gamma) + soft_rounding(self.mdp, self.V)


def _check_tol(tol: float) -> float:
    if not (isinstance(tol, numbers.Real) and math.isfinite(tol) and tol > 0):
        raise ModelError(f"tol = {tol!r}, expected a positive finite number", field="tol")
    return float(tol)


def _finish(mdp: TabularMDP, Q: np.ndarray, tau: float, tol: float, k: int, method: str,
            max_iter: int) -> SoftResult:
    TQ = soft_bellman_q(mdp, Q, tau)
    residual = float(np.max(np.abs(TQ - Q)))
    V = logsumexp_value(Q, tau)
    bound = residual / (1.0 - mdp.gamma) + soft_rounding(mdp, V)
    ok = bound <= tol
    msg = (f"certified ||Q - Q*||_inf <= residual/(1-gamma) + rounding = {bound:.3g} <= tol = "
           f"{tol:g} after {k} iterations (tau = {tau:g})" if ok else
           f"iteration limit {max_iter} reached with ||Q - Q*||_inf <= {bound:.3g} > tol = "
           f"{tol:g} (tau = {tau:g}); increase tol or max_iter")
    return SoftResult(mdp=mdp, status="optimal" if ok else "iteration_limit", message=msg, Q=Q,
                      V=V, pi=boltzmann_policy(Q, tau), value=float(mdp.mu0 @ V),
                      bellman_residual=residual, error_bound=bound, tau=tau, tol=tol,
                      iterations=k, method=method)


def soft_value_iteration(mdp: TabularMDP, tau: float, tol: float = SOFT_TOL, *,
                         Q0: np.ndarray | None = None, max_iter: int | None = None) -> SoftResult:
    r"""Soft value iteration :math:`Q_{k+1}=TQ_k` with a certified stop.

    Iterates until :math:`\gamma\|Q_{k+1}-Q_k\|_\infty/(1-\gamma)+\rho_{fl}\le` ``tol``
    (then :math:`\|Q_{k+1}-Q^\star\|\le` tol by the contraction); the returned
    bound is recomputed from the residual of the returned Q. Finite-horizon
    models are solved by :func:`soft_finite_horizon`.

    Parameters
    ----------
    mdp : TabularMDP
        Dense or CSR kernel; discount ``mdp.gamma`` in [0, 1).
    tau : float
        Temperature > 0.
    tol : float
        Target bound on :math:`\|Q-Q^\star\|_\infty`.
    Q0 : ndarray (S, A), optional
    max_iter : int, optional
        Default: the count the contraction guarantees, plus 10.
    """
    tau = as_temperature(tau)
    if mdp.finite_horizon:
        return soft_finite_horizon(mdp, tau)
    tol = _check_tol(tol)
    gamma = mdp.gamma
    Q = np.zeros((mdp.S, mdp.A)) if Q0 is None else np.array(Q0, dtype=float)
    Qn = soft_bellman_q(mdp, Q, tau)
    eps = float(np.max(np.abs(Qn - Q)))
    if max_iter is None:
        if gamma == 0.0 or eps == 0.0:
            max_iter = 10
        else:
            need = (math.log(tol) + math.log1p(-gamma) - math.log(gamma) - math.log(eps))
            max_iter = max(math.ceil(need / math.log(gamma)), 0) + 10
    rounding = soft_rounding(mdp, logsumexp_value(Qn, tau))
    k = 1
    while eps * gamma / (1.0 - gamma) + rounding > tol and k < max_iter:
        Q, Qn = Qn, soft_bellman_q(mdp, Qn, tau)
        eps = float(np.max(np.abs(Qn - Q)))
        k += 1
        if k % 64 == 0:
            rounding = soft_rounding(mdp, logsumexp_value(Qn, tau))
    return _finish(mdp, Qn, tau, tol, k, "soft_value_iteration", max_iter)


def policy_kernel(mdp: TabularMDP, pi: np.ndarray) -> sp.csr_array:
    r""":math:`P_\pi[s,s']=\sum_a\pi(a|s)P(s'|s,a)` as CSR (S, S)."""
    S, A = mdp.S, mdp.A
    rows = np.repeat(np.arange(S), A)
    Pi = sp.csr_array((pi.ravel(), (rows, np.arange(S * A))), shape=(S, S * A))
    return sp.csr_array(Pi @ mdp.transition_matrix)


def soft_policy_evaluation(mdp: TabularMDP, pi: np.ndarray, tau: float) -> np.ndarray:
    r"""Entropy-regularised value of ``pi``: :math:`(I-\gamma P_\pi)V=\sum_a\pi(r-\tau\log\pi)`.

    Returns :math:`Q^\pi=r+\gamma PV^\pi` (S, A); zero-probability actions contribute 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = np.where(pi > 0, pi * np.log(np.where(pi > 0, pi, 1.0)), 0.0)
    rhs = (pi * mdp.r).sum(axis=1) - tau * ent.sum(axis=1)
    M = sp.identity(mdp.S, format="csc") - mdp.gamma * policy_kernel(mdp, pi).tocsc()
    V = spla.spsolve(M, rhs) if mdp.S > 1 else rhs / M.toarray()[0]
    return mdp.r + mdp.gamma * (mdp.transition_matrix @ np.atleast_1d(V)).reshape(mdp.S, mdp.A)


def soft_policy_iteration(mdp: TabularMDP, tau: float, tol: float = SOFT_TOL, *,
                          max_iter: int = 200) -> SoftResult:
    r"""Soft policy iteration (Newton on the soft Bellman equation), certified stop.

    :math:`\pi_k=\mathrm{softmax}(Q_k/\tau)`, :math:`Q_{k+1}=Q^{\pi_k}_{\text{soft}}` by an
    exact linear solve; stops once the residual bound of :math:`Q_{k+1}` is at most
    ``tol``, or after ``max_iter`` evaluations (status "iteration_limit"; the
    rounding floor of the linear solve can prevent very small ``tol``).
    """
    tau = as_temperature(tau)
    if mdp.finite_horizon:
        return soft_finite_horizon(mdp, tau)
    tol = _check_tol(tol)
    Q = mdp.r / (1.0 - mdp.gamma) if mdp.gamma > 0 else np.array(mdp.r)
    k = 0
    while k < max_iter:
        k += 1
        Q = soft_policy_evaluation(mdp, boltzmann_policy(Q, tau), tau)
        res = float(np.max(np.abs(soft_bellman_q(mdp, Q, tau) - Q)))
        if res / (1.0 - mdp.gamma) + soft_rounding(mdp, logsumexp_value(Q, tau)) <= tol:
            break
    return _finish(mdp, Q, tau, tol, k, "soft_policy_iteration", max_iter)


def soft_finite_horizon(mdp: TabularMDP, tau: float) -> SoftResult:
    r"""Exact finite-horizon soft backward induction (undiscounted, :math:`V_H=0`).

    :math:`Q_t=r+PV_{t+1}`, :math:`V_t=\tau\log\sum_ae^{Q_t/\tau}`,
    :math:`\pi_t=e^{(Q_t-V_t)/\tau}`, :math:`t=H-1,\dots,0`; value :math:`\mu_0^\top V_0`
    is :math:`\max_\pi E[\sum_{t<H}(r_t+\tau\mathcal H(\pi_t(\cdot|s_t)))]`.
    """
    tau = as_temperature(tau)
    if not mdp.finite_horizon:
        raise ModelError("soft_finite_horizon needs a finite-horizon model (horizon set)",
                         field="horizon")
    H, S, A = mdp.horizon, mdp.S, mdp.A
    Pm = mdp.transition_matrix
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    for t in range(H - 1, -1, -1):
        Q[t] = mdp.r + (Pm @ V[t + 1]).reshape(S, A)
        V[t] = logsumexp_value(Q[t], tau)
    return SoftResult(mdp=mdp, status="optimal", message=f"exact soft backward induction, H = {H}",
                      Q=Q, V=V[:H], pi=boltzmann_policy(Q, tau), value=float(mdp.mu0 @ V[0]),
                      bellman_residual=0.0, error_bound=0.0, tau=tau, tol=0.0, iterations=H,
                      method="soft_finite_horizon")
