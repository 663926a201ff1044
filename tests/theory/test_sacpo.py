"""SACPO theorems: registered, the exact ones hold, Theorem 3 is refuted by its stored instance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import theory.sacpo as T
import theory.sacpo_bounds as TB
from theory.core import COUNTEREXAMPLE_DIR
from theory.falsify import check, load_counterexample
from theory.registry import _REGISTRY

IDS = ("sacpo.gibbs_optimum", "sacpo.dual_convex_monotone", "sacpo.strong_duality",
       "sacpo.lambda_bound", "sacpo.thm1_realignment", "sacpo.psacpo_merge_exact",
       "sacpo.thm2_optimality", "sacpo.thm3_safety", "sacpo.thm3_pre_chebyshev",
       "sacpo.thm2_pre_chebyshev")


def test_every_row_of_the_notes_table_is_registered_with_its_expectation():
    assert set(IDS) <= set(_REGISTRY)
    expected = {i: _REGISTRY[i].expected for i in IDS}
    assert [i for i, e in expected.items() if e == "violated"] == ["sacpo.thm3_safety"]
    assert _REGISTRY["sacpo.thm3_safety"].corrected == "sacpo.thm3_pre_chebyshev"
    assert _REGISTRY["sacpo.thm2_optimality"].corrected == "sacpo.thm2_pre_chebyshev"


@pytest.mark.parametrize("theorem_id", [i for i in IDS if i != "sacpo.thm3_safety"])
def test_holding_theorems_survive_a_short_seeded_search(theorem_id):
    res = check(_REGISTRY[theorem_id], examples=15, seed=1)
    assert res.status == "holds", (res.error, res.counterexample_evidence)
    assert res.instances >= 10


def test_stored_thm3_counterexample_is_the_notes_instance_and_violates_the_printed_bound():
    tid, inst = load_counterexample(COUNTEREXAMPLE_DIR / "sacpo.thm3_safety.json")
    assert tid == "sacpo.thm3_safety"
    fresh = TB.thm3_counterexample()
    for k, v in fresh.items():
        np.testing.assert_array_equal(inst[k], v)
    ev = _REGISTRY["sacpo.thm3_safety"].evaluate(inst)
    assert not ev.holds
    assert (round(ev.lhs, 3), round(ev.rhs, 3)) == (0.879, 0.257)
    pre = _REGISTRY["sacpo.thm3_pre_chebyshev"].evaluate(inst)
    assert pre.holds and round(pre.rhs, 2) == 38.36
    res = check(_REGISTRY["sacpo.thm3_safety"], examples=5, seed=0)
    assert res.status == "violated" and res.as_expected


@given(TB.estimate_instances())
def test_estimate_instances_stay_inside_the_uncertainty_bands_and_reach_tiny_and_large_widths(
        inst):
    TB.bounds_of(inst)  # raises ModelError if an estimate left its band
    assert inst["U_r"].min() >= 1e-6 * (1 - 1e-12) and inst["U_r"].max() <= 10 * (1 + 1e-12)


def test_width_strategy_spans_the_coverage_mismatch_corner():
    from hypothesis import Phase, find, settings

    # Reaching the corner is the property; shrinking the witness would only cost time.
    settings_ = settings(max_examples=500, database=None, phases=[Phase.generate])
    find(TB.estimate_instances(), lambda i: i["U_r"].max() / i["U_r"].min() > 1e5,
         settings=settings_)
    find(TB.estimate_instances(), lambda i: i["U_g"].min() < 1e-5, settings=settings_)


def test_a_non_optimal_policy_breaks_the_gibbs_check():
    inst = TB.thm3_counterexample()
    inst = {k: inst[k] for k in ("mu0", "pi_ref", "r", "g", "beta", "b")}
    p = T.problem_of(inst)
    ev = T._check_gibbs({**inst, "other": np.array([[0.2, 0.8]])})
    assert ev.holds
    # swap roles: the check's relation must fail when the "optimum" is a worse policy
    from solvers.kl_bandit import regularised_value
    assert regularised_value(p, np.array([[0.2, 0.8]])) < ev.lhs


def test_a_wrong_multiplier_breaks_strong_duality(monkeypatch):
    import dataclasses

    real = T._solve

    def off(p):
        res = real(p)
        return dataclasses.replace(res, lam=res.lam * 1.5)

    monkeypatch.setattr(T, "_solve", off)
    inst = {k: v for k, v in TB.thm3_counterexample().items()
            if k in ("mu0", "pi_ref", "r", "g", "beta", "b")}
    assert not _REGISTRY["sacpo.strong_duality"].check(inst).holds


def test_realignment_check_catches_a_wrong_operator(monkeypatch):
    inst = {k: v for k, v in TB.thm3_counterexample().items()
            if k in ("mu0", "pi_ref", "r", "g", "beta", "b")}
    inst.update(gs=np.array([[[1.0, -1.0]]]), lams=np.array([0.7]))
    assert _REGISTRY["sacpo.thm1_realignment"].check(inst).holds
    from solvers import sacpo as solver_mod
    real = solver_mod.gibbs_policy
    monkeypatch.setattr(T, "compose_alignments",
                        lambda *a: (real(a[0], a[1], a[4]), np.zeros(1)))  # forgets the g steps
    assert not _REGISTRY["sacpo.thm1_realignment"].check(inst).holds
