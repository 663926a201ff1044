"""flipping_decomposition: an optimal policy as a per-episode mixture of deterministic ones.

The weights are checked against quantities computed independently of the decomposition:
the occupancy measure of the result's policy (``solvers.evaluation.occupancy``, one linear
solve) against the weighted occupancies of the deterministic policies (one solve each),
and the values of the deterministic policies from the brute-force enumeration
(``solvers.enumeration``, direct dense solves). Tolerance 1e-10 of the value scale: each
occupancy or value is one well-conditioned solve (error ~1e-14 relative on these tiny
models), so 1e-10 is 1e4 times that, and a wrong weight formula (e.g. w = q, the per-step
probability reused per episode) misses by ~1e-2. For K >= 2 (vertex LP results) and
interior policies the same independent references are used: every component's occupancy by
its own solve, its values from the enumeration, and the result's own occupancy ``res.d``.
"""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError, evaluate, flipping_mixture, occupancy, random_mdp, tolerances
from solvers.cmdp import solve_cmdp
from solvers.enumeration import deterministic_policy_values
from solvers.flipping_decomposition import flipping_decomposition

# the module, not the function of the same name that ``solvers`` exports
fd_module = importlib.import_module("solvers.flipping_decomposition")

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


def _mixed_occupancy(m, dec) -> np.ndarray:
    """sum_i w_i d^{pi_i}, each occupancy by its own solve (not by the decomposition)."""
    return sum(w * occupancy(m, np.eye(m.A)[p]) for w, p in zip(dec.weights, dec.policies,
                                                               strict=True))


def _check_against_enumeration(res, dec) -> None:
    """Weights, occupancy and values of a decomposition against independent references."""
    m = res.mdp
    assert np.all(dec.weights > 0) and dec.weights.sum() == pytest.approx(1.0, abs=1e-14)
    assert len(dec.weights) <= dec.extra_actions + 1  # Caratheodory in the minimal face
    np.testing.assert_allclose(_mixed_occupancy(m, dec), occupancy(m, res.pi), atol=TOL, rtol=0)
    acts, pts = deterministic_policy_values(m)
    flat = acts.reshape(len(acts), -1)
    rows = [int(np.flatnonzero((flat == p.ravel()).all(axis=1))[0]) for p in dec.policies]
    assert len(set(rows)) == len(rows)  # distinct deterministic policies
    np.testing.assert_allclose(dec.points, pts[rows], atol=TOL * _scale(m), rtol=0)
    # the mixture's values, from the enumerated points, equal the result's (LP tolerance)
    np.testing.assert_allclose(dec.weights @ pts[rows], dec.target, atol=1e-8 * _scale(m), rtol=0)
    assert dec.differing == tuple(int((p != q).sum()) for p, q in
                                  zip(dec.policies[:-1], dec.policies[1:], strict=True))
    assert dec.adjacent == all(n == 1 for n in dec.differing)


def _mixture_budget(m, rng: np.random.Generator) -> np.ndarray:
    """Budgets met by a random episode mixture of deterministic policies: always feasible,
    and usually active at the optimum."""
    pts = deterministic_policy_values(m)[1]
    return rng.dirichlet(np.ones(len(pts))) @ pts[:, 1:]


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_lp_vertex_with_K_constraints_splits_into_at_most_K_plus_1_policies(K, seed):
    m = random_mdp(seed, S=3, A=3, K=K, horizon=2 if seed % 2 else None)
    res = solve_cmdp(m, _mixture_budget(m, np.random.default_rng(seed)), method="lp")
    assert res.status == "optimal"
    dec = flipping_decomposition(res)
    assert len(dec.weights) <= K + 1 and dec.extra_actions <= K  # vertex: notes §2.2
    assert dec.ok
    _check_against_enumeration(res, dec)
    np.testing.assert_allclose(_mixed_occupancy(m, dec), res.d, atol=1e-8, rtol=0)


@st.composite
def solved_k(draw):
    """An optimal LP (vertex) result with K in {1, 2, 3} on a tiny random model."""
    K = draw(st.integers(1, 3))
    finite = draw(st.booleans())
    m = random_mdp(draw(st.integers(0, 2**31 - 1)), S=draw(st.integers(1, 3)),
                   A=draw(st.integers(2, 3)), K=K, horizon=2 if finite else None)
    res = solve_cmdp(m, _mixture_budget(m, np.random.default_rng(draw(st.integers(0, 99)))),
                     method="lp")
    assert res.status == "optimal"
    return res


@given(solved_k())
def test_vertex_decomposition_reproduces_occupancy_and_values_for_any_K(res):
    dec = flipping_decomposition(res)
    assert len(dec.weights) <= res.mdp.K + 1
    assert dec.ok and dec.verify(res.mdp).ok
    _check_against_enumeration(res, dec)


def _interior(seed: int, finite: bool):
    """A result whose policy is a random fully randomised (Dirichlet) one: not a vertex."""
    m = random_mdp(seed, S=3, A=3, K=2, horizon=2 if finite else None)
    res = solve_cmdp(m, np.array([1e6, 1e6]), method="lp")
    pi = np.random.default_rng(seed).dirichlet(np.ones(m.A), size=res.pi.shape[:-1])
    ev = evaluate(m, pi)
    return dataclasses.replace(res, pi=pi, d=occupancy(m, pi), value=ev.value,
                               cost_values=ev.cost_values)


@pytest.mark.parametrize("finite", [False, True])
def test_interior_policy_needs_extra_actions_plus_1_policies(finite):
    """Not a vertex: the count is r + 1 (r = extra actions on visited slots), above K + 1."""
    res = _interior(11, finite)
    dec = flipping_decomposition(res)
    visited = occupancy(res.mdp, res.pi).reshape(-1, res.mdp.A).sum(axis=1) > 0
    r = int(((res.pi.reshape(-1, res.mdp.A) > 0).sum(axis=1) - 1)[visited].sum())
    assert dec.extra_actions == r and len(dec.weights) == r + 1 > res.mdp.K + 1
    assert dec.ok and dec.adjacent
    _check_against_enumeration(res, dec)


def test_exact_verification_is_rational_and_catches_a_perturbed_weight():
    res = _interior(4, False)
    dec = flipping_decomposition(res)
    exact = dec.verify(res.mdp, exact=True)
    assert exact.exact and exact.ok and exact.occupancy_residual <= 1e-13
    assert exact.value_residual <= 1e-12 * _scale(res.mdp)
    w = dec.weights.copy()
    w[[0, 1]] = w[[1, 0]]  # swap two weights: same sum, wrong mixture
    bad = dataclasses.replace(dec, weights=w).verify(res.mdp, exact=True)
    assert not bad.ok and bad.occupancy_residual > 1e-4
    big = random_mdp(0, S=31, A=2, K=1)
    with pytest.raises(ModelError) as exc:
        dec.verify(big, exact=True)
    assert exc.value.field == "S"


def test_swapped_component_is_caught_by_the_float_check():
    m = random_mdp(2, S=3, A=3, K=2)
    res = solve_cmdp(m, _mixture_budget(m, np.random.default_rng(2)), method="lp")
    dec = flipping_decomposition(res)
    assert len(dec.weights) >= 2 and dec.verify(m).ok
    pols = dec.policies.copy()
    pols[0] = (pols[0] + 1) % m.A  # a different deterministic policy in place of pi_0
    assert not dataclasses.replace(dec, policies=pols).verify(m).ok


def test_bad_results_and_policies_are_model_errors():
    m = random_mdp(0, S=3, A=2, K=1)
    res = solve_cmdp(m, np.array([-1.0]), method="flip")
    with pytest.raises(ModelError) as exc:
        flipping_decomposition(res)
    assert exc.value.field == "status"
    ok = solve_cmdp(m, np.array([1e6]), method="flip")
    for pi in (np.full((3, 3), 1 / 3), np.array([[1.5, -0.5]] * 3), np.full((3, 2), 0.4)):
        with pytest.raises(ModelError) as exc:
            flipping_decomposition(dataclasses.replace(ok, pi=pi))
        assert exc.value.field == "pi"


def test_policy_randomising_in_two_states_is_split_along_a_chain():
    """Formerly rejected (issue 3): two randomised states, 2 actions each -> 3 policies."""
    m = random_mdp(0, S=3, A=2, K=1)
    ok = solve_cmdp(m, np.array([1e6]), method="flip")
    two = np.array([[0.5, 0.5], [0.3, 0.7], [1.0, 0.0]])
    ev = evaluate(m, two)
    fake = dataclasses.replace(ok, pi=two, d=occupancy(m, two), value=ev.value,
                               cost_values=ev.cost_values)
    dec = flipping_decomposition(fake)
    assert len(dec.randomised_slots) == 2 and len(dec.weights) == 3
    assert dec.adjacent and dec.ok
    _check_against_enumeration(fake, dec)


def test_the_mixture_classes_and_peel_tolerance_stay_importable_from_the_old_module():
    # FlippingDecomposition / DecompositionCheck moved to flipping_mixture and PEEL_ZERO_RTOL
    # to tolerances; the old import paths (docs/cmdp.md, solvers/__init__) must give the
    # same objects, and the tolerance must be the documented 1e-9
    for name in flipping_mixture.__all__:
        assert name in fd_module.__all__
        assert getattr(fd_module, name) is getattr(flipping_mixture, name), name
    assert "PEEL_ZERO_RTOL" in tolerances.__all__
    assert fd_module.PEEL_ZERO_RTOL == tolerances.PEEL_ZERO_RTOL == 1e-9
