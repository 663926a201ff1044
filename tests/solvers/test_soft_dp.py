"""Soft dynamic programming: closed forms, enumeration, hard-max limit, certificates, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from solvers import TabularMDP
from solvers.errors import ModelError
from solvers.planning import value_iteration
from solvers.soft_dp import (
    ConvergenceError,
    soft_finite_horizon,
    soft_policy_evaluation,
    soft_policy_iteration,
    soft_value_iteration,
)


def random_mdp(seed: int, S: int = 5, A: int = 3, gamma: float = 0.9) -> TabularMDP:
    rng = np.random.default_rng(seed)
    return TabularMDP(rng.dirichlet(np.ones(S), size=(S, A)), rng.normal(size=(S, A)),
                      rng.dirichlet(np.ones(S)), gamma=gamma)


def test_one_state_soft_value_matches_the_closed_form():
    # S = 1: V = gamma V + tau log sum_a exp(r_a / tau), so V = tau lse(r / tau) / (1 - gamma)
    r, tau, gamma = np.array([[0.3, -1.0, 2.0]]), 0.7, 0.8
    mdp = TabularMDP(np.ones((1, 3, 1)), r, np.ones(1), gamma=gamma)
    closed = tau * np.log(np.exp(r / tau).sum()) / (1 - gamma)
    for solve in (soft_value_iteration, soft_policy_iteration):
        res = solve(mdp, tau)
        assert res.status == "optimal"
        assert abs(res.V[0] - closed) <= res.error_bound + 1e-12


@given(st.integers(0, 10_000), st.floats(0.05, 3.0), st.floats(0.0, 0.95))
def test_value_iteration_and_newton_agree_within_their_certificates(seed, tau, gamma):
    mdp = random_mdp(seed, gamma=gamma)
    a, b = soft_value_iteration(mdp, tau), soft_policy_iteration(mdp, tau)
    assert a.status == b.status == "optimal"
    assert np.abs(a.Q - b.Q).max() <= a.error_bound + b.error_bound
    assert a.certificate() <= a.tol and b.certificate() <= b.tol


@given(st.integers(0, 10_000), st.floats(0.05, 3.0))
def test_boltzmann_policy_beats_every_other_policy_in_regularised_value(seed, tau):
    # Gibbs variational principle: the regularised value of any policy is <= V*
    mdp = random_mdp(seed, S=3, A=2)
    res = soft_policy_iteration(mdp, tau)
    Qpi = soft_policy_evaluation(mdp, res.pi, tau)
    assert np.abs(Qpi - res.Q).max() <= 1e-8
    pi = np.random.default_rng(seed).dirichlet(np.ones(2), size=3)
    Qo = soft_policy_evaluation(mdp, pi, tau)
    with np.errstate(divide="ignore"):
        Vo = (pi * (Qo - tau * np.log(pi))).sum(axis=1)
    assert (Vo <= res.V + 1e-8).all()


def test_soft_value_approaches_the_hard_value_within_tau_log_A():
    mdp = random_mdp(3, gamma=0.9)
    hard = value_iteration(mdp, 1e-12)
    for tau in (1.0, 0.1, 0.01):
        soft = soft_value_iteration(mdp, tau)
        gap = soft.V - hard.v
        assert (gap >= -1e-9).all() and (gap <= tau * np.log(3) / 0.1 + 1e-9).all()


def test_csr_kernel_gives_the_dense_answer():
    mdp = random_mdp(4)
    sparse = TabularMDP(sp.csr_array(mdp.P.reshape(-1, mdp.S)), mdp.r, mdp.mu0, gamma=mdp.gamma)
    a, b = soft_policy_iteration(mdp, 0.4), soft_policy_iteration(sparse, 0.4)
    assert np.abs(a.Q - b.Q).max() <= 1e-10


def test_finite_horizon_value_is_the_log_partition_over_action_sequences():
    # deterministic kernel: V_0(s0) = tau log sum_{a_0..a_{H-1}} exp(R / tau)
    rng = np.random.default_rng(5)
    S, A, H, tau = 3, 2, 3, 0.6
    nxt = rng.integers(0, S, size=(S, A))
    r = rng.normal(size=(S, A))
    mdp = TabularMDP(np.eye(S)[nxt], r, np.ones(S) / S, horizon=H)
    res = soft_finite_horizon(mdp, tau)
    for s0 in range(S):
        tot = []
        for acts in itertools.product(range(A), repeat=H):
            s, R = s0, 0.0
            for a in acts:
                R += r[s, a]
                s = nxt[s, a]
            tot.append(R / tau)
        assert abs(res.V[0, s0] - tau * np.logaddexp.reduce(tot)) <= 1e-12


def test_unconverged_solve_reports_iteration_limit_and_require_names_tau_and_tol():
    mdp = random_mdp(6, gamma=0.99)
    res = soft_value_iteration(mdp, 0.3, 1e-10, max_iter=3)
    assert res.status == "iteration_limit"
    with pytest.raises(ConvergenceError) as err:
        res.require()
    assert "tau = 0.3" in str(err.value) and "tol = 1e-10" in str(err.value)
    assert soft_policy_iteration(mdp, 0.3, 1e-30).status == "iteration_limit"


@pytest.mark.parametrize("tau", [0.0, -1.0, float("nan"), float("inf"), True, "1"])
def test_bad_temperature_is_rejected_naming_tau(tau):
    with pytest.raises(ModelError) as err:
        soft_value_iteration(random_mdp(0), tau)
    assert err.value.field == "tau"


def test_bad_tolerance_is_rejected():
    with pytest.raises(ModelError):
        soft_value_iteration(random_mdp(0), 0.5, tol=0.0)
