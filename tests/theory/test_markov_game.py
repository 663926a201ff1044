"""Markov-game theorems: each ends as expected under a short search, and each check can fail
on a perturbed input."""

from __future__ import annotations

import numpy as np
import pytest

import theory.markov_game as tm
from solvers.markov_game import stackelberg_point
from solvers.markov_game_sampling import sampled_stackelberg_hypergradient
from theory import get
from theory.bilevel import unbiasedness_evidence, z_threshold
from theory.falsify import check

#: (id, examples): the heavier checks run fewer examples to keep this file under ~20 s.
THEOREMS = [("markov_game.stackelberg_hypergradient", 8), ("markov_game.naive_pgd_bias_bound", 8),
            ("markov_game.naive_pgd_bias", 2), ("markov_game.qre_hypergradient", 6),
            ("markov_game.toy4_profile", 10), ("markov_game.stackelberg_estimator_unbiased", 5)]


@pytest.mark.parametrize(("tid", "examples"), THEOREMS)
def test_theorem_status_is_its_expectation(tid, examples):
    th = get(tid)
    res = check(th, examples=examples, seed=0)
    assert res.status == th.expected, (tid, res.error, res.counterexample_evidence)
    assert res.instances >= 1


def test_toy4_check_rejects_a_misprinted_value_and_a_misplaced_optimum():
    th = get("markov_game.toy4_profile")
    assert th.check({"row": ("value", 1, 0.15, "consistent", 27.29)}).holds
    assert not th.check({"row": ("value", 1, 0.15, "consistent", 27.30)}).holds
    # the code operator is a different number at R2, p = 0.55 (55.53, not 57.74)
    assert not th.check({"row": ("value", 2, 0.55, "code", 57.74)}).holds
    assert not th.check({"row": ("max", 2, 0.51, "consistent", 59.75)}).holds


def test_naive_sign_witness_fails_where_the_signs_agree():
    th = get("markov_game.naive_pgd_bias")
    ev = th.check({"R": 2, "p": 0.1})  # far from the cliff the naive gradient is right
    assert not ev.holds and ev.details["naive"] > 0 and ev.details["true_fd"] > 0


def _instance(seed: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    S, L, F = 2, 2, 2
    return {"P": rng.dirichlet(np.ones(S), size=(S, L, F)), "r_F": rng.normal(size=(S, L, F)),
            "r_U": rng.normal(size=(S, L, F)), "mu0": np.array([0.5, 0.5]), "gamma_F": 0.6,
            "gamma_U": 0.5, "tau": 0.7, "x": rng.normal(size=S * L) * 0.5}


def test_hypergradient_check_catches_a_dropped_initial_term():
    inst = _instance()
    game = tm._game(inst)
    pt = stackelberg_point(game, inst["x"], tol=None)
    fd, err = tm.objective_fd(game, inst["x"], h=1e-4)
    assert np.abs(pt.gradient() - fd).max() <= 10 * err.max()
    assert np.abs(pt.bilevel.gradient() - fd).max() > 100 * err.max()


def test_unbiasedness_test_rejects_the_naive_estimator():
    inst = _instance()
    th = get("markov_game.stackelberg_estimator_unbiased")
    assert not th.failed_assumptions(inst) and th.check(inst).holds
    game = tm._game(inst)
    pt = stackelberg_point(game, inst["x"])
    naive = sampled_stackelberg_hypergradient(game, inst["x"], tm.N_UNBIASED,
                                              np.random.default_rng(0), method="naive", point=pt)
    z = np.abs(naive.mean - pt.gradient()) / naive.stderr
    assert z.max() > z_threshold(4)
    assert not unbiasedness_evidence(naive, pt.gradient(), 0).holds  # the theorem's own test
