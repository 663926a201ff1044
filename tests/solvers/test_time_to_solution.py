"""Time-to-solution laws: closed forms vs independent sums/quadrature, sampling, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from solvers.errors import ModelError
from solvers.time_to_solution import EmpiricalTime, GammaTime, GeometricTime, TimeToSolution


def test_every_law_satisfies_the_protocol():
    for law in (GammaTime(2, 1), GeometricTime(0.3), EmpiricalTime([0.5, 0.5])):
        assert isinstance(law, TimeToSolution)


@given(st.floats(0.001, 1.0), st.integers(1, 300))
def test_geometric_closed_forms_equal_the_truncated_empirical_pmf(p, H):
    geo = GeometricTime(p)
    t = np.arange(1, H + 1)
    head = p * (1 - p) ** (t - 1)
    emp = EmpiricalTime(np.append(head, max(1 - head.sum(), 0.0)))  # tail lumped at H + 1
    for f in ("q", "reward_mean", "reward_second_moment"):
        a, b = getattr(geo, f)(H), getattr(emp, f)(H)
        # closed form vs float summation; relative error of the closed form <= ~EPS/xi^2
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12 * H * H), f
    assert geo.anti_conc(H, 0.3) == pytest.approx(emp.anti_conc(H, 0.3), abs=1e-9)


def test_geometric_second_moment_is_accurate_for_tiny_xi():
    for p in (1e-5, 1e-7):
        geo, H = GeometricTime(p), 10
        t = np.arange(1, H + 1)
        direct = math.fsum((H - t + 1) ** 2 * p * (1 - p) ** (t - 1))
        assert geo.reward_second_moment(H) == pytest.approx(direct, rel=1e-12)


@given(st.floats(0.5, 12.0), st.floats(0.05, 10.0))
def test_gamma_reward_moments_equal_quadrature(shape, xi):
    g, H = GammaTime.from_mean(shape, 10.0 / xi), 10.0
    pdf = stats.gamma(shape, scale=1 / g.rate).pdf
    for j, val in ((1, g.reward_mean(H)), (2, g.reward_second_moment(H))):
        ref = integrate.quad(lambda t, j=j: (H - t) ** j * pdf(t), 0, H, epsrel=1e-11, limit=200)[0]
        assert val == pytest.approx(ref, rel=1e-8, abs=1e-12 * H**j)


def test_gamma_mean_xi_and_anti_concentration_by_definition():
    g = GammaTime(3.0, 0.5)
    assert g.mean == 6.0 and g.xi(12.0) == 2.0
    m = g.reward_mean(12.0) + g.reward_std(12.0) * math.sqrt(0.25)
    assert g.anti_conc(12.0, 0.25) == pytest.approx(stats.gamma.cdf(12.0 - m, 3, scale=2))


def test_monte_carlo_agrees_and_a_wrong_mean_is_caught():
    rng = np.random.default_rng(7)
    g, H, n = GammaTime(2.0, 1.0), 3.0, 200_000
    R = g.reward(g.sample(n, rng), H)
    se = math.sqrt(g.reward_var(H) / n)
    assert abs(R.mean() - g.reward_mean(H)) < 5 * se  # CLT, 5 standard errors
    assert abs(R.mean() - 1.01 * g.reward_mean(H)) > 5 * se  # a 1% error is detectable


def test_same_seed_same_samples():
    law = EmpiricalTime([0.2, 0.3, 0.5])
    a = law.sample(100, np.random.default_rng(3))
    b = law.sample(100, np.random.default_rng(3))
    assert np.array_equal(a, b) and set(a) <= {1, 2, 3}


def test_degenerate_law_has_zero_variance_and_full_anti_concentration():
    law = GeometricTime(1.0)
    assert law.reward_mean(5) == 5 and law.reward_var(5) == 0 and law.anti_conc(5, 1.0) == 1.0


@pytest.mark.parametrize(("make", "field"), [
    (lambda: GammaTime(0, 1), "shape"), (lambda: GammaTime(1, -2), "rate"),
    (lambda: GammaTime(float("nan"), 1), "shape"), (lambda: GeometricTime(0.0), "p"),
    (lambda: GeometricTime(1.5), "p"), (lambda: EmpiricalTime([0.5, 0.4]), "pmf"),
    (lambda: EmpiricalTime([1.2, -0.2]), "pmf"), (lambda: EmpiricalTime([np.nan, 1.0]), "pmf"),
    (lambda: EmpiricalTime([]), "pmf"), (lambda: GammaTime(1, 1).q(0.5), "H"),
    (lambda: GeometricTime(0.5).q(2.5), "H"), (lambda: GammaTime(1, 1).anti_conc(2, 0.0), "kappa"),
    (lambda: GammaTime(1, 1).anti_conc(2, 1.5), "kappa"),
])
def test_bad_input_raises_model_error_naming_the_field(make, field):
    with pytest.raises(ModelError) as err:
        make()
    assert err.value.field == field
