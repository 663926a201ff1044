"""Markov QRE: the fixed point is a mutual soft best response (checked by an independent
soft policy iteration), and the coupled implicit derivative equals finite differences while
the uncoupled single-player formula does not."""

from __future__ import annotations

import numpy as np
import pytest

from solvers.errors import ModelError
from solvers.markov_qre import (
    QREGame,
    designer_hypergradient,
    designer_value,
    qre_jacobian,
    solve_qre,
)
from solvers.soft_dp import ConvergenceError


def game(seed: int = 0, tau=(0.5, 0.7)) -> QREGame:
    rng = np.random.default_rng(seed)
    S, A1, A2, n = 3, 2, 3, 2
    sh = (S, A1, A2)
    return QREGame(rng.dirichlet(np.ones(S), size=sh), rng.normal(size=sh), rng.normal(size=sh),
                   rng.normal(size=(*sh, n)), rng.normal(size=(*sh, n)), np.ones(S) / S, 0.8,
                   *tau)


X = np.array([0.3, -0.2])


def test_equilibrium_is_a_mutual_soft_best_response():
    g = game()
    eq = solve_qre(g, X)
    assert eq.residual <= 1e-11
    # each player's Q equals the soft-optimal Q of the MDP induced by the other's policy
    assert eq.best_response_gap() < 1e-10
    # a perturbed equilibrium is not one: the independent check sees it
    bad = type(eq)(g, eq.x, eq.Q1 + 0.01 * np.eye(3, 2), eq.Q2, eq.pi1, eq.pi2, 0, 0, 0)
    assert bad.best_response_gap() > 1e-3


def test_policy_jacobian_equals_finite_differences_only_when_coupled():
    g, h = game(), 1e-5
    fd = [np.stack([(getattr(solve_qre(g, X + h * e), k) - getattr(solve_qre(g, X - h * e), k))
                    / (2 * h) for e in np.eye(2)], axis=-1) for k in ("pi1", "pi2")]
    d1, d2 = qre_jacobian(g, X)
    # truncation h^2 |pi'''| ~ 1e-10, rounding 1e-11 / h ~ 1e-6 worst case (observed 1e-10)
    assert np.abs(d1 - fd[0]).max() < 1e-7 and np.abs(d2 - fd[1]).max() < 1e-7
    u1, u2 = qre_jacobian(g, X, coupled=False)
    assert max(np.abs(u1 - fd[0]).max(), np.abs(u2 - fd[1]).max()) > 1e-2


def test_designer_hypergradient_equals_finite_differences():
    g, h = game(1), 1e-5
    rD = np.random.default_rng(5).normal(size=(3, 2, 3))
    fd = np.array([(designer_value(g, X + h * e, rD, 0.7) - designer_value(g, X - h * e, rD, 0.7))
                   / (2 * h) for e in np.eye(2)])
    assert np.abs(designer_hypergradient(g, X, rD, 0.7) - fd).max() < 1e-7
    assert np.abs(designer_hypergradient(g, X, rD, 0.7, coupled=False) - fd).max() > 1e-3


def test_non_convergence_raises_instead_of_returning_a_point():
    with pytest.raises(ConvergenceError, match="did not reach"):
        solve_qre(game(), X, max_iter=3)


def test_bad_input_names_the_field():
    g = game()
    args = [g.P, g.r1, g.r2, g.Phi1, g.Phi2, g.mu0, 0.8, 0.5, 0.7]
    for i, value, field in ((7, 0.0, "tau1"), (8, -1.0, "tau2"), (6, 1.0, "gamma"),
                            (4, g.Phi2[..., :1], "Phi2"), (1, g.r1[:2], "r1")):
        bad = list(args)
        bad[i] = value
        with pytest.raises(ModelError) as exc:
            QREGame(*bad)
        assert exc.value.field == field
    with pytest.raises(ModelError) as exc:
        solve_qre(g, X, damping=0.0)
    assert exc.value.field == "damping"
    with pytest.raises(ModelError) as exc:
        solve_qre(g, np.zeros(3))
    assert exc.value.field == "x"
