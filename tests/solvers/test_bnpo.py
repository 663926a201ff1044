"""BNPO: advantage, parameters and the variance closed form against Monte Carlo and integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from solvers import ModelError
from solvers.bnpo import (
    advantage_variance,
    advantage_variance_hessian,
    beta_density,
    bnpo_advantage,
    bnpo_parameters,
    fit_beta_moments,
    grpo_advantage,
    optimal_beta_parameters,
    reinforce_advantage,
    variance_domain,
)

prior = st.floats(0.2, 15.0, allow_nan=False)


def test_beta_density_matches_scipy_and_integrates_to_one():
    p = np.linspace(0.01, 0.99, 7)
    assert np.allclose(beta_density(p, 2.5, 0.7), stats.beta(2.5, 0.7).pdf(p), rtol=1e-12)
    mass, _ = integrate.quad(lambda x: float(beta_density(x, 1.7, 3.2)), 0, 1)
    assert mass == pytest.approx(1.0, abs=1e-10)


def test_variance_closed_form_matches_seeded_monte_carlo():
    # p ~ Beta(a0, b0), R ~ Bern(p); alpha, beta chosen with a finite 4th moment of A
    # (alpha < (a0 + 5)/4), so the CLT applies to the sample mean of A^2.
    rng = np.random.default_rng(7)
    a0, b0, a, b = 2.0, 3.0, 1.4, 1.6
    n = 400_000
    p = rng.beta(a0, b0, size=n)
    r = (rng.random(n) < p).astype(float)
    A2 = bnpo_advantage(r, p, a, b) ** 2
    se = float(A2.std()) / math.sqrt(n)
    assert abs(A2.mean() - advantage_variance(a, b, a0, b0)) < 5 * se
    # and the advantage is centred: E[A] = 0
    A = bnpo_advantage(r, p, a, b)
    assert abs(A.mean()) < 5 * float(A.std()) / math.sqrt(n)


def test_a_wrong_exponent_in_the_closed_form_is_caught_by_monte_carlo():
    rng = np.random.default_rng(7)
    a0, b0, a, b = 2.0, 3.0, 1.4, 1.6
    n = 400_000
    p = rng.beta(a0, b0, size=n)
    r = (rng.random(n) < p).astype(float)
    A2 = bnpo_advantage(r, p, a, b) ** 2
    se = float(A2.std()) / math.sqrt(n)
    # the tempting slip B(a0 + 2 - 2 alpha, ...) (forgetting the p(1-p) factor)
    wrong = math.exp(2 * math.log(math.gamma(a) * math.gamma(b) / math.gamma(a + b))) * (
        math.gamma(a0 + 2 - 2 * a) * math.gamma(b0 + 2 - 2 * b) / math.gamma(a0 + b0 + 4 - 2 * a
                                                                               - 2 * b)
    ) / (math.gamma(a0) * math.gamma(b0) / math.gamma(a0 + b0))
    assert abs(A2.mean() - wrong) > 5 * se


@given(prior, prior)
def test_variance_is_infinite_exactly_outside_the_domain(a0, b0):
    a_max, b_max = variance_domain(a0, b0)
    assert math.isinf(advantage_variance(a_max, 1.0, a0, b0))
    assert math.isinf(advantage_variance(1.0, b_max + 0.1, a0, b0))
    assert math.isfinite(advantage_variance(a_max * 0.999, 1.0, a0, b0))


@given(prior, prior)
def test_optimum_beats_reinforce_grpo_and_random_points(a0, b0):
    star = advantage_variance(*optimal_beta_parameters(a0, b0), a0, b0)
    for ab in ((1.0, 1.0), (1.5, 1.5), (0.8, 1.3)):
        if ab[0] < (a0 + 3) / 2 and ab[1] < (b0 + 3) / 2:
            assert star <= advantage_variance(*ab, a0, b0) * (1 + 1e-13)


@given(prior, prior)
def test_log_variance_hessian_is_positive_definite_and_matches_finite_differences(a0, b0):
    a, b = optimal_beta_parameters(a0, b0)
    H = advantage_variance_hessian(a, b, a0, b0)
    assert np.all(np.linalg.eigvalsh(H) > 0)
    h = 1e-4

    def f(x, y):
        return math.log(advantage_variance(x, y, a0, b0))

    faa = (f(a + h, b) - 2 * f(a, b) + f(a - h, b)) / h**2
    # central difference: truncation O(h^2 f''''), rounding ~ 4 EPS |f| / h^2 ~ 1e-7
    assert faa == pytest.approx(H[0, 0], rel=1e-4, abs=1e-5)


def test_moment_fit_recovers_beta_parameters_and_bnpo_rule():
    rng = np.random.default_rng(3)
    x = rng.beta(2.0, 5.0, size=200_000)
    a0, b0 = fit_beta_moments(x)
    assert a0 == pytest.approx(2.0, rel=0.03) and b0 == pytest.approx(5.0, rel=0.03)
    assert bnpo_parameters(x) == pytest.approx((1 + a0 / 3, 1 + b0 / 3))


def test_special_cases_on_a_concrete_group():
    r = np.array([1, 0, 0, 1, 1, 0, 0, 0], float)
    p = r.mean()
    assert np.allclose(bnpo_advantage(r, p, 1, 1), reinforce_advantage(r, p))
    assert np.allclose(bnpo_advantage(r, p, 1.5, 1.5) * 8 / math.pi, grpo_advantage(r))
    # a near miss of the GRPO point is not GRPO
    assert not np.allclose(bnpo_advantage(r, p, 1.6, 1.5) * 8 / math.pi, grpo_advantage(r))


@pytest.mark.parametrize(("call", "field"), [
    (lambda: beta_density(0.5, 0.0, 1.0), "alpha"),
    (lambda: beta_density(1.0, 1.0, 1.0), "p"),
    (lambda: bnpo_advantage([0, 2], 0.5, 1, 1), "rewards"),
    (lambda: grpo_advantage([1, 1, 1]), "group_rewards"),
    (lambda: fit_beta_moments([0.3, 0.3, 0.3]), "p_values"),
    (lambda: fit_beta_moments([0.0, 1.0]), "p_values"),
    (lambda: optimal_beta_parameters(-1.0, 1.0), "alpha0"),
    (lambda: advantage_variance_hessian(5.0, 1.0, 1.0, 1.0), "alpha"),
])
def test_bad_input_names_the_field(call, field):
    with pytest.raises(ModelError) as info:
        call()
    assert info.value.field == field
