"""rDPO unbiasedness: the sympy check passes, and a wrong robust loss fails."""

from __future__ import annotations

import sympy as sp

from proofs_check.core import identity_check
from proofs_check.rdpo_identities import rdpo_unbiased


def test_rdpo_unbiased_passes_with_an_exactly_zero_residual():
    res = rdpo_unbiased()
    assert res.passed and all(e == 0 for e in res.residual)
    assert len(res.residual) == 2 + 4  # per label, proportion form, k = 0..3
    assert "References" in rdpo_unbiased.__doc__ and "math::" in rdpo_unbiased.__doc__


def test_the_naive_loss_without_the_debiasing_denominator_is_biased():
    A, B, eps = sp.symbols("A B varepsilon")
    naive = (1 - eps) * A - eps * B  # forgot to divide by 1 - 2 eps
    wrong = identity_check("wrong", "", (1 - eps) * naive + eps * ((1 - eps) * B - eps * A), A)
    assert not wrong.passed


def test_label_smoothing_is_not_unbiased():
    A, B, eps = sp.symbols("A B varepsilon")
    smooth = (1 - eps) * A + eps * B  # cDPO / conservative label smoothing
    wrong = identity_check("cdpo", "", (1 - eps) * smooth + eps * ((1 - eps) * B + eps * A), A)
    assert not wrong.passed
