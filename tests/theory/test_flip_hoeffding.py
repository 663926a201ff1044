"""flip.thm8_hoeffding: the Hoeffding step of Theorem 8 holds; wrong constants are caught."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings

import theory.flip_hoeffding as fh
from theory.falsify import check
from theory.registry import get

THM = get("flip.thm8_hoeffding")


@given(fh.hoeffding_instances())
def test_infeasible_policy_passes_the_sample_test_at_most_with_hoeffding_probability(inst):
    assert not THM.failed_assumptions(inst)
    ev = THM.evaluate(inst)
    assert ev.holds, ev
    # the sharper Hoeffding bound at the true q sits between the two sides
    assert ev.lhs <= ev.details["hoeffding_at_true_q"] * (1 + 1e-12) + 1e-300
    assert ev.details["hoeffding_at_true_q"] <= ev.rhs * (1 + 1e-12)


def test_corners_n1_threshold_q_and_gamma_u_near_one():
    # N = 1, q at the threshold: pass iff the one sample is safe (k* = 0), probability 1 - q.
    # delta_s (1 - gamma_u) = 0.25 exactly
    inst = {"N": 1, "q": 0.25, "delta_s": 0.5, "delta_tilde": 0.0, "gamma_u": 0.5}
    ev = THM.evaluate(inst)
    assert ev.lhs == 0.75 and ev.details["k_star"] == 0
    assert ev.rhs == pytest.approx(math.exp(-2 * 0.25**2))
    assert ev.holds
    # gamma_u near 1: the bound tends to 1 and holds trivially but exactly
    q = float(Fraction(0.99) * (1 - Fraction(0.999999))) * (1 + 1e-15)
    near = {"N": 2000, "q": q, "delta_s": 0.99, "delta_tilde": 0.0, "gamma_u": 0.999999}
    assert not THM.failed_assumptions(near)
    ev = THM.evaluate(near)
    assert ev.holds and 0.99 < ev.rhs < 1.0 and ev.lhs < ev.rhs


def test_a_feasible_policy_is_outside_the_assumption_and_can_exceed_the_bound():
    inst = {"N": 50, "q": 0.0, "delta_s": 0.5, "delta_tilde": 0.1, "gamma_u": 0.5}
    assert THM.failed_assumptions(inst) == ["infeasible"]
    ev = fh.hoeffding_evidence(inst)
    assert ev.lhs == 1.0 and not ev.holds  # q = 0 always passes


def test_falsify_finds_no_violation_of_the_correct_statement():
    res = check(THM, examples=40, seed=1)
    assert res.status == "holds", res.error
    assert res.instances >= 30 and res.min_margin >= 0.0


@pytest.mark.parametrize("constant", [4.0, 8.0])
def test_a_wrong_exponent_constant_is_found_by_the_search(constant):
    wrong = dataclasses.replace(THM, id=f"test.hoeffding_c{constant:g}",
                                check=lambda inst: fh.hoeffding_evidence(inst, constant))
    res = check(wrong, examples=60, seed=0)
    assert res.status == "violated", (res.status, res.error, res.min_margin)
    ce = res.counterexample_evidence
    assert ce.lhs > ce.rhs + ce.tol


def test_dropping_the_one_minus_gamma_u_square_is_wrong_too():
    # exponent -2N(ds - dt)^2 (1 - gu) instead of (1 - gu)^2: N = 1, gu = 0.5, ds = 1, dt = 0,
    # q = 0.5: pass probability 0.5 > exp(-2 * 0.5) = 0.37.
    inst = {"N": 1, "q": 0.5, "delta_s": 1.0 - 2**-40, "delta_tilde": 0.0, "gamma_u": 0.5}
    assert not THM.failed_assumptions(inst)
    ev = fh.hoeffding_evidence(inst, constant=2.0 / (1 - 0.5))
    assert not ev.holds and ev.lhs == 0.5


@settings(max_examples=10)
@given(fh.hoeffding_instances())
def test_instances_are_json_round_trippable_numbers(inst):
    assert set(inst) == {"N", "q", "delta_s", "delta_tilde", "gamma_u"}
    assert isinstance(inst["N"], int) and all(isinstance(inst[k], float)
                                              for k in ("q", "delta_s", "delta_tilde", "gamma_u"))
