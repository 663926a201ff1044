"""The ccmdp theorems added with solve_ccmdp: augmented LP optimality and the flag's necessity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import theory.ccmdp_chance as cc
from theory.falsify import check
from theory.registry import get

IDS = ("ccmdp.augmented_lp_optimal", "ccmdp.flag_needed")


@pytest.mark.parametrize("tid", IDS)
def test_theorem_holds_under_falsification(tid):
    res = check(get(tid), examples=15, seed=0)
    assert res.status == "holds", res.error
    assert res.violations == 0 and res.instances >= 15


@given(cc.ccmdp_instances())
def test_history_tree_lp_dominates_every_markov_deterministic_policy(inst):
    """The tree LP is independent of the flag LP; it must beat every enumerated deterministic
    Markov-in-(t, s) policy that is feasible (a weaker, separately computed bound)."""
    from solvers.enumeration import deterministic_policy_values
    from solvers.policies import deterministic_policy

    mdp, unsafe, delta = inst["mdp"], inst["unsafe"], inst["delta"]
    if mdp.A ** (mdp.S * mdp.horizon) > 800:
        return
    tree = cc.history_lp_value(mdp, unsafe, delta)
    acts, pts = deterministic_policy_values(mdp)
    for a, (v, *_) in zip(acts, pts, strict=True):
        pi = deterministic_policy(a, mdp.A)
        if cc.violation_probability(mdp, pi, unsafe) <= delta:
            assert tree is not None and tree >= v - 1e-7


def test_flag_witness_gain_at_half():
    mdp, unsafe = cc.flag_witness(0.5)
    ev = get("ccmdp.flag_needed").check({"mdp": mdp, "unsafe": unsafe, "delta": 0.5, "p": 0.5})
    assert ev.holds and ev.lhs == pytest.approx(0.5) and ev.details["J_markov"] == 0.0


def test_a_wrong_markov_value_would_be_caught():
    """Feeding delta for one p and the witness of another breaks the predicted gain."""
    mdp, unsafe = cc.flag_witness(0.3)
    ev = get("ccmdp.flag_needed").check({"mdp": mdp, "unsafe": unsafe, "delta": 0.6, "p": 0.5})
    assert not ev.holds


def test_augmented_check_catches_a_wrong_tree_value(monkeypatch):
    mdp, unsafe = cc.flag_witness(0.5)
    inst = {"mdp": mdp, "unsafe": unsafe, "delta": 0.75}
    assert get("ccmdp.augmented_lp_optimal").check(inst).holds
    monkeypatch.setattr(cc, "history_lp_value", lambda *a: 0.7)  # the true value is 0.75
    assert not get("ccmdp.augmented_lp_optimal").check(inst).holds


def test_tree_lp_agrees_with_hand_values_on_the_witness():
    mdp, unsafe = cc.flag_witness(0.5)
    assert cc.history_lp_value(mdp, unsafe, 0.5) == pytest.approx(0.5, abs=1e-9)
    assert cc.history_lp_value(mdp, unsafe, 0.4) is None
    assert cc.history_lp_value(mdp, np.zeros(6, bool), 0.0) == pytest.approx(1.0, abs=1e-9)
