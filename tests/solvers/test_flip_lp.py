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
    majorant_value,
    solve_mixture_lp,
)

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
