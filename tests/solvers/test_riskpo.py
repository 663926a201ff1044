"""RiskPO: quantiles, CVaR/RVaR/MVaR of bundle scores, and the advantages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from solvers import ModelError
from solvers.riskpo import (
    ScoreDistribution,
    bundle_score_distribution,
    cvar,
    cvar_advantage,
    cvar_continuous,
    cvar_tail,
    lower_quantile,
    mvar,
    mvar_advantage,
    rvar,
    rvar_advantage,
    rvar_continuous,
    rvar_tail,
)

probs = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=6)
level = st.floats(0.01, 0.99, allow_nan=False)


@given(probs)
def test_bundle_pmf_matches_sampling_free_enumeration(p):
    import itertools
    pmf = np.zeros(len(p) + 1)
    for out in itertools.product((0, 1), repeat=len(p)):
        pmf[sum(out)] += np.prod([pi if r else 1 - pi for r, pi in zip(out, p, strict=True)])
    assert np.allclose(bundle_score_distribution(p).probs, pmf, atol=1e-14)


def test_quantiles_cvar_rvar_on_a_hand_computed_bundle():
    d = ScoreDistribution(np.arange(4.0), np.array([0.125, 0.125, 0.25, 0.5]))
    assert lower_quantile(d, 0.2) == 1.0 and lower_quantile(d, 0.25) == 1.0
    assert lower_quantile(d, 0.26) == 2.0 and lower_quantile(d, 0.9) == 3.0
    assert cvar(d, 0.2) == pytest.approx(0.5)              # E[Y | Y <= 1]
    assert cvar_tail(d, 0.2) == pytest.approx(0.075 / 0.2)  # (0*0.125 + 1*0.075)/0.2
    assert rvar(d, 0.2, 0.9) == pytest.approx((0.125 + 0.5 + 1.5) / 0.875)
    assert rvar_tail(d, 0.2, 0.9) == pytest.approx((0.05 + 2 * 0.25 + 3 * 0.4) / 0.7)
    assert mvar(d, 0.2, 0.9, 1.5) == pytest.approx((1.5 * 0.5 + 2.125 / 0.875) / 2.5)


@given(probs, level)
def test_cvar_at_most_mean_and_rvar_tends_to_mean(p, a):
    d = bundle_score_distribution(p)
    assert cvar(d, a) <= d.mean + 1e-12 and cvar_tail(d, a) <= d.mean + 1e-12
    assert rvar_tail(d, 1e-12, 1.0) == pytest.approx(d.mean, abs=1e-9)


def test_continuous_rvar_and_cvar_against_closed_forms_for_the_uniform():
    u = stats.uniform()
    assert cvar_continuous(u, 0.3) == pytest.approx(0.15, abs=1e-12)
    assert rvar_continuous(u, 0.2, 0.9) == pytest.approx(0.55, abs=1e-12)
    n = stats.norm()
    # E[Y | Y <= q_a] = -phi(q_a)/a for the standard normal
    assert cvar_continuous(n, 0.1) == pytest.approx(-n.pdf(n.ppf(0.1)) / 0.1, abs=1e-10)


def test_conditional_and_tail_rvar_identity_differs_on_discrete_scores():
    # For a discrete bundle score the conditional RVaR is not (b CVaR_b - a CVaR_a)/(b - a):
    # the identity needs P[Y <= q_u] = u (continuous scores).
    d = ScoreDistribution(np.arange(4.0), np.array([0.125, 0.125, 0.25, 0.5]))
    a, b = 0.2, 0.9
    cond = (b * cvar(d, b) - a * cvar(d, a)) / (b - a)
    assert abs(rvar(d, a, b) - cond) > 0.1
    tail = (b * cvar_tail(d, b) - a * cvar_tail(d, a)) / (b - a)
    assert rvar_tail(d, a, b) == pytest.approx(tail, abs=1e-12)


@given(st.floats(-2, 8, allow_nan=False), st.floats(0, 3), st.floats(0, 3), level)
def test_rvar_advantage_equals_clip_form_and_vanishes_above_q_beta(y, qa, width, a):
    b = min(a + 0.3, 0.999)
    qb = qa + width
    adv = float(rvar_advantage(y, qa, qb, a, b))
    plus_form = (max(y - qa, 0) - max(y - qb, 0) + qa - qb) / (b - a)  # the notes' first form
    assert adv == pytest.approx(plus_form, abs=1e-12)
    if y >= qb:
        assert adv == 0.0
    assert float(cvar_advantage(y, qa, a)) == pytest.approx(-max(qa - y, 0) / a)


@given(probs, level)
def test_expected_advantages_plus_baselines_are_the_tail_risk_measures(p, a):
    # Rockafellar-Uryasev: E[A_CVaR] + q_a = CVaR-tail, and
    # E[A_RVaR] + (b q_b - a q_a)/(b - a) = RVaR-tail, with q the true quantiles.
    d = bundle_score_distribution(p)
    b = min(a + 0.4, 0.995)
    qa, qb = lower_quantile(d, a), lower_quantile(d, b)
    e_c = float(d.probs @ cvar_advantage(d.values, qa, a))
    e_r = float(d.probs @ rvar_advantage(d.values, qa, qb, a, b))
    assert e_c + qa == pytest.approx(cvar_tail(d, a), abs=1e-9)
    assert e_r + (b * qb - a * qa) / (b - a) == pytest.approx(rvar_tail(d, a, b), abs=1e-9)
    mixed = float(d.probs @ mvar_advantage(d.values, qa, qb, a, b, 1.5))
    assert mixed == pytest.approx((1.5 * e_c + e_r) / 2.5, abs=1e-12)


@pytest.mark.parametrize(("call", "field"), [
    (lambda: ScoreDistribution(np.arange(2.0), np.array([0.5, 0.6])), "probs"),
    (lambda: ScoreDistribution(np.array([1.0, 0.0]), np.array([0.5, 0.5])), "values"),
    (lambda: bundle_score_distribution([0.5, 1.5]), "p_success"),
    (lambda: cvar(bundle_score_distribution([0.5]), 0.0), "alpha"),
    (lambda: rvar(bundle_score_distribution([0.5]), 0.6, 0.5), "beta"),
    (lambda: mvar(bundle_score_distribution([0.5]), 0.2, 0.9, -1.0), "w_mix"),
    (lambda: rvar_advantage(1.0, 2.0, 1.0, 0.2, 0.9), "q_beta"),
    (lambda: cvar_continuous([1, 2], 0.2), "dist"),
])
def test_bad_input_names_the_field(call, field):
    with pytest.raises(ModelError) as info:
        call()
    assert info.value.field == field
