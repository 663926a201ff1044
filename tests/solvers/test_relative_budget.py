"""Thm 6.2 sample size, Thm 6.3 exponents, Thm 6.4 dynamics, the regime classifier."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from solvers.errors import ModelError
from solvers.relative_budget import (
    classify_regime,
    iterate_budget,
    regime_exponent,
    regime_law,
    sample_size,
)
from solvers.time_to_solution import EmpiricalTime, GammaTime


def test_sample_size_matches_the_formula_from_its_ingredients():
    g, H, kappa = GammaTime(2.0, 1.0), 3.0, 0.25
    s = sample_size(g, H, kappa, C=2.0, log_term=3.0)
    ref = 2 * 2.0 * H * 3.0 / (math.sqrt(kappa) * g.anti_conc(H, kappa) * g.reward_std(H))
    assert s.status == "finite" and s.n == pytest.approx(ref, rel=1e-15)
    assert s.improvement == pytest.approx(0.5 * math.sqrt(kappa) * g.reward_std(H))


def test_zero_anti_concentration_gives_infinite_sample_size():
    # R = 2 w.p. 0.6, 1 w.p. 0.4: E R + sigma = 1.6 + 0.49 > 2, so no rollout is informative
    s = sample_size(EmpiricalTime([0.6, 0.4]), 2, 1.0)
    assert s.status == "infinite" and s.n == math.inf and s.efficiency == 0.0


def test_regime_exponents_and_laws():
    assert regime_exponent("deficient", 4) == -6 and regime_exponent("ample", 4) == 1
    assert regime_law("ample", 4.0, 0.25, 2.0) == pytest.approx(8.0)
    with pytest.raises(ModelError):
        regime_exponent("tiny", 1)


def test_classifier_uses_q_thresholds():
    g = lambda xi: GammaTime.from_mean(1.0, 1.0 / xi)  # noqa: E731
    # Gamma(1): q = 1 - e^{-xi}; q = 0.1 at xi = 0.1054, q = 0.9 at xi = 2.3026
    assert classify_regime(g(0.1), 1.0) == "deficient"
    assert classify_regime(g(0.11), 1.0) == "balanced"
    assert classify_regime(g(2.3), 1.0) == "balanced"
    assert classify_regime(g(2.31), 1.0) == "ample"


@pytest.mark.parametrize("mode", ["idealised", "exact"])
def test_linear_growth_and_quadratic_sample_size(mode):
    k = 2.0
    tr = iterate_budget(k, 1 / math.sqrt(k), 400, mode=mode)
    assert tr.status == "complete"
    i = np.arange(tr.xi.size)
    assert np.all(tr.xi - tr.xi[0] >= i / (2 * k) - 1e-9)
    # n_i/(k xi^2) -> 2 / Pr[Z <= 1] with first-order error f_Z(1)/(k xi F_Z(1)) (doubled)
    z = stats.gamma(k, scale=1 / k)
    limit = 2 / z.cdf(1.0)
    first = z.pdf(1.0) / (k * tr.xi[-1] * z.cdf(1.0))
    assert abs(tr.n[-1] / (k * tr.xi[-1] ** 2) / limit - 1) <= 2 * first


def test_idealised_step_formula():
    tr = iterate_budget(1.0, 2.0, 1)
    assert tr.xi[1] - tr.xi[0] == pytest.approx(0.5 / (1 - 1 / (2 * 2.0)), rel=1e-14)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"shape": 4.0, "xi0": 0.4, "n_iter": 3}, "xi0"),
    ({"shape": 1.0, "xi0": 2.0, "n_iter": 0}, "n_iter"),
    ({"shape": -1.0, "xi0": 2.0, "n_iter": 3}, "shape"),
    ({"shape": 1.0, "xi0": 2.0, "n_iter": 3, "H": 0.5}, "H"),
])
def test_bad_dynamics_input(kwargs, field):
    with pytest.raises(ModelError) as err:
        iterate_budget(**kwargs)
    assert err.value.field == field


def test_bad_kappa_in_sample_size():
    with pytest.raises(ModelError) as err:
        sample_size(GammaTime(1, 1), 2.0, 0.0)
    assert err.value.field == "kappa"
