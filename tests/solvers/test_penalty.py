"""Penalty psi_sigma: single-state closed form, O(sigma) closeness, monotonicity, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from solvers.configurable_mdp import ConfigurableMDP, FixedKernel, LinearReward, SoftmaxKernel
from solvers.errors import ModelError
from solvers.hypergradient import bilevel_point
from solvers.penalty import penalty


def test_single_state_gap_is_sigma_over_two_tau_times_the_variance():
    # S = 1, gamma = 0: psi_sigma - F = sigma Var_p(r_U) / (2 tau) + O(sigma^2)
    rF, rU, tau = np.array([[0.2, -0.5, 1.0]]), np.array([[1.0, 0.0, -2.0]]), 0.7
    zero = np.zeros((1, 3, 1))
    m = ConfigurableMDP(LinearReward(rF, zero), LinearReward(rU, zero),
                        FixedKernel(np.ones((1, 3, 1))), np.ones(1), 0.0, 0.0, tau, 1)
    p = np.exp(rF[0] / tau) / np.exp(rF[0] / tau).sum()
    var = p @ rU[0] ** 2 - (p @ rU[0]) ** 2
    F = bilevel_point(m, np.zeros(1)).F
    for sigma in (1e-2, 1e-3):
        gap = penalty(m, np.zeros(1), sigma).value - F
        assert abs(gap - sigma * var / (2 * tau)) < 5 * sigma ** 2  # O(sigma^2) remainder


def test_value_and_gradient_errors_shrink_linearly_and_psi_is_monotone():
    rng = np.random.default_rng(0)
    S, A, n = 4, 3, 2
    m = ConfigurableMDP(LinearReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n))),
                        LinearReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n))),
                        SoftmaxKernel(rng.normal(size=(S, A, S)), rng.normal(size=(S, A, S, n))),
                        rng.dirichlet(np.ones(S)), 0.8, 0.8, 0.5, n)
    x = rng.normal(size=n)
    p = bilevel_point(m, x, 1e-12)
    res = [penalty(m, x, s) for s in (0.04, 0.004)]
    gaps = [r.value - p.F for r in res]
    errs = [np.linalg.norm(r.grad - p.gradient()) for r in res]
    assert 0 < gaps[1] < gaps[0] and 0.08 < gaps[1] / gaps[0] < 0.12
    assert 0.08 < errs[1] / errs[0] < 0.12


def test_unequal_discounts_or_bad_sigma_are_rejected():
    m = ConfigurableMDP(LinearReward(np.zeros((1, 2)), np.ones((1, 2, 1))),
                        LinearReward(np.zeros((1, 2)), np.ones((1, 2, 1))),
                        FixedKernel(np.ones((1, 2, 1))), np.ones(1), 0.5, 0.4, 1.0, 1)
    with pytest.raises(ModelError) as err:
        penalty(m, np.zeros(1), 0.1)
    assert err.value.field == "gamma_U"
    m2 = ConfigurableMDP(m.r_F, m.r_U, m.kernel, m.mu0, 0.5, 0.5, 1.0, 1)
    for bad in (0.0, -1.0, float("nan"), True):
        with pytest.raises(ModelError):
            penalty(m2, np.zeros(1), bad)
