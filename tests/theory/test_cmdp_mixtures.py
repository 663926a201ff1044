"""Episode mixtures = stationary policies; one-state splitting stays on the segment. Each check
can fail: per-step flipping with the mixture weights, the linear position w = p, and a pair
differing in two states are caught."""

from __future__ import annotations

import numpy as np
import pytest

from solvers import TabularMDP, deterministic_policy, per_step_flip
from theory import get
from theory.cmdp_mixtures import mixture_evidence, splitting_evidence

IDS = ["cmdp.mixture_equals_stationary", "cmdp.splitting_one_state_collinear"]


@pytest.mark.parametrize("tid", IDS)
def test_theorem_is_registered_as_holding(tid):
    # The hypothesis search over its instances runs once for every registered theorem,
    # in tests/theory/test_registry.py (same profile, with targeting); not again here.
    assert get(tid).expected == "holds" and get(tid).corrected is None


def _chain() -> TabularMDP:
    """State 0: stay (r 0, c 0) or move to 1 (r 1, c 1); state 1: stay (r 2, c 1) or back to 0.

    pi1 = (stay, stay) has (V_r, V_c) = (0, 0); pi2 = (move, stay) has (3, 2); gamma = 1/2;
    normalised occupancies of state 0: rho1 = 1, rho2 = 1/2.
    """
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, 0, 1] = P[1, 1, 0] = 1.0
    return TabularMDP(P, np.array([[0.0, 1.0], [2.0, 0.0]]), np.array([1.0, 0.0]), gamma=0.5,
                      costs=np.array([[[0.0, 1.0], [1.0, 0.0]]]))


def _pair_inst(p: float, a2=(1, 0)) -> dict:
    return {"mdp": _chain(), "actions1": np.array([0, 0]), "actions2": np.array(a2), "p": p}


def test_closed_form_position_by_hand():
    ev = splitting_evidence(_pair_inst(0.5))
    # w(1/2) = (1/2 * 1/2) / (1/2 * 1/2 + 1/2 * 1) = 1/3, so the point is (2/3)(3, 2) = (2, 4/3)
    assert ev.holds and ev.details["position"] == pytest.approx(1 / 3)
    flip = per_step_flip(_chain(), deterministic_policy(np.array([0, 0]), 2),
                         deterministic_policy(np.array([1, 0]), 2), 0.5)
    assert flip.value == pytest.approx(2.0) and flip.cost_values[0] == pytest.approx(4 / 3)


def test_linear_position_is_caught():
    ev = splitting_evidence(_pair_inst(0.5), position="linear")
    assert not ev.holds and ev.lhs == pytest.approx(0.5)  # 2 vs 1.5


def test_pair_differing_in_two_states_is_rejected_and_off_the_segment():
    inst = _pair_inst(0.5, a2=(1, 1))
    th = get("cmdp.splitting_one_state_collinear")
    assert th.failed_assumptions(inst) == ["differ_in_one_state"]
    assert not th.check(inst).holds


def test_per_step_flip_with_the_mixture_weights_is_caught():
    mdp = _chain()
    w = np.zeros(4)  # policies enumerated as (a0, a1) in product order: (0,0)=0, (1,0)=2
    w[[0, 2]] = 0.5
    assert mixture_evidence(mdp, w).holds
    flip = 0.5 * deterministic_policy(np.array([0, 0]), 2) + \
        0.5 * deterministic_policy(np.array([1, 0]), 2)
    ev = mixture_evidence(mdp, w, pi=flip)
    assert not ev.holds and ev.lhs == pytest.approx(0.5)  # value 2 vs 1.5
