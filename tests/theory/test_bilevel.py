"""Bilevel theorems: each ends as expected under the search, the finding replays its stored
counterexample, and each check can fail on a perturbed input."""

from __future__ import annotations

import numpy as np
import pytest

import theory.bilevel as tb
import theory.bilevel_penalty  # noqa: F401  (registers the penalty theorems)
import theory.bilevel_trajectory as tt
from solvers import TabularMDP
from solvers.hypergradient_sampling import sampled_hypergradient
from theory import get
from theory.falsify import check, load_counterexample

HOLDS = ["boltzmann.covariance_identity", "softbellman.implicit_gradient",
         "bilevel.hypergradient_three_forms", "bilevel.bchg_estimator_unbiased",
         "bilevel.bchg_sample_bound", "bilevel.response_term_bound",
         "bilevel.response_term_bound_closed_form", "trajectory.boltzmann_deterministic",
         "trajectory.boltzmann_stochastic_rd", "penalty.kwon_value_closeness",
         "penalty.kwon_value_monotone", "penalty.kwon_gradient_closeness"]


@pytest.mark.parametrize("tid", [*HOLDS, "trajectory.boltzmann_stochastic_fails"])
def test_theorem_status_is_its_expectation(tid):
    th = get(tid)
    res = check(th, examples=25, seed=0)
    assert res.status == th.expected, (tid, res.error, res.counterexample_evidence)
    assert res.instances >= 1


def test_stored_counterexample_breaks_the_naive_form_and_satisfies_the_corrected_one():
    th = get("trajectory.boltzmann_stochastic_fails")
    tid, inst = load_counterexample(th.counterexample_path())
    assert tid == th.id
    ev = th.check(inst)
    assert not ev.holds and ev.lhs == pytest.approx(0.25)  # Var(Bernoulli(1/2)) / tau
    assert get(th.corrected).check(inst).holds


def test_deterministic_kernel_makes_the_martingale_term_vanish():
    rng = np.random.default_rng(2)
    mdp = TabularMDP(np.eye(3)[rng.integers(0, 3, (3, 2))], rng.normal(size=(3, 2)),
                     np.ones(3) / 3, horizon=3)
    sides = tt.trajectory_sides({"mdp": mdp, "Phi": rng.normal(size=(3, 2, 2)),
                                 "g": rng.normal(size=(3, 2)), "tau": 0.4,
                                 "x": rng.normal(size=2)})
    assert np.abs(sides["naive"] - sides["corrected"]).max() < 1e-12
    assert np.abs(sides["lhs"] - sides["naive"]).max() < 1e-10


def test_covariance_check_catches_a_dropped_temperature():
    inst = {"e": np.array([0.1, -0.3, 0.7]), "W": np.array([[1.0], [0.0], [-1.0]]),
            "c": np.zeros(3), "U": np.zeros((3, 1)), "h": np.array([1.0, 0.0, 2.0]),
            "B": np.zeros((3, 1)), "tau": 0.25, "x": np.array([0.2])}
    lhs, rhs = tt.covariance_sides(inst)
    assert np.abs(lhs - rhs).max() < 1e-12
    cov = rhs  # E[grad g] = 0 here, so rhs is Cov / tau; dropping 1/tau rescales it
    assert np.abs(lhs - cov * inst["tau"]).max() > 1e-2


def test_unbiasedness_test_rejects_the_naive_estimator():
    inst = {"rF0": np.array([[0.0, 1.0], [0.5, -1.0]]),
            "PhiF": np.array([[[1.0], [0.0]], [[0.0], [-1.0]]]),
            "rU0": np.array([[1.0, 0.0], [0.0, 1.0]]), "PhiU": np.zeros((2, 2, 1)),
            "tanh": False, "mu0": np.array([0.5, 0.5]), "gamma_F": 0.5, "gamma_U": 0.5,
            "tau": 0.5, "x": np.array([0.1]),
            "P": np.array([[[0.5, 0.5], [0.9, 0.1]], [[0.2, 0.8], [0.5, 0.5]]]),
            "logits": None, "Psi": None}
    assert get("bilevel.bchg_estimator_unbiased").check(inst).holds
    p = tb.bilevel_point(tb.build_model(inst), inst["x"])
    naive = sampled_hypergradient(p, tb.N_UNBIASED, np.random.default_rng(0), method="naive")
    # PhiU = 0 and a fixed kernel: every naive sample is exactly 0 while the exact gradient
    # is not, so the floored z-score is huge
    assert np.all(naive.samples == 0) and abs(p.gradient("bc")[0]) > 1e-3
    z = np.abs(naive.mean - p.gradient("bc")) / np.maximum(naive.stderr, 1e-8)
    assert z.max() > tb.z_threshold(1)


def test_bonferroni_threshold_is_the_two_sided_normal_quantile():
    assert tb.z_threshold(1) == pytest.approx(4.891638, rel=1e-6)
    assert tb.z_threshold(4) > tb.z_threshold(1)


def test_penalty_value_bound_fails_when_the_constant_is_too_small():
    inst = {"rF0": np.array([[0.0, 1.0], [0.5, -1.0]]),
            "PhiF": np.array([[[1.0], [0.0]], [[0.0], [-1.0]]]),
            "rU0": np.array([[1.0, 0.0], [0.0, 1.0]]), "PhiU": np.zeros((2, 2, 1)),
            "tanh": False, "mu0": np.array([0.5, 0.5]), "gamma_F": 0.5, "gamma_U": 0.5,
            "tau": 0.5, "x": np.array([0.1]), "sigma": 0.5,
            "P": np.array([[[0.5, 0.5], [0.9, 0.1]], [[0.2, 0.8], [0.5, 0.5]]]),
            "logits": None, "Psi": None}
    ev = get("penalty.kwon_value_closeness").check(inst)
    assert ev.holds and ev.lhs > 0
    # the first-order term is sigma/2 * W''(0) > 0: a bound 100x smaller than the stated one
    # (constant C / 100) is violated
    assert ev.lhs > ev.rhs / 100
