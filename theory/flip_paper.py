r"""The flipping paper's structural theorems (Shen et al., arXiv 2410.06474; notes §3.3, §3.8).

- ``flip.thm2_two_atoms_per_state``: the per-state PMO LP has an optimal vertex
  with at most 2 actions (FPO = PMO);
- ``flip.thm3_delta0_deterministic``: budget 0 with costs >= 0 makes a vertex
  optimum deterministic;
- ``flip.thm4_single_constraint``: one constraint, same discount: a vertex
  optimum randomises in at most one state, between two actions (stronger than
  the paper's "a flipping policy is optimal").

Theorems 6 and 7 (the concave envelope, the sampled-level LP) are in
:mod:`theory.flip_envelope`.

Count theorems return ``Evidence(count, bound, "<=")`` for the solver's vertex
*after* certifying that it is optimal against an independent reference (pair
enumeration, a monotone-chain hull, or enumeration of deterministic policies):
a solution that is not optimal says nothing about the theorem, so the check
raises instead. Values are :math:`E[\sum_t\gamma^tr_t]`, not scaled by
:math:`1-\gamma`.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from solvers import TabularMDP, evaluate, solve_cmdp
from solvers.enumeration import deterministic_policy_values
from solvers.flip_lp import best_pair_mixture, concave_majorant, majorant_value, solve_mixture_lp
from solvers.tolerances import LP_FEASIBILITY_TOL, linear_solve_tol

from .core import Assumption, Evidence, Instance, Theorem
from .flip_per_step import FLIP
from .registry import register
from .strategies import stochastic_rows

__all__ = ["policy_count_evidence", "stay_safe_probability", "support_evidence"]

#: Positive costs are drawn >= this, far above HiGHS's tolerance 1e-9, so the LP cannot
#: mistake a positive cost for zero (the theorems are about exact arithmetic).
_MIN_POSITIVE_COST = 1e-2


# -- instances ---------------------------------------------------------------------------------
@st.composite
def tiny_models(draw: st.DrawFn, min_A: int = 1, max_A: int = 3, max_S: int = 3,
                K: int = 1) -> TabularMDP:
    """Discounted model, S <= max_S, min_A <= A <= max_A, K costs >= 0.

    Half the models are generic (Dirichlet(0.5) rows, uniform rewards and costs from a
    drawn seed, as in notes §8); half are structured: integer-weight rows from hypothesis,
    rewards and costs on a quarter grid (ties, zeros, deterministic transitions). Either
    kind zeroes a drawn fraction of the costs. Positive costs are >= 1e-2, far above
    HiGHS's tolerance 1e-9, so the LP cannot mistake one for zero.
    """
    S, A = draw(st.integers(1, max_S)), draw(st.integers(min_A, max_A))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        P = rng.dirichlet(np.full(S, 0.5), size=(S, A))
        mu0 = rng.dirichlet(np.full(S, 0.5))
        r = rng.uniform(-1, 1, (S, A))
        c = rng.uniform(_MIN_POSITIVE_COST, 1, (K, S, A))
    else:
        P = stochastic_rows(draw, (S, A, S))
        mu0 = stochastic_rows(draw, (S,))
        r = rng.integers(-4, 5, (S, A)) / 4
        c = rng.integers(1, 5, (K, S, A)) / 4
    c[rng.random(c.shape) < draw(st.sampled_from([0.0, 0.3, 0.7]))] = 0.0
    gamma = draw(st.one_of(st.sampled_from([0.0, 0.5, 0.9]), st.floats(0.0, 0.95)))
    return TabularMDP(P, r, mu0, gamma=gamma, costs=c if K else None)


def binding_budget(draw: st.DrawFn, costs: np.ndarray, values: np.ndarray) -> float:
    """A budget that usually binds: a breakpoint or a point in [min C, cost of the best point],
    sometimes one above every cost (slack)."""
    c_opt = float(costs[values == values.max()].min())
    breaks = np.unique(costs[costs <= c_opt])
    lo = float(costs.min())
    inside = st.integers(1, 999).map(lambda k: lo + k / 1000 * (c_opt - lo))
    return float(draw(st.one_of(inside, st.sampled_from(list(breaks)), inside,
                                st.just(float(costs.max()) + 1.0))))


def _lp_tol(mdp: TabularMDP) -> float:
    # HiGHS solves to LP_FEASIBILITY_TOL on its scaled LP; 10x covers unscaling, relative to the
    # value scale max(1, |r|, |c|) / (1 - gamma) (as in theory.cmdp_classical).
    scale = max(1.0, float(np.abs(mdp.r).max()), float(np.abs(mdp.costs).max()))
    return 10 * LP_FEASIBILITY_TOL * scale / (1 - mdp.gamma)


def _solve_tol(mdp: TabularMDP) -> float:
    """Rounding of one float64 policy evaluation (enumerated values)."""
    scale = max(float(np.abs(mdp.r).max()), float(np.abs(mdp.costs).max()))
    return linear_solve_tol(mdp.S, scale, mdp.gamma)


def _mixture_tol(costs: np.ndarray, values: np.ndarray, point_err: float = 0.0) -> float:
    """Tolerance between the mixture LP optimum and an exact hull/pair value on the same points.

    HiGHS may violate the budget row by its feasibility tolerance (10x for unscaling,
    relative to max(1, |C|)); the optimum moves by at most the majorant's largest slope
    times a budget change, and never by more than the spread of the values. ``point_err`` is
    the rounding of each point's coordinates (moves values directly, costs through the slope).
    """
    slope = concave_majorant(costs, values).max_slope
    scale = max(1.0, float(np.abs(costs).max()), float(np.abs(values).max()))
    eps = 10 * LP_FEASIBILITY_TOL * scale + point_err
    return eps + min(slope * eps, float(values.max() - values.min()))


# -- count evidence (public so that tests can feed other solutions) ---------------------------
def support_evidence(costs: np.ndarray, values: np.ndarray, budget: float, weights: np.ndarray,
                     reference: float, tol: float, bound: int = 2) -> Evidence:
    r"""``Evidence(nnz(w), bound, "<=")`` for a mixture ``w`` certified optimal (vs ``reference``).

    Raises RuntimeError if ``w`` is not feasible (simplex, budget) or its value
    :math:`w^\top V` differs from the independently computed optimum by more than ``tol``.
    """
    w = np.asarray(weights, dtype=float)
    infeas = max(abs(w.sum() - 1), float(max(-w.min(), 0)), float(w @ costs) - budget)
    if infeas > tol or abs(float(w @ values) - reference) > tol:
        raise RuntimeError(f"the mixture is not optimal: value {float(w @ values)!r} vs reference "
                           f"{reference!r}, infeasibility {infeas:.3g} (tol {tol:.3g})")
    # an atom is in the support when its weight exceeds HiGHS's feasibility tolerance
    nnz = int(np.sum(w > LP_FEASIBILITY_TOL))
    return Evidence(nnz, bound, "<=", details={"value": float(w @ values), "reference": reference,
                                               "n_points": int(w.size)})


def policy_count_evidence(mdp: TabularMDP, budget: float, d: np.ndarray, reference: float,
                          tol: float, bound: int) -> Evidence:
    r"""``Evidence(extra actions of d, bound, "<=")`` for an occupancy ``d`` certified optimal.

    Extra actions :math:`\sum_{s:d(s)>0}(|\mathrm{supp}\,d(s,\cdot)|-1)`. Raises
    RuntimeError if ``d`` is not an occupancy measure (flow residual), exceeds the
    budget or its value :math:`\langle d,r\rangle/(1-\gamma)` misses ``reference`` by > ``tol``.
    """
    g = mdp.gamma
    flow = d.sum(axis=1) - g * np.einsum("sa,sat->t", d, mdp.dense_P()) - (1 - g) * mdp.mu0
    value = float(np.sum(d * mdp.r)) / (1 - g)
    cost = float(np.sum(d * mdp.costs[0])) / (1 - g)
    bad = max(float(np.abs(flow).max()) / (1 - g), float(max(-d.min(), 0)) / (1 - g),
              cost - budget, abs(value - reference))
    if bad > tol:
        raise RuntimeError(f"d is not an optimal occupancy: value {value!r} vs reference "
                           f"{reference!r}, cost {cost!r} vs budget {budget!r}, flow residual "
                           f"{float(np.abs(flow).max()):.3g} (tol {tol:.3g})")
    visited = d.sum(axis=1) > LP_FEASIBILITY_TOL
    extra = int(((d > LP_FEASIBILITY_TOL).sum(axis=1) - 1)[visited].clip(min=0).sum())
    return Evidence(extra, bound, "<=", details={"value": value, "reference": reference,
                                                 "visited_states": int(visited.sum())})


def _vertex(mdp: TabularMDP, budget: float) -> np.ndarray:
    res = solve_cmdp(mdp, [budget])
    if res.status != "optimal":
        raise RuntimeError(f"solve_cmdp on a feasible budget returned {res.status}: {res.message}")
    return res.d


# -- Theorem 2: per-state PMO ------------------------------------------------------------------
def stay_safe_probability(mdp: TabularMDP, pi: np.ndarray, safe: np.ndarray,
                          window: int) -> np.ndarray:
    r""":math:`P^\pi(s,a)=\Pr(s_1,\dots,s_T\in\mathcal S_{safe}\mid s_0=s,a_0=a)`, then :math:`\pi`.

    Backward recursion :math:`u_1=\mathbb 1_{safe}`,
    :math:`u_{k+1}(s)=\mathbb 1_{safe}(s)\sum_a\pi(a|s)\sum_{s'}P(s'|s,a)u_k(s')`,
    :math:`P^\pi(s,a)=\sum_{s'}P(s'|s,a)u_T(s')` (shape (S, A)).
    """
    P = mdp.dense_P()
    ind = np.asarray(safe, dtype=float)
    u = ind.copy()
    for _ in range(window - 1):
        u = ind * np.einsum("sa,sat,t->s", pi, P, u)
    return P @ u


@st.composite
def per_state_instances(draw: st.DrawFn) -> Instance:
    """A model with A >= 3, a policy, a safe set, a window and a level delta feasible somewhere."""
    mdp = draw(tiny_models(min_A=3, max_A=4, max_S=3, K=0))
    pi = stochastic_rows(draw, (mdp.S, mdp.A))
    safe = np.array(draw(st.lists(st.booleans(), min_size=mdp.S, max_size=mdp.S)))
    window = draw(st.integers(1, 3))
    cost = 1 - stay_safe_probability(mdp, pi, safe, window)
    s0 = draw(st.integers(0, mdp.S - 1))  # delta binds in this state
    q = evaluate(mdp, pi).q[s0]
    delta = binding_budget(draw, cost[s0], q)
    return {"mdp": mdp, "pi": pi, "safe": safe, "window": window, "delta": delta}


def _check_thm2(inst: Instance) -> Evidence:
    mdp, delta = inst["mdp"], float(inst["delta"])
    q = evaluate(mdp, inst["pi"]).q
    cost = 1 - stay_safe_probability(mdp, inst["pi"], inst["safe"], int(inst["window"]))
    worst: Evidence | None = None
    for s in range(mdp.S):
        res = solve_mixture_lp(cost[s], q[s], delta)
        fpo = best_pair_mixture(cost[s], q[s], delta)[0]  # FPO: the best <= 2-atom mixture
        if res.status != "optimal":
            if fpo > -math.inf:
                raise RuntimeError(f"state {s}: PMO LP infeasible but FPO finds {fpo!r}")
            continue
        ev = support_evidence(cost[s], q[s], delta, res.weights, fpo,
                              _mixture_tol(cost[s], q[s]))
        if worst is None or ev.lhs > worst.lhs:
            worst = Evidence(ev.lhs, ev.rhs, "<=", details={**ev.details, "state": s})
    if worst is None:
        raise RuntimeError("no state has a feasible PMO at this delta")
    return worst


register(Theorem(
    id="flip.thm2_two_atoms_per_state",
    source=f"{FLIP}, Theorem 2 (PMO -> FPO); cmdp_ccmdp notes §3.3, §3.8",
    statement=r"\max_{\mu\in\Delta(\mathcal A)}\{\langle\mu,Q(s,\cdot)\rangle:"
              r"\langle\mu,P(s,\cdot)\rangle\ge1-\delta\}\ \text{has an optimal vertex with}"
              r"\ |\mathrm{supp}\,\mu|\le2\ \text{(its value = FPO's)}",
    summary="per-state PMO LP: a vertex optimum uses at most 2 actions and equals the FPO value",
    instances=per_state_instances,
    check=_check_thm2,
    tight=True,
))


# -- Theorem 3: budget 0 -----------------------------------------------------------------------
@st.composite
def zero_budget_instances(draw: st.DrawFn) -> Instance:
    """Costs >= 0 with a zero-cost action in every state (so budget 0 is feasible)."""
    mdp = draw(tiny_models(min_A=2, max_A=3, K=1))
    c = np.array(mdp.costs)
    free = draw(st.lists(st.integers(0, mdp.A - 1), min_size=mdp.S, max_size=mdp.S))
    c[0, np.arange(mdp.S), free] = 0.0
    return {"mdp": TabularMDP(mdp.P, mdp.r, mdp.mu0, gamma=mdp.gamma, costs=c), "b": 0.0}


def _best_zero_cost(mdp: TabularMDP) -> float:
    """max V_r over deterministic policies with V_c <= 0 (enumeration)."""
    _, pts = deterministic_policy_values(mdp)
    return float(pts[pts[:, 1] <= 0.0, 0].max())


def _check_thm3(inst: Instance) -> Evidence:
    mdp = inst["mdp"]
    tol = _lp_tol(mdp) + _solve_tol(mdp)
    return policy_count_evidence(mdp, 0.0, _vertex(mdp, 0.0), _best_zero_cost(mdp), tol, 0)


register(Theorem(
    id="flip.thm3_delta0_deterministic",
    source=f"{FLIP}, Theorem 3 (delta = 0), expected-cost form; cmdp_ccmdp notes §3.3, §3.8",
    statement=r"c\ge0,\ b=0:\ \text{a vertex optimum of }\max\{V_r(d):V_c(d)\le0\}"
              r"\ \text{is deterministic and }"
              r"V^\star=\max_{\pi\ \mathrm{det}}\{V_r(\pi):V_c(\pi)=0\}",
    summary="budget 0 with non-negative costs: the LP vertex optimum is a deterministic policy",
    instances=zero_budget_instances,
    check=_check_thm3,
    assumptions=(Assumption("nonnegative_costs", lambda i: bool(np.all(i["mdp"].costs >= 0)),
                            "c(s, a) >= 0"),
                 Assumption("zero_budget", lambda i: float(i["b"]) == 0.0, "b = 0")),
))


# -- Theorem 4: one constraint, same discount --------------------------------------------------
@st.composite
def single_constraint_instances(draw: st.DrawFn) -> Instance:
    """K = 1, A up to 4; the cost is either generic >= 0 or the paper's
    :math:`c(s,a)=\\gamma\\Pr(s'\\in U|s,a)` (H_unsafe with gamma_u = gamma); the budget is at a
    deterministic cost (breakpoint), between two, or above all."""
    mdp = draw(tiny_models(min_A=2, max_A=4, max_S=3 if draw(st.booleans()) else 2, K=1))
    if draw(st.integers(0, 2)) == 0:
        unsafe = np.array(draw(st.lists(st.booleans(), min_size=mdp.S, max_size=mdp.S)), float)
        mdp = TabularMDP(mdp.P, mdp.r, mdp.mu0, gamma=mdp.gamma,
                         costs=(mdp.gamma * mdp.dense_P() @ unsafe)[None])
    pts = deterministic_policy_values(mdp)[1]
    return {"mdp": mdp, "b": binding_budget(draw, pts[:, 1], pts[:, 0])}


def _check_thm4(inst: Instance) -> Evidence:
    mdp, b = inst["mdp"], float(inst["b"])
    _, pts = deterministic_policy_values(mdp)
    ref = majorant_value(concave_majorant(pts[:, 1], pts[:, 0]), b)[0]
    tol = _lp_tol(mdp) + _mixture_tol(pts[:, 1], pts[:, 0], _solve_tol(mdp))
    return policy_count_evidence(mdp, b, _vertex(mdp, b), ref, tol, 1)


register(Theorem(
    id="flip.thm4_single_constraint",
    source=f"{FLIP}, Theorem 4 (ECRL, gamma_u = gamma); Altman (1999) ch. 3; "
           "cmdp_ccmdp notes §2.2, §3.8",
    statement=r"K=1,\ \gamma_u=\gamma:\ \sum_{s:d(s)>0}(|\mathrm{supp}\,\pi(\cdot|s)|-1)\le1"
              r"\ \text{at a vertex optimum (a flipping policy in at most one state)}",
    summary="one constraint, same discount: a vertex optimum randomises in at most one state "
            "(stronger than the paper)",
    instances=single_constraint_instances,
    check=_check_thm4,
    assumptions=(Assumption("one_constraint", lambda i: i["mdp"].K == 1, "K = 1"),
                 Assumption("feasible", lambda i: float(i["b"]) >= float(
                     deterministic_policy_values(i["mdp"])[1][:, 1].min()), "b >= min cost")),
))
