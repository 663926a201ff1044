r"""The deterministic frontier :math:`J_{det}(\delta)` of a chance-constrained MDP.

.. math::
    J_{det}(\delta)=\max\Big\{E^\pi\Big[\sum_{t<H}r_t\Big]:\ \pi\text{ deterministic Markov
    on }(t,s,f),\ \Pr^\pi(\exists t\le H: s_t\in U)\le\delta\Big\},

a nondecreasing step function of :math:`\delta`. Randomising (or mixing policies once per
episode) achieves its least concave majorant, and that is exactly the LP optimum
:math:`J_{mix}(\delta)` of :func:`solvers.ccmdp_solve.solve_ccmdp`, because the augmented
occupancy polytope is the convex hull of the deterministic occupancies (notes §2.3, §3.7;
flipping paper Thm 6). Two independent ways to compute :math:`J_{det}`:

- :func:`frontier_enumeration`: every deterministic policy on :math:`(t,s,f)` of a tiny
  model, each valued by its own backward recursion; returns all Pareto points;
- :func:`j_det_milp`: the augmented occupancy LP with binary action selection
  :math:`d_t(x,a)\le y_t(x,a)`, :math:`\sum_ay_t(x,a)=1`, :math:`y\in\{0,1\}` (a valid
  big-M form since :math:`d_t(x,a)\le1`), solved by ``scipy.optimize.milp`` (HiGHS).

Values are :math:`E[\sum_{t<H}r_t]` (finite horizon, nothing scaled by :math:`1-\gamma`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .ccmdp import augment_with_flag, validate_delta, validate_unsafe, violation_probability
from .cmdp import _lp_matrices
from .enumeration import deterministic_policy_values
from .evaluation import evaluate
from .flip_lp import concave_majorant, majorant_value
from .mdp import TabularMDP
from .policies import deterministic_policy
from .tolerances import LP_FEASIBILITY_TOL

#: HiGHS tolerances for the MILP (names as HiGHS spells them).
_HIGHS_TOLERANCES = {"mip_feasibility_tolerance": LP_FEASIBILITY_TOL,
                     "primal_feasibility_tolerance": LP_FEASIBILITY_TOL}

__all__ = [
    "DeterministicFrontier",
    "DeterministicSolution",
    "frontier_enumeration",
    "j_det_milp",
    "least_concave_majorant",
]


@dataclass(frozen=True)
class DeterministicFrontier:
    r"""Pareto points :math:`(p_i, v_i)` of deterministic policies, :math:`p` increasing.

    ``violation[i]`` is :math:`\Pr(V_H)` and ``value[i]`` the value of a deterministic
    policy that no other deterministic policy beats in both (strictly increasing values).
    ``tol`` is the slack allowed in :math:`p_i\le\delta` (the LP/MILP feasibility
    tolerance, so that all three methods compare like with like).
    """

    violation: np.ndarray
    value: np.ndarray
    tol: float = LP_FEASIBILITY_TOL

    def __call__(self, delta: float) -> float:
        r""":math:`J_{det}(\delta)=\max\{v_i: p_i\le\delta\}`; ``-inf`` if no policy qualifies."""
        ok = self.violation <= float(delta) + self.tol
        return float(self.value[ok].max()) if ok.any() else -np.inf

    def concave_majorant(self, delta: float) -> float:
        """Least concave majorant of :math:`J_{det}` at ``delta`` (see
        :func:`least_concave_majorant`)."""
        return least_concave_majorant(self.violation, self.value, delta, tol=self.tol)


@dataclass(frozen=True)
class DeterministicSolution:
    r"""A :func:`j_det_milp` solution. Read ``status`` first.

    Attributes
    ----------
    status : str
        "optimal" or "infeasible" (no deterministic policy meets :math:`\delta`).
    value : float
        :math:`E[\sum_{t<H}r_t]` of ``actions`` by backward recursion (not the MILP objective).
    violation : float
        Its exact :math:`\Pr(V_H)` by :func:`solvers.ccmdp.violation_probability`.
    milp_value : float
        The MILP objective (agrees with ``value`` up to HiGHS's feasibility tolerance).
    actions : ndarray of int (H, 2S) or None
        Action at augmented state ``x = f*S + s`` at time t.
    message : str
    """

    status: str
    value: float
    violation: float
    milp_value: float
    actions: np.ndarray | None
    message: str


def frontier_enumeration(mdp: TabularMDP, unsafe: object) -> DeterministicFrontier:
    r"""All deterministic Markov policies on :math:`(t,s,f)` of a tiny model, reduced to the
    Pareto frontier.

    Each of the :math:`A^{2SH}` policies is valued by a backward recursion on the augmented
    model (:func:`solvers.enumeration.deterministic_policy_values`), violation
    :math:`=\mu_0(U)+` its expected first-entry cost. Refuses more than
    :data:`solvers.enumeration.ENUMERATION_MAX_POLICIES` policies (ModelError).
    """
    aug = augment_with_flag(mdp, unsafe)
    _, pts = deterministic_policy_values(aug.mdp)
    return _pareto(pts[:, 1] + aug.initial_violation, pts[:, 0])


def _pareto(p: np.ndarray, v: np.ndarray) -> DeterministicFrontier:
    order = np.lexsort((-v, p))
    keep_p, keep_v = [], []
    for i in order:
        if not keep_v or v[i] > keep_v[-1]:
            keep_p.append(float(p[i]))
            keep_v.append(float(v[i]))
    return DeterministicFrontier(np.array(keep_p), np.array(keep_v))


def least_concave_majorant(x: np.ndarray, y: np.ndarray, at: float,
                           tol: float = LP_FEASIBILITY_TOL) -> float:
    r"""Least concave majorant at ``at`` of the step function :math:`g(\delta)=\max\{y_i:
    x_i\le\delta\}`.

    It is the upper concave hull of the points :math:`(x_i,y_i)`, extended by the constant
    :math:`\max_iy_i` to the right of its maximiser, i.e.
    :math:`\max\{\sum_iw_iy_i:\sum_iw_ix_i\le\delta,\ w\in\Delta\}`; ``-inf`` below
    :math:`\min_ix_i-` ``tol`` and :math:`g(\min_ix_i)` within ``tol`` below it. A thin
    wrapper of :func:`solvers.flip_lp.concave_majorant` / :func:`~solvers.flip_lp.
    majorant_value` (Andrew's monotone chain, no LP).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    at = float(at)
    if x.size == 0 or at < x.min() - tol:
        return -np.inf
    maj = concave_majorant(x, y)
    return majorant_value(maj, max(at, float(maj.costs[0])))[0]


def j_det_milp(mdp: TabularMDP, unsafe: object, delta: object) -> DeterministicSolution:
    r""":math:`J_{det}(\delta)` by a mixed-integer LP on the augmented occupancy measure.

    .. math::
        \max_{d,y}\sum_{t,x,a}d_t(x,a)r(x,a)\ \text{ s.t. }\ d\in\mathcal D_{aug},\quad
        \sum_{t,x,a}d_t(x,a)c(x,a)\le\delta-\mu_0(U),\quad d_t(x,a)\le y_t(x,a),\quad
        \sum_ay_t(x,a)=1,\quad y\in\{0,1\},

    with :math:`\mathcal D_{aug}` the finite-horizon flow polytope of the flag-augmented
    model (:func:`solvers.ccmdp.augment_with_flag`) and :math:`c` its first-entry cost.
    Every feasible :math:`(d,y)` is the occupancy of the deterministic Markov policy
    :math:`y` (on reachable :math:`(t,x)`) and conversely, so the optimum is
    :math:`J_{det}(\delta)`. Solved by HiGHS branch and bound with relative gap 0.

    Returns
    -------
    DeterministicSolution
        The policy's value and violation are recomputed from ``actions`` by evaluation.
    """
    d_level = validate_delta(delta)
    aug = augment_with_flag(mdp, validate_unsafe(mdp, unsafe))
    m = aug.mdp
    H, X, A = int(m.horizon), m.S, m.A
    A_eq, b_eq, obj, A_ub = _lp_matrices(m)
    n = obj.size
    eye = sp.identity(n, format="csr")
    pick = sp.kron(sp.identity(H * X, format="csr"), np.ones((1, A)), format="csr")
    zeros_eq = sp.csr_array((A_eq.shape[0], n))
    cons = [
        LinearConstraint(sp.hstack([A_eq, zeros_eq], format="csr"), b_eq, b_eq),
        LinearConstraint(sp.hstack([A_ub, sp.csr_array((1, n))], format="csr"), -np.inf,
                         aug.cost_threshold(d_level)),
        LinearConstraint(sp.hstack([eye, -eye], format="csr"), -np.inf, 0.0),
        LinearConstraint(sp.hstack([sp.csr_array((H * X, n)), pick], format="csr"), 1.0, 1.0),
    ]
    with warnings.catch_warnings():
        # scipy forwards HiGHS options it does not know by name verbatim, with a warning;
        # HiGHS's own default MIP feasibility tolerance (1e-6) is too loose for J_det.
        warnings.filterwarnings("ignore", message="Unrecognized options detected")
        res = milp(np.concatenate([-obj, np.zeros(n)]), constraints=cons,
                   integrality=np.concatenate([np.zeros(n), np.ones(n)]),
                   bounds=Bounds(np.zeros(2 * n), np.ones(2 * n)),
                   options={"mip_rel_gap": 0.0, **_HIGHS_TOLERANCES})
    nan = float("nan")
    if res.status == 2:
        return DeterministicSolution("infeasible", nan, nan, nan, None, res.message)
    if res.status != 0 or res.x is None:
        raise RuntimeError(f"j_det_milp: HiGHS MILP failed with status {res.status}: "
                           f"{res.message}")
    actions = np.argmax(res.x[n:].reshape(H, X, A), axis=2)
    pi = deterministic_policy(actions, A)
    value = float(evaluate(m, pi).value)
    viol = violation_probability(mdp, pi[:, :mdp.S], aug.unsafe)
    if viol > d_level + 10 * LP_FEASIBILITY_TOL:
        raise RuntimeError(f"j_det_milp: the MILP policy has Pr(V_H) = {viol!r} > delta = "
                           f"{d_level!r} beyond the feasibility tolerance")
    return DeterministicSolution("optimal", value, viol, float(-res.fun), actions, res.message)
