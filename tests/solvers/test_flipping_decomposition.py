"""flipping_decomposition: an optimal policy as a per-episode mixture of deterministic ones.

The weights are checked against quantities computed independently of the decomposition:
the occupancy measure of the result's policy (``solvers.evaluation.occupancy``, one linear
solve) against the weighted occupancies of the deterministic policies (one solve each),
and the values of the deterministic policies from the brute-force enumeration
(``solvers.enumeration``, direct dense solves). Tolerance 1e-10 of the value scale: each
occupancy or value is one well-conditioned solve (error ~1e-14 relative on these tiny
models), so 1e-10 is 1e4 times that, and a wrong weight formula (e.g. w = q, the per-step
probability reused per episode) misses by ~1e-2.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError, evaluate, occupancy, random_mdp
from solvers.cmdp import solve_cmdp
from solvers.enumeration import deterministic_policy_values
from solvers.flipping_decomposition import flipping_decomposition

TOL = 1e-10


def _scale(m) -> float:
    T = m.horizon if m.finite_horizon else 1.0 / (1.0 - m.gamma)
    return T * max(1.0, float(np.abs(m.r).max()), float(np.abs(m.costs).max()))


@st.composite
def solved(draw, method: str | None = None):
    """An optimal K = 1 result (flip or LP) on a tiny random model, budget between the
    cheapest and the most expensive deterministic policy."""
    finite = draw(st.booleans())
    S, A = draw(st.integers(1, 4)), draw(st.integers(2, 3))
    m = random_mdp(draw(st.integers(0, 2**31 - 1)), S=S, A=A, K=1,
                   horizon=draw(st.integers(1, 2)) if finite else None)
    costs = deterministic_policy_values(m)[1][:, 1]
    b = np.array([costs.min() + draw(st.floats(0.0, 1.0)) * (costs.max() - costs.min())])
    res = solve_cmdp(m, b, method=method or draw(st.sampled_from(["flip", "lp"])))
    assert res.status == "optimal"
    return res


@given(solved())
def test_weights_reproduce_the_occupancy_measure(res):
    dec = flipping_decomposition(res)
    m = res.mdp
    assert len(dec.weights) <= m.K + 1  # a vertex (LP) or flip result splits into <= K + 1
    assert np.all(dec.weights >= 0) and dec.weights.sum() == pytest.approx(1.0, abs=1e-14)
    mixed = sum(w * occupancy(m, np.eye(m.A)[p]) for w, p in zip(dec.weights, dec.policies,
                                                                   strict=True))
    np.testing.assert_allclose(mixed, occupancy(m, res.pi), atol=TOL, rtol=0)
    np.testing.assert_allclose(mixed, res.d, atol=1e-8, rtol=0)  # LP d: HiGHS feasibility 1e-9


@given(solved())
def test_mixture_of_points_equals_the_result_values(res):
    dec = flipping_decomposition(res)
    m = res.mdp
    assert dec.ok and dec.residual <= 1e-8 * _scale(m)
    acts, pts = deterministic_policy_values(m)  # independent values of every policy
    flat = acts.reshape(len(acts), -1)
    for p, point in zip(dec.policies, dec.points, strict=True):
        i = int(np.flatnonzero((flat == p.ravel()).all(axis=1))[0])
        np.testing.assert_allclose(point, pts[i], atol=TOL * _scale(m), rtol=0)


@given(solved(method="flip"))
def test_consecutive_policies_differ_in_one_state_and_flip_results_split_in_two(res):
    dec = flipping_decomposition(res)
    assert len(dec.policies) <= res.mdp.K + 1
    for p, q in zip(dec.policies[:-1], dec.policies[1:], strict=True):
        assert int((p != q).sum()) == 1
    if dec.slot is None:
        assert len(dec.policies) == 1 and dec.weights.tolist() == [1.0]


def test_wrong_weights_are_caught():
    """The checks above can fail: per-step probabilities used as episode weights miss."""
    m = random_mdp(3, S=4, A=2, K=1, gamma=0.9)
    costs = deterministic_policy_values(m)[1][:, 1]
    res = solve_cmdp(m, np.array([0.5 * (costs.min() + costs.max())]), method="flip")
    dec = flipping_decomposition(res)
    assert dec.slot is not None and dec.ok
    q = res.pi.reshape(-1, m.A)[dec.slot[-1]][dec.policies[:, dec.slot[-1]]]
    bad = dataclasses.replace(dec, weights=q)
    assert not np.allclose(bad.weights @ bad.points, bad.target, atol=1e-6)
    mixed = sum(w * occupancy(m, np.eye(m.A)[p]) for w, p in zip(q, dec.policies, strict=True))
    assert np.abs(mixed - occupancy(m, res.pi)).max() > 1e-6


def test_deterministic_result_is_its_own_decomposition():
    m = random_mdp(5, S=3, A=2, K=1)
    res = solve_cmdp(m, np.array([1e6]), method="flip")  # unconstrained optimum feasible
    dec = flipping_decomposition(res)
    assert dec.slot is None and dec.weights.tolist() == [1.0]
    assert dec.points[0, 0] == pytest.approx(evaluate(m, res.pi).value, abs=TOL)


def test_infeasible_results_and_policies_randomising_in_two_states_are_rejected():
    m = random_mdp(0, S=3, A=2, K=1)
    res = solve_cmdp(m, np.array([-1.0]), method="flip")
    with pytest.raises(ModelError) as exc:
        flipping_decomposition(res)
    assert exc.value.field == "status"
    ok = solve_cmdp(m, np.array([1e6]), method="flip")
    two = np.full((3, 2), 0.5)
    fake = dataclasses.replace(ok, pi=two, d=occupancy(m, two))
    with pytest.raises(ModelError) as exc:
        flipping_decomposition(fake)
    assert exc.value.field == "pi" and "not implemented" in str(exc.value)
