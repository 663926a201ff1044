"""Sampled hypergradients: reproducible, sampler matches the occupancy, BC-HG unbiased, naive
biased, HPGD's batch critic zero on single-action states."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from solvers.configurable_mdp import ConfigurableMDP, FixedKernel, LinearReward, SoftmaxKernel
from solvers.errors import ModelError
from solvers.hypergradient import bilevel_point
from solvers.hypergradient_sampling import (
    _every_visit_advantage_gradient,
    sample_trajectories,
    sampled_hypergradient,
)


def point(kernel: str = "softmax", seed: int = 1):
    rng = np.random.default_rng(seed)
    S, A, n = 4, 3, 3
    kern = (SoftmaxKernel(rng.normal(size=(S, A, S)), 0.5 * rng.normal(size=(S, A, S, n)))
            if kernel == "softmax" else FixedKernel(rng.dirichlet(np.ones(S), size=(S, A))))
    m = ConfigurableMDP(LinearReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n))),
                        LinearReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n))),
                        kern, rng.dirichlet(np.ones(S)), 0.7, 0.6, 0.5, n)
    return bilevel_point(m, 0.3 * rng.normal(size=n))


def test_same_seed_same_bytes_and_different_seed_different_samples():
    p = point()
    a = sampled_hypergradient(p, 300, np.random.default_rng(7))
    b = sampled_hypergradient(p, 300, np.random.default_rng(7), chunk=1000)  # other batching
    c = sampled_hypergradient(p, 300, np.random.default_rng(8))
    assert a.samples.tobytes() == sampled_hypergradient(
        p, 300, np.random.default_rng(7)).samples.tobytes()
    assert a.samples.shape == b.samples.shape and not np.array_equal(a.samples, c.samples)


def test_sampled_discounted_visits_match_the_exact_occupancy():
    p = point()
    N, H = 20_000, 60
    s, a = sample_trajectories(p, N, H, np.random.default_rng(0))
    w = 0.6 ** np.arange(H)
    counts = np.zeros(p.pi.shape)
    np.add.at(counts, (s[:, :-1], a), np.broadcast_to(w, (N, H)))
    # each trajectory's discounted count of a pair is in [0, 1/(1-0.6)]: se <= 2.5/sqrt(N)
    assert np.abs(counts / N - p.dbar_U).max() < 5 * 2.5 / np.sqrt(N)


@pytest.mark.parametrize("kernel", ["softmax", "fixed"])
def test_bchg_is_unbiased_and_naive_is_not(kernel):
    p = point(kernel)
    exact = p.gradient("bc")
    zcrit = norm.isf(1e-6 / (2 * exact.size))
    g = sampled_hypergradient(p, 20_000, np.random.default_rng(3))
    assert (np.abs(g.mean - exact) / g.stderr).max() < zcrit
    naive = sampled_hypergradient(p, 20_000, np.random.default_rng(3), method="naive")
    assert (np.abs(naive.mean - exact) / naive.stderr).max() > zcrit
    assert np.array_equal(naive.samples, g.direct)  # same stream: same trajectories


def test_hpgd_batch_critic_is_zero_at_states_seen_with_a_single_action():
    G = np.arange(6, dtype=float).reshape(1, 3, 2)
    s, a = np.array([[0, 1, 1]]), np.array([[2, 0, 1]])
    out = _every_visit_advantage_gradient(G, s, a, (2, 3))
    assert np.array_equal(out[0, 0], [0.0, 0.0])  # state 0 visited once
    assert np.allclose(out[0, 1], G[0, 1] - G[0, 1:].mean(axis=0))


def test_bad_method_count_or_generator_is_rejected():
    p = point()
    with pytest.raises(ModelError):
        sampled_hypergradient(p, 10, np.random.default_rng(0), method="magic")
    with pytest.raises(ModelError):
        sampled_hypergradient(p, 0, np.random.default_rng(0))
    with pytest.raises(ModelError):
        sample_trajectories(p, 10, 5, np.random.RandomState(0))


def test_uncentred_or_wrong_critics_bias_the_estimator_and_bad_critics_are_rejected():
    # A_U is centred under pi, which is what removes grad V_F; Q_U in its place is biased
    # (Q_U grad-hat Q_F has mean E[Q_U J_Q], not Cov(Q_U, J_Q))
    p = point("fixed")
    exact = p.gradient("bc")
    zcrit = norm.isf(1e-6 / 6)
    for wrong in ({"A_U": p.Q_U}, {"A_U": p.A_U + p.A_U ** 2}):
        g = sampled_hypergradient(p, 20_000, np.random.default_rng(3), critics=wrong)
        assert (np.abs(g.mean - exact) / g.stderr).max() > zcrit
    same = sampled_hypergradient(p, 2000, np.random.default_rng(3), critics={"A_U": p.A_U})
    assert np.array_equal(same.samples,
                          sampled_hypergradient(p, 2000, np.random.default_rng(3)).samples)
    with pytest.raises(ModelError):
        sampled_hypergradient(p, 10, np.random.default_rng(0), critics={"Q": p.Q_U})
    with pytest.raises(ModelError):
        sampled_hypergradient(p, 10, np.random.default_rng(0), critics={"A_U": p.V_U})
