"""The mixture LP against two independent computations (monotone-chain hull, pair brute force),
its vertex property, certificate and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError
from solvers.flip_lp import (
    best_pair_mixture,
    concave_majorant,
    hull_pair,
    majorant_value,
    solve_mixture_lp,
    upper_hull,
)
from solvers.flipping import envelope_pair

coord = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(-2.0, 2.0))


@st.composite
def point_sets(draw):
    n = draw(st.integers(1, 8))
    C = np.array(draw(st.lists(coord, min_size=n, max_size=n)))
    V = np.array(draw(st.lists(coord, min_size=n, max_size=n)))
    b = draw(st.one_of(st.sampled_from(list(C)), st.floats(-2.5, 2.5)))
    return C, V, float(b)


@given(point_sets())
def test_lp_optimum_equals_hull_and_pair_brute_force(pts):
    C, V, b = pts
    res = solve_mixture_lp(C, V, b)
    hull = majorant_value(concave_majorant(C, V), b)[0]
    pair = best_pair_mixture(C, V, b)[0]
    assert hull == pytest.approx(pair, abs=1e-12)
    if res.status == "infeasible":
        assert hull == -math.inf and C.min() > b
        return
    # HiGHS tolerance 1e-9 (x10 unscaling) times the largest hull slope, |C|, |V| <= 2
    tol = 1e-8 * (1 + concave_majorant(C, V).max_slope) * 3
    assert res.value == pytest.approx(hull, abs=tol)
    assert int(np.sum(res.weights > 1e-9)) <= 2  # a vertex: two rows, two basic weights
    cert = res.verify()
    assert cert.ok(tol), cert


def test_tampered_weights_fail_the_certificate():
    res = solve_mixture_lp([0.0, 1.0], [0.0, 1.0], 0.5)
    assert res.verify().ok(1e-9) and res.value == pytest.approx(0.5) and res.lam == pytest.approx(1)
    from dataclasses import replace
    bad = replace(res, weights=np.array([0.0, 1.0]))  # over budget
    assert bad.verify().primal_infeasibility == pytest.approx(0.5)
    assert not replace(res, lam=0.0).verify().ok(1e-9)  # duality gap 0.5


def test_majorant_by_hand():
    # (cost, value): (0, 0), (1, 3), (2, 4), (3, 4.2), (1, 1) dominated, (0.5, 0.5) under chord
    C = [0.0, 1.0, 2.0, 3.0, 1.0, 0.5]
    V = [0.0, 3.0, 4.0, 4.2, 1.0, 0.5]
    maj = concave_majorant(C, V)
    assert list(maj.index) == [0, 1, 2, 3] and maj.max_slope == pytest.approx(3.0)
    assert majorant_value(maj, 0.5)[:3] == (pytest.approx(1.5), 0, 1)
    assert majorant_value(maj, 10.0)[0] == 4.2
    assert majorant_value(maj, -0.1)[0] == -math.inf


def test_infeasible_budget_and_bad_input():
    res = solve_mixture_lp([1.0, 2.0], [0.0, 1.0], 0.5)
    assert res.status == "infeasible" and math.isnan(res.value)
    with pytest.raises(ModelError, match="only an optimal"):
        res.verify()
    with pytest.raises(ModelError, match="values has shape"):
        solve_mixture_lp([1.0, 2.0], [0.0], 0.5)
    with pytest.raises(ModelError, match="costs\\[1\\]"):
        solve_mixture_lp([1.0, np.nan], [0.0, 1.0], 0.5)
    with pytest.raises(ModelError, match="budget"):
        concave_majorant([1.0], [0.0]) and majorant_value(concave_majorant([1.0], [0.0]), "x")
    with pytest.raises(ModelError, match="expected \\(n,\\)"):
        best_pair_mixture([], [], 0.0)


# -- the one hull routine against an O(n^3) brute force ------------------------------------------
def _brute_force_hull_value(C: np.ndarray, V: np.ndarray, x: float) -> float:
    """max{w V_i + (1-w) V_j : w C_i + (1-w) C_j = x}: the least concave majorant at x, by
    trying every pair (O(n^2) per x, O(n^3) over the n evaluation points); no hull."""
    best = -math.inf
    for i in range(C.size):
        for j in range(C.size):
            if C[i] <= x <= C[j]:
                w = 1.0 if C[i] == C[j] else (C[j] - x) / (C[j] - C[i])
                best = max(best, w * V[i] + (1 - w) * V[j])
    return best


@st.composite
def random_points(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    n = draw(st.integers(1, 30))
    C = rng.choice(np.linspace(0.0, 1.0, 11), n) if draw(st.booleans()) else rng.random(n)
    return C, rng.normal(size=n)


# The brute force and the hull each do a few flops per point on O(1) numbers: 1e-12 covers
# their rounding 1e3 times, while a missed vertex changes the majorant by O(0.1) here.
HULL_TOL = 1e-12


@given(random_points())
def test_upper_hull_is_concave_majorises_and_touches_its_vertices(pts):
    C, V = pts
    h = upper_hull(C, V)
    hc, hv = C[h], V[h]
    assert np.all(np.diff(hc) > 0)
    slopes = np.diff(hv) / np.diff(hc)
    assert np.all(np.diff(slopes) < 0)  # strictly concave: no redundant collinear vertex
    # majorises every point, and the vertices are points (it touches them)
    assert np.all(np.interp(C, hc, hv) >= V - HULL_TOL)
    for k in range(C.size):  # equals the brute-force majorant at every point's cost
        assert np.interp(C[k], hc, hv) == pytest.approx(_brute_force_hull_value(C, V, C[k]),
                                                        abs=HULL_TOL)
    assert hc[0] == C.min() and hc[-1] == C.max()
    for x in np.linspace(C.min(), C.max(), 7):
        i, j, nu, val = hull_pair(C, V, x, h)
        assert val == pytest.approx(_brute_force_hull_value(C, V, x), abs=HULL_TOL)
        assert nu * C[i] + (1 - nu) * C[j] == pytest.approx(x, abs=HULL_TOL)
        pos_i, pos_j = np.flatnonzero(h == i)[0], np.flatnonzero(h == j)[0]
        assert pos_j - pos_i in (0, 1)  # adjacent hull vertices
    # the non-decreasing majorant is the hull's prefix up to the first maximiser
    maj = concave_majorant(C, V)
    assert np.array_equal(maj.index, h[: int(np.argmax(hv)) + 1])


def test_a_hull_missing_a_vertex_is_caught_by_the_brute_force():
    C, V = np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.0, 0.0])
    assert upper_hull(C, V).tolist() == [0, 1, 2]
    assert np.interp(0.5, [0.0, 1.0], [0.0, 0.0]) < _brute_force_hull_value(C, V, 0.5) - 0.5


def test_envelope_pair_returns_adjacent_hull_vertices():
    """Collinear point 1 is no hull vertex: the pair is the adjacent vertices (0, 2) (the old
    O(n^2) pair search returned (0, 1), a point that is not a vertex)."""
    pts = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [1.0, 3.0]])  # rows (V, C)
    i, j, nu, val = envelope_pair(pts, 0.5)
    assert (i, j) == (0, 2) and nu == pytest.approx(0.75) and val == pytest.approx(0.5)
    pts = np.array([[0.0, 0.0], [1.5, 1.0], [2.0, 2.0]])
    assert envelope_pair(pts, 1.5)[:2] == (1, 2)
    assert envelope_pair(pts, 1.0) == (1, 1, 1.0, 1.5)
