"""Exact hypergradients: the implicit, covariance and score forms agree with each other and with
finite differences of F; a perturbed ingredient is caught; bad input raises clearly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from solvers.configurable_mdp import (
    ConfigurableMDP,
    FixedKernel,
    LinearReward,
    SoftmaxKernel,
    TanhReward,
)
from solvers.errors import ModelError
from solvers.hypergradient import (
    EXACT_METHODS,
    bilevel_point,
    exact_hypergradient,
    finite_difference_hypergradient,
    hyper_objective,
)
from solvers.soft_dp import ConvergenceError


def notes_instance(kernel: str = "softmax", seed: int = 0) -> tuple[ConfigurableMDP, np.ndarray]:
    """Notes §4: S = 5, A = 3, n = 4, tau = 0.5, gamma_F = 0.9, gamma_U = 0.8."""
    rng = np.random.default_rng(seed)
    S, A, n = 5, 3, 4
    kern = (SoftmaxKernel(rng.normal(size=(S, A, S)), 0.5 * rng.normal(size=(S, A, S, n)))
            if kernel == "softmax" else FixedKernel(rng.dirichlet(np.ones(S), size=(S, A))))
    m = ConfigurableMDP(TanhReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n))),
                        LinearReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n))),
                        kern, rng.dirichlet(np.ones(S)), 0.9, 0.8, 0.5, n)
    return m, 0.3 * rng.normal(size=n)


@pytest.mark.parametrize("kernel", ["softmax", "fixed"])
def test_three_exact_forms_agree_with_each_other_and_with_finite_differences(kernel):
    m, x = notes_instance(kernel)
    p = bilevel_point(m, x, 1e-12)
    g = [p.gradient(k) for k in EXACT_METHODS]
    assert np.abs(g[0] - g[1]).max() < 1e-10 and np.abs(g[2] - g[1]).max() < 1e-10
    fd = finite_difference_hypergradient(m, x)
    err = np.abs(fd.grad - g[1])
    assert (err <= 10 * fd.error_estimate).all(), (err, fd.error_estimate)
    assert err.max() < 1e-5


def test_a_perturbed_soft_q_jacobian_is_caught_by_finite_differences():
    m, x = notes_instance()
    p = bilevel_point(m, x, 1e-12)
    fd = finite_difference_hypergradient(m, x)
    wrong = dataclasses.replace(p, J_Q=p.J_Q * 1.01)
    assert (np.abs(wrong.gradient("bc") - fd.grad) > 10 * fd.error_estimate).any()
    # and the direct term alone (follower frozen) is not the hypergradient
    assert np.abs(p.direct - fd.grad).max() > 1e-2


def test_objective_is_the_leader_value_by_independent_rollout_sum():
    m, x = notes_instance("fixed")
    p = bilevel_point(m, x)
    d = m.at(x)
    P, r = d["leader"].P, d["leader"].r
    dist, F = m.mu0.copy(), 0.0
    for t in range(400):  # 0.8^400 ~ 1e-39
        F += 0.8 ** t * float(np.einsum("s,sa,sa->", dist, p.pi, r))
        dist = np.einsum("s,sa,sak->k", dist, p.pi, P)
    assert abs(F - hyper_objective(m, x)) < 1e-10
    assert abs(p.dbar_U.sum() - 1 / (1 - 0.8)) < 1e-10


def test_unknown_method_and_unreachable_tolerance_raise_clearly():
    m, x = notes_instance()
    with pytest.raises(ModelError):
        exact_hypergradient(m, x, method="magic")
    with pytest.raises(ConvergenceError, match=r"tau = 0\.5"):
        bilevel_point(m, x, tol=1e-30)
