"""FourRooms incentive design: layout, kernel, softmax Jacobians, exact hypergradient vs FD."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers.errors import ModelError
from solvers.four_rooms import (
    DOORWAYS,
    FOUR_ROOMS_MAP,
    IncentiveCostReward,
    SoftmaxIncentiveReward,
    four_rooms,
    four_rooms_graph,
    incentive_ascent,
    unfinished_probability,
)
from solvers.hypergradient import bilevel_point
from solvers.leader_opt import projected_gradient_ascent


@pytest.fixture(scope="module")
def fr3():
    return four_rooms(0.003)


def door_start(fr, logit: float = 8.0) -> np.ndarray:
    w = np.zeros(fr.model.n)
    w[fr.state((3, 6))] = logit
    return w


def test_map_has_104_free_cells_and_doorways_join_four_rooms():
    G = four_rooms_graph()
    assert G.number_of_nodes() == 104 == FOUR_ROOMS_MAP.count(" ")
    rooms = list(nx.connected_components(G.subgraph(set(G) - set(DOORWAYS))))
    assert sorted(len(r) for r in rooms) == [20, 25, 25, 30]
    room_of = {c: k for k, r in enumerate(rooms) for c in r}
    joined = {frozenset(room_of[c] for c in G[d] if c in room_of) for d in DOORWAYS}
    # four doorways, each between two rooms, joining the rooms in a ring (4 distinct pairs,
    # every room on exactly two of them)
    assert len(joined) == 4 and all(len(pair) == 2 for pair in joined)
    assert sorted(sum(k in pair for pair in joined) for k in range(4)) == [2, 2, 2, 2]
    assert not nx.is_connected(G.subgraph(set(G) - {(3, 6), (10, 6)}))


def test_kernel_rows_match_hand_computed_slip_probabilities():
    f = 0.33
    fr = four_rooms(0.003, fail_prob=f)
    P = fr.model.kernel.P
    assert np.allclose(P.sum(axis=2), 1.0, atol=1e-15)
    inner = fr.state((2, 2))
    # action right from an open cell: right w.p. 1 - f, up/down/left f/3 each
    assert P[inner, 1, fr.state((2, 3))] == pytest.approx(1 - f, abs=1e-15)
    for cell in ((1, 2), (3, 2), (2, 1)):
        assert P[inner, 1, fr.state(cell)] == pytest.approx(f / 3, abs=1e-15)
    corner = fr.state((1, 1))  # up and left hit walls: staying collects both
    assert P[corner, 0, corner] == pytest.approx(1 - f + f / 3, abs=1e-15)
    assert P[corner, 2, corner] == pytest.approx(2 * f / 3, abs=1e-15)
    sink = P.shape[0] - 1
    assert (P[fr.goal, :, sink] == 1).all() and (P[sink, :, sink] == 1).all()


@given(st.integers(0, 2**32 - 1))
def test_softmax_reward_jacobians_match_central_differences(seed):
    rng = np.random.default_rng(seed)
    S, A, n = 6, 3, 5
    w = rng.normal(scale=2.0, size=n)
    rF = SoftmaxIncentiveReward(rng.normal(size=(S, A)), rng.integers(-1, n, size=S), -0.2, n)
    rU = IncentiveCostReward(rng.normal(size=(S, A)), rng.random((S, A)), 0.2, n - 1, n)
    h = 1e-5
    for r in (rF, rU):
        fd = np.stack([(r.value(w + h * e) - r.value(w - h * e)) / (2 * h)
                       for e in np.eye(n)], axis=-1)
        # truncation h^2 |r'''| / 6 <= 1e-10 (softmax derivatives are O(1)); rounding
        # eps * |r| / h ~ 1e-11
        assert np.abs(fd - r.jacobian(w)).max() < 1e-9


def test_incentives_are_softmax_shares_and_shift_invariant(fr3):
    w = np.random.default_rng(0).normal(size=fr3.model.n)
    inc = fr3.incentives(w)
    p = np.exp(w) / np.exp(w).sum()
    expected = -0.2 * p[:104]
    expected[fr3.goal] = 0.0  # the goal pays no incentive
    assert np.allclose(inc, expected, rtol=1e-14, atol=1e-17)
    assert np.allclose(fr3.incentives(w + 3.0), inc, rtol=1e-12, atol=1e-17)
    cost = fr3.model.r_U.l1(w)
    assert cost == pytest.approx(0.2 * p[:104].sum(), rel=1e-13)


@pytest.mark.parametrize("tau", [0.001, 0.003, 0.005])
def test_exact_hypergradient_matches_central_differences(tau):
    """Directional derivatives along random unit v; the follower is solved to the tightest
    certified tolerance (tol=None, about 1e-12). Observed agreement: ~1e-10 absolute,
    ~1e-7 relative. The certified bound objective_error_bound / h (~1e-4..1e-3 at
    tau = 0.001: the policy-perturbation factor 2/(tau (1 - gamma)) is worst case) is too
    loose to test anything, so the tolerance is 10x the Richardson truncation estimate plus
    1e-9 for rounding (F is computed to ~1e-13, divided by 2h = 2e-3)."""
    fr = four_rooms(tau)
    m = fr.model
    rng = np.random.default_rng(int(tau * 1e4))
    for _ in range(2):
        w = door_start(fr) + rng.normal(size=m.n)
        v = rng.normal(size=m.n)
        v /= np.linalg.norm(v)
        p = bilevel_point(m, w, None)
        g = p.gradient("bc")
        assert np.abs(g - p.gradient("implicit")).max() < 1e-12
        F = {s: bilevel_point(m, w + s * v, None).F for s in (-2e-3, -1e-3, 1e-3, 2e-3)}
        fd1 = (F[1e-3] - F[-1e-3]) / 2e-3
        fd2 = (F[2e-3] - F[-2e-3]) / 4e-3
        tol = 10 * abs(fd1 - fd2) / 3 + 1e-9
        assert abs(fd1 - g @ v) <= tol
        # the frozen-follower gradient (direct term) is caught: off by far more than tol
        assert abs(fd1 - p.direct @ v) > 100 * tol


def test_softmax_shift_invariance_makes_hypergradient_sum_zero(fr3):
    p = bilevel_point(fr3.model, door_start(fr3))
    g = p.gradient("bc")
    assert abs(g.sum()) < 1e-12 * max(1.0, np.abs(g).max()) * fr3.model.n
    assert np.abs(g).max() > 1e-3  # and it is not trivially zero


def test_exact_F_matches_an_independent_map_simulation(fr3):
    """Roll the follower policy out on the map string itself (not the kernel): the
    discounted leader return averages to F within 4 standard errors."""
    w = door_start(fr3)
    p = bilevel_point(fr3.model, w)
    rows = FOUR_ROOMS_MAP.split("\n")
    rng = np.random.default_rng(5)
    N, H, f, gamma = 4000, 700, fr3.fail_prob, 0.99
    cost = 5.0 * fr3.model.r_U.l1(w)
    pos = np.tile(fr3.cells[fr3.start], (N, 1))
    alive = np.ones(N, bool)
    ret = np.zeros(N)
    moves = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])
    for t in range(H):
        s = np.array([fr3.state(tuple(c)) for c in pos[alive]])
        at_goal = (pos[alive] == (1, 9)).all(axis=1)
        at_target = (pos[alive] == (8, 4)).all(axis=1)
        ret[alive] += gamma**t * (at_target - cost * at_goal)
        idx = np.flatnonzero(alive)
        alive[idx[at_goal]] = False
        if not alive.any():
            break
        s = s[~at_goal]
        keep = idx[~at_goal]
        a = (p.pi[s].cumsum(axis=1) < rng.random(len(s))[:, None]).sum(axis=1)
        slip = rng.random(len(s))
        other = (a + 1 + rng.integers(0, 3, len(s))) % 4
        b = np.where(slip < 1 - f, a, other)
        new = pos[keep] + moves[b]
        wall = np.array([rows[r][c] == "x" for r, c in new])
        pos[keep] = np.where(wall[:, None], pos[keep], new)
    assert not alive.any() or gamma**H < 1e-3
    se = ret.std(ddof=1) / np.sqrt(N)
    assert abs(ret.mean() - p.F) <= 4 * se + gamma**H


def test_two_hundred_steps_leave_almost_no_unfinished_episode(fr3):
    p = bilevel_point(fr3.model, door_start(fr3))
    assert unfinished_probability(p, 200) < 1e-6
    assert unfinished_probability(p, 5) > 0.5  # the goal is more than 5 steps away


def test_clip_free_exact_ascent_equals_projected_gradient_ascent(fr3):
    w0 = door_start(fr3)
    mine = incentive_ascent(fr3, w0, step=10.0, iterations=3, clip=None)
    ref = projected_gradient_ascent(fr3.model, w0, (-1e6, 1e6), step=10.0, iterations=3)
    assert np.allclose(mine.w, ref.x, rtol=0, atol=1e-12)
    assert np.allclose(mine.F, ref.F, rtol=0, atol=1e-12)
    assert mine.F[-1] > mine.F[0]


def test_sampled_ascent_is_seeded(fr3):
    w0 = door_start(fr3)
    runs = [incentive_ascent(fr3, w0, step=10.0, iterations=2, gradient="bchg", samples=50,
                             rng=np.random.default_rng(3)) for _ in range(2)]
    assert np.array_equal(runs[0].w, runs[1].w)


def test_bad_inputs_are_rejected(fr3):
    with pytest.raises(ModelError, match="fail_prob"):
        four_rooms(0.003, fail_prob=0.9)
    with pytest.raises(ModelError, match="tau"):
        four_rooms(0.0)
    with pytest.raises(ModelError, match="free cell"):
        fr3.state((0, 0))
    with pytest.raises(ModelError, match="slot"):
        SoftmaxIncentiveReward(np.zeros((2, 2)), np.array([0, 5]), -0.2, 3)
    with pytest.raises(ModelError, match="n_used"):
        IncentiveCostReward(np.zeros((2, 2)), np.zeros((2, 2)), 0.2, 4, 3)
    with pytest.raises(ModelError, match="gradient"):
        incentive_ascent(fr3, np.zeros(105), step=1.0, iterations=1, gradient="sgd")
    with pytest.raises(ModelError, match="rng"):
        incentive_ascent(fr3, np.zeros(105), step=1.0, iterations=1, gradient="bchg")
    with pytest.raises(ModelError, match="x has shape"):
        incentive_ascent(fr3, np.zeros(104), step=1.0, iterations=1)
