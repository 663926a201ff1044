"""Poisoning theorems (arXiv 2511.09105, notes §1.7): the holding ones hold on generated
instances, the naive integer-gap claim is violated by its stored counterexample, and each check
can fail on a deliberately wrong input."""

from __future__ import annotations

import numpy as np
import pytest

import theory.poisoning as tp
from theory.falsify import check, load_counterexample
from theory.registry import get

HOLDING = ["poisoning.lower_bound", "poisoning.upper_bound",
           "poisoning.post_processing_preserves_loss", "poisoning.never_more_flips",
           "poisoning.vertex_sparsity", "poisoning.feature_monotonicity",
           "poisoning.rounding_additive", "poisoning.integer_sandwich",
           "poisoning.knapsack_equals_lp", "poisoning.adaptive_embedding_cheaper",
           "poisoning.l2_closed_form", "poisoning.gaussian_projection_mean"]


@pytest.mark.parametrize("tid", HOLDING)
def test_theorem_is_registered_as_holding(tid):
    # The hypothesis search over its instances runs once for every registered theorem,
    # in tests/theory/test_registry.py (same profile, with targeting); not again here.
    assert get(tid).expected == "holds" and get(tid).corrected is None


def test_naive_integer_gap_claim_is_violated_by_the_stored_counterexample():
    th = get("poisoning.integer_gap_at_most_feat_dim")
    assert th.expected == "violated" and th.corrected == "poisoning.rounding_additive"
    tid, inst = load_counterexample(th.counterexample_path())
    assert tid == th.id
    ev = th.check(inst)
    # M = 10: OPT_IP = M - 1 = 9 flips, OPT_LP = (M - 1) / M = 0.9, gap 8.1 > feat_dim = 1
    assert not ev.holds and ev.lhs == pytest.approx(8.1) and ev.rhs == 1.0
    # the corrected statement holds on the same instance
    assert get("poisoning.rounding_additive").check(inst).holds
    assert get("poisoning.integer_sandwich").check(inst).holds
    res = check(th, examples=5, seed=0)
    assert res.status == "violated" and res.as_expected


def test_gap_grows_without_bound_in_M():
    for M in (4, 8, 12):
        inst = {"Phi": np.array([[M, M, M] + [1] * (M - 1)], float), "theta_O": np.ones(M + 2),
                "theta_A": np.array([1.0, 1.0, 1.0] + [0.0] * (M - 1)), "m": 1}
        ev = get("poisoning.integer_gap_at_most_feat_dim").check(inst)
        assert ev.lhs == pytest.approx((M - 1) ** 2 / M)


def _base():
    rng = np.random.default_rng(0)
    Phi = np.round(rng.standard_normal((2, 9)) * 8) / 8
    theta_O = np.ones(9)
    theta_A = 1 / (1 + np.exp(-(Phi.T @ np.array([1.0, -0.5]))))
    return {"Phi": Phi, "theta_O": theta_O, "theta_A": theta_A, "m": 1}


def test_loss_check_catches_a_target_with_a_different_moment(monkeypatch):
    inst = dict(_base(), r=np.array([2.0, 1.0]), m=3)
    assert get("poisoning.post_processing_preserves_loss").check(inst).holds
    real = tp.min_cost_poisoning

    def shifted(p, norm="l1"):
        res = real(p, norm)
        z = res.zeta.copy()
        z[np.argmax(np.abs(z))] = 0.0  # moves Phi theta away from the target
        return type(res)(res.instance, res.status, res.norm, float(np.abs(z).sum()), z,
                         p.theta_O + z, res.flips, res.duals)

    monkeypatch.setattr(tp, "min_cost_poisoning", shifted)
    assert not get("poisoning.post_processing_preserves_loss").check(inst).holds


def test_lower_bound_check_catches_an_inflated_bound(monkeypatch):
    inst = _base()
    ev = get("poisoning.lower_bound").check(inst)
    assert ev.holds and ev.lhs > 0
    real = tp.projection_lower_bound
    monkeypatch.setattr(tp, "projection_lower_bound",
                        lambda p, norm="l1": type(real(p))(1.5 * ev.rhs + 1e-3, *(
                            lambda lb: (lb.lam, lb.proj_shift, lb.norm))(real(p))))
    assert not get("poisoning.lower_bound").check(inst).holds


def test_upper_bound_check_refuses_a_box_infeasible_segment_point(monkeypatch):
    inst = _base()
    assert get("poisoning.upper_bound").check(inst).holds
    real = tp.segment_upper_bound

    def too_far(p, norm="l1"):
        ub = real(p, norm)
        return type(ub)(0.0, ub.step, ub.zeta + 2.0, ub.alpha_star, ub.alpha_bar,
                        ub.step_max, 0.0, ub.best_step, ub.best_zeta)

    monkeypatch.setattr(tp, "segment_upper_bound", too_far)
    ev = get("poisoning.upper_bound").check(inst)
    assert not ev.holds and ev.rhs == -np.inf


def test_feature_monotonicity_fails_when_rows_are_removed_instead():
    inst = _base()
    bigger = dict(inst, Phi=inst["Phi"][:1], extra_row=inst["Phi"][1])
    assert get("poisoning.feature_monotonicity").check(bigger).holds
    # the reversed comparison (more features on the left) is violated on this instance
    ev = get("poisoning.feature_monotonicity").check(bigger)
    assert ev.rhs > ev.lhs + 1e-6


def test_gaussian_mean_check_detects_a_wrong_ratio():
    inst = {"feat_dim": 3, "n_pairs": 12, "draws": 400, "seed": 1}
    ev = get("poisoning.gaussian_projection_mean").check(inst)
    assert ev.holds
    assert abs(ev.lhs - 4 / 12) > ev.tol  # feat_dim+1 over n_pairs is rejected
