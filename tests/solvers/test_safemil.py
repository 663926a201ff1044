"""SafeMIL bag probabilities: enumeration, closed form, exact score order, Monte Carlo."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError
from solvers.safemil import (
    CostDistribution,
    bag_hit_probability,
    bag_hit_probability_enumeration,
    bag_hit_probability_mc,
    score_order_mc,
    score_order_probability,
)

alphas = st.fractions(min_value=0, max_value=1, max_denominator=30)


@given(alphas, st.integers(1, 10))
def test_lemma1_enumeration_equals_closed_form_exactly(alpha, n):
    assert bag_hit_probability_enumeration(alpha, n) == bag_hit_probability(alpha, n)


@given(st.fractions(min_value=Fraction(1, 30), max_value=Fraction(29, 30)), st.integers(1, 10))
def test_enumeration_rejects_a_wrong_exponent(alpha, n):
    assert bag_hit_probability_enumeration(alpha, n) != 1 - (1 - alpha) ** (n + 1)


@pytest.mark.parametrize(("alpha", "n"), [(0.05, 1), (0.2, 4), (0.5, 3), (0.01, 64)])
def test_lemma1_monte_carlo_within_clt_band(alpha, n):
    est = bag_hit_probability_mc(alpha, n, 50_000, 7)
    p = float(bag_hit_probability(alpha, n))
    # 5 standard errors: fails with probability ~6e-7 per case if the sampler is right
    assert abs(est.estimate - p) <= 5 * math.sqrt(p * (1 - p) / 50_000) + 1 / 50_000


@given(alphas, st.integers(1, 8), st.integers(-3, 10),
       st.lists(st.integers(-10, 100), min_size=1, max_size=3))
def test_homogeneous_score_order_equals_lemma1_exactly(alpha, n, c_n, pref):
    pref = [min(c, c_n - 1) for c in pref]
    so = score_order_probability(CostDistribution.of([c_n]), CostDistribution.of(pref), alpha, n)
    assert so.greater == 1 - (1 - alpha) ** n
    assert so.greater + so.tie == 1  # the non-preferred bag never scores below


def test_heterogeneous_single_trajectory_bag_by_hand():
    hetero = CostDistribution.of([8, 10, 12])
    pref = CostDistribution.of([2, 5])
    alpha = Fraction(1, 20)
    so = score_order_probability(hetero, pref, alpha, 1)
    # preferred draw: always lower; otherwise two uniform draws from 3 values: P(X > Y) = 1/3
    assert so.greater == alpha + (1 - alpha) * Fraction(1, 3)
    assert so.greater != so.lemma1


@pytest.mark.parametrize("n", [1, 5, 16])
def test_heterogeneous_monte_carlo_matches_exact(n):
    hetero = CostDistribution.of([8.5, 10.0, 12.25], [0.2, 0.5, 0.3])
    pref = CostDistribution.of([2.0, 9.0], [0.5, 0.5])
    p = float(score_order_probability(hetero, pref, 0.3, n).greater)
    est = score_order_mc(hetero, pref, 0.3, n, 40_000, 3)
    assert abs(est.estimate - p) <= 5 * math.sqrt(p * (1 - p) / 40_000) + 1 / 40_000


def test_monte_carlo_counts_exact_ties_as_ties():
    # homogeneous: every bag without a preferred draw ties exactly; MC must not split them
    est = score_order_mc(CostDistribution.of([0.1]), CostDistribution.of([0.0]), 0.0, 30,
                         1000, 0)
    assert est.estimate == 0.0


def test_bad_inputs_are_rejected_with_field():
    with pytest.raises(ModelError) as exc:
        CostDistribution.of([1, 2], [0.5, 0.6], field="costs_pref")
    assert exc.value.field == "costs_pref"
    with pytest.raises(ModelError) as exc:
        CostDistribution.of([1, 2], [Fraction(1, 2), Fraction(1, 3)])
    assert exc.value.field == "costs"
    with pytest.raises(ModelError) as exc:
        bag_hit_probability(1.5, 3)
    assert exc.value.field == "alpha"
    with pytest.raises(ModelError) as exc:
        bag_hit_probability(float("nan"), 3)
    assert exc.value.field == "alpha"
    with pytest.raises(ModelError) as exc:
        bag_hit_probability(0.5, 0)
    assert exc.value.field == "n_bag"
    with pytest.raises(ModelError) as exc:
        CostDistribution.of([float("inf")])
    assert exc.value.field == "costs"
