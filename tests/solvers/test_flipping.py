"""Per-step flipping vs per-episode mixing (solvers/flipping.py; notes §2.3, §3.9-B)."""

from __future__ import annotations

import numpy as np
import pytest

from solvers import ModelError, TabularMDP, deterministic_policy, evaluate
from solvers.flipping import (
    envelope_pair,
    episode_mixture_values,
    per_step_flip,
    recalibrate_flip,
)


@pytest.fixture
def chain() -> TabularMDP:
    """The stored counterexample: 2 states, gamma 0.5; action 1 in state 0 costs 0.25."""
    P = np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]])
    r = np.array([[0.0, 1.0], [0.5, 0.0]])
    return TabularMDP(P, r, np.array([0.5, 0.5]), gamma=0.5,
                      costs=np.array([[[0.0, 0.25], [0.0, 0.0]]]))


def _pols(A: int = 2):
    return deterministic_policy(np.array([0, 0]), A), deterministic_policy(np.array([1, 0]), A)


def test_flip_endpoints_equal_the_two_policies(chain):
    pi1, pi2 = _pols()
    for p, pi in ((1.0, pi1), (0.0, pi2)):
        got, ref = per_step_flip(chain, pi1, pi2, p), evaluate(chain, pi)
        assert got.value == pytest.approx(ref.value, abs=1e-14)
        np.testing.assert_allclose(got.cost_values, ref.cost_values, atol=1e-14)


def test_episode_mixture_is_linear_in_nu(chain):
    pi1, pi2 = _pols()
    v1, v2 = evaluate(chain, pi1), evaluate(chain, pi2)
    for nu in (0.0, 0.3, 0.5, 1.0):
        val, cost = episode_mixture_values(chain, pi1, pi2, nu)
        assert val == pytest.approx(nu * v1.value + (1 - nu) * v2.value, abs=1e-14)
        np.testing.assert_allclose(cost, nu * v1.cost_values + (1 - nu) * v2.cost_values,
                                   atol=1e-14)


def test_per_step_flip_with_lp_weight_misses_the_episode_cost(chain):
    pi1, pi2 = _pols()
    # hand computation: episode cost 0.5 * 0 + 0.5 * 0.25 = 1/8, per-step cost 1/7
    assert per_step_flip(chain, pi1, pi2, 0.5).cost_values[0] == pytest.approx(1 / 7, abs=1e-14)
    assert episode_mixture_values(chain, pi1, pi2, 0.5)[1][0] == pytest.approx(1 / 8, abs=1e-14)


def test_recalibrated_flip_meets_the_budget(chain):
    pi1, pi2 = _pols()
    res = recalibrate_flip(chain, pi1, pi2, 0.125)
    assert res.status == "optimal" and 0.0 <= res.p <= 1.0
    independent = evaluate(chain, res.p * pi1 + (1 - res.p) * pi2)
    assert independent.cost_values[0] == pytest.approx(0.125, abs=1e-12)
    assert res.residual <= 1e-12
    assert abs(res.p - 0.5) > 1e-3  # the LP weight 0.5 is not the per-step probability


def test_recalibrate_outside_the_bracket_is_infeasible(chain):
    pi1, pi2 = _pols()
    res = recalibrate_flip(chain, pi1, pi2, 0.3)
    assert res.status == "infeasible" and res.p is None
    assert "outside" in res.message
    assert res.bracket == pytest.approx((0.25, 0.0))
    assert recalibrate_flip(chain, pi1, pi2, 0.0).p == 1.0  # exact end point


def test_one_state_flip_stays_on_the_segment_but_moves_nonlinearly(chain):
    pi1, pi2 = _pols()  # differ in state 0 only
    v1, v2 = evaluate(chain, pi1), evaluate(chain, pi2)
    d = np.array([v1.value - v2.value, v1.cost_values[0] - v2.cost_values[0]])
    positions = []
    for p in (0.2, 0.5, 0.8):
        f = per_step_flip(chain, pi1, pi2, p)
        e = np.array([f.value - v2.value, f.cost_values[0] - v2.cost_values[0]])
        assert abs(d[0] * e[1] - d[1] * e[0]) <= 1e-13  # collinear (notes §2.3)
        positions.append(float(e @ d / (d @ d)))
    assert all(0.0 <= t <= 1.0 for t in positions)
    assert max(abs(t - p) for t, p in zip(positions, (0.2, 0.5, 0.8), strict=True)) > 1e-3


def test_envelope_pair_interpolates_at_the_budget():
    pts = np.array([[0.0, 0.0], [1.0, 1.0], [0.2, 0.5], [2.0, 3.0]])
    i, j, nu, val = envelope_pair(pts, 0.5)
    assert (i, j) == (0, 1) and nu == pytest.approx(0.5) and val == pytest.approx(0.5)
    with pytest.raises(ModelError, match="outside"):
        envelope_pair(pts, 4.0)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "x"])
def test_bad_probability_is_a_model_error(chain, p):
    pi1, pi2 = _pols()
    with pytest.raises(ModelError, match="p = "):
        per_step_flip(chain, pi1, pi2, p)
    with pytest.raises(ModelError, match="nu = "):
        episode_mixture_values(chain, pi1, pi2, p)


def test_bad_budget_index_and_models_are_model_errors(chain):
    pi1, pi2 = _pols()
    with pytest.raises(ModelError, match="b = "):
        recalibrate_flip(chain, pi1, pi2, float("inf"))
    with pytest.raises(ModelError, match="b = "):
        recalibrate_flip(chain, pi1, pi2, np.array([0.1, 0.2]))
    with pytest.raises(ModelError, match="k = "):
        recalibrate_flip(chain, pi1, pi2, 0.1, k=1)
    no_cost = TabularMDP(chain.P, chain.r, chain.mu0, gamma=0.5)
    with pytest.raises(ModelError, match="K = 0"):
        recalibrate_flip(no_cost, pi1, pi2, 0.1)
    with pytest.raises(ModelError, match="shape"):  # time-dependent policy, discounted model
        per_step_flip(chain, np.stack([pi1, pi1]), pi2, 0.5)
    finite = TabularMDP(chain.P, chain.r, chain.mu0, horizon=3, costs=chain.costs)
    with pytest.raises(ModelError, match="shape"):
        per_step_flip(finite, np.stack([pi1, pi1]), pi2, 0.5)  # H = 3, not 2
