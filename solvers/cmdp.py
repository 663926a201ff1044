r"""Constrained MDPs: the occupancy-measure LP, its dual, and the Lagrangian dual function.

Discounted model (cmdp_ccmdp notes, §2.1), variables the normalised occupancy
:math:`d\in\mathbb R^{S\times A}`:

.. math::
    V^\star(b)=\max_{d\ge0}\ \frac{\langle d,r\rangle}{1-\gamma}\quad\text{s.t.}\quad
    \sum_a d(s',a)-\gamma\sum_{s,a}P(s'|s,a)d(s,a)=(1-\gamma)\mu_0(s')\ \ \forall s',\qquad
    \frac{\langle d,c_k\rangle}{1-\gamma}\le b_k\ \ \forall k.

Finite horizon H (undiscounted), variables :math:`d_t`, :math:`t<H`:
:math:`\sum_a d_0(s,a)=\mu_0(s)`, :math:`\sum_a d_{t+1}(s',a)=\sum_{s,a}P(s'|s,a)d_t(s,a)`,
objective :math:`\sum_t\langle d_t,r\rangle`, constraints
:math:`\sum_t\langle d_t,c_k\rangle\le b_k`.

The dual, written in value units :math:`v` (flow duals) and multipliers
:math:`\lambda\ge0`, is (notes §2.4)

.. math::
    \min_{v,\lambda\ge0}\ \mu_0^\top v+\lambda^\top b\quad\text{s.t.}\quad
    r(s,a)-\lambda^\top c(s,a)+\gamma\sum_{s'}P(s'|s,a)v(s')-v(s)\le0\ \ \forall s,a,

i.e. :math:`v` is a super-solution of the Bellman equation of the reward
:math:`r-\lambda^\top c` (finite horizon: :math:`v_t`, with :math:`\gamma=1` and
:math:`v_t` on the left, :math:`v_{t+1}` on the right, :math:`v_H=0`). At the optimum
the dual objective equals :math:`\max_\pi V_{r-\lambda^\top c}(\pi)+\lambda^\top b`
(:func:`lagrangian_dual`). Values are :math:`E[\sum_t\gamma^t r_t]`, not scaled by
:math:`1-\gamma`.

References: E. Altman, *Constrained Markov Decision Processes*, 1999, ch. 3-4;
cmdp_ccmdp notes §2.1-2.4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .errors import ModelError
from .mdp import TabularMDP
from .planning import policy_iteration
from .tolerances import LP_FEASIBILITY_TOL

if TYPE_CHECKING:
    from .cmdp_verify import CMDPCertificate

__all__ = [
    "CMDPResult",
    "InfeasibilityCertificate",
    "lagrangian_dual",
    "solve_cmdp",
]


_METHODS = ("lp", "flip", "cvxpy")


@dataclass(frozen=True)
class InfeasibilityCertificate:
    r"""Farkas-type certificate that no policy meets the budgets.

    Weights :math:`w\ge0`, :math:`\sum_kw_k=1`, such that the smallest
    achievable weighted cost exceeds the weighted budget:

    .. math::
        \min_\pi\sum_k w_kV_{c_k}(\pi)\ >\ w^\top b .

    Any feasible :math:`\pi` would give :math:`\sum_kw_kV_{c_k}(\pi)\le w^\top b`,
    so none exists. ``w`` is the dual solution of the phase-1 LP
    :math:`t^\star=\min_{d\in\mathcal D,t}t` s.t. :math:`V_{c_k}(d)-b_k\le t`
    (LP duality: :math:`t^\star=\min_{d\in\mathcal D}\sum_kw_k(V_{c_k}(d)-b_k)`);
    ``min_weighted_cost`` is then recomputed by dynamic programming
    (:func:`~solvers.planning.policy_iteration` on reward :math:`-w^\top c`),
    independently of the LP.

    Attributes
    ----------
    weights : ndarray (K,)
        Farkas weights :math:`w`.
    min_weighted_cost : float
        :math:`\min_\pi\sum_kw_kV_{c_k}(\pi)` by dynamic programming.
    weighted_budget : float
        :math:`w^\top b`.
    error_bound : float
        Certified error of ``min_weighted_cost`` reported by the DP.
    phase1_value : float
        :math:`t^\star` of the phase-1 LP (> 0 when infeasible).
    """

    weights: np.ndarray
    min_weighted_cost: float
    weighted_budget: float
    error_bound: float
    phase1_value: float

    @property
    def margin(self) -> float:
        """``min_weighted_cost - weighted_budget - error_bound``; > 0 certifies infeasibility."""
        return self.min_weighted_cost - self.weighted_budget - self.error_bound


@dataclass(frozen=True, eq=False)
class CMDPResult:
    r"""Solution of a CMDP. Read ``status`` before using any other field.

    Attributes
    ----------
    mdp : TabularMDP
        The model (with costs (K, S, A)).
    thresholds : ndarray (K,)
        Budgets :math:`b`.
    status : str
        "optimal", "infeasible" or "unbounded".
    message : str
        Solver message.
    method : str
        "lp" (HiGHS dual simplex, a basic = vertex solution), "flip" (K = 1 without an LP,
        :mod:`solvers.cmdp_flip`; randomises in at most one state) or "cvxpy".
    value : float
        :math:`V_r(\pi^\star)=E[\sum_t\gamma^tr_t]` (not scaled by 1-gamma); nan unless optimal.
    cost_values : ndarray (K,) or None
        :math:`V_{c_k}(\pi^\star)`.
    pi : ndarray (S, A) or (H, S, A), or None
        :math:`\pi(a|s)=d(s,a)/\sum_{a'}d(s,a')`, uniform where :math:`\sum_ad(s,a)=0`.
    d : ndarray (S, A) or (H, S, A), or None
        Normalised occupancy (sums to 1; finite horizon: each :math:`d_t` sums to 1).
    lam : ndarray (K,) or None
        Multipliers :math:`\lambda=-` (HiGHS marginals of the :math:`\le` rows), so
        :math:`\lambda\ge0`, :math:`\lambda_k=\partial V^\star/\partial b_k` and
        value :math:`=\max_\pi V_{r-\lambda^\top c}(\pi)+\lambda^\top b`.
    v : ndarray (S,) or (H, S), or None
        Flow-constraint duals in value units: discounted
        :math:`v=-(1-\gamma)\,y`, finite horizon :math:`v_t=-y_t`, with :math:`y` the HiGHS
        marginals of the flow rows; :math:`v` is the optimal value function of
        :math:`r-\lambda^\top c`, and value :math:`=\mu_0^\top v+\lambda^\top b`.
    infeasibility : InfeasibilityCertificate or None
        Present when ``status == "infeasible"``.
    """

    mdp: TabularMDP = field(repr=False)
    thresholds: np.ndarray
    status: str
    message: str
    method: str
    value: float
    cost_values: np.ndarray | None
    pi: np.ndarray | None
    d: np.ndarray | None
    lam: np.ndarray | None
    v: np.ndarray | None
    infeasibility: InfeasibilityCertificate | None = None

    def verify(self, exact: bool = False) -> CMDPCertificate:
        """Recompute every residual from the model alone (see ``cmdp_verify.verify_cmdp``)."""
        from .cmdp_verify import verify_cmdp

        return verify_cmdp(self, exact=exact)

    certificate = verify


def solve_cmdp(mdp: TabularMDP, thresholds: object, *, method: str = "lp") -> CMDPResult:
    r"""Solve :math:`\max_\pi V_r(\pi)` s.t. :math:`V_{c_k}(\pi)\le b_k` by the occupancy LP.

    The occupancy LP of the module docstring (notes §2.1) is built with
    scipy.sparse matrices. ``method="lp"`` solves it with
    ``scipy.optimize.linprog(method="highs-ds")``: HiGHS's dual simplex returns a
    *basic* (vertex) optimum, which the randomisation-count theorem needs
    (notes §2.2: at most K states randomise). ``method="cvxpy"`` solves the same
    LP with cvxpy (HiGHS if installed, else Clarabel, an interior-point method
    whose solution need not be a vertex); use it for cross-checking. ``method="flip"``
    (K = 1 only, discounted or finite horizon) solves the same problem without an LP:
    a chord search on the Lagrangian dual with warm-started policy iteration, a walk
    between the two Lagrangian-optimal deterministic policies at :math:`\lambda^\star`,
    and a mixture at one state (:func:`solvers.cmdp_flip.solve_cmdp_flip`).

    Parameters
    ----------
    mdp : TabularMDP
        Discounted or finite-horizon model with K >= 1 costs.
    thresholds : array_like (K,)
        Finite budgets :math:`b`.
    method : {"lp", "flip", "cvxpy"}

    Returns
    -------
    CMDPResult
        ``status`` "optimal" (with primal ``d``, ``pi``, dual ``lam``, ``v``),
        "infeasible" (with an :class:`InfeasibilityCertificate`) or "unbounded".
        Values are :math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`.

    Raises
    ------
    ModelError
        If K = 0 ("costs"), ``thresholds`` is not finite of shape (K,), ``method`` is unknown,
        or ``method="flip"`` is given a model with K != 1 ("costs").
    RuntimeError
        If the LP solver fails numerically (never for infeasibility).
    """
    b = _check_inputs(mdp, thresholds, method)
    if method == "flip":
        from .cmdp_flip import solve_cmdp_flip

        return solve_cmdp_flip(mdp, b)
    A_eq, b_eq, obj, A_ub = _lp_matrices(mdp)
    if method == "lp":
        status, msg, x, y_eq, y_ub = _solve_linprog(obj, A_eq, b_eq, A_ub, b)
    else:
        status, msg, x, y_eq, y_ub = _solve_cvxpy(obj, A_eq, b_eq, A_ub, b)
    nan = float("nan")
    if status != "optimal":
        cert = _infeasibility_certificate(mdp, b) if status == "infeasible" else None
        return CMDPResult(mdp, b, status, msg, method, nan, None, None, None, None, None, cert)
    shape = (mdp.horizon, mdp.S, mdp.A) if mdp.finite_horizon else (mdp.S, mdp.A)
    d = x.reshape(shape)
    scale = 1.0 if mdp.finite_horizon else 1.0 - mdp.gamma
    v = (-scale * y_eq).reshape(shape[:-1])
    lam = np.maximum(-y_ub, 0.0)
    value = float(obj @ x)
    cost_values = A_ub @ x
    return CMDPResult(mdp, b, "optimal", msg, method, value, cost_values,
                      extract_policy(d), d, lam, v)


def lagrangian_dual(mdp: TabularMDP, thresholds: object, lam: object) -> float:
    r"""Lagrangian dual :math:`D(\lambda)=\max_\pi V_{r-\lambda^\top c}(\pi)+\lambda^\top b`.

    Computed by dynamic programming (:func:`~solvers.planning.policy_iteration`,
    which uses backward induction for a finite-horizon model) on the model with
    reward :math:`r-\lambda^\top c`. Weak duality: :math:`D(\lambda)\ge V^\star(b)` for every
    :math:`\lambda\ge0`, because any feasible :math:`\pi` has
    :math:`V_r(\pi)\le V_r(\pi)-\lambda^\top(V_c(\pi)-b)\le D(\lambda)`. Strong duality
    (notes §2.4; Altman 1999, ch. 3): :math:`\min_{\lambda\ge0}D(\lambda)=V^\star(b)`,
    attained at the LP multipliers :math:`\lambda^\star` of :func:`solve_cmdp`.
    Values are :math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`.

    Parameters
    ----------
    mdp : TabularMDP
        Model with K >= 1 costs.
    thresholds : array_like (K,)
        Budgets :math:`b`.
    lam : array_like (K,)
        Multipliers, finite and :math:`\ge0`.

    Returns
    -------
    float
        :math:`D(\lambda)`, exact up to the policy-iteration error bound (a few ulps times
        :math:`1/(1-\gamma)^2`).
    """
    b = _check_inputs(mdp, thresholds, "lp")
    lam_arr = np.asarray(lam, dtype=float)
    if lam_arr.shape != (mdp.K,) or not np.all(np.isfinite(lam_arr)) or np.any(lam_arr < 0):
        raise ModelError(f"lam = {lam!r}, expected {mdp.K} finite numbers >= 0", field="lam")
    reward = mdp.r - np.tensordot(lam_arr, mdp.costs, axes=1)
    res = policy_iteration(_with_reward(mdp, reward))
    if res.status != "optimal":
        raise RuntimeError(f"lagrangian_dual: dynamic programming did not converge: {res.message}")
    return float(res.value + lam_arr @ b)


def extract_policy(d: np.ndarray) -> np.ndarray:
    r""":math:`\pi(a|s)=d(s,a)/\sum_{a'}d(s,a')` (negative round-off clipped to 0); uniform where
    the state has no occupancy. ``d`` is (S, A) or (H, S, A)."""
    dp = np.maximum(d, 0.0)
    mass = dp.sum(axis=-1, keepdims=True)
    uniform = np.full_like(dp, 1.0 / dp.shape[-1])
    return np.where(mass > 0, dp / np.where(mass > 0, mass, 1.0), uniform)


# -- helpers -------------------------------------------------------------------------------


def _check_inputs(mdp: TabularMDP, thresholds: object, method: str) -> np.ndarray:
    if mdp.K < 1:
        raise ModelError("the model has K = 0 constraint costs, expected costs (K, S, A) "
                         "with K >= 1", field="costs")
    try:
        b = np.array(thresholds, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"thresholds = {thresholds!r} is not numeric, expected shape "
                         f"({mdp.K},)", field="thresholds") from exc
    if b.shape != (mdp.K,):
        raise ModelError(f"thresholds has shape {b.shape}, expected (K,) = ({mdp.K},)",
                         field="thresholds")
    if not np.all(np.isfinite(b)):
        k = int(np.flatnonzero(~np.isfinite(b))[0])
        raise ModelError(f"thresholds[{k}] is {b[k]}, expected a finite number",
                         field="thresholds")
    if method not in _METHODS:
        raise ModelError(f"method = {method!r}, expected one of {_METHODS}", field="method")
    b.setflags(write=False)
    return b


def _with_reward(mdp: TabularMDP, reward: np.ndarray) -> TabularMDP:
    """The same dynamics with another reward and no costs."""
    if mdp.finite_horizon:
        return TabularMDP(mdp.P, reward, mdp.mu0, horizon=mdp.horizon)
    return TabularMDP(mdp.P, reward, mdp.mu0, gamma=mdp.gamma)


def _lp_matrices(mdp: TabularMDP) -> tuple[sp.csr_array, np.ndarray, np.ndarray, sp.csr_array]:
    """(A_eq, b_eq, objective to maximise, A_ub) of the occupancy LP, columns t*S*A + s*A + a."""
    S, A, K = mdp.S, mdp.A, mdp.K
    Pt = mdp.transition_matrix.T  # (S, S*A): Pt[s', s*A+a] = P(s'|s,a)
    agg = sp.kron(sp.identity(S, format="csr"), np.ones((1, A)), format="csr")
    C = mdp.costs.reshape(K, S * A)
    if not mdp.finite_horizon:
        g = mdp.gamma
        A_eq = sp.csr_array(agg - g * Pt)
        return (A_eq, (1.0 - g) * mdp.mu0, mdp.r.ravel() / (1.0 - g),
                sp.csr_array(C / (1.0 - g)))
    H = mdp.horizon
    blocks = [[None] * H for _ in range(H)]
    for t in range(H):
        blocks[t][t] = agg
        if t:
            blocks[t][t - 1] = -Pt
    A_eq = sp.csr_array(sp.bmat(blocks, format="csr"))
    b_eq = np.concatenate([mdp.mu0, np.zeros((H - 1) * S)])
    return A_eq, b_eq, np.tile(mdp.r.ravel(), H), sp.csr_array(np.tile(C, (1, H)))


_LINPROG_STATUS = {0: "optimal", 2: "infeasible", 3: "unbounded"}


def _solve_linprog(obj, A_eq, b_eq, A_ub, b_ub):
    """Dual simplex; returns (status, message, x, flow marginals, <= marginals)."""
    res = linprog(-obj, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=(0, None),
                  method="highs-ds",
                  options={"primal_feasibility_tolerance": LP_FEASIBILITY_TOL,
                           "dual_feasibility_tolerance": LP_FEASIBILITY_TOL})
    if res.status not in _LINPROG_STATUS:
        raise RuntimeError(f"linprog (highs-ds) failed with status {res.status}: {res.message}")
    status = _LINPROG_STATUS[res.status]
    if status != "optimal":
        return status, res.message, None, None, None
    return status, res.message, res.x, res.eqlin.marginals, res.ineqlin.marginals


def _solve_cvxpy(obj, A_eq, b_eq, A_ub, b_ub):
    """The same LP in cvxpy; duals returned in linprog's sign convention (min of -obj)."""
    import cvxpy as cp

    x = cp.Variable(obj.size, nonneg=True)
    flow = A_eq @ x == b_eq
    budget = A_ub @ x <= b_ub
    prob = cp.Problem(cp.Maximize(obj @ x), [flow, budget])
    solver = "HIGHS" if "HIGHS" in cp.installed_solvers() else "CLARABEL"
    prob.solve(solver=solver)
    if prob.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        return "infeasible", f"cvxpy/{solver}: {prob.status}", None, None, None
    if prob.status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
        return "unbounded", f"cvxpy/{solver}: {prob.status}", None, None, None
    if prob.status != cp.OPTIMAL:
        raise RuntimeError(f"cvxpy ({solver}) failed with status {prob.status}")
    # cvxpy: Lagrangian obj - y.(A_eq x - b_eq) - lam.(A_ub x - b_ub) with lam >= 0, so
    # y = dV/db_eq = -(linprog marginal) and lam = -(linprog marginal).
    return ("optimal", f"cvxpy/{solver}: optimal", np.asarray(x.value),
            -np.asarray(flow.dual_value), -np.asarray(budget.dual_value))


def _infeasibility_certificate(mdp: TabularMDP, b: np.ndarray) -> InfeasibilityCertificate:
    """Phase-1 LP for the Farkas weights, then the minimum weighted cost by DP."""
    A_eq, b_eq, _obj, A_ub = _lp_matrices(mdp)
    n, K = A_eq.shape[1], mdp.K
    # variables (d, t), t free: min t s.t. A_ub d - t <= b, A_eq d = b_eq
    A_ub1 = sp.hstack([A_ub, sp.csr_array(-np.ones((K, 1)))], format="csr")
    A_eq1 = sp.hstack([A_eq, sp.csr_array((A_eq.shape[0], 1))], format="csr")
    cost = np.zeros(n + 1)
    cost[-1] = 1.0
    res = linprog(cost, A_ub=A_ub1, b_ub=b, A_eq=A_eq1, b_eq=b_eq,
                  bounds=[(0, None)] * n + [(None, None)], method="highs-ds",
                  options={"primal_feasibility_tolerance": LP_FEASIBILITY_TOL,
                           "dual_feasibility_tolerance": LP_FEASIBILITY_TOL})
    if res.status != 0:
        raise RuntimeError(f"phase-1 LP failed with status {res.status}: {res.message}")
    w = np.maximum(-res.ineqlin.marginals, 0.0)
    w = w / w.sum()
    return min_weighted_cost_certificate(mdp, b, w, float(res.fun))


def min_weighted_cost_certificate(mdp: TabularMDP, b: np.ndarray, w: np.ndarray,
                                  phase1_value: float = float("nan")) -> InfeasibilityCertificate:
    r""":math:`\min_\pi\sum_kw_kV_{c_k}(\pi)` by policy iteration on reward :math:`-w^\top c`."""
    res = policy_iteration(_with_reward(mdp, -np.tensordot(w, mdp.costs, axes=1)))
    if res.status != "optimal":
        raise RuntimeError(f"minimum-cost DP did not converge: {res.message}")
    return InfeasibilityCertificate(w, 0.0 - res.value, float(w @ b), res.value_error_bound,
                                    phase1_value)
