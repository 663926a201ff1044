"""solve_cmdp(..., method="flip"): the LP-free K = 1 solver against independent references.

References, none of them the flip code run twice:

- the occupancy LP (``method="lp"``, HiGHS dual simplex);
- the best per-episode mixture of all enumerated deterministic policies (each valued by
  its own direct linear solve, ``solvers.enumeration``), an LP over mixture weights;
- policy iteration on r (the unconstrained optimum) and on -c (the minimum cost);
- ``recalibrate_flip`` (Brent root finding) for the closed-form per-step probability.

Tolerances. Flip values are exact policy evaluations (certified error ~1e-13 on these
models); the LP's vertex value comes from a basis solve that HiGHS stops at feasibility
1e-9 on its scaled problem, and in practice agrees with exact to ~1e-12. Both are compared
at 1e-9 relative to the value scale max(1, |r|, |c|) * T (T = 1/(1-gamma) or H): 1000x the
observed agreement, 1000x tighter than verify()'s CMDP_VERIFY_RTOL = 1e-6.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import (
    ModelError,
    TabularMDP,
    cmdp_flip,
    cmdp_flip_search,
    evaluate,
    per_step_flip,
    policy_iteration,
    random_mdp,
    recalibrate_flip,
)
from solvers.cmdp import solve_cmdp
from solvers.enumeration import best_episode_mixture, deterministic_policy_values
from solvers.flipping_decomposition import one_state_mixture_probability
from theory.strategies import mdps

REL = 1e-9


def _scale(m: TabularMDP) -> float:
    T = m.horizon if m.finite_horizon else 1.0 / (1.0 - m.gamma)
    return T * max(1.0, float(np.abs(m.r).max()), float(np.abs(m.costs).max()))


def _with(m: TabularMDP, reward: np.ndarray) -> TabularMDP:
    kw = {"horizon": m.horizon} if m.finite_horizon else {"gamma": m.gamma}
    return TabularMDP(m.P, reward, m.mu0, **kw)


def _cost_range(m: TabularMDP) -> tuple[float, float]:
    """(min cost, cost of the unconstrained optimum), by policy iteration / backward induction."""
    cmin = -policy_iteration(_with(m, -m.costs[0])).value
    top = evaluate(m, policy_iteration(_with(m, m.r)).pi).cost_values[0]
    return float(cmin), float(top)


def _randomised_slots(pi: np.ndarray) -> int:
    return int(((pi.reshape(-1, pi.shape[-1]) > 0).sum(axis=1) > 1).sum())


def _on_grid(m: TabularMDP) -> TabularMDP:
    """r and c rounded to multiples of 2^-20 (exact in binary; ties are kept).

    The LP reference resolves feasibility only to LP_FEASIBILITY_TOL = 1e-9, while flip is
    exact: with data like c = 1e-74 and b = -2e-75, flip (rightly) reports infeasible and the
    LP returns a solution violating b by 1e-74. Data on a 1e-6 grid keep the comparison
    about the algorithms, not about the LP's tolerance.
    """
    kw = {"horizon": m.horizon} if m.finite_horizon else {"gamma": m.gamma}
    grid = 2.0**20
    return TabularMDP(m.P, np.round(m.r * grid) / grid, m.mu0,
                      costs=np.round(m.costs * grid) / grid, **kw)


@st.composite
def flip_instances(draw, horizon: bool | None = None):
    """A tiny K = 1 model (seeded Dirichlet rows, or hypothesis's integer-weight rows with
    ties and degenerate kernels) and a budget at a fraction in [-0.2, 1.2] of the way from
    the minimum cost to the unconstrained optimum's cost. Fractions in (-1e-6, 0) snap to 0,
    and a cost range below 1e-6 is not subdivided: a budget below the minimum cost by less
    than the LP's tolerance is infeasible for the exact flip solver but feasible for the LP."""
    finite = draw(st.booleans()) if horizon is None else horizon
    if draw(st.booleans()):
        S, A = draw(st.integers(1, 4)), draw(st.integers(2, 3))
        H = draw(st.integers(1, 2)) if finite else None
        m = random_mdp(draw(st.integers(0, 2**31 - 1)), S=S, A=A, K=1, horizon=H,
                       gamma=draw(st.sampled_from([0.0, 0.5, 0.9, 0.95])))
    else:
        m = _on_grid(draw(mdps(max_S=3, max_A=3, K=1, horizon=finite, max_horizon=2)))
    cmin, top = _cost_range(m)
    frac = draw(st.sampled_from([-0.2, 0.0, 0.5, 1.0, 1.2]) | st.floats(-0.2, 1.2))
    frac = 0.0 if -1e-6 < frac < 0 else frac
    if top - cmin < 1e-6:  # e.g. gamma ~ 1e-141: a budget window below the LP's resolution
        return m, np.array([top if frac >= 0 else cmin - 0.1])
    return m, np.array([cmin + frac * (top - cmin)])


@given(flip_instances())
def test_flip_optimum_equals_lp_and_best_mixture_of_deterministic_policies(inst):
    m, b = inst
    flip, lp = solve_cmdp(m, b, method="flip"), solve_cmdp(m, b, method="lp")
    mixture = best_episode_mixture(deterministic_policy_values(m)[1], b)
    assert flip.method == "flip"
    if mixture is None:  # budget below every achievable cost
        assert flip.status == "infeasible"
        return
    assert flip.status == lp.status == "optimal", flip.message
    assert flip.value == pytest.approx(lp.value, rel=REL, abs=REL * _scale(m))
    assert flip.value == pytest.approx(mixture, rel=REL, abs=REL * _scale(m))
    assert flip.cost_values[0] <= b[0] + REL * _scale(m)


@given(flip_instances())
def test_flip_randomises_in_at_most_one_state_and_verifies_exactly(inst):
    m, b = inst
    res = solve_cmdp(m, b, method="flip")
    if res.status != "optimal":
        return
    assert _randomised_slots(res.pi) <= 1
    assert res.pi.shape == ((m.horizon,) if m.finite_horizon else ()) + (m.S, m.A)
    assert res.lam.shape == (1,) and res.lam[0] >= 0
    cert = res.verify(exact=True)
    assert cert.ok and cert.exact, cert.message
    assert res.verify().ok


@given(flip_instances(horizon=False))
def test_closed_form_mixing_probability_reproduces_the_episode_mixture(inst):
    """p = w d1(s)/(w d1(s) + (1-w) d2(s)): per-step values equal w V1 + (1-w) V2, and p is
    the root recalibrate_flip finds by Brent's method."""
    m, b = inst
    res = solve_cmdp(m, b, method="flip")
    if res.status != "optimal" or _randomised_slots(res.pi) == 0:
        return
    s = int(np.flatnonzero((res.pi > 0).sum(axis=1) > 1)[0])
    a1, a2 = np.flatnonzero(res.pi[s] > 0)
    pi1, pi2 = res.pi.copy(), res.pi.copy()
    pi1[s], pi2[s] = np.eye(m.A)[a1], np.eye(m.A)[a2]
    p = res.pi[s, a1]
    e1, e2, both = evaluate(m, pi1), evaluate(m, pi2), per_step_flip(m, pi1, pi2, p)
    w = (b[0] - e2.cost_values[0]) / (e1.cost_values[0] - e2.cost_values[0])
    tol = 1e-10 * _scale(m)
    assert both.value == pytest.approx(w * e1.value + (1 - w) * e2.value, abs=tol)
    assert both.cost_values[0] == pytest.approx(b[0], abs=tol)
    recal = recalibrate_flip(m, pi1, pi2, b)
    assert recal.status == "optimal"
    assert recal.value == pytest.approx(res.value, abs=tol)
    # the cost is strictly monotone in p with slope >= ~1e-3 on these models, and both
    # p's meet b to ~1e-13, so they agree to ~1e-10; 1e-7 leaves room for flat slopes
    assert recal.p == pytest.approx(p, abs=1e-7)


def test_closed_form_probability_differs_from_the_episode_weight():
    """The test above can fail: p = w (the LP weight reused per step, Alg. 2 of the flipping
    paper) misses the budget whenever d1(s) != d2(s)."""
    m = random_mdp(3, S=4, A=2, K=1, gamma=0.9)
    cmin, top = _cost_range(m)
    b = np.array([0.5 * (cmin + top)])
    res = solve_cmdp(m, b, method="flip")
    s = int(np.flatnonzero((res.pi > 0).sum(axis=1) > 1)[0])
    a1, a2 = np.flatnonzero(res.pi[s] > 0)
    pi1, pi2 = res.pi.copy(), res.pi.copy()
    pi1[s], pi2[s] = np.eye(2)[a1], np.eye(2)[a2]
    c1, c2 = evaluate(m, pi1).cost_values[0], evaluate(m, pi2).cost_values[0]
    w = (b[0] - c2) / (c1 - c2)
    assert abs(per_step_flip(m, pi1, pi2, w).cost_values[0] - b[0]) > 1e-6
    assert abs(per_step_flip(m, pi1, pi2, res.pi[s, a1]).cost_values[0] - b[0]) < 1e-12
    assert one_state_mixture_probability(w, 1.0, 1.0) == pytest.approx(w)
    assert one_state_mixture_probability(0.5, 3.0, 1.0) == pytest.approx(0.75)
    assert one_state_mixture_probability(0.3, 0.0, 0.0) == 0.3


@given(flip_instances(), st.floats(0.01, 1.0))
def test_budget_below_min_cost_is_infeasible_with_a_certificate(inst, gap):
    m, _ = inst
    cmin = float(deterministic_policy_values(m)[1][:, 1].min())  # enumeration
    b = np.array([cmin - gap])
    res = solve_cmdp(m, b, method="flip")
    assert res.status == "infeasible" and res.value != res.value
    cert = res.infeasibility
    assert cert.weights.tolist() == [1.0]
    assert cert.min_weighted_cost == pytest.approx(cmin, abs=REL * _scale(m))
    assert cert.margin > 0 and res.verify().ok
    assert solve_cmdp(m, b, method="lp").status == "infeasible"


@given(flip_instances(), st.floats(0.0, 1.0))
def test_unconstrained_optimum_meeting_the_budget_gives_lam_zero(inst, slack):
    m, _ = inst
    plan = policy_iteration(_with(m, m.r))  # independent: DP on r alone
    b = evaluate(m, plan.pi).cost_values + slack
    res = solve_cmdp(m, b, method="flip")
    assert res.status == "optimal" and res.lam.tolist() == [0.0]
    assert _randomised_slots(res.pi) == 0
    assert res.value == pytest.approx(plan.value, abs=REL * _scale(m))
    assert res.verify().ok


@pytest.mark.parametrize("horizon", [None, 2])
def test_budget_exactly_at_a_breakpoint_of_the_frontier(horizon):
    """b = cost of a deterministic policy that is a vertex of the upper concave envelope."""
    hits = 0
    for seed in range(12):
        m = random_mdp(seed, S=3, A=2, K=1, horizon=horizon)
        pts = deterministic_policy_values(m)[1]
        cmin, top = _cost_range(m)
        for v, c in pts:
            if not cmin < c < top:
                continue
            env = best_episode_mixture(pts, np.array([c]))
            if abs(env - v) > 1e-12:  # not on the envelope
                continue
            hits += 1
            res = solve_cmdp(m, np.array([c]), method="flip")
            assert res.status == "optimal" and res.verify().ok, res.message
            assert res.value == pytest.approx(v, abs=REL * _scale(m))
            assert _randomised_slots(res.pi) <= 1
    assert hits >= 3  # the test exercised breakpoints


@given(flip_instances(), st.integers(0, 2**31 - 1))
def test_duplicated_actions_give_the_same_optimum_with_one_randomised_state(inst, seed):
    """Degenerate ties: every action doubled (copy listed after the original, in a random
    order), so D(lam) has the same pieces but every Lagrangian optimum is tied."""
    m, b = inst
    order = np.random.default_rng(seed).permutation(2 * m.A)
    P = np.concatenate([m.dense_P()] * 2, axis=1)[:, order]
    kw = {"horizon": m.horizon} if m.finite_horizon else {"gamma": m.gamma}
    twin = TabularMDP(P, np.concatenate([m.r] * 2, axis=1)[:, order], m.mu0,
                      costs=np.concatenate([m.costs] * 2, axis=2)[:, :, order], **kw)
    a, t = solve_cmdp(m, b, method="lp"), solve_cmdp(twin, b, method="flip")
    assert a.status == t.status
    if a.status == "optimal":
        assert t.value == pytest.approx(a.value, rel=REL, abs=REL * _scale(m))
        assert _randomised_slots(t.pi) <= 1 and t.verify().ok


def test_sparse_model_matches_lp():
    m = random_mdp(11, S=120, A=4, K=1, successors=3, gamma=0.95)
    cmin, top = _cost_range(m)
    b = np.array([cmin + 0.4 * (top - cmin)])
    flip, lp = solve_cmdp(m, b, method="flip"), solve_cmdp(m, b, method="lp")
    assert flip.status == lp.status == "optimal"
    assert flip.value == pytest.approx(lp.value, rel=REL)
    assert flip.lam[0] == pytest.approx(lp.lam[0], rel=1e-6)
    assert _randomised_slots(flip.pi) == 1 and flip.verify().ok


@pytest.mark.parametrize("field, change", [
    ("value", lambda r: r.value + 1e-3),
    ("lam", lambda r: r.lam + 0.1),
    ("v", lambda r: r.v * 0.99),
    ("cost_values", lambda r: r.cost_values - 1e-3),
])
def test_verify_catches_a_tampered_flip_result(field, change):
    m = random_mdp(3, S=3, A=2, K=1)
    cmin, top = _cost_range(m)
    res = solve_cmdp(m, np.array([0.5 * (cmin + top)]), method="flip")
    assert res.verify(exact=True).ok and res.lam[0] > 0.01
    assert not dataclasses.replace(res, **{field: change(res)}).verify(exact=True).ok


def test_flip_rejects_models_without_exactly_one_cost():
    for K in (0, 2):
        m = random_mdp(0, S=2, A=2, K=K)
        with pytest.raises(ModelError) as exc:
            solve_cmdp(m, [1.0] * max(K, 1), method="flip")
        assert exc.value.field == "costs" and "K" in str(exc.value)
    with pytest.raises(ModelError) as exc:  # thresholds still validated first
        solve_cmdp(random_mdp(0, S=2, A=2, K=1), [1.0, 2.0], method="flip")
    assert exc.value.field == "thresholds"


def test_a_chord_search_that_exhausts_its_step_cap_raises_instead_of_returning(monkeypatch):
    # the cap lives in cmdp_flip_search (re-exported unchanged by cmdp_flip); a search that
    # needs at least one chord step (lam* > 0) must raise when no step is allowed
    assert cmdp_flip.FLIP_MAX_CHORD_STEPS is cmdp_flip_search.FLIP_MAX_CHORD_STEPS
    m = random_mdp(3, S=3, A=2, K=1)
    cmin, top = _cost_range(m)
    b = np.array([0.5 * (cmin + top)])
    assert solve_cmdp(m, b, method="flip").lam[0] > 0.01
    monkeypatch.setattr(cmdp_flip_search, "FLIP_MAX_CHORD_STEPS", 0)
    with pytest.raises(RuntimeError, match="chord search"):
        solve_cmdp(m, b, method="flip")
