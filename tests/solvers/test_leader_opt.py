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


def test_clip_bounds_every_step_and_records_the_unclipped_gradient():
    m = incentive_model()
    free = projected_gradient_ascent(m, np.array([0.0]), (-np.inf, np.inf), step=0.5,
                                     iterations=5)
    c = 0.25 * float(np.abs(free.grads[0]).max())  # below the first gradient: clipping acts
    run = projected_gradient_ascent(m, np.array([0.0]), (-np.inf, np.inf), step=0.5,
                                    iterations=5, clip=c)
    moves = np.abs(np.diff(run.x[:, 0]))
    assert np.all(moves <= 0.5 * c * (1 + 1e-12))
    assert moves[0] == pytest.approx(0.5 * c)  # clipped, not the free step
    assert abs(free.x[1, 0] - free.x[0, 0]) > 0.5 * c
    assert np.allclose(run.grad_norm, np.linalg.norm(run.grads, axis=1))
    assert run.grads[0] == pytest.approx(free.grads[0])  # same start, gradient unclipped
    # the certified error of every recorded F is tiny but positive
    assert np.all((run.F_err > 0) & (run.F_err < 1e-6))


def test_rollout_length_is_passed_to_the_sampler():
    """H = 1 truncates every trajectory after one step (biased: the discounted tail of the
    follower's response is lost); H = 60 at gamma = 0.5 truncates 0.5^60 ~ 1e-18 (unbiased
    to rounding). So the H = 60 estimate is closer to the exact gradient than the H = 1 one,
    which shows H reaches the sampler (measured: exact, H = 1, H = 60 in the report)."""
    m = incentive_model()
    kw = {"step": 0.5, "iterations": 1, "gradient": "bchg", "samples": 4000}
    short = projected_gradient_ascent(m, np.array([1.0]), (0.0, 3.0), H=1,
                                      rng=np.random.default_rng(5), **kw)
    long = projected_gradient_ascent(m, np.array([1.0]), (0.0, 3.0), H=60,
                                     rng=np.random.default_rng(5), **kw)
    exact = projected_gradient_ascent(m, np.array([1.0]), (0.0, 3.0), step=0.5, iterations=1)
    g, g1, g60 = exact.grads[0, 0], short.grads[0, 0], long.grads[0, 0]
    assert abs(g60 - g) < abs(g1 - g)
    with pytest.raises(ModelError):
        projected_gradient_ascent(m, np.zeros(1), (0.0, 1.0), step=0.1, iterations=1, H=0,
                                  gradient="bchg", rng=np.random.default_rng(0))


def test_bad_clip_and_open_bounds_are_validated():
    m = incentive_model()
    with pytest.raises(ModelError):
        projected_gradient_ascent(m, np.zeros(1), (0.0, 1.0), step=0.1, iterations=1, clip=0.0)
    with pytest.raises(ModelError):
        projected_gradient_ascent(m, np.zeros(1), (np.inf, np.inf), step=0.1, iterations=1)
    with pytest.raises(ModelError):
        projected_gradient_ascent(m, np.zeros(1), (np.nan, 1.0), step=0.1, iterations=1)
