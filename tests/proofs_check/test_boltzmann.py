"""The Boltzmann sympy checks pass, cite their source, and fail on a wrong identity."""

from __future__ import annotations

import sympy as sp

import proofs_check.boltzmann as pb
from proofs_check import identity_check, is_exact_zero


def test_both_checks_pass_with_exactly_zero_residuals_and_documented_statements():
    for fn in (pb.boltzmann_covariance_identity_three_states, pb.softmax_envelope_identity):
        res = fn()
        assert res.passed and is_exact_zero(res.residual)
        assert "References" in fn.__doc__ and "math::" in fn.__doc__


def test_covariance_identity_without_the_temperature_fails():
    x, tau, E, g = pb._symbols()
    Z = sum(sp.exp(e / tau) for e in E)
    p = [sp.exp(e / tau) / Z for e in E]
    lhs = sp.diff(sum(pi * gi for pi, gi in zip(p, g, strict=True)), x)
    mean = lambda v: sum(pi * vi for pi, vi in zip(p, v, strict=True))  # noqa: E731
    dE = [sp.diff(e, x) for e in E]
    wrong = mean([sp.diff(gi, x) for gi in g]) + (
        mean([gi * di for gi, di in zip(g, dE, strict=True)]) - mean(g) * mean(dE))  # 1/tau dropped
    res = identity_check("wrong", "wrong", pb._rationalise(lhs, x, tau, E + g),
                         pb._rationalise(wrong, x, tau, E + g))
    assert not res.passed
