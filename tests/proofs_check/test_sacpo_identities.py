"""SACPO sympy checks pass with zero residual; wrong variants leave a nonzero one."""

from __future__ import annotations

import sympy as sp

from proofs_check import identity_check
from proofs_check.sacpo_identities import (
    _symbols,
    gibbs,
    log_sigmoid_odds,
    sacpo_stepwise_realignment,
    split_exp_simplify,
)


def test_stepwise_realignment_identity_has_zero_residual_for_every_entry():
    res = sacpo_stepwise_realignment()
    assert res.passed and res.residual.shape == (7, 1)


def test_log_sigmoid_odds_identity_passes():
    assert log_sigmoid_odds().passed


def test_realigning_with_weight_beta_times_lam_is_not_the_joint_optimum():
    ref, r, g, beta, lam = _symbols()
    joint = gibbs(ref, [ri + lam * gi for ri, gi in zip(r, g, strict=True)], beta)
    wrong = gibbs(gibbs(ref, r, beta), g, beta * lam)
    res = identity_check("wrong", "", joint, wrong, simplify=split_exp_simplify)
    assert not res.passed


def test_sum_of_log_sigmoids_is_not_u():
    u = sp.Symbol("u", real=True)
    s = lambda x: 1 / (1 + sp.exp(-x))  # noqa: E731
    res = identity_check("wrong", "", sp.log(s(u)) + sp.log(s(-u)), u, simplify=sp.simplify)
    assert not res.passed
