"""G2D pair-yield formulas against enumeration and Monte Carlo; the DPO weight."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError
from solvers.g2d import (
    cross_pair_count_pmf,
    cross_pair_probability,
    dpo_pair_weight,
    expected_cross_pairs,
)

unit = st.floats(0.0, 1.0, allow_nan=False)


@given(unit, st.integers(1, 8))
def test_count_pmf_matches_enumeration_of_all_outcomes(p, G):
    pmf: dict[int, float] = {}
    for outcome in itertools.product((0, 1), repeat=G):
        j = sum(outcome)
        pmf[j * (G - j)] = pmf.get(j * (G - j), 0.0) + p**j * (1 - p) ** (G - j)
    got = cross_pair_count_pmf(p, G)
    assert set(got) == set(pmf)
    for k in pmf:
        assert got[k] == pytest.approx(pmf[k], abs=1e-14)
    assert sum(k * w for k, w in got.items()) == pytest.approx(expected_cross_pairs(p, G),
                                                               abs=1e-12)
    assert 1 - got.get(0, 0.0) == pytest.approx(cross_pair_probability(p, G), abs=1e-13)


@given(st.integers(2, 30))
def test_both_yields_peak_at_one_half_and_vanish_at_the_ends(G):
    p = np.linspace(0, 1, 101)
    assert np.argmax(cross_pair_probability(p, G)) == 50
    assert np.argmax(expected_cross_pairs(p, G)) == 50
    assert expected_cross_pairs(0.5, G) == pytest.approx(G * (G - 1) / 4)
    for end in (0.0, 1.0):
        assert cross_pair_probability(end, G) == 0 and expected_cross_pairs(end, G) == 0


def test_seeded_monte_carlo_agrees_and_a_wrong_formula_is_rejected():
    rng = np.random.default_rng(11)
    G, p, n = 8, 0.3, 200_000
    j = rng.binomial(G, p, size=n)
    pairs = j * (G - j)
    se = pairs.std() / math.sqrt(n)
    assert abs(pairs.mean() - expected_cross_pairs(p, G)) < 5 * se
    assert abs(pairs.mean() - G * G * p * (1 - p)) > 5 * se  # G^2 instead of G(G-1)
    q = np.mean(pairs > 0)
    assert abs(q - cross_pair_probability(p, G)) < 5 * math.sqrt(q * (1 - q) / n)


def test_dpo_weight_is_sigmoid_of_minus_tau_margin():
    assert dpo_pair_weight(0.0, 0.1) == 0.5
    assert dpo_pair_weight(50.0, 1.0) < 1e-20
    w = dpo_pair_weight(np.array([-1.0, 1.0]), 2.0)
    assert w[0] + w[1] == pytest.approx(1.0)
    assert w[1] == pytest.approx(1 / (1 + math.exp(2.0)))


@pytest.mark.parametrize(("call", "field"), [
    (lambda: cross_pair_probability(0.5, 0), "G"),
    (lambda: cross_pair_probability(0.5, 2.0), "G"),
    (lambda: expected_cross_pairs(1.2, 3), "p"),
    (lambda: dpo_pair_weight(1.0, 0.0), "tau"),
    (lambda: dpo_pair_weight(np.inf, 1.0), "margin"),
])
def test_bad_input_names_the_field(call, field):
    with pytest.raises(ModelError) as info:
        call()
    assert info.value.field == field
