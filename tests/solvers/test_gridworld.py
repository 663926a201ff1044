"""Gridworlds: the kernel, rewards and costs follow the documented layout semantics.

Every expected number comes from an independent computation: a plain-loop
re-reading of the layout (no networkx), a breadth-first search, networkx
shortest paths on a graph built here, or a hand derivation in the test.
"""

from __future__ import annotations

import math
from collections import deque

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import (
    GridWorld,
    ModelError,
    backward_induction,
    evaluate,
    gridworld,
    policy_iteration,
)

UP, RIGHT, DOWN, LEFT = range(4)
DELTAS = {UP: (-1, 0), RIGHT: (0, 1), DOWN: (1, 0), LEFT: (0, -1)}


@st.composite
def layouts(draw, max_rows: int = 4, max_cols: int = 5) -> list[str]:
    """Random layouts over '.#SGX' with at least one start cell."""
    n_rows = draw(st.integers(1, max_rows))
    n_cols = draw(st.integers(1, max_cols))
    chars = st.sampled_from(".....##SGX")
    grid = [[draw(chars) for _ in range(n_cols)] for _ in range(n_rows)]
    grid[draw(st.integers(0, n_rows - 1))][draw(st.integers(0, n_cols - 1))] = "S"
    return ["".join(row) for row in grid]


def reference_kernel(layout: list[str], slip: float) -> np.ndarray:
    """P[s, a, s'] re-derived from the layout with plain loops (row-major free cells)."""
    cells = [(i, j) for i, row in enumerate(layout) for j, ch in enumerate(row) if ch != "#"]
    idx = {c: k for k, c in enumerate(cells)}
    S = len(cells)
    P = np.zeros((S, 4, S))
    for (i, j), s in idx.items():
        if layout[i][j] == "G":
            P[s, :, s] = 1.0
            continue
        for a in range(4):
            for b, (di, dj) in DELTAS.items():
                w = 1.0 - slip if a == b else slip / 3.0
                ni, nj = i + di, j + dj
                inside = 0 <= ni < len(layout) and 0 <= nj < len(layout[0])
                target = (ni, nj) if inside and layout[ni][nj] != "#" else (i, j)
                P[s, a, idx[target]] += w
    return P


def bfs_goal_distance(layout: list[str]) -> dict[tuple[int, int], int]:
    """Moves from each free cell to the nearest 'G', by breadth-first search from the goals."""
    goals = [(i, j) for i, row in enumerate(layout) for j, ch in enumerate(row) if ch == "G"]
    dist = dict.fromkeys(goals, 0)
    queue = deque(goals)
    while queue:
        i, j = queue.popleft()
        for di, dj in DELTAS.values():
            ni, nj = i + di, j + dj
            if (0 <= ni < len(layout) and 0 <= nj < len(layout[0])
                    and layout[ni][nj] != "#" and (ni, nj) not in dist):
                dist[(ni, nj)] = dist[(i, j)] + 1
                queue.append((ni, nj))
    return dist


# -- the kernel -------------------------------------------------------------------

@given(layouts(), st.sampled_from([0.0, 0.1, 0.3, 0.75, 1.0]))
def test_kernel_matches_an_independent_reading_of_the_layout(layout, slip):
    g = gridworld(layout, slip=slip)
    np.testing.assert_allclose(g.mdp.dense_P(), reference_kernel(layout, slip), atol=1e-15)


@given(layouts())
def test_slip_zero_gives_deterministic_moves(layout):
    P = gridworld(layout, slip=0.0).mdp.dense_P()
    assert np.all((P == 0.0) | (P == 1.0))
    assert np.all((P == 1.0).sum(axis=2) == 1)


@pytest.mark.parametrize("slip", [0.05, 0.3, 0.75, 1.0])
def test_slip_moves_intended_with_one_minus_slip_and_each_other_way_with_slip_over_three(slip):
    g = gridworld(["...", ".S.", "..."], slip=slip)
    centre = g.index[(1, 1)]
    for a in range(4):
        row = g.mdp.P[centre, a]
        assert np.count_nonzero(row) == (4 if slip < 1 else 3)
        for b, (ei, ej) in DELTAS.items():
            expected = 1.0 - slip if a == b else slip / 3.0
            assert row[g.index[(1 + ei, 1 + ej)]] == pytest.approx(expected, abs=1e-15)


def test_moves_into_walls_or_off_the_grid_stay_in_place():
    g = gridworld(["#.#", "#S#", "###"])
    s = g.index[(1, 1)]
    assert g.mdp.P[s, UP, g.index[(0, 1)]] == 1.0
    for a in (RIGHT, DOWN, LEFT):           # wall, wall, wall
        assert g.mdp.P[s, a, s] == 1.0
    top = g.index[(0, 1)]
    assert g.mdp.P[top, UP, top] == 1.0     # off the grid


def test_goal_is_absorbing_with_zero_reward_and_cost():
    g = gridworld(["SXG"], slip=0.2, step_reward=-1.0, goal_reward=5.0)
    (goal,) = g.goals
    assert np.all(g.mdp.P[goal, :, goal] == 1.0)
    assert np.all(g.mdp.r[goal] == 0.0) and np.all(g.mdp.costs[:, goal] == 0.0)


def test_reward_is_step_reward_plus_goal_reward_times_the_probability_of_entering_a_goal():
    slip, step, bonus = 0.3, -0.5, 2.0
    g = gridworld(["S.G"], slip=slip, step_reward=step, goal_reward=bonus)
    middle = g.index[(0, 1)]
    # From the middle only "right" enters G: intended for a = RIGHT, a slip otherwise.
    expected = [step + bonus * (slip / 3 if a != RIGHT else 1 - slip) for a in range(4)]
    np.testing.assert_allclose(g.mdp.r[middle], expected, atol=1e-15)
    np.testing.assert_allclose(g.mdp.r[g.index[(0, 0)]], step, atol=1e-15)


def test_sparse_and_dense_kernels_agree():
    layout = ["S..#", ".#.G", "..X."]
    dense = gridworld(layout, slip=0.2, sparse=False).mdp
    sparse = gridworld(layout, slip=0.2, sparse=True).mdp
    assert sparse.is_sparse and not dense.is_sparse
    np.testing.assert_array_equal(sparse.dense_P(), dense.dense_P())


# -- values ----------------------------------------------------------------------

@given(st.integers(2, 12), st.sampled_from([0.5, 0.9, 0.99]), st.sampled_from([0.0, -1.0]),
       st.sampled_from([1.0, 3.0]))
def test_corridor_value_is_discounted_steps_plus_goal_reward_times_gamma_to_distance_minus_one(
        n, gamma, step, bonus):
    layout = ["S" + "." * (n - 2) + "G"]
    d = nx.shortest_path_length(nx.path_graph(n), 0, n - 1)     # independent distance
    g = gridworld(layout, gamma=gamma, step_reward=step, goal_reward=bonus)
    res = policy_iteration(g.mdp)
    assert res.status == "optimal"
    # The goal is entered by the d-th action, taken at time t = d - 1.
    expected = step * (1 - gamma**d) / (1 - gamma) + bonus * gamma ** (d - 1)
    assert res.value == pytest.approx(expected, rel=1e-10, abs=1e-12)


@given(layouts(max_rows=5, max_cols=6), st.sampled_from([0.5, 0.9]))
def test_optimal_values_on_random_mazes_are_gamma_to_the_bfs_distance_minus_one(layout, gamma):
    g = gridworld(layout, gamma=gamma)
    res = policy_iteration(g.mdp)
    assert res.status == "optimal"
    dist = bfs_goal_distance(layout)
    expected = np.array([gamma ** (dist[c] - 1) if dist.get(c, 0) >= 1 else 0.0
                         for c in g.cells])
    np.testing.assert_allclose(res.v, expected, atol=1e-10)
    np.testing.assert_array_equal(
        g.goal_distances(), [dist.get(c, math.inf) for c in g.cells])


@pytest.mark.parametrize("H", [1, 3, 4, 9])
def test_finite_horizon_value_counts_steps_until_the_goal(H):
    g = gridworld(["S...G"], horizon=H, step_reward=-1.0, goal_reward=10.0)
    assert g.mdp.finite_horizon and g.mdp.H == H
    res = backward_induction(g.mdp)
    d = 4
    assert res.value == pytest.approx(-min(d, H) + 10.0 * (d <= H), abs=1e-12)


def test_unsafe_cells_cost_once_per_step_spent_there():
    gamma = 0.8
    g = gridworld(["SXG"], gamma=gamma, unsafe_cost=2.0)
    assert g.mdp.K == 1 and g.unsafe == (g.index[(0, 1)],)
    right = np.eye(4)[[RIGHT] * g.mdp.S]
    ev = evaluate(g.mdp, right)
    # t = 0 in S (no cost), t = 1 in X (cost 2, and the action enters G: reward 1).
    assert ev.cost_values[0] == pytest.approx(2.0 * gamma, abs=1e-12)
    assert ev.value == pytest.approx(gamma, abs=1e-12)
    assert gridworld(["S.G"]).mdp.K == 0


def test_mu0_is_uniform_over_start_cells():
    g = gridworld(["S.#S", "..S."])
    starts = [g.index[c] for c in [(0, 0), (0, 3), (1, 2)]]
    assert sorted(g.starts) == sorted(starts)
    expected = np.zeros(g.mdp.S)
    expected[starts] = 1 / 3
    np.testing.assert_allclose(g.mdp.mu0, expected, atol=1e-15)


@given(layouts())
def test_cells_index_and_graph_describe_the_free_cells_in_row_major_order(layout):
    g = gridworld(layout)
    free = [(i, j) for i, row in enumerate(layout) for j, ch in enumerate(row) if ch != "#"]
    assert list(g.cells) == free
    assert all(g.index[c] == s for s, c in enumerate(g.cells))
    assert set(g.graph.nodes) == set(free)
    expected_edges = {frozenset({(i, j), (i + di, j + dj)}) for i, j in free
                      for di, dj in DELTAS.values() if (i + di, j + dj) in g.index}
    assert {frozenset(e) for e in g.graph.edges} == expected_edges
    assert all(g.graph.nodes[c]["kind"] == layout[c[0]][c[1]] for c in free)
    assert g.action_names == ("up", "right", "down", "left")


# -- rendering -------------------------------------------------------------------

def test_render_values_puts_each_value_on_its_cell_and_marks_walls():
    g = gridworld(["S.#", "..G"])
    text = g.render_values(np.arange(g.mdp.S, dtype=float), fmt="{:.1f}")
    assert text.splitlines() == ["0.0 1.0   #", "2.0 3.0 4.0"]


def test_render_policy_draws_the_optimal_corridor_as_arrows():
    g = gridworld(["S..G"])
    res = policy_iteration(g.mdp)
    assert res.status == "optimal"
    assert g.render_policy(res.pi) == "> > > G"
    assert g.render_policy(res.actions) == "> > > G"


def test_render_rejects_a_value_vector_of_the_wrong_length():
    g = gridworld(["S.G"])
    with pytest.raises(ModelError, match=r"v has shape \(2,\), expected \(S,\) = \(3,\)"):
        g.render_values(np.zeros(2))


def test_gridworld_is_frozen_and_reprs_briefly():
    g = gridworld(["S.G"])
    assert isinstance(g, GridWorld)
    with pytest.raises(AttributeError):
        g.slip = 0.5
    assert repr(g).startswith("GridWorld(1x3, S=3, starts=(0,), goals=(2,), unsafe=(), slip=0")


# -- errors ----------------------------------------------------------------------

@pytest.mark.parametrize(("layout", "match"), [
    (["S..", ".."], r"layout\[1\] \(row 1\) has length 2, expected 3"),
    (["S..", ".Z."], r"layout\[1\]\[1\] = 'Z' \(row 1, col 1\) is not a layout character"),
    (["...", ".G."], r"no start cell 'S'"),
    ([], r"non-empty sequence"),
    ("S.G", r"single str"),
    (["S.", 3], r"layout\[1\] = 3 is a int, expected a str"),
    ([""], r"layout\[0\] is an empty string"),
])
def test_malformed_layouts_raise_model_error_naming_row_and_column(layout, match):
    with pytest.raises(ModelError, match=match) as info:
        gridworld(layout)
    assert info.value.field == "layout"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"slip": -0.1}, "slip"),
    ({"slip": 1.5}, "slip"),
    ({"slip": math.nan}, "slip"),
    ({"slip": True}, "slip"),
    ({"goal_reward": math.inf}, "goal_reward"),
    ({"step_reward": "1"}, "step_reward"),
    ({"unsafe_cost": math.nan}, "unsafe_cost"),
    ({"sparse": "yes"}, "sparse"),
    ({"gamma": 1.0}, "gamma"),
    ({"horizon": 0}, "horizon"),
])
def test_bad_parameters_raise_model_error_naming_the_field(kwargs, field):
    with pytest.raises(ModelError, match=field) as info:
        gridworld(["S.G"], **kwargs)
    assert info.value.field == field
