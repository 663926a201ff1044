"""Numerical edge cases: gamma near 1, tau near 0, degenerate LPs, probabilities at eps.

Every quantity is compared with one computed independently (a direct sparse solve, the
hard max, a closed form); tolerances are justified next to each comparison. Values are
E[sum_t gamma^t r_t] (not scaled by 1 - gamma). Examples follow the hypothesis profile
(ci: 25; ``--hypothesis-profile thorough``: 1000).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.cmdp import solve_cmdp
from solvers.evaluation import evaluate
from solvers.kl_bandit import gibbs_policy, log_partition
from solvers.mdp import TabularMDP
from solvers.planning import policy_iteration
from solvers.soft_dp import boltzmann_policy, logsumexp_value, soft_value_iteration

EPS = np.finfo(float).eps


@st.composite
def small_models(draw: st.DrawFn, gamma: float, S_max: int = 4, A_max: int = 3,
                 eps_entries: bool = False) -> TabularMDP:
    """A random dense model from a seed (rewards in [-1, 1]); optionally with 1e-16 entries."""
    seed = draw(st.integers(0, 2**32 - 1))
    S, A = draw(st.integers(2, S_max)), draw(st.integers(1, A_max))
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    if eps_entries:  # move all but 1e-16 of some entries' mass elsewhere in the same row
        tiny = rng.random((S, A, S)) < 0.5
        tiny[..., 0] = False
        P = np.where(tiny, 1e-16, P)
        P[..., 0] += 1.0 - P.sum(axis=2)
    r = rng.uniform(-1, 1, size=(S, A))
    mu0 = rng.dirichlet(np.ones(S))
    return TabularMDP(P, r, mu0, gamma=gamma)


def direct_values(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """v = (I - gamma P_pi)^{-1} r_pi by a sparse LU solve (independent of solvers/)."""
    P = mdp.dense_P()
    P_pi = sp.csr_array(np.einsum("sa,sat->st", pi, P))
    r_pi = (pi * mdp.r).sum(axis=1)
    M = sp.identity(mdp.S, format="csc") - mdp.gamma * P_pi.tocsc()
    return spla.spsolve(M, r_pi)


# -- gamma close to 1 --------------------------------------------------------------------
GAMMA_NEAR_ONE = 1.0 - 1e-6


@given(small_models(GAMMA_NEAR_ONE), st.integers(0, 2**32 - 1))
def test_policy_evaluation_at_gamma_one_minus_1e6_matches_a_direct_sparse_solve(mdp, seed):
    pi = np.random.default_rng(seed).dirichlet(np.ones(mdp.A), size=mdp.S)
    pv = evaluate(mdp, pi)
    v_direct = direct_values(mdp, pi)
    # Values are ~|r|/(1-gamma) = 1e6; both solves are backward stable with condition
    # number ~1/(1-gamma) = 1e6, so each is accurate to ~1e6 * 1e6 * eps ~ 2e-4 absolute.
    # The certificate must cover the difference to the direct solve up to that rounding.
    diff = np.abs(pv.v - v_direct).max()
    direct_rounding = 10 * mdp.S / (1 - mdp.gamma) ** 2 * EPS
    assert np.isfinite(pv.error_bound)
    assert diff <= pv.error_bound + direct_rounding
    assert abs(pv.value - mdp.mu0 @ v_direct) <= pv.error_bound + direct_rounding


@given(small_models(GAMMA_NEAR_ONE))
def test_policy_iteration_certificate_holds_at_gamma_one_minus_1e6(mdp):
    res = policy_iteration(mdp)
    assert res.status == "optimal"
    assert res.verify().ok
    # independent check: no deterministic policy beats it by more than the bound; the
    # optimal values satisfy v(s) >= q(s, a) for every action up to the certified error,
    # and v equals the direct solve of its own greedy policy.
    pi = np.eye(mdp.A)[res.actions]
    v_direct = direct_values(mdp, pi)
    direct_rounding = 10 * mdp.S / (1 - mdp.gamma) ** 2 * EPS
    assert np.abs(res.v - v_direct).max() <= res.value_error_bound + direct_rounding
    q = mdp.r + mdp.gamma * np.einsum("sat,t->sa", mdp.dense_P(), v_direct)
    # Bellman optimality of the direct values: max_a q - v <= (1-gamma)-scaled error allowance
    assert (q.max(axis=1) - v_direct).max() <= (
        res.bellman_residual + (1 - mdp.gamma) * (res.value_error_bound + direct_rounding)
        + 1e-6)


def test_a_perturbed_value_violates_the_gamma_near_one_comparison():
    """The comparison can fail: shifting v by twice its certified bound is caught."""
    mdp = TabularMDP(
        np.array([[[0.9, 0.1]], [[0.2, 0.8]]]), np.array([[1.0], [0.0]]), np.array([1.0, 0.0]),
        gamma=GAMMA_NEAR_ONE)
    pi = np.ones((2, 1))
    pv = evaluate(mdp, pi)
    v_direct = direct_values(mdp, pi)
    # closed form for the 2-state chain: stationary mass of state 0 is 2/3, so the mean
    # value is ~ (2/3)/(1-gamma); both solves agree with it to 1e-6 relative.
    assert abs(v_direct.mean() * (1 - mdp.gamma) - 2 / 3) < 1e-5
    bad = pv.v + 2 * pv.error_bound + 1.0
    assert np.abs(bad - v_direct).max() > pv.error_bound + 10 * 2 / (1 - mdp.gamma) ** 2 * EPS


# -- tau close to 0 ------------------------------------------------------------------------
# (Q - max) / tau overflows to -inf for tiny tau, and exp(-inf) = 0 is the intended value;
# the solvers handle that overflow explicitly, so no RuntimeWarning may escape.
@given(st.integers(0, 2**32 - 1), st.sampled_from([1e-3, 1e-8, 1e-50, 1e-300, 5e-324]))
def test_log_sum_exp_at_tiny_tau_is_finite_and_tends_to_the_hard_max(seed, tau):
    Q = np.random.default_rng(seed).normal(scale=100.0, size=(5, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning (overflow in divide) fails
        V = logsumexp_value(Q, tau)
        pi = boltzmann_policy(Q, tau)
    assert np.all(np.isfinite(V)) and np.all(np.isfinite(pi))
    # max <= tau * logsumexp(Q/tau) <= max + tau log A (exact inequality; rounding of the
    # shifted sum adds at most a few ulps of max |Q| <= ~500)
    hard = Q.max(axis=1)
    assert np.all(V >= hard - 4 * EPS * np.abs(hard))
    assert np.all(V <= hard + tau * np.log(Q.shape[1]) + 4 * EPS * np.abs(hard))
    # continuous Q has no ties a.s.: the policy is the argmax one-hot once tau is below the gap
    gap = np.sort(Q, axis=1)[:, -1] - np.sort(Q, axis=1)[:, -2]
    sharp = gap > 800 * tau  # exp(-800) underflows to 0 (no gap / tau: it would overflow)
    onehot = np.eye(Q.shape[1])[Q.argmax(axis=1)]
    assert np.array_equal(pi[sharp], onehot[sharp])
    assert np.allclose(pi.sum(axis=1), 1.0, atol=4 * EPS)


def test_soft_max_at_tiny_tau_is_exact_and_silent_where_the_bare_quotient_overflows():
    # The bare quotient (Q - max) / tau overflows here (so the no-warning check above is
    # exercised, not vacuous); the guarded functions must return the exact limits: every
    # non-maximal term is exp(-inf) = 0, so the sum is exactly 1, log 1 = 0 and V = max Q
    # bit for bit, and pi is exactly the argmax one-hot.
    Q = np.array([[1.0, -2.0, 0.5], [3.0, 3.0 - 1e-12, -1e300]])
    tau = 1e-300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="overflow"):
            _ = (Q - Q.max(axis=1, keepdims=True)) / tau
        V = logsumexp_value(Q, tau)
        pi = boltzmann_policy(Q, tau)
    assert np.array_equal(V, Q.max(axis=1))
    assert np.array_equal(pi, np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    # a tie stays a tie at any temperature: V = max + tau log 2 (rounds to max here) and
    # the policy splits exactly in half
    tie = np.array([[2.0, 2.0, -5.0]])
    assert np.array_equal(boltzmann_policy(tie, tau), np.array([[0.5, 0.5, 0.0]]))
    assert logsumexp_value(tie, tau)[0] == 2.0


@given(st.integers(0, 2**32 - 1), st.sampled_from([1e-8, 1e-100, 1e-300]))
def test_gibbs_policy_at_tiny_beta_is_the_argmax_on_the_support(seed, beta):
    rng = np.random.default_rng(seed)
    pi_ref = rng.dirichlet(np.ones(4), size=3)
    pi_ref[0, 1] = 0.0  # a zero of pi_ref stays a zero at any beta
    pi_ref /= pi_ref.sum(axis=1, keepdims=True)
    f = rng.normal(size=(3, 4))
    pi = gibbs_policy(pi_ref, f, beta)
    logZ = log_partition(pi_ref, f, beta)
    assert np.all(np.isfinite(pi)) and np.all(np.isfinite(logZ))
    assert pi[0, 1] == 0.0
    f_sup = np.where(pi_ref > 0, f, -np.inf)
    assert np.array_equal(pi.argmax(axis=1), f_sup.argmax(axis=1))
    # beta * logZ -> max over the support: |beta logZ - max f| <= beta * |log pi_ref(argmax)|
    best = f_sup.max(axis=1)
    ref_at_best = pi_ref[np.arange(3), f_sup.argmax(axis=1)]
    assert np.all(np.abs(beta * logZ - best) <= beta * np.abs(np.log(ref_at_best)) + 8 * EPS)


@settings(max_examples=max(5, settings.default.max_examples // 5))
@given(small_models(0.9, S_max=3, A_max=3))
def test_soft_value_iteration_at_tiny_tau_matches_the_hard_optimum(mdp):
    tau = 1e-9
    soft = soft_value_iteration(mdp, tau)
    hard = policy_iteration(mdp)
    assert soft.status == "optimal" and hard.status == "optimal"
    assert np.all(np.isfinite(soft.V)) and np.all(np.isfinite(soft.pi))
    # 0 <= V_soft - V* <= tau log A / (1 - gamma), plus both certified errors
    slack = tau * np.log(mdp.A) / (1 - mdp.gamma) + soft.error_bound + hard.value_error_bound
    d = soft.V - hard.v
    assert d.min() >= -slack and d.max() <= slack


# -- degenerate LPs: ties everywhere ---------------------------------------------------------
@given(small_models(0.8, A_max=3), st.floats(-2, 2), st.integers(1, 3))
def test_all_equal_rewards_and_duplicated_actions_give_a_verified_vertex(mdp, c, copies):
    """r == c and every action copied: the LP is fully degenerate, value = c / (1-gamma)."""
    P = np.repeat(mdp.dense_P(), copies, axis=1)
    A = P.shape[1]
    r = np.full((mdp.S, A), c)
    costs = np.repeat(np.ones((1, mdp.S, mdp.A)), copies, axis=2)  # cost 1 everywhere
    m = TabularMDP(P, r, mdp.mu0, gamma=mdp.gamma, costs=costs)
    budget = 1.0 / (1 - mdp.gamma)  # exactly tight: every policy has cost 1/(1-gamma)
    res = solve_cmdp(m, [budget])
    assert res.status == "optimal"
    assert res.verify().ok
    # closed form: every policy has value c/(1-gamma); HiGHS tolerance 1e-9 on a 1/(1-g) = 5
    # scale gives 1e-8 absolute.
    assert abs(res.value - c / (1 - mdp.gamma)) <= 1e-8 * max(1.0, abs(c)) / (1 - mdp.gamma)
    # a vertex: at most one state randomises beyond its single basic action (K = 1)
    support = (res.d > 1e-9).sum(axis=1)
    assert (support > 1).sum() <= 1


def test_an_infeasible_tie_is_reported_not_rounded_to_feasible():
    """The degenerate LP can fail: a budget below the constant cost is infeasible."""
    m = TabularMDP(np.full((2, 2, 2), 0.5), np.ones((2, 2)), np.array([0.5, 0.5]), gamma=0.5,
                   costs=np.ones((1, 2, 2)))
    assert solve_cmdp(m, [2.0 - 1e-6]).status == "infeasible"
    assert solve_cmdp(m, [2.0]).status == "optimal"


# -- probabilities at machine epsilon -----------------------------------------------------------
@given(small_models(0.95, eps_entries=True), st.integers(0, 2**32 - 1))
def test_kernels_with_1e16_entries_evaluate_like_a_direct_solve(mdp, seed):
    pi = np.random.default_rng(seed).dirichlet(np.ones(mdp.A), size=mdp.S)
    pv = evaluate(mdp, pi)
    v_direct = direct_values(mdp, pi)
    # condition number ~1/(1-gamma) = 20 on values ~20: rounding ~ 20 * 20 * S * eps
    assert np.abs(pv.v - v_direct).max() <= pv.error_bound + 10 * mdp.S * 400 * EPS


@pytest.mark.parametrize("tiny", [1e-16, 5e-324, 1e-300])
def test_initial_distribution_with_tiny_mass_is_accepted_and_weighted_exactly(tiny):
    P = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # two absorbing states
    r = np.array([[0.0], [1.0]])
    mdp = TabularMDP(P, r, np.array([1.0 - tiny, tiny]), gamma=0.5)
    pv = evaluate(mdp, np.ones((2, 1)))
    # closed form: value = tiny * 1/(1 - 0.5) = 2 tiny (1 - tiny rounds to 1 for tiny < eps/2)
    assert pv.value == pytest.approx(2 * tiny, rel=1e-12, abs=0.0)


def test_rows_off_by_more_than_the_tolerance_are_still_refused():
    """The eps-tolerant acceptance is not a blanket one: 1e-8 off is rejected."""
    from solvers.errors import ModelError

    P = np.array([[[1.0 - 1e-8, 0.0]], [[0.0, 1.0]]])
    with pytest.raises(ModelError, match=r"P\[0, 0, :\]"):
        TabularMDP(P, np.zeros((2, 1)), np.array([0.5, 0.5]), gamma=0.5)
