"""SACPO stepwise realignment, n-constraint composition and the P-SACPO merge."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers.errors import ModelError
from solvers.kl_bandit import gibbs_policy, solve_kl_bandit
from solvers.sacpo import align, compose_alignments, merge_logits, psacpo_merge, stepwise_sacpo
from theory.sacpo import kl_bandits, problem_of


def _brute_gibbs(pi_ref, f, beta):
    """Plain unnormalised exp and a division: no log-sum-exp, no shared helper."""
    w = pi_ref * np.exp(f / beta)
    return w / w.sum(axis=1, keepdims=True)


@given(kl_bandits(active=True))
def test_stepwise_realignment_in_both_orders_equals_the_joint_optimum(inst):
    p = problem_of(inst)
    res = solve_kl_bandit(p)
    for order in ("reward_first", "safety_first"):
        step = stepwise_sacpo(p.pi_ref, p.r, p.g, p.beta, res.lam, order)
        np.testing.assert_allclose(step, res.policy, atol=1e-10)


@given(kl_bandits(active=None), st.lists(st.floats(0, 3), min_size=1, max_size=3),
       st.integers(0, 2**32 - 1))
def test_n_constraint_composition_equals_joint_gibbs_and_normalisers_multiply(inst, lams, seed):
    p = problem_of(inst)
    rng = np.random.default_rng(seed)
    gs = rng.uniform(-2, 2, size=(len(lams), p.S, p.A))
    f = p.r + np.tensordot(lams, gs, axes=1)
    pi, log_up = compose_alignments(p.pi_ref, p.r, gs, np.array(lams), p.beta)
    np.testing.assert_allclose(pi, _brute_gibbs(p.pi_ref, f, p.beta), atol=1e-10)
    z = lambda h: np.sum(p.pi_ref * np.exp(h / p.beta), axis=1)  # noqa: E731
    np.testing.assert_allclose(np.exp(log_up), z(f) / z(p.r), rtol=1e-9)


@given(kl_bandits(active=None), st.floats(0, 5), st.floats(0, 1),
       st.floats(-10, 10), st.floats(-10, 10))
def test_psacpo_merge_is_the_gibbs_policy_of_the_merged_multiplier(inst, lam_bar, q, c1, c2):
    p = problem_of(inst)
    shifts = (np.full(p.S, c1), np.full(p.S, c2))
    merged = psacpo_merge(p.pi_ref, p.r, p.g, p.beta, lam_bar, q, shifts)
    np.testing.assert_allclose(merged, _brute_gibbs(p.pi_ref, p.r + q * lam_bar * p.g, p.beta),
                               atol=1e-10)


def test_forward_kl_style_mixing_is_not_realignment():
    # Mixing probabilities linearly (instead of logits) misses pi*_{r + q lam g}: the check
    # above would catch a merge implemented in probability space.
    pi_ref = np.array([[0.5, 0.5]])
    r, g, beta, lam, q = np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]]), 1.0, 2.0, 0.5
    safe, pr = stepwise_sacpo(pi_ref, r, g, beta, lam), align(pi_ref, r, beta)
    wrong = q * safe + (1 - q) * pr
    assert np.abs(wrong - gibbs_policy(pi_ref, r + q * lam * g, beta)).max() > 1e-2


def test_realignment_with_the_wrong_weight_misses_the_joint_optimum():
    pi_ref = np.array([[0.3, 0.7]])
    r, g, beta, lam = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), 0.5, 2.0
    joint = gibbs_policy(pi_ref, r + lam * g, beta)
    wrong = align(align(pi_ref, r, beta), g, beta * lam)  # beta * lam instead of beta / lam
    assert np.abs(wrong - joint).max() > 1e-2


def test_zero_multiplier_skips_the_safety_step_and_zeros_of_pi_ref_stay_zero():
    pi_ref = np.array([[0.0, 0.4, 0.6]])
    r, g = np.array([[9.0, 1.0, 0.0]]), np.array([[9.0, 0.0, 1.0]])
    assert np.array_equal(stepwise_sacpo(pi_ref, r, g, 1.0, 0.0), align(pi_ref, r, 1.0))
    out = psacpo_merge(pi_ref, r, g, 1.0, 3.0, 0.0)
    assert out[0, 0] == 0.0 and np.isfinite(out).all()


@pytest.mark.parametrize(("call", "field"), [
    (lambda: align(np.eye(2), np.zeros((2, 2)), 0.0), "weight"),
    (lambda: stepwise_sacpo(np.eye(2), np.eye(2), np.eye(2), 1.0, -1.0), "lam"),
    (lambda: stepwise_sacpo(np.eye(2), np.eye(2), np.eye(2), 1.0, 1.0, "sideways"), "order"),
    (lambda: merge_logits(np.eye(2), np.eye(2), 1.5, np.ones((2, 2), bool)), "q"),
    (lambda: compose_alignments(np.eye(2), np.eye(2), np.ones((1, 2, 2)), [-1.0], 1.0),
     "lams"),
])
def test_bad_arguments_raise_model_error(call, field):
    with pytest.raises(ModelError) as exc:
        call()
    assert exc.value.field == field
