"""RLVR estimator theorems: each holds (or is violated) as declared, and wrong inputs are caught."""

from __future__ import annotations

import numpy as np
import pytest

import theory.riskpo as rp
import theory.rlvr_estimators as rl
from theory.falsify import load_counterexample
from theory.registry import get

HOLDS = ("bnpo.variance_closed_form", "bnpo.optimal_beta", "bnpo.optimal_beta_quadrature",
         "bnpo.special_cases", "riskpo.rvar_cvar_identity", "riskpo.cvar_le_mean",
         "riskpo.mvar_tail_fosd_monotone", "g2d.cross_pair_probability",
         "g2d.expected_cross_pairs")


@pytest.mark.parametrize("tid", HOLDS)
def test_theorem_is_registered_as_holding(tid):
    # The hypothesis search over its instances runs once for every registered theorem,
    # in tests/theory/test_registry.py (same profile, with targeting); not again here.
    assert get(tid).expected == "holds" and get(tid).corrected is None


def test_mvar_fosd_monotonicity_is_violated_by_the_stored_counterexample():
    theorem = get("riskpo.mvar_fosd_monotone")
    assert theorem.expected == "violated" and theorem.corrected == "riskpo.mvar_tail_fosd_monotone"
    tid, inst = load_counterexample(theorem.counterexample_path())
    assert tid == theorem.id and theorem.failed_assumptions(inst) == []
    ev = theorem.check(inst)
    assert not ev.holds
    # moving 3/4 of the mass from score 2 up to score 3 lowers MVaR from 1.85 to 1.7428...
    assert ev.lhs == pytest.approx(1.85) and ev.rhs == pytest.approx(1.85 - 0.107142857, abs=1e-8)
    # while the corrected (quantile-integral) MVaR increases on the same pair
    assert get("riskpo.mvar_tail_fosd_monotone").check(inst).holds


def test_a_wrong_optimal_parameter_formula_is_rejected(monkeypatch):
    monkeypatch.setattr(rl, "optimal_beta_parameters", lambda a0, b0: (1 + a0 / 2, 1 + b0 / 2))
    ev = rl._check_optimal({"alpha0": 2.0, "beta0": 5.0})
    assert not ev.holds
    assert ev.tol < 1e-6  # the argmin is pinned far more tightly than the error (1/3, 5/6)
    ev_q = rl._check_optimal_quadrature({"alpha0": 2.0, "beta0": 5.0})
    assert not ev_q.holds


def test_numeric_argmin_lands_on_the_formula_for_grpo_and_reinforce_priors():
    x, tol = rl.numeric_argmin(1.5, 1.5)  # GRPO is optimal for p ~ Beta(3/2, 3/2)
    assert np.allclose(x, [1.5, 1.5], atol=tol) and tol < 1e-8
    x, _ = rl.numeric_argmin(1e-3, 1e-3)  # REINFORCE as alpha0, beta0 -> 0
    assert np.allclose(x, [1.0, 1.0], atol=1e-3)


def test_a_wrong_variance_closed_form_is_caught_by_quadrature(monkeypatch):
    inst = {"alpha0": 2.0, "beta0": 3.0, "alpha": 1.2, "beta": 0.9}
    assert rl._check_variance(inst).holds
    monkeypatch.setattr(rl, "advantage_variance", lambda a, b, a0, b0: 1.001 * (
        rl._quad_variance(a, b, a0, b0)[0]))
    assert not rl._check_variance(inst).holds


def test_discrete_scores_break_the_conditional_rvar_identity_but_continuous_ones_do_not():
    inst = {"family": "gamma", "params": [2.0], "alpha": 0.2, "beta": 0.9}
    ev = rp._check_rvar_identity(inst)
    assert ev.holds and ev.tol < 1e-6
    # a wrong identity (no alpha, beta weights) is caught
    lhs = ev.lhs
    wrong = (ev.details["cvar_beta"] - ev.details["cvar_alpha"])
    assert abs(lhs - wrong) > 1e3 * ev.tol


def test_enumeration_helpers_are_exact_on_small_cases():
    prob, mean = rl.enumerate_group(0.5, 2)
    assert prob == 0.5 and mean == 0.5
    assert rp.enumerated_mean(np.array([0.25, 0.5])) == 0.75
