r"""Exact policy evaluation and occupancy measures.

Discounted model, stationary policy :math:`\pi`:

.. math::
    v = (I - \gamma P_\pi)^{-1} r_\pi,\qquad
    q(s,a) = r(s,a) + \gamma \sum_{s'} P(s'|s,a)\, v(s'),\qquad
    \text{value} = \mu_0^\top v = E\Big[\sum_{t\ge 0}\gamma^t r_t\Big],

.. math::
    d(s,a) = (1-\gamma)\,\pi(a|s)\,\big[(I-\gamma P_\pi^\top)^{-1}\mu_0\big](s),
    \qquad \text{value} = \frac{\langle d, r\rangle}{1-\gamma}.

Finite horizon H (undiscounted), policy :math:`\pi_t`: backward recursion
:math:`v_H = 0`, :math:`q_t = r + P v_{t+1}`, :math:`v_t(s)=\sum_a\pi_t(a|s)q_t(s,a)`;
forward recursion for :math:`d_t`, each summing to 1, with
:math:`\text{value}=\sum_t\langle d_t, r\rangle`.

Linear systems are solved by sparse LU up to
:data:`~solvers.tolerances.DIRECT_SOLVE_MAX_STATES` states and by BiCGSTAB
above; either way the residual :math:`\rho=\|(I-\gamma P_\pi)v-r_\pi\|_\infty`
is measured and reported with the certified bound
:math:`\|v-v^\pi\|_\infty\le(\rho+\rho_{fl})/(1-\gamma)` (because
:math:`\|(I-\gamma P_\pi)^{-1}\|_\infty\le 1/(1-\gamma)`), where
:math:`\rho_{fl}=(m+3)\,\varepsilon\,(\|r_\pi\|_\infty+(1+\gamma)\|v\|_\infty)`
bounds the rounding in forming :math:`\gamma P_\pi` and in computing the
residual itself (m = most successors of a state): a float residual of exactly 0
does not mean an exact solution.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .mdp import TabularMDP
from .policies import as_policy
from .tolerances import DIRECT_SOLVE_MAX_STATES, EPS, ITERATIVE_RTOL

__all__ = ["PolicyValues", "evaluate", "occupancy", "policy_kernel", "solve_discounted_system"]

#: Below this many states a dense LAPACK solve beats sparse LU.
_DENSE_MAX_STATES = 400


@dataclass(frozen=True, eq=False)
class PolicyValues:
    r"""Exact values of a policy. Values are :math:`E[\sum_t\gamma^t r_t]`, not scaled by 1-gamma.

    Attributes
    ----------
    v : ndarray (S,) or (H, S)
        State values (finite horizon: ``v[t, s]`` is the value-to-go from time t).
    q : ndarray (S, A) or (H, S, A)
        Action values.
    value : float
        :math:`\mu_0^\top v` (finite horizon: :math:`\mu_0^\top v_0`).
    cost_v, cost_q : ndarray (K, ...)
        The same quantities for each constraint cost.
    cost_values : ndarray (K,)
        Expected discounted cost of each constraint.
    residual : float
        Measured :math:`\|(I-\gamma P_\pi)v-r_\pi\|_\infty` over reward and costs
        (0 for the finite-horizon recursion).
    error_bound : float
        Certified bound :math:`(\rho+\rho_{fl})/(1-\gamma)` on the error of ``v`` and
        ``cost_v``, float rounding included (finite horizon: the recursion's rounding).
    method : str
        "dense", "sparse-lu", "bicgstab" or "backward".
    """

    v: np.ndarray
    q: np.ndarray
    value: float
    cost_v: np.ndarray
    cost_q: np.ndarray
    cost_values: np.ndarray
    residual: float
    error_bound: float
    method: str


def policy_kernel(mdp: TabularMDP, pi: np.ndarray) -> sp.csr_array:
    r"""State-to-state kernel :math:`P_\pi(s, s') = \sum_a \pi(a|s) P(s'|s,a)`, CSR (S, S).

    A deterministic (one-hot) policy selects rows of P instead of multiplying.
    """
    S, A = mdp.S, mdp.A
    pi = np.asarray(pi, dtype=float)
    if np.all((pi == 0.0) | (pi == 1.0)):
        return mdp.transition_matrix[np.arange(S) * A + np.argmax(pi, axis=1)]
    rows = np.repeat(np.arange(S), A)
    cols = np.arange(S * A)
    Pi = sp.csr_array((pi.ravel(), (rows, cols)), shape=(S, S * A))
    return (Pi @ mdp.transition_matrix).tocsr()


def _kernel(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray | sp.csr_array:
    """P_pi dense (small dense models: no sparse overhead) or CSR."""
    if not mdp.is_sparse and mdp.S <= _DENSE_MAX_STATES:
        return np.einsum("sa,sat->st", pi, mdp.P)
    return policy_kernel(mdp, pi)


def solve_discounted_system(
    mdp: TabularMDP,
    P_pi: np.ndarray | sp.csr_array,
    rhs: np.ndarray,
    transpose: bool,
    x0: np.ndarray | None = None,
) -> tuple[np.ndarray, float, str]:
    """Solve (I - gamma P_pi) X = rhs (or its transpose) for every column of rhs (S, m).

    Up to 400 states: dense LAPACK. Above: BiCGSTAB with a Jacobi preconditioner
    (warm-started from ``x0`` (S, m) when given), falling back to sparse LU up to
    DIRECT_SOLVE_MAX_STATES states and to GMRES above if BiCGSTAB does not
    converge. Returns the solution, the measured infinity-norm residual and the
    method; the residual is measured, never assumed.
    """
    S, gamma = mdp.S, mdp.gamma
    if sp.issparse(P_pi):
        M = sp.identity(S, format="csr") - gamma * (P_pi.T.tocsr() if transpose else P_pi)
    else:
        M = np.eye(S) - gamma * (P_pi.T if transpose else P_pi)
    if gamma == 0.0:
        X, method = rhs.copy(), "dense"
    elif S <= _DENSE_MAX_STATES:
        X = np.linalg.solve(M.toarray() if sp.issparse(M) else M, rhs)
        method = "dense"
    else:
        with _single_blas_thread():
            X, method = _solve_iterative(sp.csr_array(M), rhs, x0)
    R = M @ X - rhs
    residual = float(np.max(np.abs(R))) if R.size else 0.0
    return X, residual, method


@functools.cache
def _blas_controller() -> object | None:
    """threadpoolctl's controller (built once: ~8 ms), or None without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional at run time; a declared dependency of boundlab
        return None
    return ThreadpoolController()


def _single_blas_thread() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread for the iterative solve.

    BiCGSTAB's work is memory-bound vector operations; OpenBLAS threads them above
    ~1e4 entries, and on a shared 2-core machine that made ``method="flip"`` at
    S = 2e4 take 66-77 s instead of 2-5 s (benchmarks/README.md). Results are
    bit-identical either way.
    """
    ctrl = _blas_controller()
    return ctrl.limit(limits=1, user_api="blas") if ctrl is not None \
        else contextlib.nullcontext()


def _solve_iterative(M: sp.csr_array, rhs: np.ndarray,
                     x0: np.ndarray | None) -> tuple[np.ndarray, str]:
    """BiCGSTAB per column (Jacobi preconditioner), sparse LU / GMRES fallbacks."""
    S = M.shape[0]
    inv_diag = 1.0 / M.diagonal()
    precond = spla.LinearOperator((S, S), matvec=lambda y: inv_diag * y)
    X = np.empty_like(rhs)
    method = "bicgstab"
    lu = None
    for j in range(rhs.shape[1]):
        b = rhs[:, j]
        start = x0[:, j] if x0 is not None else b
        x, info = spla.bicgstab(M, b, x0=start, rtol=ITERATIVE_RTOL, atol=0.0,
                                maxiter=10 * S, M=precond)
        if info != 0 or not np.all(np.isfinite(x)):
            if S <= DIRECT_SOLVE_MAX_STATES:
                lu = lu or spla.splu(M.tocsc())
                x, method = lu.solve(b), "sparse-lu"
            else:
                x, _ = spla.gmres(M, b, x0=start, rtol=ITERATIVE_RTOL, atol=0.0,
                                  restart=50, maxiter=10 * S, M=precond)
                method = "gmres"
        X[:, j] = x
    return X, method


def residual_rounding(
    P_pi: np.ndarray | sp.csr_array, gamma: float, rhs: np.ndarray, X: np.ndarray
) -> float:
    r"""Bound :math:`(m+3)\varepsilon(\|b\|_\infty+(1+\gamma)\|x\|_\infty)` on the rounding
    hidden in a float residual of :math:`(I-\gamma P_\pi)x=b` (m = max nonzeros per row)."""
    if sp.issparse(P_pi):
        m = int(np.max(np.diff(P_pi.indptr))) if P_pi.shape[0] else 1
    else:
        m = int(np.max(np.count_nonzero(P_pi, axis=1))) if P_pi.size else 1
    bmax = float(np.max(np.abs(rhs))) if rhs.size else 0.0
    xmax = float(np.max(np.abs(X))) if X.size else 0.0
    return (m + 3) * EPS * (bmax + (1.0 + gamma) * xmax)


def evaluate(mdp: TabularMDP, pi: object, *, v0: np.ndarray | None = None) -> PolicyValues:
    r"""Exact values of policy ``pi`` in ``mdp`` (reward and every constraint cost).

    Parameters
    ----------
    mdp : TabularMDP
    pi : ndarray (S, A), or (H, S, A) for a finite-horizon model
        Stationary (or time-dependent) randomised policy.
    v0 : ndarray (S,), optional
        Warm start for the iterative solver (large models), e.g. the previous
        policy's values in policy iteration. Does not change the result beyond
        the reported residual.

    Returns
    -------
    PolicyValues
        ``value`` is :math:`E_{\mu_0}[\sum_t\gamma^t r_t]` (not scaled by
        :math:`1-\gamma`), with a measured residual and certified error bound.

    Examples
    --------
    >>> import numpy as np
    >>> from solvers import TabularMDP, evaluate
    >>> mdp = TabularMDP(np.ones((1, 1, 1)), np.ones((1, 1)), np.ones(1), gamma=0.9)
    >>> round(evaluate(mdp, np.ones((1, 1))).value, 12)   # 1 / (1 - 0.9)
    10.0
    """
    pi = as_policy(mdp, pi)
    if mdp.finite_horizon:
        return _evaluate_finite(mdp, pi)
    S, A, K = mdp.S, mdp.A, mdp.K
    P_pi = _kernel(mdp, pi)
    rhs = np.empty((S, 1 + K))
    rhs[:, 0] = np.einsum("sa,sa->s", pi, mdp.r)
    if K:
        rhs[:, 1:] = np.einsum("sa,ksa->sk", pi, mdp.costs)
    x0 = None
    if v0 is not None:
        x0 = rhs.copy()
        x0[:, 0] = np.asarray(v0, dtype=float)
    X, residual, method = solve_discounted_system(mdp, P_pi, rhs, transpose=False, x0=x0)
    Pm = mdp.transition_matrix
    Q = np.empty((1 + K, S, A))
    Q[0] = mdp.r
    Q[1:] = mdp.costs
    Q += mdp.gamma * (Pm @ X).T.reshape(1 + K, S, A)
    values = mdp.mu0 @ X
    return PolicyValues(
        v=X[:, 0].copy(), q=Q[0], value=float(values[0]),
        cost_v=X[:, 1:].T.copy(), cost_q=Q[1:], cost_values=np.asarray(values[1:], dtype=float),
        residual=residual,
        error_bound=(residual + residual_rounding(P_pi, mdp.gamma, rhs, X)) / (1.0 - mdp.gamma),
        method=method,
    )


def _time_policy(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """Broadcast a stationary finite-horizon policy to (H, S, A)."""
    return np.broadcast_to(pi, (mdp.horizon, mdp.S, mdp.A)) if pi.ndim == 2 else pi


def _evaluate_finite(mdp: TabularMDP, pi: np.ndarray) -> PolicyValues:
    H, S, A, K = mdp.horizon, mdp.S, mdp.A, mdp.K
    pis = _time_policy(mdp, pi)
    Pm = mdp.transition_matrix
    R = np.concatenate([mdp.r[None], mdp.costs])  # (1+K, S, A)
    V = np.zeros((H + 1, 1 + K, S))
    Q = np.empty((H, 1 + K, S, A))
    for t in range(H - 1, -1, -1):
        Q[t] = R + (Pm @ V[t + 1].T).T.reshape(1 + K, S, A)
        V[t] = np.einsum("sa,ksa->ks", pis[t], Q[t])
    values = V[0] @ mdp.mu0
    # Each backward step r + P v rounds by <= (m + 2) eps (|r| + |v|) (m = most successors);
    # H steps accumulate additively.
    m = int(np.max(np.diff(Pm.indptr)))
    rounding = mdp.horizon * (m + 2) * EPS * (float(np.max(np.abs(R))) + float(np.max(np.abs(V))))
    return PolicyValues(
        v=V[:H, 0].copy(), q=Q[:, 0].copy(), value=float(values[0]),
        cost_v=np.moveaxis(V[:H, 1:], 1, 0).copy(), cost_q=np.moveaxis(Q[:, 1:], 1, 0).copy(),
        cost_values=np.asarray(values[1:], dtype=float), residual=0.0, error_bound=rounding,
        method="backward",
    )


def occupancy(mdp: TabularMDP, pi: object) -> np.ndarray:
    r"""Normalised occupancy measure of ``pi``.

    Discounted: :math:`d(s,a)=(1-\gamma)\sum_t\gamma^t\Pr(s_t=s,a_t=a)`, shape (S, A),
    summing to 1, so that :math:`V_r(\pi)=\langle d,r\rangle/(1-\gamma)`
    (cmdp_ccmdp notes, §1). Finite horizon: :math:`d_t(s,a)=\Pr(s_t=s,a_t=a)`,
    shape (H, S, A), each :math:`d_t` summing to 1, so that
    :math:`V_r(\pi)=\sum_t\langle d_t,r\rangle`.
    """
    pi = as_policy(mdp, pi)
    S, A = mdp.S, mdp.A
    if mdp.finite_horizon:
        pis = _time_policy(mdp, pi)
        d = np.empty((mdp.horizon, S, A))
        rho = mdp.mu0
        Pt = mdp.transition_matrix.T.tocsr()
        for t in range(mdp.horizon):
            d[t] = rho[:, None] * pis[t]
            rho = Pt @ d[t].ravel()
        return d
    P_pi = _kernel(mdp, pi)
    X, _residual, _method = solve_discounted_system(
        mdp, P_pi, ((1.0 - mdp.gamma) * mdp.mu0)[:, None], transpose=True
    )
    return X[:, 0][:, None] * pi
