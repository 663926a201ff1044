"""The deterministic frontier J_det(delta): enumeration vs MILP, and its concave majorant."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError, random_mdp
from solvers.ccmdp_frontier import (
    frontier_enumeration,
    j_det_milp,
    least_concave_majorant,
)
from solvers.ccmdp_solve import solve_ccmdp
from solvers.tolerances import LP_FEASIBILITY_TOL

# values O(H) <= 3 with |r| <= 1; HiGHS feasibility tolerance 1e-9 on the scaled problem
TOL = 100 * LP_FEASIBILITY_TOL


@st.composite
def tiny(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    S, H = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    if 2 ** (2 * S * H) > 5000:
        H = 1
    m = random_mdp(np.random.default_rng(seed), S, 2, horizon=H)
    mask = np.array(draw(st.lists(st.booleans(), min_size=S, max_size=S)))
    return m, mask, draw(st.sampled_from([0.0, 0.1, 0.3, 0.7, 1.0]))


@given(tiny())
def test_milp_equals_enumeration_of_deterministic_flag_policies(inst):
    m, mask, delta = inst
    fr = frontier_enumeration(m, mask)
    sol = j_det_milp(m, mask, delta)
    if sol.status == "infeasible":
        assert fr(delta) == -math.inf
        return
    assert abs(sol.value - fr(delta)) <= TOL
    assert abs(sol.milp_value - sol.value) <= TOL
    assert sol.violation <= delta + 10 * LP_FEASIBILITY_TOL
    assert sol.actions.shape == (m.horizon, 2 * m.S)


@given(tiny())
def test_lp_optimum_is_the_least_concave_majorant_of_j_det(inst):
    m, mask, delta = inst
    fr = frontier_enumeration(m, mask)
    res = solve_ccmdp(m, mask, delta)
    if res.status != "optimal":
        assert fr.concave_majorant(delta) == -math.inf
        return
    assert abs(res.value - fr.concave_majorant(delta)) <= TOL
    assert res.value >= fr(delta) - TOL  # randomisation never hurts


def test_randomisation_strictly_helps_somewhere():
    """A two-action chance problem where J_mix > J_det strictly (the flipping gain)."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = 1.0                     # risky: reward 1, unsafe
    P[0, 1, 2] = 1.0                     # safe: reward 0
    P[1, :, 1] = P[2, :, 2] = 1.0
    from solvers import TabularMDP

    m = TabularMDP(P, np.array([[1.0, 0.0], [0, 0], [0, 0]]), np.eye(3)[0], horizon=1)
    fr = frontier_enumeration(m, [1])
    assert fr(0.5) == 0.0 and fr(1.0) == 1.0
    res = solve_ccmdp(m, [1], 0.5)
    assert res.value == pytest.approx(0.5, abs=TOL)
    assert j_det_milp(m, [1], 0.5).value == 0.0


def test_majorant_of_a_step_function_is_its_upper_hull():
    x, y = np.array([0.0, 0.5, 0.6, 1.0]), np.array([0.0, 0.9, 0.95, 1.0])
    assert least_concave_majorant(x, y, 0.25) == pytest.approx(0.45)
    assert least_concave_majorant(x, y, 0.55) == pytest.approx(0.925)
    assert least_concave_majorant(x, y, 2.0) == 1.0
    assert least_concave_majorant(x + 0.1, y, 0.0) == -math.inf
    # a dominated point (higher risk, lower value) never enters the hull
    assert least_concave_majorant(np.r_[x, 0.2], np.r_[y, -1.0], 0.25) == pytest.approx(0.45)


def test_enumeration_refuses_large_models():
    m = random_mdp(0, 6, 3, horizon=4)
    with pytest.raises(ModelError):
        frontier_enumeration(m, [0])


def test_milp_rejects_bad_delta():
    m = random_mdp(0, 2, 2, horizon=2)
    with pytest.raises(ModelError) as info:
        j_det_milp(m, [0], 1.2)
    assert info.value.field == "delta"
