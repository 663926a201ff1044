"""Stackelberg Markov games: validation, the follower's augmented MDP, the two Bellman
operators, the exact hypergradient against finite differences, and the sampled estimator."""

from __future__ import annotations

import numpy as np
import pytest

from solvers.errors import ModelError
from solvers.markov_game import (
    SoftmaxTableLeader,
    StackelbergGame,
    follower_mdp,
    leader_value,
    naive_direct_gradient,
    solve_follower,
    stackelberg_hypergradient,
    stackelberg_objective,
    stackelberg_point,
)
from solvers.markov_game_sampling import sampled_stackelberg_hypergradient
from solvers.mdp import TabularMDP
from solvers.soft_dp import soft_policy_iteration


def notes_game(seed: int = 0) -> StackelbergGame:
    """The notes' §4 configuration: S = 4, 2 leader x 3 follower actions, tau 0.3, 0.9/0.85."""
    rng = np.random.default_rng(seed)
    S, L, F = 4, 2, 3
    return StackelbergGame(rng.dirichlet(np.ones(S), size=(S, L, F)), rng.normal(size=(S, L, F)),
                           rng.normal(size=(S, L, F)), np.ones(S) / S, 0.9, 0.85, 0.3)


def central_fd(game, x, h=1e-5):
    return np.array([(stackelberg_objective(game, x + h * e, tol=1e-12)
                      - stackelberg_objective(game, x - h * e, tol=1e-12)) / (2 * h)
                     for e in np.eye(len(x))])


X = np.random.default_rng(1).normal(size=8)


def test_bad_games_are_rejected_naming_the_field():
    g = notes_game()
    args = dict(P=g.P, r_F=g.r_F, r_U=g.r_U, mu0=g.mu0, gamma_F=0.9, gamma_U=0.85, tau=0.3)
    bad_P = g.P.copy()
    bad_P[1, 0, 2, 0] += 0.1
    for change, field in (({"P": bad_P}, "P"), ({"tau": 0.0}, "tau"), ({"tau": -1.0}, "tau"),
                          ({"gamma_F": 1.0}, "gamma_F"), ({"gamma_U": -0.1}, "gamma_U"),
                          ({"r_U": g.r_U[:, :, :2]}, "r_U"), ({"mu0": np.ones(4)}, "mu0")):
        with pytest.raises(ModelError) as exc:
            StackelbergGame(**{**args, **change})
        assert exc.value.field == field


def test_zero_leader_probability_in_the_score_is_rejected():
    g = notes_game()
    x = np.zeros(8)
    x[0], x[1] = 800.0, -800.0  # exp(-1600) underflows: pi_x(1 | 0) == 0 exactly
    assert SoftmaxTableLeader(4, 2).policy(x)[0, 1] == 0.0
    for call in (lambda: SoftmaxTableLeader(4, 2).score(x),
                 lambda: stackelberg_hypergradient(g, x),
                 lambda: sampled_stackelberg_hypergradient(g, x, 10, np.random.default_rng(0))):
        with pytest.raises(ModelError, match="log pi") as exc:
            call()
        assert exc.value.field == "pi_L"
    # the objective itself needs no score and is finite there
    assert np.isfinite(stackelberg_objective(g, x))


def test_softmax_score_matches_finite_differences_of_log_policy():
    lead, x, h = SoftmaxTableLeader(4, 2), X, 1e-6
    fd = np.stack([(np.log(lead.policy(x + h * e)) - np.log(lead.policy(x - h * e))) / (2 * h)
                   for e in np.eye(8)], axis=-1)
    assert np.abs(lead.score(x) - fd).max() < 1e-8  # FD error ~ h^2 + eps / h ~ 1e-10


def test_consistent_operator_is_the_soft_optimum_of_the_augmented_mdp():
    g = notes_game()
    pi_L = SoftmaxTableLeader(4, 2).policy(X)
    aug = follower_mdp(g, pi_L)
    assert np.abs(aug["P"].sum(axis=2) - 1).max() < 1e-12
    mdp = TabularMDP(aug["P"], aug["r_F"], aug["mu0"], gamma=g.gamma_F)
    ref = soft_policy_iteration(mdp, g.tau, 1e-12).require()  # Newton, an independent solver
    mine = solve_follower(g, pi_L, "consistent", tol=1e-12)
    assert np.abs(mine.Q.reshape(8, 3) - ref.Q).max() < 1e-11
    assert mine.error_bound <= 1e-12


def test_operators_agree_for_a_deterministic_leader_and_differ_for_a_mixed_one():
    g = notes_game()
    det = np.tile([1.0, 0.0], (4, 1))
    a, b = (solve_follower(g, det, op, tol=1e-12).Q for op in ("consistent", "code"))
    assert np.abs(a - b).max() < 1e-10
    mixed = np.tile([0.5, 0.5], (4, 1))
    a, b = (solve_follower(g, mixed, op, tol=1e-12).Q for op in ("consistent", "code"))
    # log-sum-exp is convex: averaging inside (code) gives a smaller backup than outside
    assert (a - b).min() > -1e-10 and (a - b).max() > 1e-3


def test_leader_value_solve_equals_long_forward_propagation():
    g = notes_game()
    pi_L = SoftmaxTableLeader(4, 2).policy(X)
    pi_F = solve_follower(g, pi_L).pi_F
    # truncation of the 400-step sum: 0.85^400 max|r_U| / (1 - 0.85) < 1e-27
    assert leader_value(g, pi_L, pi_F) == pytest.approx(
        leader_value(g, pi_L, pi_F, horizon=400, gamma=g.gamma_U), abs=1e-12)


def test_exact_hypergradient_forms_agree_with_finite_differences():
    g = notes_game()
    pt = stackelberg_point(g, X, tol=None)
    fd = central_fd(g, X)
    # h = 1e-5: truncation ~ h^2 |J'''| ~ 1e-9, rounding ~ 1e-13 / h ~ 1e-8
    for method in ("bc", "score", "implicit"):
        assert np.abs(pt.gradient(method) - fd).max() < 1e-7, method
    assert pt.F == pytest.approx(stackelberg_objective(g, X), abs=1e-9)
    # Naive-PGD (direct term only) is visibly off (the notes measure 0.065 on theirs)
    assert np.abs(naive_direct_gradient(g, X) - fd).max() > 1e-2
    # and the initial-distribution term is needed: dropping it is caught
    assert np.abs(pt.bilevel.gradient("bc") - fd).max() > 1e-3


def test_sampled_estimator_is_unbiased_and_the_naive_one_is_not():
    g = notes_game()
    pt = stackelberg_point(g, X)
    exact = pt.gradient()
    sg = sampled_stackelberg_hypergradient(g, X, 4000, np.random.default_rng(3), point=pt)
    z = np.abs(sg.mean - exact) / sg.stderr
    # 8 components, Bonferroni at family-wise 1e-6: threshold 5.5; unbiased means |z| small
    assert z.max() < 5.5
    naive = sampled_stackelberg_hypergradient(g, X, 4000, np.random.default_rng(3),
                                              method="naive", point=pt)
    assert (np.abs(naive.mean - pt.direct) / naive.stderr).max() < 5.5
    assert (np.abs(naive.mean - exact) / naive.stderr).max() > 5.5


def test_sampling_is_reproducible_from_the_seed():
    g = notes_game()
    a, b = (sampled_stackelberg_hypergradient(g, X, 50, np.random.default_rng(7), H=30)
            for _ in range(2))
    assert a.samples.tobytes() == b.samples.tobytes()
    c = sampled_stackelberg_hypergradient(g, X, 50, np.random.default_rng(8), H=30)
    assert c.samples.tobytes() != a.samples.tobytes()


def test_an_unreachable_follower_tolerance_raises_instead_of_looping():
    from solvers.soft_dp import ConvergenceError
    g = notes_game()
    with pytest.raises(ConvergenceError, match="rounding floor"):
        solve_follower(g, np.tile([0.5, 0.5], (4, 1)), tol=1e-17)
    with pytest.raises(ModelError) as exc:
        solve_follower(g, np.tile([0.5, 0.6], (4, 1)))
    assert exc.value.field == "pi_L"


def test_sampler_is_still_importable_from_markov_game_for_compatibility():
    import solvers.markov_game as mg

    assert mg.sampled_stackelberg_hypergradient is sampled_stackelberg_hypergradient
    with pytest.raises(AttributeError):
        mg.no_such_name  # noqa: B018
