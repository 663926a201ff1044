"""Seeded random MDP generators."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError, random_mdp


def model_bytes(m) -> bytes:
    P = m.P.toarray() if m.is_sparse else m.P
    return P.tobytes() + m.r.tobytes() + m.mu0.tobytes() + m.costs.tobytes()


@given(st.integers(0, 2**32 - 1), st.sampled_from([None, 1, 3]))
def test_same_seed_same_bytes(seed, k):
    a = random_mdp(seed, 6, 3, K=2, successors=k)
    b = random_mdp(np.random.default_rng(seed), 6, 3, K=2, successors=k)
    assert model_bytes(a) == model_bytes(b)


def test_different_seeds_give_different_models():
    assert model_bytes(random_mdp(1, 5, 2)) != model_bytes(random_mdp(2, 5, 2))


@given(st.integers(1, 40), st.integers(1, 4), st.data())
def test_sparse_rows_have_exactly_k_distinct_successors(S, A, data):
    k = data.draw(st.integers(1, S))
    m = random_mdp(data.draw(st.integers(0, 1000)), S, A, successors=k)
    T = m.transition_matrix
    assert m.is_sparse
    np.testing.assert_array_equal(np.diff(T.indptr), k)
    for row in range(S * A):
        cols = T.indices[T.indptr[row]:T.indptr[row + 1]]
        assert len(set(cols.tolist())) == k
    np.testing.assert_allclose(T.sum(axis=1), 1.0, atol=1e-12)


def test_successor_choice_is_uniform_over_states():
    # Floyd's algorithm: every state is a successor with probability k/S.
    S, k = 20, 3
    m = random_mdp(0, S, 50, successors=k)
    counts = np.bincount(m.transition_matrix.indices, minlength=S)
    n_rows = S * 50
    expected = n_rows * k / S
    sd = np.sqrt(n_rows * (k / S) * (1 - k / S))
    assert np.all(np.abs(counts - expected) < 5 * sd)


def test_finite_horizon_and_reward_range():
    m = random_mdp(4, 3, 2, horizon=5, reward_range=(-2.0, -1.0))
    assert m.horizon == 5 and m.gamma == 1.0
    assert m.r.min() >= -2.0 and m.r.max() < -1.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"S": 0, "A": 2}, "S"), ({"S": 3, "A": 0}, "A"), ({"S": 3, "A": 2, "K": -1}, "K"),
     ({"S": 3, "A": 2, "successors": 4}, "successors"), ({"S": 2.5, "A": 2}, "S"),
     ({"S": 3, "A": 2, "concentration": 0.0}, "concentration")],
)
def test_bad_arguments_raise_model_error(kwargs, field):
    with pytest.raises(ModelError) as info:
        random_mdp(0, **kwargs)
    assert info.value.field == field


def test_rng_must_be_a_generator_or_seed():
    with pytest.raises(ModelError, match="rng"):
        random_mdp(np.random.RandomState(0), 3, 2)
