"""Value iteration, policy iteration and backward induction against enumeration."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given

from solvers import TabularMDP, policy_iteration, random_mdp, value_iteration
from solvers.planning import backward_induction
from theory.strategies import mdps


def enumerate_optimal_values(m: TabularMDP) -> np.ndarray:
    """V*(s) = max over all A^S deterministic stationary policies (Puterman Thm 6.2.10)."""
    P, S, A = m.dense_P(), m.S, m.A
    idx = np.arange(S)
    best = np.full(S, -np.inf)
    for acts in itertools.product(range(A), repeat=S):
        a = np.asarray(acts)
        best = np.maximum(best, np.linalg.solve(np.eye(S) - m.gamma * P[idx, a], m.r[idx, a]))
    return best


def enumerate_finite_horizon_optimum(m: TabularMDP) -> float:
    """max over deterministic Markov policies of E[sum_{t<H} r_t] (tiny models only)."""
    P, S, A, H = m.dense_P(), m.S, m.A, m.horizon
    best = -np.inf
    for table in itertools.product(range(A), repeat=S * H):
        acts = np.asarray(table).reshape(H, S)
        v = np.zeros(S)
        for t in range(H - 1, -1, -1):
            a = acts[t]
            v = m.r[np.arange(S), a] + P[np.arange(S), a] @ v
        best = max(best, float(m.mu0 @ v))
    return best


@given(mdps(max_S=4, max_A=3))
def test_value_iteration_meets_its_certified_tolerance(m):
    tol = 1e-7
    res = value_iteration(m, tol)
    assert res.status == "optimal"
    vstar = enumerate_optimal_values(m)
    # enumeration solves are exact to ~1e-12 for |r| <= 1, gamma <= 0.99
    assert np.max(np.abs(res.v - vstar)) <= tol + 1e-10
    assert res.value_error_bound <= tol


@given(mdps(max_S=4, max_A=3))
def test_policy_iteration_equals_enumeration(m):
    res = policy_iteration(m)
    assert res.status == "optimal"
    vstar = enumerate_optimal_values(m)
    assert np.max(np.abs(res.v - vstar)) <= res.value_error_bound + 1e-10
    assert res.verify().ok


@given(mdps(max_S=3, max_A=2))
def test_exact_verification_certifies_policy_iteration(m):
    cert = policy_iteration(m).verify(exact=True)
    assert cert.ok and cert.exact


@given(mdps(max_S=3, max_A=2, horizon=True, max_horizon=3))
def test_backward_induction_equals_enumeration_over_markov_policies(m):
    res = backward_induction(m)
    assert res.status == "optimal"
    assert res.value == pytest.approx(enumerate_finite_horizon_optimum(m), abs=1e-12)
    assert res.verify().ok and res.verify(exact=True).ok


def test_verification_rejects_a_tampered_value():
    m = random_mdp(11, 6, 3, gamma=0.9)
    for res in (value_iteration(m, 1e-9), policy_iteration(m)):
        assert res.verify().ok
        bad = dataclasses.replace(res, v=res.v + 1e-3)
        assert not bad.verify().ok
        assert not bad.verify(exact=True).ok


def test_verification_rejects_a_suboptimal_policy():
    m = random_mdp(12, 5, 3, gamma=0.9)
    res = policy_iteration(m)
    worst = np.argmin(res.q, axis=1)
    bad = dataclasses.replace(res, pi=np.eye(3)[worst], actions=worst)
    cert = bad.verify(exact=True)
    assert not cert.ok and cert.policy_exactly_optimal is False


def test_unreachable_tolerance_reports_iteration_limit_and_names_tol():
    m = random_mdp(3, 5, 2, gamma=0.99)
    res = value_iteration(m, tol=1e-300)
    assert res.status == "iteration_limit"
    assert "tol" in res.message


def test_value_iteration_stops_on_certificate_not_on_stable_policy():
    # The greedy policy is stable from the first iteration, values are not converged.
    m = random_mdp(5, 4, 1, gamma=0.99)
    res = value_iteration(m, 1e-6)
    assert res.iterations > 1000
    vstar = enumerate_optimal_values(m)
    assert np.max(np.abs(res.v - vstar)) <= 1e-6


def test_gamma_zero_is_solved_in_one_step():
    m = random_mdp(8, 4, 3, gamma=0.0)
    res = value_iteration(m)
    np.testing.assert_array_equal(res.v, m.r.max(axis=1))
    assert res.iterations == 1


def test_finite_horizon_dispatch_uses_backward_induction():
    m = random_mdp(9, 3, 2, horizon=4)
    assert value_iteration(m).method == policy_iteration(m).method == "backward_induction"
    with pytest.raises(ValueError, match="finite-horizon"):
        backward_induction(random_mdp(9, 3, 2))


def test_sparse_large_model_is_solved_consistently_by_vi_and_pi():
    m = random_mdp(10, 2000, 5, gamma=0.95, successors=5)
    vi, pi = value_iteration(m, 1e-8), policy_iteration(m)
    assert vi.status == pi.status == "optimal"
    assert np.max(np.abs(vi.v - pi.v)) <= vi.value_error_bound + pi.value_error_bound


def test_policy_iteration_at_max_iter_returns_a_consistent_policy_and_bound():
    m = random_mdp(13, 30, 4, gamma=0.95)
    full = policy_iteration(m)
    assert full.iterations > 1
    res = policy_iteration(m, max_iter=1)
    assert res.status == "iteration_limit" and "max_iter" in res.message
    # v is the value of the returned policy, and the claimed gap bound is valid.
    from solvers import evaluate
    np.testing.assert_allclose(res.v, evaluate(m, res.pi).v, atol=1e-12)
    assert np.max(full.v - res.v) <= res.policy_gap_bound
    assert res.verify().ok


def test_tiny_discount_and_reward_do_not_underflow_the_iteration_count():
    # gamma * eps underflows to 0 here (found by the thorough hypothesis profile).
    m = TabularMDP(np.ones((1, 1, 1)), np.array([[1.18619128e-250]]), np.ones(1),
                   gamma=1.1861912753916751e-250)
    res = value_iteration(m, 1e-7)
    assert res.status == "optimal" and res.v[0] == pytest.approx(1.18619128e-250, rel=1e-12)
