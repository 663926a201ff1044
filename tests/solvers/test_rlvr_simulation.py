"""Token-level RLVR simulation (solvers/rlvr_simulation.py) against independent computations.

Tolerances: Monte Carlo means are compared with exact values within 5 standard errors
(a false alarm has probability < 1e-6 per comparison under the CLT); exact formulas are
compared with brute-force sums within 1e-12 relative (sums of <= a few thousand positive
float64 terms, error ~ H * EPS).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import expit, logit

from solvers.errors import ModelError
from solvers.rlvr_simulation import (
    TaskPopulation,
    expected_reward,
    expected_reward_gradient,
    group_advantages,
    lognormal_population,
    policy_gradient_estimate,
    relative_budget,
    rollout_rewards,
    sample_rollouts,
    simulate,
    success_probability,
    sweep_budgets,
)

Z = 5.0  # standard errors allowed in Monte Carlo comparisons


def _pmf_T(t: int, p: float, k: int) -> float:
    """P(T = t) for T = sum of k Geometric(p) on {1, 2, ...}, by the textbook formula."""
    return math.comb(t - 1, k - 1) * p**k * (1 - p) ** (t - k) if t >= k else 0.0


def _reward(t: int, H: int, kind: str) -> float:
    if t > H:
        return 0.0
    return 1.0 if kind == "binary" else float(H - t + 1)


def _outcomes(H: int, p: float, k: int):
    """Every observable rollout (T if solved else None, steps j, tokens n, probability)."""
    out = [(t, k, t, _pmf_T(t, p, k)) for t in range(k, H + 1)]
    out += [(None, m, H, math.comb(H, m) * p**m * (1 - p) ** (H - m)) for m in range(k)]
    return out


# --- exact law ----------------------------------------------------------------------------


@given(H=st.integers(1, 300), p=st.floats(0.002, 0.9), k=st.integers(1, 6))
def test_closed_forms_equal_brute_force_sums_over_T(H, p, k):
    q = sum(_pmf_T(t, p, k) for t in range(1, H + 1))
    er = sum((H - t + 1) * _pmf_T(t, p, k) for t in range(1, H + 1))
    assert success_probability(H, np.array([p]), k)[0] == pytest.approx(q, rel=1e-11, abs=1e-300)
    assert expected_reward(H, np.array([p]), k, "binary")[0] == pytest.approx(q, rel=1e-11,
                                                                              abs=1e-300)
    # E[R] is a difference of two terms of size ~H; absolute error ~ H * EPS * few
    assert expected_reward(H, np.array([p]), k, "paper")[0] == pytest.approx(
        er, rel=1e-11, abs=64 * H * 2.2e-16)


@pytest.mark.parametrize("kind", ["binary", "paper"])
@pytest.mark.parametrize(("H", "k", "p"), [(1, 1, Fraction(1, 3)), (7, 1, Fraction(1, 5)),
                                           (9, 3, Fraction(2, 7)), (12, 4, Fraction(1, 10))])
def test_gradient_equals_exact_symbolic_derivative(kind, H, k, p):
    # independent: differentiate the exact polynomial J(p) = sum_t R(t) P(T=t) with sympy
    x = sp.symbols("x")
    J = sum(sp.Integer(int(_reward(t, H, kind))) * sp.binomial(t - 1, k - 1) * x**k
            * (1 - x) ** (t - k) for t in range(k, H + 1))
    pr = sp.Rational(p.numerator, p.denominator)
    exact = sp.diff(J, x).subs(x, pr) * pr * (1 - pr)  # dJ/dtheta = dJ/dp * p (1 - p)
    got = expected_reward_gradient(H, np.array([logit(float(p))]), k, kind)[0]
    assert got == pytest.approx(float(exact), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("H", "k", "p"), [(5, 1, 0.3), (8, 3, 0.25), (20, 2, 0.05)])
def test_score_has_mean_zero_and_reinforce_identity(H, k, p):
    # E[j - p n] = 0 and E[R (j - p n)] = dE[R]/dtheta, summed over every observable rollout
    outs = _outcomes(H, p, k)
    assert sum(pr for *_, pr in outs) == pytest.approx(1.0, abs=1e-14)
    assert sum((j - p * n) * pr for _, j, n, pr in outs) == pytest.approx(0.0, abs=1e-13)
    for kind in ("binary", "paper"):
        reinforce = sum(_reward(t, H, kind) * (j - p * n) * pr
                        for t, j, n, pr in outs if t is not None)
        assert expected_reward_gradient(H, np.array([logit(p)]), k, kind)[0] == pytest.approx(
            reinforce, rel=1e-11)


# --- sampling -----------------------------------------------------------------------------


@pytest.mark.parametrize(("H", "k", "p"), [(10, 1, 0.1), (40, 3, 0.08), (6, 2, 0.5)])
def test_sampled_rollouts_follow_the_exact_law(H, k, p):
    G = 4000
    pop = TaskPopulation(np.full(5, logit(p)), k)
    rolls = sample_rollouts(pop, H, G, np.random.default_rng(3))
    n = rolls.T.size
    assert np.all(rolls.T >= k) and np.all(rolls.tokens == np.minimum(rolls.T, H))
    assert np.all((rolls.steps == k) == (rolls.T <= H)) and np.all(rolls.steps <= k)
    # E[T] = k / p, Var T = k (1 - p) / p^2
    sd = math.sqrt(k * (1 - p)) / p
    assert abs(rolls.T.mean() - k / p) <= Z * sd / math.sqrt(n)
    # CDF at several points against the pmf sum
    for t in (k, H // 2 + k, H, 2 * H):
        F = sum(_pmf_T(s, p, k) for s in range(1, t + 1))
        assert abs(np.mean(rolls.T <= t) - F) <= Z * math.sqrt(F * (1 - F) / n) + 1e-12
    # steps done by H for unsolved rollouts: P(j = m) = Bin(H, p)(m) for m < k
    for m in range(k):
        P = math.comb(H, m) * p**m * (1 - p) ** (H - m)
        assert abs(np.mean(rolls.steps == m) - P) <= Z * math.sqrt(P * (1 - P) / n) + 1e-12


def test_sampling_is_reproducible_from_the_seed_and_varies_with_it():
    pop = lognormal_population(16, 50.0, shape=2, spread=0.4)
    a = sample_rollouts(pop, 40, 8, np.random.default_rng(11))
    b = sample_rollouts(pop, 40, 8, np.random.default_rng(11))
    c = sample_rollouts(pop, 40, 8, np.random.default_rng(12))
    assert a.T.tobytes() == b.T.tobytes() and a.steps.tobytes() == b.steps.tobytes()
    assert a.T.tobytes() != c.T.tobytes()


# --- the estimator ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["binary", "paper"])
def test_centred_estimator_is_unbiased_for_one_minus_one_over_G_times_gradient(kind):
    H, k, p, G, n_tasks = 30, 2, 0.08, 4, 40_000
    pop = TaskPopulation(np.full(n_tasks, logit(p)), k)
    g = policy_gradient_estimate(pop, sample_rollouts(pop, H, G, np.random.default_rng(5)), H,
                                 kind, "centred")
    exact = (1 - 1 / G) * expected_reward_gradient(H, pop.theta[:1], k, kind)[0]
    assert abs(g.mean() - exact) <= Z * g.std() / math.sqrt(n_tasks)
    # power: a score that forgets the partial progress j < k of unsolved rollouts is caught
    # by the same comparison (a constant shift of the score would not be: sum_i A_i = 0)
    rolls = sample_rollouts(pop, H, G, np.random.default_rng(6))
    forgetful = np.where(rolls.T <= H, k, 0) - p * rolls.tokens
    wrong = np.mean(group_advantages(rollout_rewards(rolls, H, kind), "centred") * forgetful,
                    axis=1)
    assert abs(wrong.mean() - exact) > Z * wrong.std() / math.sqrt(n_tasks)


def _grpo_expectation_by_enumeration(H: int, k: int, p: float, G: int, kind: str) -> float:
    """E[(1/G) sum_i A_i (j_i - p n_i)] over every G-tuple of outcomes, with a hand-written A."""
    total = 0.0
    for combo in itertools.product(_outcomes(H, p, k), repeat=G):
        prob = math.prod(c[3] for c in combo)
        r = [_reward(t, H, kind) if t is not None else 0.0 for t, *_ in combo]
        mean = sum(r) / G
        sd = math.sqrt(sum((x - mean) ** 2 for x in r) / G)
        if sd == 0.0:
            continue
        total += prob * sum((r[i] - mean) / sd * (combo[i][1] - p * combo[i][2])
                            for i in range(G)) / G
    return total


@pytest.mark.parametrize(("H", "k", "p", "G", "kind"), [(4, 1, 0.3, 2, "binary"),
                                                      (4, 1, 0.2, 3, "paper"),
                                                      (5, 2, 0.35, 2, "paper"),
                                                      (5, 2, 0.35, 3, "binary")])
def test_grpo_estimator_mean_equals_exact_enumeration(H, k, p, G, kind):
    n_tasks = 60_000
    pop = TaskPopulation(np.full(n_tasks, logit(p)), k)
    g = policy_gradient_estimate(pop, sample_rollouts(pop, H, G, np.random.default_rng(9)), H,
                                 kind, "grpo")
    exact = _grpo_expectation_by_enumeration(H, k, p, G, kind)
    assert abs(g.mean() - exact) <= Z * g.std() / math.sqrt(n_tasks)


@given(a=st.floats(0.01, 100.0), b=st.floats(-50.0, 50.0), seed=st.integers(0, 2**32 - 1))
def test_grpo_advantages_are_invariant_to_affine_rescaling_of_rewards(a, b, seed):
    r = np.random.default_rng(seed).integers(0, 3, size=(7, 5)).astype(float)
    base = group_advantages(r, "grpo")
    np.testing.assert_allclose(group_advantages(a * r + b, "grpo"), base, atol=1e-9)
    np.testing.assert_allclose(group_advantages(a * r + b, "centred"),
                               a * group_advantages(r, "centred"), atol=1e-9 * (1 + a))
    np.testing.assert_allclose(base.mean(axis=1), 0.0, atol=1e-12)
    # a group with equal rewards has no signal
    assert np.all(group_advantages(np.full((2, 4), 3.7), "grpo") == 0.0)


def test_binary_reward_updates_equal_those_of_any_two_valued_reward():
    pop = lognormal_population(32, 40.0, shape=2, spread=0.3)
    rolls = sample_rollouts(pop, 50, 6, np.random.default_rng(2))
    two_valued = 3.0 * rollout_rewards(rolls, 50, "binary") - 1.0
    score = rolls.steps - pop.hazard[:, None] * rolls.tokens
    manual = np.mean(group_advantages(two_valued, "grpo") * score, axis=1)
    np.testing.assert_allclose(policy_gradient_estimate(pop, rolls, 50, "binary"), manual,
                               atol=1e-12)


# --- the training loop --------------------------------------------------------------------


def test_simulation_is_reproducible_and_tracks_exact_quantities():
    pop = lognormal_population(64, 64.0, shape=2, spread=0.5)
    a = simulate(pop, 64, 4, 5, 0.05, np.random.default_rng(1))
    b = simulate(pop, 64, 4, 5, 0.05, np.random.default_rng(1))
    assert a.theta.tobytes() == b.theta.tobytes() and a.tokens.tobytes() == b.tokens.tobytes()
    assert a.xi[0] == pytest.approx(64 / np.mean(2 / expit(pop.theta)), rel=1e-14)
    assert a.xi[0] == pytest.approx(relative_budget(64, pop), rel=1e-14)
    final = TaskPopulation(a.theta, 2)
    assert a.accuracy[-1] == pytest.approx(success_probability(64, final.hazard, 2).mean())
    assert a.reward_per_H[-1] * 64 == pytest.approx(expected_reward(64, final.hazard, 2).mean())
    assert np.all((a.tokens >= 4 * 2) & (a.tokens <= 4 * 64))
    assert a.efficiency("reward_raw") == pytest.approx(64 * a.efficiency("reward"))


@pytest.mark.parametrize("kind", ["binary", "paper"])
def test_training_at_a_balanced_budget_raises_accuracy_and_relative_budget(kind):
    pop = lognormal_population(128, 100.0, shape=3, spread=0.3)
    res = simulate(pop, 100, 8, 10, 0.1, np.random.default_rng(4), reward=kind)
    assert res.accuracy[-1] > res.accuracy[0] + 0.05
    assert res.xi[-1] > res.xi[0] and res.efficiency("accuracy") > 0


def test_sweep_runs_do_not_depend_on_the_other_budgets():
    pop = lognormal_population(16, 30.0, shape=1, spread=0.2)
    one = sweep_budgets(pop, [10, 40], [7], G=4, n_iter=3, lr=0.1)
    two = sweep_budgets(pop, [10, 40, 90], [7, 8], G=4, n_iter=3, lr=0.1)
    for b in range(2):
        assert one[b][0].theta.tobytes() == two[b][0].theta.tobytes()
    assert two[0][0].theta.tobytes() != two[0][1].theta.tobytes()


def test_population_quantiles_have_the_requested_mean_and_are_deterministic():
    pop = lognormal_population(2000, 80.0, shape=3, spread=0.5)
    assert np.mean(pop.mean_T) == pytest.approx(80.0, rel=2e-3)  # quadrature error of quantiles
    assert pop.theta.tobytes() == lognormal_population(2000, 80.0, 3, 0.5).theta.tobytes()
    np.testing.assert_allclose(lognormal_population(5, 80.0, 3).mean_T, 80.0, rtol=1e-13)


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "field"), [
    (lambda pop, rng: simulate(pop, 0, 4, 2, 0.1, rng), "H"),
    (lambda pop, rng: simulate(pop, 10, 1, 2, 0.1, rng), "G"),
    (lambda pop, rng: simulate(pop, 10, 4, 0, 0.1, rng), "n_iter"),
    (lambda pop, rng: simulate(pop, 10, 4, 2, 0.0, rng), "lr"),
    (lambda pop, rng: simulate(pop, 10, 4, 2, float("nan"), rng), "lr"),
    (lambda pop, rng: simulate(pop, 10, 4, 2, 0.1, rng, reward="dense"), "reward"),
    (lambda pop, rng: simulate(pop, 10, 4, 2, 0.1, rng, advantage="bnpo"), "advantage"),
    (lambda pop, rng: sample_rollouts(pop, 2.5, 4, rng), "H"),
    (lambda pop, rng: success_probability(-1, pop.hazard, 1), "H"),
    (lambda pop, rng: TaskPopulation(np.array([0.0, np.nan]), 1), "theta"),
    (lambda pop, rng: TaskPopulation(np.zeros(3), 0), "shape"),
    (lambda pop, rng: TaskPopulation(np.zeros((2, 2)), 1), "theta"),
    (lambda pop, rng: lognormal_population(4, 2.0, shape=3), "mean_T"),
    (lambda pop, rng: lognormal_population(0, 20.0), "n_tasks"),
    (lambda pop, rng: lognormal_population(4, 20.0, spread=-0.1), "spread"),
    (lambda pop, rng: simulate(pop, 10, 4, 1, 0.1, rng).efficiency("speed"), "metric"),
])
def test_bad_input_raises_model_error_naming_the_field(call, field):
    pop = lognormal_population(4, 20.0, shape=1)
    with pytest.raises(ModelError) as err:
        call(pop, np.random.default_rng(0))
    assert err.value.field == field
