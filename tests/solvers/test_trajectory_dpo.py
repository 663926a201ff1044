"""Soft backward induction, the trajectory-DPO identity residual and population DPO."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError, TabularMDP, random_mdp, trajectory_dpo, trajectory_soft_optimum
from solvers.trajectory_dpo import identity_residual, population_dpo, population_dpo_loss
from solvers.trajectory_soft_optimum import (
    enumerate_trajectories,
    soft_backward_induction,
    trajectory_log_ratio,
)
from theory.prefine import deterministic_instances, stochastic_instances


def _regularised_objective_by_enumeration(mdp, pi, ref, beta):
    """E_pi[R] - beta KL(P^pi || P^ref) summed over every trajectory (no DP)."""
    pis = np.broadcast_to(pi, (mdp.horizon, mdp.S, mdp.A))
    refs = np.broadcast_to(ref, (mdp.horizon, mdp.S, mdp.A))
    traj = enumerate_trajectories(mdp, pis)
    return float(np.sum(traj.prob * (traj.returns(mdp.r)
                                      - beta * trajectory_log_ratio(pis, refs, traj))))


@given(stochastic_instances(), st.data())
def test_soft_optimum_value_equals_enumerated_objective_and_beats_perturbations(inst, data):
    mdp, ref, beta = inst["mdp"], inst["pi_ref"], inst["beta"]
    opt = soft_backward_induction(mdp, ref, beta)
    j_star = _regularised_objective_by_enumeration(mdp, opt.pi, ref, beta)
    scale = 1 + mdp.horizon * (1 + beta * 3)
    assert j_star == pytest.approx(opt.value, abs=1e-12 * scale)
    w = data.draw(st.lists(st.floats(0.05, 1.0), min_size=mdp.A, max_size=mdp.A))
    other = 0.5 * opt.pi + 0.5 * np.asarray(w) / np.sum(w)
    assert _regularised_objective_by_enumeration(mdp, other, ref, beta) <= j_star + 1e-12 * scale


@given(deterministic_instances())
def test_deterministic_transitions_have_zero_identity_residual(inst):
    res = identity_residual(inst["mdp"], inst["pi_ref"], inst["beta"])
    assert res.max_abs_residual <= 1e-11 * (1 + inst["mdp"].horizon)
    assert np.all(res.martingale == 0.0)  # every (PV)(s,a) - V(s') is an exact float 0


@given(stochastic_instances())
def test_residual_equals_closed_form_martingale_term(inst):
    res = identity_residual(inst["mdp"], inst["pi_ref"], inst["beta"])
    assert res.closure_error <= 1e-11 * (1 + inst["mdp"].horizon)
    # the martingale has mean zero under the reference dynamics (any policy)
    assert abs(float(res.traj.prob @ res.martingale)) <= 1e-11 * (1 + inst["mdp"].horizon)


def test_stochastic_counterexample_residual_is_half():
    mdp = TabularMDP(np.array([[[0.5, 0.5]], [[0.0, 1.0]]]), np.array([[0.0], [1.0]]),
                     np.array([1.0, 0.0]), horizon=2)
    res = identity_residual(mdp, np.ones((2, 1)), 1.0)
    assert res.max_abs_residual == pytest.approx(0.5)
    assert np.allclose(res.residual, res.martingale)


def test_start_state_bias_is_spread_of_soft_values():
    mdp = TabularMDP(np.array([[[1.0, 0.0]], [[0.0, 1.0]]]), np.array([[0.0], [1.0]]),
                     np.array([0.5, 0.5]), horizon=3)
    res = identity_residual(mdp, np.ones((2, 1)), 0.7)
    assert res.start_state_bias == pytest.approx(3.0)  # V_0 = 0 and 3 with one action
    assert res.max_abs_residual == 0.0


def test_population_dpo_recovers_soft_optimum_when_deterministic():
    rng = np.random.default_rng(0)
    S, A = 3, 2
    mdp = TabularMDP(np.eye(S)[rng.integers(0, S, (S, A))], rng.uniform(-1, 1, (S, A)),
                     np.full(S, 1 / S), horizon=3)
    ref = rng.dirichlet(np.ones(A), S)
    fit = population_dpo(mdp, ref, 0.5)
    assert fit.status == "optimal"
    opt = soft_backward_induction(mdp, ref, 0.5)
    err = np.abs(fit.pi - opt.pi)[np.broadcast_to(fit.reachable[:, :, None], fit.pi.shape)]
    assert err.max() < 1e-6
    # the cost-preference variant recovers the KL-regularised cost-minimising policy
    c = rng.uniform(0, 1, (S, A))
    fit_c = population_dpo(mdp, ref, 0.5, reward=-c)
    opt_c = soft_backward_induction(mdp, ref, 0.5, reward=-c)
    mask = np.broadcast_to(fit_c.reachable[:, :, None], fit_c.pi.shape)
    assert np.abs(fit_c.pi - opt_c.pi)[mask].max() < 1e-6
    assert np.abs(fit_c.pi - opt.pi)[mask].max() > 1e-3  # a different policy


@given(deterministic_instances(max_S=3, max_A=2, max_H=3))
def test_soft_optimum_attains_the_dpo_loss_floor_when_deterministic(inst):
    """Independent of the optimiser: pi* makes every pair's logit equal its label's logit."""
    mdp, ref, beta = inst["mdp"], inst["pi_ref"], inst["beta"]
    opt = soft_backward_induction(mdp, ref, beta)
    loss, floor = population_dpo_loss(mdp, ref, beta, opt.pi)
    # logits of size <= 2 H max|r| round by ~1e-15 each; the loss sums <= 1e4 weighted terms
    assert loss == pytest.approx(floor, abs=1e-12)
    other = 0.9 * opt.pi + 0.1 / mdp.A
    if np.abs(other - opt.pi).max() > 1e-3 and mdp.A > 1:
        assert population_dpo_loss(mdp, ref, beta, other)[0] >= floor - 1e-12


def test_soft_optimum_misses_the_loss_floor_under_stochastic_transitions():
    mdp = random_mdp(1, 3, 2, horizon=3)
    ref = np.full((3, 2), 0.5)
    opt = soft_backward_induction(mdp, ref, 0.5)
    loss, floor = population_dpo_loss(mdp, ref, 0.5, opt.pi)
    assert loss > floor + 1e-4


def test_population_dpo_misses_soft_optimum_under_stochastic_transitions():
    mdp = random_mdp(1, 3, 2, horizon=3)
    ref = np.full((3, 2), 0.5)
    fit = population_dpo(mdp, ref, 0.5)
    opt = soft_backward_induction(mdp, ref, 0.5)
    assert fit.status == "optimal"
    assert np.abs(fit.pi - opt.pi).max() > 1e-2


def test_small_beta_and_zero_reference_mass_give_no_nan():
    mdp = random_mdp(2, 3, 3, horizon=4, reward_range=(-5.0, 5.0))
    ref = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    opt = soft_backward_induction(mdp, ref, 1e-3)
    assert np.isfinite(opt.pi).all() and np.isfinite(opt.v).all()
    assert np.all(opt.pi[:, ref == 0] == 0)
    res = identity_residual(mdp, ref, 1e-3)
    assert np.isfinite(res.residual).all()


@pytest.mark.parametrize("beta", [0.0, -1.0, float("nan"), float("inf"), True, "1"])
def test_bad_beta_is_rejected(beta):
    mdp = random_mdp(0, 2, 2, horizon=2)
    with pytest.raises(ModelError) as exc:
        soft_backward_induction(mdp, np.full((2, 2), 0.5), beta)
    assert exc.value.field == "beta"


def test_bad_reference_policy_and_model_are_rejected():
    mdp = random_mdp(0, 2, 2, horizon=2)
    with pytest.raises(ModelError) as exc:
        soft_backward_induction(mdp, np.array([[0.5, 0.4], [0.5, 0.5]]), 1.0)
    assert exc.value.field == "pi_ref"
    with pytest.raises(ModelError) as exc:
        population_dpo(mdp, np.array([[1.0, 0.0], [0.5, 0.5]]), 1.0)
    assert exc.value.field == "pi_ref"
    with pytest.raises(ModelError) as exc:
        identity_residual(random_mdp(0, 2, 2, gamma=0.9), np.full((2, 2), 0.5), 1.0)
    assert exc.value.field == "horizon"


def test_the_soft_optimum_names_stay_importable_from_trajectory_dpo_as_the_same_objects():
    # the split moved them to trajectory_soft_optimum; theory/, experiments/ and the docs
    # import them from trajectory_dpo, which must re-export the very same objects
    moved = set(trajectory_soft_optimum.__all__)
    assert moved <= set(trajectory_dpo.__all__)
    for name in moved:
        assert getattr(trajectory_dpo, name) is getattr(trajectory_soft_optimum, name), name
    assert not hasattr(trajectory_soft_optimum, "population_dpo")  # one concept per module
