"""KL-regularised constrained bandit: closed form vs cvxpy, optimality, duality, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers.errors import ModelError
from solvers.kl_bandit import (
    KLBandit,
    best_achievable_safety,
    dual_derivative,
    dual_value,
    expected,
    gibbs_policy,
    kl_divergence,
    regularised_value,
    solve_kl_bandit,
)
from solvers.kl_bandit_cvxpy import solve_kl_bandit_cvxpy
from theory.sacpo import kl_bandits, problem_of


def _random(seed: int, S: int = 3, A: int = 4, t: float = 0.5, beta: float = 0.5) -> KLBandit:
    rng = np.random.default_rng(seed)
    pr, mu = rng.dirichlet(np.ones(A), S), rng.dirichlet(np.ones(S))
    r, g = rng.normal(size=(S, A)), rng.normal(size=(S, A))
    p0 = KLBandit(mu, pr, r, g, beta, 0.0)
    lo, hi = dual_derivative(p0, 0.0), best_achievable_safety(p0)
    return KLBandit(mu, pr, r, g, beta, lo + t * (hi - lo))


@pytest.mark.parametrize("seed", range(4))
def test_closed_form_optimum_matches_cvxpy_value_policy_and_multiplier(seed):
    p = _random(seed, t=[0.3, 0.6, 0.9, -0.5][seed])
    exact, conic = solve_kl_bandit(p), solve_kl_bandit_cvxpy(p)
    assert exact.status == conic.status == "optimal"
    # Clarabel's interior-point tolerances (~1e-8 gap) give values to ~1e-8, the policy and
    # the dual to ~1e-4 (observed 4e-5): the tolerances below are 10-100x that.
    assert exact.value == pytest.approx(conic.value, abs=1e-6)
    assert np.abs(exact.policy - conic.policy).max() < 1e-3
    assert exact.lam == pytest.approx(conic.lam, abs=1e-3 * (1 + exact.lam))
    assert exact.verify()


@given(kl_bandits(active=None))
def test_strong_duality_and_complementary_slackness_hold_at_the_solution(inst):
    res = solve_kl_bandit(problem_of(inst))
    assert res.status == "optimal"
    c = res.certificate()
    assert abs(c["duality_gap"]) < 1e-9 * (1 + abs(res.value) + res.lam)
    assert c["primal_infeasibility"] < 1e-12 and c["complementary_slackness"] < 1e-9
    lo, hi = res.bracket
    if hi > 0:  # the recorded bracket really brackets the root of D'
        assert dual_derivative(res.problem, hi) >= 0 and dual_derivative(res.problem, lo) < 0


@given(kl_bandits(active=None), st.floats(-0.3, 0.3))
def test_dual_is_minimised_at_lam_star(inst, step):
    p = problem_of(inst)
    res = solve_kl_bandit(p)
    other = max(0.0, res.lam + step)
    assert dual_value(p, other) >= res.dual - 1e-10 * (1 + abs(res.dual))


@given(kl_bandits(active=None), st.integers(0, 2**32 - 1))
def test_gibbs_policy_beats_every_other_policy_on_the_support(inst, seed):
    p = problem_of(inst)
    star = gibbs_policy(p.pi_ref, p.r, p.beta)
    rng = np.random.default_rng(seed)
    other = rng.dirichlet(np.ones(p.A), p.S) * p.support
    other /= other.sum(axis=1, keepdims=True)
    j_star, j_other = regularised_value(p, star), regularised_value(p, other)
    # exact identity J(pi*) - J(pi) = beta E KL(pi || pi*): an independent formula for the gap
    gap = p.beta * float(p.mu0 @ kl_divergence(other, star))
    assert j_star - j_other == pytest.approx(gap, abs=1e-9 * (1 + abs(j_star)))
    assert j_star >= j_other - 1e-12


def test_a_perturbed_policy_and_a_wrong_multiplier_fail_the_certificate():
    res = solve_kl_bandit(_random(1))
    bad = res.policy.copy()
    bad[0] = np.roll(bad[0], 1)
    from dataclasses import replace
    assert not replace(res, policy=bad).verify()
    assert not replace(res, lam=res.lam * 1.1).verify()


def test_counterexample_instance_has_the_notes_multiplier_and_policy():
    p = KLBandit([1.0], [[0.5, 0.5]], [[-2.147, 0.0]], [[-1.0, 0.0]], 1.0, -0.1)
    res = solve_kl_bandit(p)
    # pi*(a1) = 0.1 exactly iff r1 + lam g1 = log(1/9): lam = log 9 - 2.147 (independent)
    assert res.lam == pytest.approx(math.log(9.0) - 2.147, abs=1e-12)
    assert res.policy == pytest.approx(np.array([[0.1, 0.9]]), abs=1e-12)


def test_inactive_budget_gives_zero_multiplier_and_reward_gibbs_policy():
    p = _random(2, t=-1.0)
    res = solve_kl_bandit(p)
    assert res.lam == 0.0 and res.G > p.b
    assert np.array_equal(res.policy, gibbs_policy(p.pi_ref, p.r, p.beta))


def test_unreachable_budget_is_infeasible_and_reports_best_achievable_safety():
    # pi_ref has a zero on the safest response of prompt 0: that mass is unreachable.
    pi_ref = [[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]]
    g = [[5.0, 1.0, 0.0], [0.0, 2.0, 1.0]]
    p = KLBandit([0.5, 0.5], pi_ref, np.zeros((2, 3)), g, 1.0, 1.6)
    res = solve_kl_bandit(p)
    assert res.status == "infeasible" and res.policy is None
    assert res.best_achievable_G == pytest.approx(0.5 * 1.0 + 0.5 * 2.0)
    assert "1.5" in res.message
    assert solve_kl_bandit_cvxpy(p).status == "infeasible"
    with pytest.raises(ValueError):
        res.certificate()


def test_budget_at_the_best_achievable_safety_uses_only_the_g_maximal_responses():
    p = KLBandit([1.0], [[0.25, 0.25, 0.5]], [[1.0, 0.0, 3.0]], [[1.0, 1.0, 0.0]], 1.0, 1.0)
    res = solve_kl_bandit(p)
    assert res.status == "optimal" and math.isinf(res.lam)
    w = np.array([0.25 * math.e, 0.25, 0.0])
    assert res.policy[0] == pytest.approx(w / w.sum())
    assert res.G == pytest.approx(1.0) and not any(math.isnan(v) for v in
                                                   res.certificate().values())


def test_huge_rewards_and_tiny_beta_give_no_nan():
    p = KLBandit([1.0], [[0.5, 0.5]], [[1e4, -1e4]], [[0.0, 1.0]], 1e-3, 0.5)
    res = solve_kl_bandit(p)
    assert res.status == "optimal"
    assert np.isfinite(res.policy).all() and math.isfinite(res.value) and math.isfinite(res.lam)
    assert res.G == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"beta": 0.0}, "beta"), ({"beta": -1.0}, "beta"), ({"beta": math.nan}, "beta"),
    ({"pi_ref": [[0.5, 0.6]]}, "pi_ref"), ({"pi_ref": [[1.5, -0.5]]}, "pi_ref"),
    ({"mu0": [0.9]}, "mu0"), ({"r": [[1.0, math.inf]]}, "r"), ({"g": [[1.0]]}, "g"),
    ({"b": math.nan}, "b"), ({"beta": True}, "beta"),
])
def test_bad_input_raises_model_error_naming_the_field(kwargs, field):
    base = {"mu0": [1.0], "pi_ref": [[0.5, 0.5]], "r": [[1.0, 0.0]], "g": [[0.0, 1.0]],
            "beta": 1.0, "b": 0.5}
    with pytest.raises(ModelError) as exc:
        KLBandit(**{**base, **kwargs})
    assert exc.value.field == field


def test_kl_outside_the_reference_support_is_infinite_not_nan():
    p = KLBandit([1.0], [[1.0, 0.0]], [[0.0, 0.0]], [[0.0, 0.0]], 1.0, -1.0)
    pi = np.array([[0.5, 0.5]])
    assert kl_divergence(pi, p.pi_ref)[0] == math.inf
    assert regularised_value(p, pi) == -math.inf
    assert expected(p.mu0, pi, p.r) == 0.0
