"""from_gymnasium: toy_text tables become TabularMDPs with one absorbing terminal state.

Expected numbers come from outside the adapter: networkx shortest paths on
the environment's map, a hand-rolled Bellman evaluation straight from the
``P`` dictionaries, gymnasium's own ``env.step`` (seeded rollouts and a Monte
Carlo estimate), and Taxi's ``decode``.
"""

from __future__ import annotations

import math
import re
import sys

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError, evaluate, from_gymnasium, policy_iteration

gym = pytest.importorskip("gymnasium")
from gymnasium.envs.toy_text.cliffwalking import CliffWalkingEnv  # noqa: E402
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv, generate_random_map  # noqa: E402
from gymnasium.envs.toy_text.taxi import TaxiEnv  # noqa: E402


class TableEnv:
    """A minimal object exposing ``unwrapped.P`` (and optionally initial_state_distrib)."""

    def __init__(self, P, mu0=None):
        self.P = P
        if mu0 is not None:
            self.initial_state_distrib = mu0

    @property
    def unwrapped(self):
        return self


def map_distance(desc: list[str], source: str, target: str, blocked: str) -> int:
    """Shortest number of moves from the source letter to the target letter avoiding `blocked`."""
    rows, cols = len(desc), len(desc[0])
    graph = nx.grid_2d_graph(rows, cols)
    graph.remove_nodes_from([(i, j) for i in range(rows) for j in range(cols)
                             if desc[i][j] in blocked])
    find = {ch: next((i, j) for i in range(rows) for j in range(cols) if desc[i][j] == ch)
            for ch in (source, target)}
    return nx.shortest_path_length(graph, find[source], find[target])


def bellman_policy_value(P: dict, actions: np.ndarray, gamma: float, sweeps: int) -> np.ndarray:
    """V^pi from the raw P dict by fixed-point iteration; terminated steps add no future value."""
    nS = len(P)
    v = np.zeros(nS)
    for _ in range(sweeps):
        v = np.array([sum(p * (rew + (0.0 if done else gamma * v[nxt]))
                          for p, nxt, rew, done in P[s][int(actions[s])]) for s in range(nS)])
    return v


def rollout_return(env, actions: np.ndarray, seed: int, gamma: float, max_steps: int = 500):
    """Discounted return of following `actions` in gymnasium's own env.step from reset(seed)."""
    s, _ = env.reset(seed=seed)
    s0, total, discount = s, 0.0, 1.0
    for _ in range(max_steps):
        s, rew, terminated, truncated, _ = env.step(int(actions[s]))
        total += discount * rew
        discount *= gamma
        if terminated or truncated:
            break
    return s0, total


# -- known optimal values -----------------------------------------------------------

def test_deterministic_frozenlake_optimal_value_is_gamma_to_the_path_length_minus_one():
    env = FrozenLakeEnv(map_name="4x4", is_slippery=False)
    desc = ["".join(c.decode() for c in row) for row in env.desc]
    d = map_distance(desc, "S", "G", blocked="H")
    assert d == 6
    gamma = 0.9
    res = policy_iteration(from_gymnasium(env, gamma=gamma))
    assert res.status == "optimal"
    # Reward 1 arrives with the d-th action, at time t = d - 1 = 5.
    assert res.value == pytest.approx(gamma ** (d - 1), rel=1e-12)


@given(st.integers(3, 6), st.integers(0, 10_000))
def test_random_deterministic_frozenlake_maps_have_value_gamma_to_distance_minus_one(size, seed):
    desc = generate_random_map(size=size, p=0.7, seed=seed)   # always has a safe path
    gamma = 0.95
    res = policy_iteration(from_gymnasium(FrozenLakeEnv(desc=desc, is_slippery=False),
                                          gamma=gamma))
    assert res.status == "optimal"
    d = map_distance(desc, "S", "G", blocked="H")
    assert res.value == pytest.approx(gamma ** (d - 1), rel=1e-10)


def test_cliffwalking_shortest_return_is_minus_13_undiscounted():
    env = CliffWalkingEnv()
    desc = ["." * 12, "." * 12, "." * 12, "S" + "C" * 10 + "G"]
    d = map_distance(desc, "S", "G", blocked="C")
    assert d == 13
    res = policy_iteration(from_gymnasium(env, horizon=50))
    assert res.status == "optimal"
    assert res.value == pytest.approx(-d, abs=1e-12)
    gamma = 0.99
    discounted = policy_iteration(from_gymnasium(env, gamma=gamma))
    assert discounted.value == pytest.approx(-(1 - gamma**d) / (1 - gamma), rel=1e-10)


@pytest.mark.parametrize("make", [
    lambda: FrozenLakeEnv(map_name="8x8", is_slippery=False),
    lambda: CliffWalkingEnv(),
    lambda: TaxiEnv(),
], ids=["frozenlake8x8", "cliffwalking", "taxi"])
def test_greedy_rollouts_in_gymnasium_earn_exactly_the_planned_value(make):
    env, gamma = make(), 0.9
    res = policy_iteration(from_gymnasium(env, gamma=gamma))
    assert res.status == "optimal"
    for seed in range(5):
        s0, ret = rollout_return(env, res.actions, seed, gamma)
        assert ret == pytest.approx(res.v[s0], abs=1e-9)


# -- stochastic dynamics ---------------------------------------------------------------

def test_slippery_frozenlake_policy_value_matches_bellman_evaluation_of_the_raw_table():
    env, gamma = FrozenLakeEnv(map_name="4x4", is_slippery=True), 0.9
    res = policy_iteration(from_gymnasium(env, gamma=gamma))
    assert res.status == "optimal"
    v = bellman_policy_value(env.P, res.actions, gamma, sweeps=400)   # gamma^400 ~ 5e-19
    np.testing.assert_allclose(res.v[:16], v, atol=1e-12)
    assert res.v[16] == 0.0


def test_slippery_frozenlake_value_agrees_with_gymnasium_monte_carlo():
    env, gamma = FrozenLakeEnv(map_name="4x4", is_slippery=True), 0.9
    res = policy_iteration(from_gymnasium(env, gamma=gamma))
    returns = [rollout_return(env, res.actions, seed, gamma, max_steps=300)[1]
               for seed in range(1500)]
    stderr = np.std(returns) / math.sqrt(len(returns))
    assert abs(np.mean(returns) - res.value) < 4 * stderr


@pytest.mark.parametrize("make", [
    lambda: FrozenLakeEnv(map_name="4x4", is_slippery=True),
    lambda: CliffWalkingEnv(is_slippery=True),
], ids=["frozenlake", "cliffwalking"])
def test_every_gymnasium_step_has_positive_probability_in_the_model(make):
    env = make()
    mdp, info = from_gymnasium(env, return_info=True)
    P = mdp.dense_P()
    rng = np.random.default_rng(0)
    s, _ = env.reset(seed=0)
    for _ in range(400):
        a = int(rng.integers(mdp.A))
        s_next, _, terminated, _, _ = env.step(a)
        assert P[s, a, info.terminal if terminated else s_next] > 0
        s = env.reset()[0] if terminated else s_next


def test_duplicate_outcomes_of_one_state_action_are_summed():
    env = FrozenLakeEnv(map_name="4x4", is_slippery=True)
    left, P = 0, from_gymnasium(env).dense_P()
    # From the corner, LEFT slips to UP (stay), LEFT (stay) or DOWN (state 4), 1/3 each.
    assert P[0, left, 0] == pytest.approx(2 / 3, abs=1e-15)
    assert P[0, left, 4] == pytest.approx(1 / 3, abs=1e-15)
    table = {0: {0: [(0.25, 0, 1.0, False), (0.5, 0, 1.0, False), (0.25, 0, 3.0, True)]}}
    mdp = from_gymnasium(TableEnv(table, mu0=[1.0]))
    assert mdp.P[0, 0, 0] == 0.75 and mdp.P[0, 0, 1] == 0.25
    assert mdp.r[0, 0] == pytest.approx(0.25 + 0.5 + 0.75)


# -- the terminal state --------------------------------------------------------------

def test_taxi_converts_with_501_states_and_terminates_only_on_correct_dropoff():
    env = TaxiEnv()
    mdp, info = from_gymnasium(env, return_info=True)
    assert (mdp.S, mdp.A, info.terminal, info.n_env_states) == (501, 6, 500, 500)
    assert mdp.is_sparse
    dropoff = 5
    expected = np.zeros((500, 6))
    for s in range(500):
        row, col, passenger, dest = env.decode(s)
        if passenger == 4 and (row, col) == env.locs[dest]:
            expected[s, dropoff] = 1.0
    assert expected.sum() == 4
    np.testing.assert_array_equal(info.termination_prob, expected)
    P = mdp.dense_P()
    assert np.all(P[500, :, 500] == 1.0) and np.all(mdp.r[500] == 0.0)
    # 25 taxi cells x 4 passenger locations x 3 other destinations, uniformly.
    assert np.count_nonzero(mdp.mu0) == 300 and mdp.mu0[500] == 0.0
    np.testing.assert_allclose(mdp.mu0[mdp.mu0 > 0], 1 / 300)


def test_frozenlake_holes_and_goal_lead_to_the_terminal_state():
    env = FrozenLakeEnv(map_name="4x4", is_slippery=False)
    mdp, info = from_gymnasium(env, return_info=True)
    letters = "".join(c.decode() for row in env.desc for c in row)
    for s, ch in enumerate(letters):
        if ch in "HG":          # P lists (1, s, 0, True): terminated, so it enters the terminal
            assert np.all(mdp.P[s, :, info.terminal] == 1.0)
    assert info.env_id is None
    assert from_gymnasium("FrozenLake-v1", return_info=True)[1].env_id == "FrozenLake-v1"


@given(st.integers(1, 4), st.integers(1, 3), st.data())
def test_model_values_equal_bellman_evaluation_of_random_tables(nS, nA, data):
    table = {}
    for s in range(nS):
        table[s] = {}
        for a in range(nA):
            k = data.draw(st.integers(1, 3))
            w = data.draw(st.lists(st.integers(1, 5), min_size=k, max_size=k))
            table[s][a] = [(wi / sum(w), data.draw(st.integers(0, nS - 1)),
                            data.draw(st.integers(-3, 3)), data.draw(st.booleans()))
                           for wi in w]
    actions = np.array(data.draw(st.lists(st.integers(0, nA - 1), min_size=nS, max_size=nS)))
    gamma = 0.5
    mdp, info = from_gymnasium(TableEnv(table, mu0=np.full(nS, 1 / nS)), gamma=gamma,
                               return_info=True)
    assert mdp.S == nS + 1 and np.all(mdp.dense_P()[info.terminal, :, info.terminal] == 1)
    ev = evaluate(mdp, np.eye(nA)[np.append(actions, 0)])
    expected = bellman_policy_value(table, actions, gamma, sweeps=80)   # 0.5^80 ~ 1e-24
    np.testing.assert_allclose(ev.v[:nS], expected, atol=1e-10)


def test_finite_horizon_conversion_is_undiscounted():
    mdp = from_gymnasium(CliffWalkingEnv(), horizon=7)
    assert mdp.finite_horizon and mdp.H == 7 and mdp.gamma == 1.0


# -- errors --------------------------------------------------------------------------

def test_an_object_without_unwrapped_raises_model_error_naming_env():
    with pytest.raises(ModelError, match=r"has no \.unwrapped attribute") as info:
        from_gymnasium(object())
    assert info.value.field == "env"


def test_an_env_without_a_transition_table_raises_model_error_naming_p():
    with pytest.raises(ModelError, match="has no transition table P") as info:
        from_gymnasium(gym.make("Blackjack-v1"))
    assert info.value.field == "env.unwrapped.P"


def test_a_missing_initial_distribution_raises_unless_mu0_is_given():
    table = {0: {0: [(1.0, 1, 0.0, False)]}, 1: {0: [(1.0, 1, 1.0, True)]}}
    with pytest.raises(ModelError, match=r"initial_state_distrib.*pass mu0=") as info:
        from_gymnasium(TableEnv(table))
    assert info.value.field == "env.unwrapped.initial_state_distrib"
    mdp = from_gymnasium(TableEnv(table), mu0=[0.0, 1.0])
    np.testing.assert_array_equal(mdp.mu0, [0.0, 1.0, 0.0])


@pytest.mark.parametrize(("entry", "match"), [
    ((1.0, 7, 0.0, False), r"P\[0\]\[0\]\[0\] has next_state = 7, expected a state in \[0, 2\)"),
    ((-1.0, 0, 0.0, False), r"prob = -1.0, expected a probability >= 0"),
    ((1.0, 0, math.nan, False), r"reward = nan"),
    ((1.0, 0, 0.0), r"expected \(prob, next_state, reward, terminated\)"),
    ((1.0, 0.5, 0.0, False), r"next_state = 0.5, expected an integer"),
    ((1.0, 0, 0.0, "no"), r"terminated = 'no', expected a bool"),
    ((0.5, 0, 0.0, False), r"env.unwrapped.P\[0, 0, :\] sums to 0.5"),
])
def test_malformed_table_entries_raise_model_error_naming_the_entry(entry, match):
    table = {0: {0: [entry]}, 1: {0: [(1.0, 1, 0.0, False)]}}
    with pytest.raises(ModelError, match=match) as info:
        from_gymnasium(TableEnv(table, mu0=[1.0, 0.0]))
    assert info.value.field == "env.unwrapped.P"


def test_missing_states_or_empty_outcome_lists_raise_model_error():
    with pytest.raises(ModelError, match=r"P\[1\] is missing"):
        from_gymnasium(TableEnv({0: {0: [(1.0, 0, 0.0, False)]}, 2: {0: []}}, mu0=[1.0, 0, 0]))
    with pytest.raises(ModelError, match=r"P\[0\]\[0\] is empty"):
        from_gymnasium(TableEnv({0: {0: []}}, mu0=[1.0]))


def test_fickle_taxi_is_rejected_because_p_does_not_describe_it():
    with pytest.raises(ModelError, match="fickle_passenger"):
        from_gymnasium(TaxiEnv(fickle_passenger=True))


def test_make_kwargs_need_an_environment_id():
    with pytest.raises(ModelError, match="make_kwargs") as info:
        from_gymnasium(CliffWalkingEnv(), make_kwargs={"is_slippery": True})
    assert info.value.field == "make_kwargs"


def test_an_environment_id_without_gymnasium_raises_import_error_with_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)
    message = "from_gymnasium needs gymnasium: pip install -e '.[gym]'"
    with pytest.raises(ImportError, match=re.escape(message)):
        from_gymnasium("FrozenLake-v1")
