"""DiscreteToy4: the game as specified in notes §3.1, its best-response returns, the exact
J(p) profile under both Bellman operators, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from solvers.errors import ModelError
from solvers.markov_game import StackelbergGame, leader_value, solve_follower
from solvers.toy4 import discrete_toy4, toy4_leader_policy, toy4_profile


def test_kernel_is_deterministic_and_matches_the_transition_table():
    g = discrete_toy4(1)
    assert set(np.unique(g.P)) == {0.0, 1.0}
    nxt = g.P.argmax(axis=3)  # (S, L, F) successor
    S, A, B = 0, 1, 2
    assert nxt[S, 0].tolist() == nxt[S, 1].tolist() == [S, A, B]
    assert nxt[A, 0].tolist() == [S, A, B] and nxt[A, 1].tolist() == [S, S, S]
    assert nxt[B, 0].tolist() == nxt[B, 1].tolist() == [S, B, B]
    assert discrete_toy4(2).r_F[A, 0, 2] == 2.0 and g.r_F[A, 0, 2] == 1.0


def _follower_return(R: int, p: float) -> float:
    g = discrete_toy4(R)
    pi_L = toy4_leader_policy(p)
    pi_F = solve_follower(g, pi_L).pi_F
    as_follower = StackelbergGame(g.P, g.r_F, g.r_F, g.mu0, g.gamma_F, g.gamma_U, g.tau)
    return leader_value(as_follower, pi_L, pi_F, horizon=150, gamma=1.0)


def test_best_response_returns_of_the_environment_docstring():
    # a^L = 0 at A: (follower, leader) = (100, 50) over 150 steps; a^L = 1: (75, 0).
    # tau = 0.05 makes the follower almost deterministic: within 1 of the deterministic values.
    assert _follower_return(1, 0.0) == pytest.approx(100, abs=1.0)
    assert toy4_profile(1, 0.0, horizon=150) > 0 and toy4_profile(2, 0.0) == pytest.approx(
        50.0, abs=0.01)
    assert _follower_return(1, 1.0) == pytest.approx(75, abs=1.0)
    assert toy4_profile(2, 1.0) < 0.01


@pytest.mark.parametrize(("R", "p", "value"), [(1, 0.15, 27.29), (1, 0.3, 22.49),
                                                (2, 0.5, 59.75), (2, 0.55, 57.74)])
def test_profile_matches_the_printed_table(R, p, value):
    assert toy4_profile(R, p) == pytest.approx(value, abs=0.005)


def test_code_operator_values_and_agreement_at_a_pure_leader():
    assert toy4_profile(2, 0.55, "code") == pytest.approx(55.53, abs=0.005)
    assert toy4_profile(1, 0.15, "code") == pytest.approx(27.25, abs=0.005)
    for R in (1, 2):  # a deterministic leader: both operators give the same follower
        assert toy4_profile(R, 0.0, "code") == pytest.approx(toy4_profile(R, 0.0), abs=1e-8)


def test_leader_policy_at_S_and_B_is_irrelevant():
    g = discrete_toy4(2)
    pi = toy4_leader_policy(0.4)
    other = pi.copy()
    other[[0, 2]] = [[0.9, 0.1], [0.2, 0.8]]
    vals = [leader_value(g, q, solve_follower(g, q).pi_F, horizon=150, gamma=1.0)
            for q in (pi, other)]
    assert vals[0] == pytest.approx(vals[1], abs=1e-9)


def test_bad_input_is_rejected():
    for call, field in ((lambda: discrete_toy4(3), "R"), (lambda: toy4_profile(1, 1.5), "p"),
                        (lambda: toy4_profile(1, 0.2, "other"), "operator")):
        with pytest.raises(ModelError) as exc:
            call()
        assert exc.value.field == field
