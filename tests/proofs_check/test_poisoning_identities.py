"""The poisoning sympy checks pass with an exactly zero residual and fail on a wrong identity."""

from __future__ import annotations

import sympy as sp

from proofs_check.core import identity_check
from proofs_check.poisoning_identities import (
    _log_sigmoid,
    _simplify_logs,
    bt_loss_symbolic,
    poisoning_loss_difference_identity,
)


def test_loss_difference_identity_passes_exactly():
    res = poisoning_loss_difference_identity()
    assert res.passed and res.residual == 0
    assert "References" in poisoning_loss_difference_identity.__doc__
    assert "math::" in poisoning_loss_difference_identity.__doc__


def test_a_wrong_sign_in_the_log_odds_fails():
    u = sp.Symbol("u", real=True)
    wrong = identity_check("wrong", "", _log_sigmoid(u) + _log_sigmoid(-u), u,
                           simplify=_simplify_logs)
    assert not wrong.passed


def test_dropping_the_counts_breaks_the_identity():
    Phi = sp.Matrix(1, 2, sp.symbols("a b", real=True))
    r = sp.Matrix([sp.Symbol("r", real=True)])
    th, th2 = sp.symbols("t0 t1", real=True), sp.symbols("s0 s1", real=True)
    m = sp.symbols("m0 m1", positive=True)
    lhs = bt_loss_symbolic(Phi, th, m, r) - bt_loss_symbolic(Phi, th2, m, r)
    d = sp.Matrix([th[0] - th2[0], th[1] - th2[1]])
    without_counts = -(d.T * Phi.T * r)[0, 0]
    assert not identity_check("wrong", "", lhs, without_counts, simplify=_simplify_logs).passed
