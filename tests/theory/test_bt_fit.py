"""Same Phi M theta, same fitted reward and DPO policy; a real change is caught."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import theory.bt_fit
from theory.falsify import check
from theory.registry import get

IDS = ("poisoning.same_effect_fit", "poisoning.same_effect_dpo_fit")


@pytest.mark.parametrize("theorem_id", IDS)
def test_search_finds_no_violation(theorem_id):
    res = check(get(theorem_id), examples=25, seed=0)
    assert res.error is None and res.status == "holds" and res.violations == 0


@given(theory.bt_fit.same_phi_theta_instances())
def test_instances_move_theta_inside_the_box_and_keep_phi_m_theta(inst):
    from solvers.bt_fit import dpo_pair_features
    Phi = dpo_pair_features(inst["feats"], inst["pairs"])
    tp = inst["theta_prime"]
    assert np.all((tp >= 0) & (tp <= 1))
    assert np.abs(Phi @ (inst["m"] * (tp - inst["theta"]))).max() < 1e-12


@pytest.mark.parametrize("theorem_id", IDS)
def test_a_perturbation_off_the_null_space_is_caught(theorem_id):
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((2, 3, 2))
    pairs = np.array([[0, 0, 1], [0, 1, 2], [1, 0, 2], [1, 2, 1]])
    theta = np.array([0.3, 0.6, 0.5, 0.8])
    inst = {"feats": feats, "log_ref": np.log(np.full((2, 3), 1 / 3)), "pairs": pairs,
            "m": np.ones(4), "theta": theta, "theta_prime": np.array([0.9, 0.6, 0.5, 0.8]),
            "tau": 1.0, "ridge": 1e-2}
    t = get(theorem_id)
    assert t.failed_assumptions(inst) == ["same_phi_m_theta"]
    ev = t.check(inst)
    assert ev.details["premise"] > 0.1 and not ev.holds  # the fits really differ
    same = dict(inst, theta_prime=theta)
    assert t.failed_assumptions(same) == [] and t.check(same).holds
