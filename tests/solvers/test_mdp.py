"""TabularMDP validation: every malformed model raises ModelError naming what is wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError, TabularMDP


def valid(S: int = 3, A: int = 2, K: int = 1) -> dict:
    P = np.full((S, A, S), 1.0 / S)
    return {"P": P, "r": np.arange(S * A, dtype=float).reshape(S, A), "mu0": np.full(S, 1 / S),
            "costs": np.ones((K, S, A)) if K else None}


def build(gamma=0.9, horizon=None, **changes):
    kw = valid()
    kw.update(changes)
    return TabularMDP(kw["P"], kw["r"], kw["mu0"], gamma=gamma, horizon=horizon,
                      costs=kw["costs"])


def raises(match: str, **kwargs):
    return pytest.raises(ModelError, match=match)


def test_valid_model_has_the_documented_shapes():
    m = build()
    assert (m.S, m.A, m.K, m.gamma, m.horizon, m.finite_horizon) == (3, 2, 1, 0.9, None, False)
    assert m.transition_matrix.shape == (6, 3)
    fh = build(gamma=None, horizon=4)
    assert fh.gamma == 1.0 and fh.H == 4 and fh.finite_horizon


def test_model_is_frozen_and_arrays_are_read_only():
    m = build()
    with pytest.raises(AttributeError):
        m.gamma = 0.5
    with pytest.raises(ValueError):
        m.r[0, 0] = 5.0
    with pytest.raises(ValueError):
        m.P[0, 0, 0] = 5.0


def test_model_copies_its_inputs():
    kw = valid()
    m = TabularMDP(kw["P"], kw["r"], kw["mu0"], gamma=0.5)
    kw["r"][0, 0] = 99.0
    assert m.r[0, 0] == 0.0


def test_row_not_summing_to_one_names_the_worst_row():
    P = valid()["P"].copy()
    P[2, 1] = [0.3, 0.3, 0.37]   # sums to 0.97
    P[1, 0] = [0.3, 0.3, 0.39]   # sums to 0.99: less wrong
    with pytest.raises(ModelError, match=r"P\[2, 1, :\] sums to 0.97, expected 1 within 1e-09"):
        build(P=P)


@pytest.mark.parametrize("field", ["P", "r", "mu0", "costs"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_entries_are_named_with_their_index(field, bad):
    kw = valid()
    arr = np.array(kw[field], dtype=float)
    idx = (0,) * arr.ndim
    arr[idx] = bad
    with pytest.raises(ModelError, match=rf"{field}\[0(, 0)*\] is .*expected a finite number"):
        build(**{field: arr})


def test_negative_probability_is_rejected():
    P = valid()["P"].copy()
    P[1, 1] = [1.2, -0.2, 0.0]
    with pytest.raises(ModelError, match=r"P\[1, 1, 1\] = -0.2, expected a probability >= 0"):
        build(P=P)
    with pytest.raises(ModelError, match=r"mu0\[0\] = -0.5"):
        build(mu0=np.array([-0.5, 1.0, 0.5]))


def test_mu0_must_sum_to_one():
    with pytest.raises(ModelError, match=r"mu0\[:\] sums to 0.9, expected 1"):
        build(mu0=np.array([0.3, 0.3, 0.3]))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("P", np.full((3, 2, 4), 0.25), r"P has shape \(3, 2, 4\), expected \(S, A, S\)"),
        ("P", np.full((3, 6), 1 / 3), r"P has 2 dimension"),
        ("r", np.zeros((3, 3)), r"P has shape \(3, 2, 3\), expected \(S, A, S\) = \(3, 3, 3\)"),
        ("mu0", np.full(4, 0.25), r"mu0 has shape \(4,\), expected \(S,\) = \(3,\)"),
        ("costs", np.zeros((1, 3, 3)), r"costs has shape \(1, 3, 3\), expected \(K, S, A\)"),
        ("costs", np.zeros((3, 2)), r"costs has 2 dimension"),
        ("r", np.zeros(3), r"r has 1 dimension"),
    ],
)
def test_shape_mismatch_names_field_and_expected_shape(field, value, message):
    with pytest.raises(ModelError, match=message):
        build(**{field: value})


@pytest.mark.parametrize("field", ["P", "r", "mu0", "costs"])
def test_empty_arrays_are_rejected(field):
    empty = {"P": np.zeros((0, 2, 0)), "r": np.zeros((0, 2)), "mu0": np.zeros(0),
             "costs": np.zeros((0, 3, 2))}[field]
    with pytest.raises(ModelError, match=rf"\b{field}\b.*empty|{field} has shape"):
        build(**{field: empty})


@pytest.mark.parametrize("gamma", [1.0, 1.5, -0.1, math.nan, math.inf, True, "0.9", None])
def test_gamma_outside_unit_interval_is_rejected(gamma):
    with pytest.raises(ModelError, match="gamma"):
        build(gamma=gamma)


@pytest.mark.parametrize("horizon", [0, -3, 2.5, True, "3"])
def test_bad_horizon_is_rejected(horizon):
    with pytest.raises(ModelError, match="horizon"):
        build(gamma=None, horizon=horizon)


def test_finite_horizon_model_refuses_a_discount():
    with pytest.raises(ModelError, match="finite-horizon model is undiscounted"):
        build(gamma=0.9, horizon=3)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.ones((3, 2), dtype=bool), "dtype bool"),
        (np.ones((3, 2), dtype=complex), "dtype complex"),
        ([[1, 2], [3]], "cannot be read as an array"),
        ([["a", "b"], ["c", "d"], ["e", "f"]], "dtype <U1"),
        ({"x": 1}, "dtype object"),
    ],
)
def test_non_real_data_is_rejected_not_coerced(value, message):
    with pytest.raises(ModelError, match=message):
        build(r=value)


def test_sparse_kernel_is_validated_like_a_dense_one():
    S, A = 3, 2
    good = sp.csr_array(np.full((S * A, S), 1 / S))
    m = build(P=good)
    assert m.is_sparse and m.transition_matrix.shape == (6, 3)
    with pytest.raises(ModelError, match=r"P \(sparse\) has shape \(6, 4\)"):
        build(P=sp.csr_array(np.full((S * A, S + 1), 0.25)))
    bad = np.full((S * A, S), 1 / S)
    bad[3] = [0.5, 0.5, 0.5]
    with pytest.raises(ModelError, match=r"P\[1, 1, :\] sums to 1.5"):
        build(P=sp.csr_array(bad))
    bad = np.full((S * A, S), 1 / S)
    bad[5] = [1.5, -0.5, 0.0]
    with pytest.raises(ModelError, match=r"P\[2, 1, 1\] = -0.5"):
        build(P=sp.csr_array(bad))
    bad = np.full((S * A, S), 1 / S)
    bad[4, 2] = np.nan
    with pytest.raises(ModelError, match=r"P\[2, 0, 2\] is nan"):
        build(P=sp.csr_array(bad))


def test_sparse_and_dense_kernels_give_the_same_operator():
    dense = build()
    sparse = build(P=sp.csr_array(valid()["P"].reshape(6, 3)))
    np.testing.assert_array_equal(dense.transition_matrix.toarray(),
                                  sparse.transition_matrix.toarray())
    np.testing.assert_array_equal(dense.dense_P(), sparse.dense_P())


@given(st.integers(0, 2), st.integers(0, 1), st.integers(0, 2),
       st.sampled_from([math.nan, -1.0, 2.0]))
def test_any_corrupted_kernel_entry_raises_model_error_naming_p(s, a, s2, bad):
    P = valid()["P"].copy()
    P[s, a, s2] = bad
    with pytest.raises(ModelError) as info:
        build(P=P)
    assert info.value.field == "P"
    assert f"P[{s}, {a}" in str(info.value)


def test_repr_is_short():
    assert repr(build()) == "TabularMDP(S=3, A=2, K=1, gamma=0.9, P=dense)"
