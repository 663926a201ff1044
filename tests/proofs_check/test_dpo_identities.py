"""DPO implicit-reward identities: they pass, and the stochastic/wrong versions fail."""

from __future__ import annotations

import sympy as sp

from proofs_check.core import identity_check
from proofs_check.dpo_identities import (
    dpo_bandit_implicit_reward,
    dpo_trajectory_implicit_reward,
    trajectory_identity,
)


def test_registered_identities_pass_with_zero_residual():
    for fn in (dpo_bandit_implicit_reward, dpo_trajectory_implicit_reward):
        res = fn()
        assert res.passed and all(e == 0 for e in res.residual)


def test_trajectory_identity_fails_under_stochastic_transitions():
    half = sp.Rational(1, 2)
    kernel = {(s, a): {0: half, 1: half} for s in (0, 1) for a in (0, 1)}
    lhs, rhs = trajectory_identity(kernel)
    res = identity_check("stochastic", "naive identity", lhs, rhs)
    assert not res.passed


def test_bandit_identity_without_reference_weights_fails():
    p1, p2 = sp.symbols("p_1 p_2", positive=True)
    x1, x2 = sp.symbols("x_1 x_2", positive=True)
    z = p1 * x1 + p2 * x2
    # wrong: dividing pi* by a uniform reference instead of pi_ref
    res = identity_check("wrong", "wrong", (p1 * x1 / z) / (p2 * x2 / z), x1 / x2)
    assert not res.passed
