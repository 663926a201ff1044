"""Performance-difference lower bounds (OSIL background) against exact evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from solvers import ModelError, random_mdp
from solvers.osil_bounds import kl_per_state, pd_lower_bounds, tv_per_state
from theory.osil import policy_pair_instances


@given(policy_pair_instances())
def test_bound_chain_and_pd_identity(inst):
    b = pd_lower_bounds(inst["mdp"], inst["pi"], inst["pi_u"])
    tol = 1e-9 * (1 + abs(b.j_pi)) / (1 - inst["mdp"].gamma) ** 2
    assert b.j_pi - b.j_u == pytest.approx(b.pd_advantage, abs=tol)
    assert b.j_pi >= b.tv_bound - tol
    assert b.tv_bound >= b.pinsker_bound - tol  # Pinsker per state
    assert b.pinsker_bound >= b.kl_jensen_bound - tol  # Jensen
    assert b.j_pi >= b.cpo_bound - tol
    assert all(np.isfinite([b.j_pi, b.tv_bound, b.cpo_bound]))


def test_bounds_are_tight_when_policies_coincide():
    mdp = random_mdp(4, 4, 3, gamma=0.9)
    pi = np.random.default_rng(4).dirichlet(np.ones(3), 4)
    b = pd_lower_bounds(mdp, pi, pi)
    for v in (b.tv_bound, b.pinsker_bound, b.kl_jensen_bound, b.cpo_bound):
        assert v == pytest.approx(b.j_pi, abs=1e-10)


def test_a_bound_without_the_second_horizon_factor_is_violated():
    """Dropping one 1/(1-gamma) from the TV bound breaks it: the check can fail."""
    found = False
    for seed in range(200):
        mdp = random_mdp(seed, 3, 2, gamma=0.9)
        rng = np.random.default_rng(seed)
        pi, pi_u = rng.dirichlet(np.ones(2) * 0.3, 3), rng.dirichlet(np.ones(2) * 0.3, 3)
        b = pd_lower_bounds(mdp, pi, pi_u)
        wrong = b.j_u - (b.j_u - b.tv_bound) * (1 - mdp.gamma)
        if b.j_pi < wrong - 1e-9:
            found = True
            break
    assert found


def test_cost_upper_bound_via_negated_reward():
    mdp = random_mdp(5, 3, 2, 1, gamma=0.8)
    rng = np.random.default_rng(5)
    pi, pi_u = rng.dirichlet(np.ones(2), 3), rng.dirichlet(np.ones(2), 3)
    b = pd_lower_bounds(mdp, pi, pi_u, reward=-mdp.costs[0])
    from solvers import evaluate
    jc = evaluate(mdp, pi).cost_values[0]
    assert -b.j_pi == pytest.approx(jc, abs=1e-12)
    assert jc <= -b.cpo_bound + 1e-12 and jc <= -b.kl_jensen_bound + 1e-12


def test_infinite_kl_gives_minus_infinity_not_nan():
    mdp = random_mdp(6, 2, 2, gamma=0.5)
    pi = np.array([[1.0, 0.0], [0.5, 0.5]])
    pi_u = np.array([[0.5, 0.5], [0.5, 0.5]])
    b = pd_lower_bounds(mdp, pi, pi_u)
    assert b.kl_jensen_bound == -np.inf and b.pinsker_bound == -np.inf
    assert np.isfinite(b.tv_bound) and not np.isnan(b.cpo_bound)
    assert kl_per_state(pi_u, pi)[0] == np.inf
    assert tv_per_state(pi, pi_u)[0] == pytest.approx(0.5)


def test_bad_input_is_rejected():
    mdp = random_mdp(0, 2, 2, gamma=0.5)
    with pytest.raises(ModelError) as exc:
        pd_lower_bounds(mdp, np.array([[0.5, 0.6], [0.5, 0.5]]), np.full((2, 2), 0.5))
    assert exc.value.field == "pi"
    with pytest.raises(ModelError) as exc:
        pd_lower_bounds(random_mdp(0, 2, 2, horizon=3), np.full((2, 2), 0.5),
                        np.full((2, 2), 0.5))
    assert exc.value.field == "gamma"
