"""S-CPOS sample test: exact binomial pass probability, threshold, sampling, Hoeffding's bound."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom

from solvers import ModelError, TabularMDP
from solvers.sample_test import (
    binomial_cdf_exact,
    hoeffding_pass_bound,
    pass_count_threshold,
    pass_probability,
    passes_sample_test,
    sample_successors_unsafe,
    sample_test_statistic,
)


@given(st.integers(1, 40), st.integers(-2, 42),
       st.fractions(0, 1, max_denominator=50))
def test_binomial_cdf_matches_the_textbook_sum(N, k, q):
    ref = sum((Fraction(comb(N, j)) * q**j * (1 - q) ** (N - j)
               for j in range(0, min(k, N) + 1)), Fraction(0))
    assert binomial_cdf_exact(k, N, q) == ref


@given(st.integers(1, 300), st.floats(0.0, 1.0), st.floats(0.0, 2.0), st.floats(0.01, 0.99))
def test_exact_pass_probability_agrees_with_scipy(N, q, dt, gu):
    exact = float(pass_probability(N, q, dt, gu))
    approx = pass_probability(N, q, dt, gu, exact=False)
    # scipy's binom.cdf (boost incomplete beta) is accurate to a few hundred ulps relative.
    assert approx == pytest.approx(exact, rel=1e-10, abs=1e-300)


def test_threshold_is_decided_exactly_and_agrees_with_the_float_statistic():
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(2000):
        N = int(rng.integers(1, 60))
        dt, gu = float(rng.uniform(0, 1.5)), float(rng.uniform(0.05, 0.95))
        count = int(rng.integers(0, N + 1))
        ind = np.zeros(N, bool)
        ind[:count] = True
        stat = sample_test_statistic(ind, gu)
        assert stat == pytest.approx(count / ((1 - gu) * N), rel=1e-15)
        if abs(stat - dt) > 1e-9:  # away from ties the float statistic decides the same way
            assert passes_sample_test(ind, dt, gu) == (stat <= dt)
            checked += 1
    assert checked > 1900
    # a tie: 10 * 0.25 * 0.5 = 1.25 -> k* = 1 (0.25, 0.5 are exact binary fractions)
    assert pass_count_threshold(10, 0.25, 0.5) == 1
    assert pass_count_threshold(8, 0.25, 0.5) == 1  # exactly 1: a count of 1 passes


@given(st.integers(1, 400), st.floats(0.0, 0.99), st.floats(0.0, 1.0), st.floats(0.0, 1.0),
       st.floats(0.001, 0.999))
def test_infeasible_policy_passes_with_probability_at_most_hoeffding(N, ds, frac_dt, frac_q, gu):
    dt = frac_dt * ds
    if not dt < ds:
        return
    lo = ds * (1 - gu)  # infeasible: q / (1 - gu) >= delta_s
    q = lo + frac_q * (1 - lo)
    p = float(pass_probability(N, max(q, lo), dt, gu))
    assert p <= hoeffding_pass_bound(N, ds, dt, gu) * (1 + 1e-12)


def test_a_wrong_hoeffding_constant_is_caught():
    # N = 1, q exactly at the threshold 0.5: pass probability 1 - q = 0.5;
    # exp(-2 * 0.25) = 0.61 holds, exp(-8 * 0.25) = 0.135 does not.
    N, ds, dt, gu = 1, 1.0, 0.0, 0.5
    p = float(pass_probability(N, 0.5, dt, gu))
    assert p == 0.5
    assert p <= hoeffding_pass_bound(N, ds, dt, gu)
    assert p > hoeffding_pass_bound(N, ds, dt, gu, constant=8.0)


def _model():
    P = np.zeros((3, 2, 3))
    P[0, 0] = [0.5, 0.2, 0.3]
    P[0, 1] = [0.1, 0.1, 0.8]
    P[1, :, 1] = 1.0
    P[2, :, 2] = 1.0
    return TabularMDP(P, np.zeros((3, 2)), np.array([1.0, 0, 0]), gamma=0.9)


def test_sampled_successors_have_the_model_frequency_and_are_reproducible():
    mdp = _model()
    pi = np.array([[0.25, 0.75], [1, 0], [1, 0]])
    unsafe = np.array([False, False, True])
    q = 0.25 * 0.3 + 0.75 * 0.8
    n = 20000
    ind = sample_successors_unsafe(mdp, pi, 0, unsafe, n, 3)
    assert ind.shape == (n,) and ind.dtype == bool
    # seeded, so deterministic; a 5-sigma band fails only for a wrong sampler
    assert abs(ind.mean() - q) < 5 * np.sqrt(q * (1 - q) / n)
    assert np.array_equal(ind, sample_successors_unsafe(mdp, pi, 0, unsafe, n, 3))
    # the binomial law of the count: a wrong q (the action-0 one) is rejected
    assert binom.cdf(ind.sum(), n, 0.3) > 1 - 1e-12


@pytest.mark.parametrize("call, field", [
    (lambda: pass_probability(0, 0.5, 0.1, 0.5), "N"),
    (lambda: pass_probability(3, 1.5, 0.1, 0.5), "q"),
    (lambda: pass_probability(3, 0.5, -0.1, 0.5), "delta_tilde"),
    (lambda: pass_probability(3, 0.5, 0.1, 1.0), "gamma_u"),
    (lambda: hoeffding_pass_bound(3, 0.1, 0.1, 0.5), "delta_tilde"),
    (lambda: hoeffding_pass_bound(3, float("nan"), 0.0, 0.5), "delta_s"),
    (lambda: binomial_cdf_exact(1.5, 3, 0.5), "k"),
    (lambda: sample_successors_unsafe(_model(), np.full((3, 2), 0.5), 3, [0, 0, 1], 5, 0), "s"),
    (lambda: sample_successors_unsafe(_model(), np.full((3, 2), 0.5), 0, [0, 1], 5, 0),
     "unsafe"),
])
def test_bad_input_names_the_field(call, field):
    with pytest.raises(ModelError) as exc:
        call()
    assert exc.value.field == field
