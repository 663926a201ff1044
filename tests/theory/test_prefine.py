"""PREFINE background theorems: statuses, the stored finding, and checks that can fail."""

from __future__ import annotations

import numpy as np
import pytest

import theory.prefine  # noqa: F401  (registers the theorems)
from solvers import TabularMDP
from theory.falsify import check, load_counterexample
from theory.registry import get

IDS = {
    "prefine.trajectory_dpo_exact_deterministic": "holds",
    "prefine.trajectory_dpo_residual_stochastic": "violated",
    "prefine.trajectory_dpo_martingale_identity": "holds",
    "prefine.population_dpo_recovers_soft_optimum": "holds",
}


@pytest.mark.parametrize(("theorem_id", "expected"), sorted(IDS.items()))
def test_search_status_matches_expectation(theorem_id, expected):
    t = get(theorem_id)
    assert t.expected == expected
    res = check(t, examples=15, seed=0)
    assert res.error is None
    assert res.status == expected
    if expected == "holds":
        assert res.violations == 0 and res.instances >= 10


def test_stored_counterexample_replays_as_a_violation():
    t = get("prefine.trajectory_dpo_residual_stochastic")
    name, inst = load_counterexample(t.counterexample_path())
    assert name == t.id
    ev = t.check(inst)
    assert not ev.holds
    assert ev.lhs == 0.0 and abs(ev.rhs) == pytest.approx(0.5)
    # the corrected statement holds on the same instance
    assert get(t.corrected).check(inst).holds


def test_deterministic_identity_check_fails_on_a_stochastic_model():
    """The exact-identity check is not vacuous: on stochastic dynamics it reports a violation."""
    inst = {"mdp": TabularMDP(np.array([[[0.5, 0.5]], [[0.0, 1.0]]]), np.array([[0.0], [1.0]]),
                              np.array([1.0, 0.0]), horizon=2),
            "pi_ref": np.ones((2, 1)), "beta": 1.0}
    assert not get("prefine.trajectory_dpo_exact_deterministic").check(inst).holds
