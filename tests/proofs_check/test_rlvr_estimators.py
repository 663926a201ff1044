"""RLVR proof checks pass with zero residual; the same machinery rejects wrong variants."""

from __future__ import annotations

import sympy as sp

import proofs_check.rlvr_estimators as rl
from proofs_check import identity_check, run

NAMES = ("bnpo_variance_integrand", "bnpo_stationarity", "beta_three_halves_density",
         "g2d_pair_yield", "riskpo_rvar_advantage_forms", "riskpo_rvar_cvar_exponential")


def test_every_rlvr_check_passes_with_an_exact_zero_residual():
    for name in NAMES:
        result = run(name)
        assert result.passed is True, (name, result.residual_str)
        assert set(result.residual_str) <= set("0[], ")


def test_stationarity_fails_at_a_wrong_point():
    a, b, a0, b0 = rl.a, rl.b, rl.a0, rl.b0
    logv = rl.log_variance_bnpo(a, b)
    wrong = {a: 1 + a0 / 2, b: 1 + b0 / 2}
    check = identity_check("wrong", "", [sp.diff(logv, a).subs(wrong)], [0], simplify=sp.expand)
    assert not check.passed
    # numerically non-zero too: at alpha0 = 3 the gradient is 2 psi(5/2) - 2 psi(3/2) ... != 0
    assert abs(float(check.residual[0].subs({a0: 3, b0: 3}).evalf())) > 0.1


def test_a_wrong_beta_normaliser_is_rejected():
    t = sp.Symbol("t", positive=True)
    p = t / (1 + t)
    wrong = identity_check("wrong", "", p ** sp.Rational(1, 2) * (1 - p) ** sp.Rational(1, 2)
                           * 4 / sp.pi, 8 / sp.pi * sp.sqrt(p * (1 - p)), simplify=sp.simplify)
    assert not wrong.passed


def test_a_wrong_pair_count_is_rejected():
    p = sp.Symbol("p", positive=True)
    G = 5
    pmf = [sp.binomial(G, j) * p**j * (1 - p) ** (G - j) for j in range(G + 1)]
    lhs = sum(w * j * (G - j) for j, w in enumerate(pmf))
    assert not identity_check("wrong", "", lhs, G * G * p * (1 - p)).passed
