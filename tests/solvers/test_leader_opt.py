"""Projected gradient ascent: reaches the grid maximum of F, stays in the box, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from solvers.configurable_mdp import ConfigurableMDP, FixedKernel, LinearReward, incentive_table
from solvers.errors import ModelError
from solvers.hypergradient import hyper_objective
from solvers.leader_opt import projected_gradient_ascent


def incentive_model() -> ConfigurableMDP:
    """Two states; the follower prefers action 0; the leader pays x for action 1 at state 0
    and is rewarded for action 1 but charged 0.4 * x (incentive cost), so F has an interior
    maximum in x."""
    rng = np.random.default_rng(1)
    S, A = 2, 2
    rF = incentive_table(np.array([[0.5, 0.0], [0.3, 0.0]]), np.array([[False, True],
                                                                       [False, False]]))
    rU = LinearReward(np.array([[0.0, 1.0], [0.0, 0.5]]),
                      -0.4 * np.array([[[0.0], [1.0]], [[0.0], [0.0]]]))
    return ConfigurableMDP(rF, rU, FixedKernel(rng.dirichlet(np.ones(S), size=(S, A))),
                           np.array([1.0, 0.0]), 0.5, 0.5, 0.3, 1)


def test_exact_ascent_reaches_the_grid_maximum_inside_the_box():
    m = incentive_model()
    grid = np.linspace(0.0, 3.0, 151)
    F = np.array([hyper_objective(m, np.array([g])) for g in grid])
    traj = projected_gradient_ascent(m, np.array([0.0]), (0.0, 3.0), step=0.5, iterations=300,
                                     xtol=1e-10)
    assert 0.0 < grid[np.argmax(F)] < 3.0  # interior maximum
    assert traj.F[-1] >= F.max() - 1e-6
    assert (traj.x >= 0).all() and (traj.x <= 3).all()
    assert np.all(np.diff(traj.F) >= -1e-12)  # small steps on a smooth F: ascent
    assert traj.status == "stationary"


def test_sampled_ascent_is_reproducible_and_improves_F():
    m = incentive_model()
    run = [projected_gradient_ascent(m, np.array([0.0]), (0.0, 3.0), step=0.5, iterations=30,
                                     gradient="bchg", samples=200, rng=np.random.default_rng(4))
           for _ in range(2)]
    assert np.array_equal(run[0].x, run[1].x)
    assert run[0].best[1] > run[0].F[0] + 0.05


def test_bad_arguments_are_rejected():
    m = incentive_model()
    with pytest.raises(ModelError):
        projected_gradient_ascent(m, np.zeros(1), (1.0, 0.0), step=0.1, iterations=1)
    with pytest.raises(ModelError):
        projected_gradient_ascent(m, np.zeros(1), (0.0, 1.0), step=0.1, iterations=1,
                                  gradient="bchg")
    with pytest.raises(ModelError):
        projected_gradient_ascent(m, np.zeros(1), (0.0, 1.0), step=0.0, iterations=1)
