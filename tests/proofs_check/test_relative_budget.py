"""The relative-budget sympy checks pass, and a wrong closed form is rejected."""

from __future__ import annotations

import sympy as sp

import proofs_check.relative_budget as prb
from proofs_check import identity_check


def test_all_three_checks_pass_with_zero_residual():
    for fn in (prb.relative_budget_exponential_reward_moments,
               prb.relative_budget_geometric_reward_sum,
               prb.relative_budget_geometric_second_moment):
        res = fn()
        assert res.passed is True and set(res.residual_str) <= set("0[], ")


def test_a_wrong_exponential_mean_is_rejected():
    p, H, t = sp.symbols("p H t", positive=True)
    m1 = sp.integrate((H - t) * p * sp.exp(-p * t), (t, 0, H)) / H
    wrong = 1 - (1 - sp.exp(-p * H)) / (2 * p * H)  # factor 2 too small
    res = identity_check("wrong", "", m1, wrong, simplify=lambda e: sp.simplify(sp.expand(e)))
    assert res.passed is False


def test_a_wrong_geometric_second_moment_is_rejected():
    p = sp.Symbol("p", positive=True)
    a, H = 1 - p, 4
    by_def = sum((H - j + 1) ** 2 * p * a ** (j - 1) for j in range(1, H + 1))
    w = 1 - a**H
    wrong = H**2 - (2 * H + 1) * a * w / p + 2 * a * w / p**2  # the H p a^H term dropped
    assert identity_check("wrong", "", by_def, wrong).passed is False
