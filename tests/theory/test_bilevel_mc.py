"""bilevel.mc_rate: the variance law Var(mean of N) = Var / N holds under the search, and its
test rejects biased or dependent samples."""

from __future__ import annotations

import numpy as np
import pytest

import theory.bilevel_mc as mc
from theory import get
from theory.bilevel import build_model
from theory.falsify import check


def test_mc_rate_holds_under_the_search():
    th = get("bilevel.mc_rate")
    res = check(th, examples=10, seed=0)
    assert res.status == "holds", (res.error, res.counterexample_evidence)
    assert res.instances >= 1


def _synthetic(rng, R=200, N=50, M=10_000, n=3, heavy=False):
    draw = (lambda size: rng.lognormal(0.0, 0.8, size=size)) if heavy else (
        lambda size: rng.normal(size=size))
    mu = np.exp(0.32) if heavy else 0.0  # mean of lognormal(0, 0.8)
    return draw((R, N, n)), np.full(n, mu), draw((M, n))


@pytest.mark.parametrize("heavy", [False, True])
def test_variance_law_is_accepted_for_iid_unbiased_samples(heavy):
    for seed in range(5):
        reps, mu, pool = _synthetic(np.random.default_rng(seed), heavy=heavy)
        res = mc.variance_scaling_test(reps, mu, pool)
        assert res.accepted, (seed, res.T, res.lo, res.hi)
        assert np.all(np.abs(res.T - 1) < 0.5)


def test_variance_law_rejects_dependent_samples():
    # each replicate repeats 25 draws twice: Var(mean) = 2 sigma^2 / N, T ~ 2
    rng = np.random.default_rng(0)
    reps, mu, pool = _synthetic(rng)
    reps = np.concatenate([reps[:, :25], reps[:, :25]], axis=1)
    res = mc.variance_scaling_test(reps, mu, pool)
    assert not res.accepted and res.T.min() > 1.5


def test_variance_law_rejects_a_biased_mean():
    reps, mu, pool = _synthetic(np.random.default_rng(1))
    res = mc.variance_scaling_test(reps, mu + 0.5, pool)  # N bias^2 / sigma^2 = 12.5
    assert not res.accepted


def test_mc_rate_check_catches_a_biased_estimator(monkeypatch):
    inst = {"rF0": np.array([[0.3, -0.2], [0.5, 0.1]]),
            "PhiF": np.array([[[1.0], [-0.5]], [[0.2], [0.8]]]),
            "rU0": np.array([[1.0, 0.0], [-0.4, 0.6]]), "PhiU": np.zeros((2, 2, 1)),
            "tanh": False, "mu0": np.array([0.5, 0.5]), "gamma_F": 0.5, "gamma_U": 0.5,
            "tau": 0.7, "x": np.array([0.1]),
            "P": np.array([[[0.6, 0.4], [0.3, 0.7]], [[0.5, 0.5], [0.8, 0.2]]]),
            "logits": None, "Psi": None}
    build_model(inst)
    th = get("bilevel.mc_rate")
    assert th.evaluate(inst).holds
    real = mc.sampled_hypergradient

    class Shifted:
        def __init__(self, sg):
            self.samples = sg.samples + 0.5 * sg.samples.std(axis=0)

    monkeypatch.setattr(mc, "sampled_hypergradient", lambda *a, **k: Shifted(real(*a, **k)))
    assert not th.evaluate(inst).holds
