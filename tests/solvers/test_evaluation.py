"""Policy evaluation and occupancy against independent computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import solvers.evaluation as evaluation
from solvers import ModelError, TabularMDP, evaluate, occupancy, random_mdp
from solvers.exact import exact_policy_values
from theory.strategies import mdp_and_policy


def test_constant_reward_has_geometric_value():
    S, A, gamma, c = 4, 3, 0.8, 2.5
    m = random_mdp(3, S, A, gamma=gamma)
    m = TabularMDP(m.P, np.full((S, A), c), m.mu0, gamma=gamma)
    ev = evaluate(m, np.full((S, A), 1 / A))
    np.testing.assert_allclose(ev.v, c / (1 - gamma), rtol=1e-13)  # closed form c/(1-gamma)


@given(mdp_and_policy(horizon=False, max_S=4))
def test_evaluation_matches_rational_arithmetic(inst):
    m, pi = inst["mdp"], inst["pi"]
    ev = evaluate(m, pi)
    exact = np.array(exact_policy_values(m, pi), dtype=float)
    # The measured residual certifies ||v - v_exact|| <= residual/(1-gamma); allow
    # the rounding of converting the exact fractions to floats on top.
    assert np.max(np.abs(ev.v - exact)) <= ev.error_bound + 4 * np.finfo(float).eps * (
        1 + np.max(np.abs(exact)))


def _enumerate_finite_horizon_value(m: TabularMDP, pi: np.ndarray) -> float:
    """E[sum_{t<H} r_t] by summing over every state-action trajectory (tiny models only)."""
    P, H = m.dense_P(), m.horizon
    pis = pi if pi.ndim == 3 else np.broadcast_to(pi, (H, m.S, m.A))
    total = 0.0
    for traj in itertools.product(range(m.S), range(m.A), repeat=H):
        states, actions = traj[0::2], traj[1::2]
        prob = m.mu0[states[0]]
        ret = 0.0
        for t in range(H):
            s, a = states[t], actions[t]
            prob *= pis[t, s, a]
            ret += m.r[s, a]
            if t + 1 < H:
                prob *= P[s, a, states[t + 1]]
        total += prob * ret
    return total


@given(mdp_and_policy(horizon=True, max_S=3, max_A=2, max_horizon=3))
def test_finite_horizon_value_equals_trajectory_enumeration(inst):
    m, pi = inst["mdp"], inst["pi"]
    ev = evaluate(m, pi)
    brute = _enumerate_finite_horizon_value(m, pi)
    assert abs(ev.value - brute) <= 1e-12 * max(1.0, abs(brute)) * m.horizon


def test_time_dependent_policy_is_accepted_in_finite_horizon():
    m = random_mdp(5, 3, 2, horizon=3)
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(2), size=(3, 3))
    ev = evaluate(m, pi)
    assert ev.v.shape == (3, 3) and ev.q.shape == (3, 3, 2)
    assert abs(ev.value - _enumerate_finite_horizon_value(m, pi)) < 1e-12
    d = occupancy(m, pi)
    np.testing.assert_allclose(d.sum(axis=(1, 2)), 1.0, rtol=0, atol=1e-14)


@given(mdp_and_policy(horizon=False))
def test_occupancy_is_a_probability_distribution(inst):
    d = occupancy(inst["mdp"], inst["pi"])
    assert d.min() >= -1e-14
    assert abs(d.sum() - 1.0) <= 1e-12


def test_cost_values_are_values_of_the_cost_as_reward():
    m = random_mdp(1, 6, 3, K=2, gamma=0.9)
    pi = np.full((6, 3), 1 / 3)
    ev = evaluate(m, pi)
    for k in range(2):
        mk = TabularMDP(m.P, m.costs[k], m.mu0, gamma=0.9)
        assert ev.cost_values[k] == pytest.approx(evaluate(mk, pi).value, rel=1e-13)


def test_sparse_and_dense_models_agree():
    m = random_mdp(2, 30, 4, gamma=0.95)
    ms = TabularMDP(sp.csr_array(m.P.reshape(120, 30)), m.r, m.mu0, gamma=0.95)
    pi = np.full((30, 4), 0.25)
    np.testing.assert_allclose(evaluate(m, pi).v, evaluate(ms, pi).v, rtol=1e-12)


def test_every_solver_path_agrees_and_reports_its_residual(monkeypatch):
    m = random_mdp(4, 500, 3, K=1, gamma=0.97, successors=4)
    pi = np.random.default_rng(1).dirichlet(np.ones(3), size=500)
    krylov = evaluate(m, pi)
    assert krylov.method == "bicgstab" and krylov.residual < 1e-9
    monkeypatch.setattr(evaluation, "_DENSE_MAX_STATES", 10_000)
    lapack = evaluate(m, pi)
    monkeypatch.setattr(evaluation, "_DENSE_MAX_STATES", 10)

    def no_convergence(A, b, **kwargs):
        return np.zeros_like(b), 1  # info = 1: not converged

    monkeypatch.setattr(evaluation.spla, "bicgstab", no_convergence)
    lu = evaluate(m, pi)
    monkeypatch.setattr(evaluation, "DIRECT_SOLVE_MAX_STATES", 10)
    gmres = evaluate(m, pi)
    assert (lapack.method, lu.method, gmres.method) == ("dense", "sparse-lu", "gmres")
    for ev in (lapack, lu, gmres):
        # Each result is within its own certified bound of the other's.
        assert np.max(np.abs(ev.v - krylov.v)) <= ev.error_bound + krylov.error_bound + 1e-12
        assert ev.residual / (1 - 0.97) <= ev.error_bound <= ev.residual / (1 - 0.97) + 1e-9


@pytest.mark.parametrize(
    ("pi", "message"),
    [
        (np.full((3, 3), 1 / 3), r"pi has shape \(3, 3\), expected \(3, 2\)"),
        (np.array([[0.5, 0.6], [0.5, 0.5], [1.0, 0.0]]), r"pi\[0, :\] sums to 1.1"),
        (np.array([[1.5, -0.5], [0.5, 0.5], [1.0, 0.0]]), r"pi\[0, 1\] = -0.5"),
        (np.full((2, 3, 2), 0.5), r"pi has shape \(2, 3, 2\), expected \(S, A\)"),
        (np.array([0, 1, 1]), r"pi has shape \(3,\)"),
    ],
)
def test_malformed_policy_raises_model_error(pi, message):
    m = random_mdp(0, 3, 2)
    with pytest.raises(ModelError, match=message):
        evaluate(m, pi)
    with pytest.raises(ModelError, match=message):
        occupancy(m, pi)


def test_gamma_zero_value_is_the_immediate_reward():
    m = random_mdp(7, 4, 2, gamma=0.0)
    pi = np.full((4, 2), 0.5)
    ev = evaluate(m, pi)
    np.testing.assert_array_equal(ev.v, (pi * m.r).sum(axis=1))


@given(st.integers(0, 10**6))
def test_same_seed_same_values_bitwise(seed):
    m1, m2 = random_mdp(seed, 5, 2, gamma=0.9), random_mdp(seed, 5, 2, gamma=0.9)
    pi = np.full((5, 2), 0.5)
    assert evaluate(m1, pi).v.tobytes() == evaluate(m2, pi).v.tobytes()
