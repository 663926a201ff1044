"""solve_ccmdp: exact joint chance constraint by the flag LP, surrogates, bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError, TabularMDP, evaluate, random_mdp
from solvers.ccmdp import violation_probability, violation_probability_enumeration
from solvers.ccmdp_frontier import frontier_enumeration
from solvers.ccmdp_solve import exact_values, solve_ccmdp
from solvers.ccmdp_surrogates import boole_bound, h_unsafe
from solvers.enumeration import best_episode_mixture, deterministic_policy_values
from solvers.tolerances import LP_FEASIBILITY_TOL

# HiGHS solves to LP_FEASIBILITY_TOL on its scaled LP; the values here are O(H) with
# |r| <= 1 and H <= 3, so 100x that tolerance covers unscaling (observed errors ~1e-15).
TOL = 100 * LP_FEASIBILITY_TOL


@st.composite
def ccmdp_instances(draw, max_S=3, max_H=3):
    seed = draw(st.integers(0, 2**32 - 1))
    S, A, H = draw(st.integers(1, max_S)), 2, draw(st.integers(1, max_H))
    if A ** (2 * S * H) > 5000:  # keep the frontier enumeration small
        H = 1
    rng = np.random.default_rng(seed)
    m = random_mdp(rng, S, A, horizon=H)
    mask = np.array(draw(st.lists(st.booleans(), min_size=S, max_size=S)))
    delta = draw(st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.9, 1.0]))
    return m, mask, delta


def witness():
    """s0 -> u (unsafe, prob 1/2) or v; both -> m; at m (t = 2) action 1 earns 1 but enters
    the unsafe g, action 0 goes to the safe sink z. H = 3."""
    S, A = 6, 2
    P = np.zeros((S, A, S))
    P[0, :, 1], P[0, :, 2] = 0.5, 0.5
    P[1, :, 3] = P[2, :, 3] = 1.0
    P[3, 0, 5], P[3, 1, 4] = 1.0, 1.0
    P[4, :, 4] = P[5, :, 5] = 1.0
    r = np.zeros((S, A))
    r[3, 1] = 1.0
    return TabularMDP(P, r, np.eye(S)[0], horizon=3), np.array([1, 4])


@given(ccmdp_instances())
def test_exact_lp_equals_best_mixture_of_deterministic_flag_policies(inst):
    m, mask, delta = inst
    res = solve_ccmdp(m, mask, delta)
    fr = frontier_enumeration(m, mask)
    lcm = fr.concave_majorant(delta)
    if res.status == "infeasible":
        assert lcm == -math.inf
        assert res.min_constraint_value > delta
        assert res.infeasibility.margin > 0
        return
    assert res.status == "optimal"
    assert abs(res.value - lcm) <= TOL
    assert res.violation_probability <= delta + TOL
    assert res.verify().ok


@given(ccmdp_instances())
def test_reported_value_and_violation_agree_with_evaluation_and_enumeration(inst):
    m, mask, _ = inst
    res = solve_ccmdp(m, mask, 1.0)  # always feasible
    value, viol = exact_values(res)
    assert abs(value - res.value) <= TOL
    assert viol == res.violation_probability
    # the augmented policy is not Markov in s, but its violation depends on the flag-0 half
    enum = float(violation_probability_enumeration(m, res.policy[:, :m.S], mask))
    assert abs(enum - viol) <= 1e-12
    assert abs(res.augmented.violation_probability(res.policy) - viol) <= 1e-12


@given(ccmdp_instances())
def test_exact_optimum_is_nondecreasing_in_delta_and_dominates_surrogates(inst):
    m, mask, _ = inst
    vals = []
    for d in (0.1, 0.3, 0.6, 1.0):
        ex = solve_ccmdp(m, mask, d)
        vals.append(ex.value if ex.status == "optimal" else -math.inf)
        bo = solve_ccmdp(m, mask, d, surrogate="boole")
        if bo.status == "optimal":
            # Boole is conservative: its policy is feasible for the exact problem
            assert bo.violation_probability <= d + TOL
            assert bo.constraint_value >= bo.violation_probability - 1e-12
            assert ex.status == "optimal" and ex.value >= bo.value - TOL
    assert all(b >= a - TOL for a, b in itertools.pairwise(vals))


@given(ccmdp_instances(), st.sampled_from([0.3, 0.9]))
def test_surrogate_results_report_their_own_constraint_and_exact_violation(inst, gu):
    m, mask, delta = inst
    for sur, g in (("boole", None), ("h_unsafe", gu)):
        res = solve_ccmdp(m, mask, max(delta, 0.5), surrogate=sur, gamma_u=g)
        if res.status != "optimal":
            continue
        assert res.policy.shape == (m.horizon, m.S, m.A)
        own = boole_bound(m, res.policy, mask) if g is None else h_unsafe(m, res.policy, mask, g)
        assert own == res.constraint_value
        assert own <= res.delta + TOL
        assert res.violation_probability == violation_probability(m, res.policy, mask)
        assert abs(evaluate(m, res.policy).value - res.value) <= TOL
        # the surrogate CMDP optimum is the best episode mixture of deterministic Markov policies
        if sur == "boole" and m.S * m.horizon <= 6:
            cm = TabularMDP(m.P, m.r, m.mu0, horizon=m.horizon,
                            costs=(m.dense_P() @ mask.astype(float))[None])
            best = best_episode_mixture(deterministic_policy_values(cm)[1],
                                        [res.delta - m.mu0[mask].sum()])
            assert abs(best - res.value) <= TOL


def test_flag_lets_the_optimum_act_greedily_after_a_violation():
    m, unsafe = witness()
    res = solve_ccmdp(m, unsafe, 0.5)
    assert res.status == "optimal"
    assert res.value == pytest.approx(0.5, abs=TOL)
    assert res.action_probabilities(2, 3, f=1)[1] == pytest.approx(1.0)
    assert res.action_probabilities(2, 3, f=0)[0] == pytest.approx(1.0)
    assert res.lam == pytest.approx(1.0, abs=TOL)  # J(delta) = delta near 1/2
    # the Boole surrogate counts the two entries separately and cannot use the flag
    bo = solve_ccmdp(m, unsafe, 0.5, surrogate="boole")
    assert bo.status == "optimal" and bo.value == pytest.approx(0.0, abs=TOL)


def test_rollouts_estimate_the_exact_value_and_violation():
    m = random_mdp(3, 4, 2, horizon=4)
    mask = np.array([False, True, False, False])
    res = solve_ccmdp(m, mask, 1.0)
    lo = solve_ccmdp(m, mask, 0.5 * (res.violation_probability + 0.8))
    assert lo.status == "optimal"
    rng = np.random.default_rng(0)
    n = 4000
    runs = [lo.rollout(rng) for _ in range(n)]
    rets = np.array([r[2] for r in runs])
    viols = np.array([r[3] for r in runs], dtype=float)
    # 5 standard errors: a false alarm has probability < 1e-6
    assert abs(rets.mean() - lo.value) <= 5 * rets.std() / math.sqrt(n) + 1e-12
    sd = math.sqrt(lo.violation_probability * (1 - lo.violation_probability) / n)
    assert abs(viols.mean() - lo.violation_probability) <= 5 * sd + 1e-12


def test_infeasible_level_returns_a_certified_status_not_an_exception():
    m, unsafe = witness()
    res = solve_ccmdp(m, unsafe, 0.25)  # Pr(s_1 = u) = 1/2 is uncontrollable
    assert res.status == "infeasible"
    assert res.min_constraint_value == pytest.approx(0.5, abs=1e-12)
    assert res.infeasibility.margin > 0
    assert res.verify().ok
    assert "infeasible" in res.message and math.isnan(res.value)
    with pytest.raises(ModelError, match="status"):
        res.rollout(0)


def test_a_perturbed_policy_is_caught_by_the_evaluation_check():
    m, unsafe = witness()
    res = solve_ccmdp(m, unsafe, 0.6)
    bad = res.policy.copy()
    bad[2, 3] = [0.0, 1.0]  # greedy at m even without the flag
    assert violation_probability(m, bad[:, :m.S], unsafe) > 0.6 + 0.1


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"delta": -0.1}, "delta"),
    ({"delta": 1.5}, "delta"),
    ({"delta": float("nan")}, "delta"),
    ({"unsafe": np.array([True, False])}, "unsafe"),
    ({"unsafe": [7]}, "unsafe"),
    ({"surrogate": "markov"}, "surrogate"),
    ({"surrogate": "h_unsafe"}, "gamma_u"),
    ({"surrogate": "h_unsafe", "gamma_u": 1.0}, "gamma_u"),
    ({"surrogate": "boole", "gamma_u": 0.5}, "gamma_u"),
])
def test_bad_input_raises_model_error_naming_the_field(kwargs, field):
    m, unsafe = witness()
    args = {"unsafe": unsafe, "delta": 0.5, **kwargs}
    with pytest.raises(ModelError) as info:
        solve_ccmdp(m, args.pop("unsafe"), args.pop("delta"), **args)
    assert info.value.field == field


def test_discounted_model_is_refused():
    m = random_mdp(0, 3, 2, gamma=0.9)
    with pytest.raises(ModelError, match="finite-horizon") as info:
        solve_ccmdp(m, [0], 0.1)
    assert info.value.field == "horizon"
