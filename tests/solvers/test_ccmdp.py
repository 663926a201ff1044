"""Joint chance constraints: exact violation probability, flag augmentation, surrogates."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError, TabularMDP, evaluate, random_mdp
from solvers.ccmdp import (
    augment_with_flag,
    validate_delta,
    validate_unsafe,
    violation_error_bound,
    violation_probability,
    violation_probability_enumeration,
)
from solvers.ccmdp_surrogates import boole_bound, h_unsafe, state_marginals, unsafe_marginals
from solvers.tolerances import EPS, PROB_SUM_TOL


@st.composite
def tiny_instances(draw):
    """A tiny finite-horizon model (dense or sparse), a Markov policy (S, A) or (H, S, A)
    with some zero probabilities, and an unsafe mask."""
    seed = draw(st.integers(0, 2**32 - 1))
    S, A, H = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    sparse = draw(st.booleans())
    rng = np.random.default_rng(seed)
    m = random_mdp(rng, S, A, horizon=H, successors=draw(st.integers(1, S)) if sparse else None)
    if draw(st.booleans()):  # sometimes start in one state, to exercise mu0 with zeros
        m = TabularMDP(m.P, m.r, np.eye(S)[rng.integers(S)], horizon=H)
    shape = (H, S, A) if draw(st.booleans()) else (S, A)
    pi = rng.dirichlet(np.ones(A), size=shape[:-1])
    if draw(st.booleans()):  # deterministic
        pi = np.eye(A)[rng.integers(A, size=shape[:-1])]
    mask = np.array(draw(st.lists(st.booleans(), min_size=S, max_size=S)))
    return m, pi, mask


# -- exact violation probability ------------------------------------------------------
@given(tiny_instances())
def test_violation_probability_equals_exact_enumeration_over_trajectories(inst):
    m, pi, mask = inst
    exact = violation_probability_enumeration(m, pi, mask)
    # stored rows of P and mu0 sum to 1 only within PROB_SUM_TOL (the model contract)
    assert isinstance(exact, Fraction) and 0 <= exact <= 1 + (m.horizon + 1) * PROB_SUM_TOL
    # The enumeration is rounding-free on the stored floats; converting it to a float
    # adds at most half an ulp of a number <= 1, i.e. EPS / 2.
    err = abs(violation_probability(m, pi, mask) - float(exact))
    assert err <= violation_error_bound(m) + EPS


@given(tiny_instances())
def test_augmented_cost_plus_initial_mass_equals_violation_probability(inst):
    m, pi, mask = inst
    aug = augment_with_flag(m, mask)
    assert aug.mdp.S == 2 * m.S and aug.mdp.K == 1 and aug.mdp.horizon == m.horizon
    assert aug.mdp.is_sparse == m.is_sparse
    cost = float(evaluate(aug.mdp, aug.lift_policy(pi)).cost_values[0])
    # Both sides are sums of nonnegative probability products: the recursion bound
    # applies to each (the augmented model has 2S states).
    tol = violation_error_bound(m) + violation_error_bound(aug.mdp)
    assert abs(aug.initial_violation + cost - violation_probability(m, pi, mask)) <= tol
    assert aug.initial_violation == pytest.approx(float(m.mu0[mask].sum()), abs=0)


@given(tiny_instances())
def test_augmentation_preserves_the_reward_value_of_a_lifted_policy(inst):
    m, pi, mask = inst
    aug = augment_with_flag(m, mask)
    v_orig, v_aug = evaluate(m, pi), evaluate(aug.mdp, aug.lift_policy(pi))
    assert abs(v_orig.value - v_aug.value) <= v_orig.error_bound + v_aug.error_bound


@given(tiny_instances(), st.integers(0, 2**32 - 1))
def test_projecting_a_flag_policy_preserves_reward_value(inst, seed):
    m, pi, mask = inst
    aug = augment_with_flag(m, mask)
    rng = np.random.default_rng(seed)
    after = rng.dirichlet(np.ones(m.A), size=(m.horizon, m.S))
    pi_aug = aug.lift_policy(pi, after)
    proj = aug.project_policy(pi_aug)
    v_aug, v_proj = evaluate(aug.mdp, pi_aug), evaluate(m, proj)
    assert abs(v_aug.value - v_proj.value) <= v_aug.error_bound + v_proj.error_bound + 1e3 * EPS
    # projecting a flag-blind lift returns the policy itself
    np.testing.assert_allclose(aug.project_policy(aug.lift_policy(pi)),
                               np.broadcast_to(pi, proj.shape), atol=4 * EPS)


def test_flag_dependent_policy_violation_differs_from_its_markov_projection():
    # s=0 safe, s=1 unsafe, s=2 safe; from any state: action 0 -> state 0, action 1 -> 1/2 to 1,
    # 1/2 to 2. Flag policy: before a violation play 0, after play 1. No violation ever occurs.
    P = np.zeros((3, 2, 3))
    P[:, 0, 0] = 1.0
    P[:, 1, 1] = P[:, 1, 2] = 0.5
    m = TabularMDP(P, np.zeros((3, 2)), np.array([1.0, 0.0, 0.0]), horizon=2)
    aug = augment_with_flag(m, [1])
    pi_aug = aug.lift_policy(np.eye(2)[[0, 0, 0]], np.eye(2)[[1, 1, 1]])
    assert aug.violation_probability(pi_aug) == 0.0
    proj = aug.project_policy(pi_aug)
    assert violation_probability(m, proj, [1]) == 0.0  # reachable rows keep action 0
    # an initial violation is counted at t = 0 and not controllable
    m2 = TabularMDP(P, np.zeros((3, 2)), np.array([0.0, 1.0, 0.0]), horizon=2)
    aug2 = augment_with_flag(m2, [1])
    assert aug2.initial_violation == 1.0 and aug2.cost_threshold(1.0) == 0.0
    assert violation_probability(m2, np.eye(2)[[0, 0, 0]], [1]) == 1.0


def test_terminal_state_counts_as_a_violation_at_t_equals_H():
    P = np.array([[[0.0, 1.0]], [[0.0, 1.0]]])  # 0 -> 1 -> 1
    m = TabularMDP(P, np.zeros((2, 1)), np.array([1.0, 0.0]), horizon=1)
    assert violation_probability(m, np.ones((2, 1)), [1]) == 1.0  # s_1 = s_H is unsafe
    assert violation_probability_enumeration(m, np.ones((2, 1)), [1]) == 1


def test_index_and_state_are_inverse_maps():
    aug = augment_with_flag(random_mdp(1, 3, 2, horizon=2), [0, 2])
    for x in range(6):
        assert aug.index(*aug.state(x)) == x
    assert aug.state(4) == (1, 1)
    with pytest.raises(ModelError, match="expected an augmented index"):
        aug.state(6)
    with pytest.raises(ModelError):
        aug.index(0, 2)


# -- surrogates ------------------------------------------------------------------------
@given(tiny_instances(), st.floats(0.05, 0.99))
def test_boole_bound_and_discounted_unsafety_bracket_the_violation_probability(inst, gamma_u):
    m, pi, mask = inst
    viol = violation_probability(m, pi, mask)
    tol = 4 * violation_error_bound(m)
    assert boole_bound(m, pi, mask) >= viol - tol
    # always valid (notes §3.9-A): Pr(V_H) <= mu0(U) + gamma_u^{-H} H_unsafe
    mu_u = float(m.mu0[mask].sum())
    assert viol <= mu_u + gamma_u ** -m.horizon * h_unsafe(m, pi, mask, gamma_u) + tol
    rho = state_marginals(m, pi)
    np.testing.assert_allclose(rho.sum(axis=1), 1.0, atol=tol)
    assert unsafe_marginals(m, pi, mask)[0] == pytest.approx(mu_u, abs=0)


@pytest.mark.parametrize("H", [1, 2, 5])
@pytest.mark.parametrize(("p", "gamma_u"), [(0.5, 0.9), (0.2, 0.99), (1.0, 0.5)])
def test_theorem5_counterexample_chain_hunsafe_below_delta_but_violation_above(H, p, gamma_u):
    # notes §3.9-A: s0 -> u (prob p) else z; u -> z; z absorbing; one action.
    P = np.zeros((3, 1, 3))
    P[0, 0, 1], P[0, 0, 2] = p, 1 - p
    P[1, 0, 2] = P[2, 0, 2] = 1.0
    m = TabularMDP(P, np.zeros((3, 1)), np.array([1.0, 0.0, 0.0]), horizon=H)
    pi, unsafe = np.ones((3, 1)), [1]
    delta = gamma_u * p
    assert violation_probability(m, pi, unsafe) == pytest.approx(p, abs=4 * EPS)   # LHS = p
    assert h_unsafe(m, pi, unsafe, gamma_u) == pytest.approx(gamma_u * p, abs=4 * EPS)
    assert violation_probability_enumeration(m, pi, unsafe) == Fraction(p)
    # H_unsafe <= delta holds, yet Pr(violation) = p > delta: not conservative.
    assert h_unsafe(m, pi, unsafe, gamma_u) <= delta + 4 * EPS
    assert violation_probability(m, pi, unsafe) > delta
    assert boole_bound(m, pi, unsafe) == pytest.approx(p, abs=4 * EPS)  # u is visited once


# -- errors ----------------------------------------------------------------------------
def _fh():
    return random_mdp(0, 3, 2, horizon=2)


@pytest.mark.parametrize("fn", [
    lambda m: augment_with_flag(m, [0]),
    lambda m: violation_probability(m, np.full((3, 2), 0.5), [0]),
    lambda m: violation_probability_enumeration(m, np.full((3, 2), 0.5), [0]),
    lambda m: boole_bound(m, np.full((3, 2), 0.5), [0]),
    lambda m: h_unsafe(m, np.full((3, 2), 0.5), [0], 0.9),
])
def test_discounted_model_is_rejected_naming_horizon(fn):
    with pytest.raises(ModelError, match="horizon") as info:
        fn(random_mdp(0, 3, 2, gamma=0.9))
    assert info.value.field == "horizon"


@pytest.mark.parametrize(("unsafe", "match"), [
    (np.array([True, False]), "length S = 3"),
    ([3], r"unsafe\[0\] = 3"),
    ([0, -1], r"unsafe\[1\] = -1"),
    ([0.0, 1.0], "dtype float64"),
    (["a"], "dtype"),
    (np.zeros((3, 1), dtype=bool), "shape"),
    ([[0, 1], [2]], "cannot be read"),
])
def test_bad_unsafe_set_raises_naming_unsafe(unsafe, match):
    with pytest.raises(ModelError, match=match) as info:
        validate_unsafe(_fh(), unsafe)
    assert info.value.field == "unsafe"


def test_unsafe_accepts_masks_index_lists_and_the_empty_set():
    m = _fh()
    np.testing.assert_array_equal(validate_unsafe(m, [2, 0, 2]), [True, False, True])
    np.testing.assert_array_equal(validate_unsafe(m, [False, True, False]), [False, True, False])
    assert not validate_unsafe(m, []).any()
    assert violation_probability(m, np.full((3, 2), 0.5), []) == 0.0


@pytest.mark.parametrize("delta", [-0.1, 1.5, float("nan"), True, "0.1", None])
def test_bad_delta_raises_naming_delta(delta):
    with pytest.raises(ModelError) as info:
        validate_delta(delta)
    assert info.value.field == "delta"


def test_valid_delta_and_bad_gamma_u_and_too_many_paths():
    assert validate_delta(0) == 0.0 and validate_delta(1) == 1.0
    m = _fh()
    for g in (0.0, 1.0, True, float("inf")):
        with pytest.raises(ModelError) as info:
            h_unsafe(m, np.full((3, 2), 0.5), [0], g)
        assert info.value.field == "gamma_u"
    big = random_mdp(0, 6, 3, horizon=8)
    with pytest.raises(ModelError, match="trajectories") as info:
        violation_probability_enumeration(big, np.full((6, 3), 1 / 3), [0])
    assert info.value.field == "horizon"


def test_bad_policy_is_rejected_by_policy_validation():
    with pytest.raises(ModelError) as info:
        violation_probability(_fh(), np.full((3, 2), 0.7), [0])
    assert info.value.field == "pi"
