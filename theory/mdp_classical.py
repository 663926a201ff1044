r"""Classical MDP results, each checked against an independently computed quantity.

- ``mdp.value_equals_occupancy``: :math:`V^\pi(\mu_0)=\langle d^\pi,r\rangle/(1-\gamma)`
  (finite horizon: :math:`\sum_t\langle d_t^\pi,r\rangle`): the primal solve of
  :math:`(I-\gamma P_\pi)v=r_\pi` against the transposed solve for :math:`d`.
- ``mdp.value_iteration_contraction``: :math:`\|T^kv_0-V^\star\|_\infty\le
  \gamma^k\|v_0-V^\star\|_\infty`, with :math:`V^\star` from policy iteration.
- ``mdp.performance_difference``: Kakade & Langford (2002), Lemma 6.1.
- ``mdp.policy_iteration_bellman_optimal``: no action improves the policy
  iteration result, recomputed by a dense solve written here.
- ``mdp.deterministic_optimal_by_enumeration``: the optimal value equals the
  best value over all :math:`A^S` deterministic stationary policies
  (Puterman 1994, Thm 6.2.10), by enumeration.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from solvers import TabularMDP, bellman_q, evaluate, occupancy, policy_iteration
from solvers.tolerances import EPS, linear_solve_tol

from .core import Evidence, Instance, Theorem
from .registry import register
from .strategies import mdp_and_policy, mdps, policies

PUTERMAN = "Puterman, Markov Decision Processes (1994)"


def _scale(mdp: TabularMDP) -> float:
    return max(1.0, float(np.max(np.abs(mdp.r))))


def _dp_tol(mdp: TabularMDP) -> float:
    """Rounding of an H-step recursion.

    Each step adds at most S * eps relative error, over H steps, on values up to H * scale.
    """
    return 64.0 * mdp.horizon**2 * mdp.S * EPS * _scale(mdp)


def _solve_tol(mdp: TabularMDP) -> float:
    return _dp_tol(mdp) if mdp.finite_horizon else linear_solve_tol(mdp.S, _scale(mdp), mdp.gamma)


# -- value = <d, r> / (1 - gamma) ---------------------------------------------------
def _check_value_occupancy(inst: Instance) -> Evidence:
    mdp, pi = inst["mdp"], inst["pi"]
    ev = evaluate(mdp, pi)
    d = occupancy(mdp, pi)
    if mdp.finite_horizon:
        rhs = float(np.einsum("tsa,sa->", d, mdp.r))
    else:
        rhs = float(np.sum(d * mdp.r)) / (1.0 - mdp.gamma)
    # Two independent float64 solves, each within _solve_tol of the exact value.
    return Evidence(ev.value, rhs, "==", tol=2 * _solve_tol(mdp),
                    details={"S": mdp.S, "A": mdp.A, "gamma": mdp.gamma,
                             "occupancy_mass": float(d.sum())})


register(Theorem(
    id="mdp.value_equals_occupancy",
    source=f"{PUTERMAN}, §6.9; Altman, Constrained MDPs (1999), ch. 3",
    statement=r"V^\pi(\mu_0)=\frac{1}{1-\gamma}\sum_{s,a}d^\pi(s,a)\,r(s,a),\quad "
              r"d^\pi=(1-\gamma)\sum_t\gamma^t\Pr^\pi(s_t=s,a_t=a)",
    summary="policy value equals the occupancy inner product <d, r>/(1-gamma)",
    instances=lambda: mdp_and_policy(horizon=None),
    check=_check_value_occupancy,
    proof_checks=("discounted_constant_reward_geometric_series",
                  "value_equals_occupancy_two_state", "occupancy_flow_constraints"),
    tight=True,
))


# -- value-iteration contraction ------------------------------------------------------
@st.composite
def _vi_instances(draw: st.DrawFn) -> Instance:
    mdp = draw(mdps())
    v0 = draw(hnp.arrays(np.float64, (mdp.S,), elements=st.floats(
        -20.0, 20.0, allow_nan=False, allow_subnormal=False)))
    return {"mdp": mdp, "v0": v0, "k": draw(st.integers(0, 30))}


def _check_contraction(inst: Instance) -> Evidence:
    mdp, v, k = inst["mdp"], np.asarray(inst["v0"], dtype=float), int(inst["k"])
    opt = policy_iteration(mdp)
    if opt.status != "optimal":
        raise RuntimeError(f"policy iteration did not certify optimality: {opt.message}")
    v0_dist = float(np.max(np.abs(v - opt.v)))
    for _ in range(k):
        v = bellman_q(mdp, v).max(axis=1)
    lhs = float(np.max(np.abs(v - opt.v)))
    gk = mdp.gamma**k
    # V* is known within e = opt.value_error_bound, which moves lhs by e and rhs by
    # gamma^k e; each Bellman step rounds by <= 4 eps * (|r| + |v|), summed over k steps
    # and damped by the contraction (factor 1/(1-gamma)).
    vmax = max(_scale(mdp), float(np.max(np.abs(inst["v0"]))), float(np.max(np.abs(opt.v))))
    tol = opt.value_error_bound * (1 + gk) + 4 * (k + 1) * EPS * vmax / (1 - mdp.gamma)
    return Evidence(lhs, gk * v0_dist, "<=", tol=tol,
                    details={"k": k, "gamma": mdp.gamma, "v0_dist": v0_dist})


register(Theorem(
    id="mdp.value_iteration_contraction",
    source=f"{PUTERMAN}, Thm 6.2.3 (Banach fixed point for the Bellman operator)",
    statement=r"\|T^k v_0-V^\star\|_\infty\le\gamma^k\|v_0-V^\star\|_\infty",
    summary="value iteration contracts toward V* at rate gamma in the sup norm",
    instances=_vi_instances,
    check=_check_contraction,
    proof_checks=("bellman_contraction_two_state",),
    tight=True,
))


# -- performance difference lemma -----------------------------------------------------
@st.composite
def _pdl_instances(draw: st.DrawFn) -> Instance:
    mdp = draw(mdps(horizon=None))
    return {"mdp": mdp, "pi": policies(draw, mdp), "pi_ref": policies(draw, mdp)}


def _check_pdl(inst: Instance) -> Evidence:
    mdp, pi, pi_ref = inst["mdp"], inst["pi"], inst["pi_ref"]
    lhs = evaluate(mdp, pi).value - evaluate(mdp, pi_ref).value
    ref = evaluate(mdp, pi_ref)
    d = occupancy(mdp, pi)
    if mdp.finite_horizon:
        adv = ref.q - ref.v[:, :, None]  # A_t(s, a) = q_t(s, a) - v_t(s)
        rhs = float(np.sum(d * adv))
    else:
        adv = ref.q - ref.v[:, None]
        rhs = float(np.sum(d * adv)) / (1.0 - mdp.gamma)
    # Three solves (two values, one occupancy), each within _solve_tol.
    return Evidence(lhs, rhs, "==", tol=4 * _solve_tol(mdp), details={"gamma": mdp.gamma})


register(Theorem(
    id="mdp.performance_difference",
    source="Kakade & Langford, Approximately optimal approximate RL (ICML 2002), Lemma 6.1",
    statement=r"V^\pi(\mu_0)-V^{\pi'}(\mu_0)=\frac{1}{1-\gamma}"
              r"\mathbb E_{(s,a)\sim d^\pi}\big[A^{\pi'}(s,a)\big]",
    summary="performance difference lemma: value gap = occupancy-weighted advantage",
    instances=_pdl_instances,
    check=_check_pdl,
    proof_checks=("performance_difference_two_state",),
    tight=True,
))


# -- policy iteration is Bellman-optimal ----------------------------------------------
def _check_pi_optimal(inst: Instance) -> Evidence:
    mdp = inst["mdp"]
    res = policy_iteration(mdp)
    if res.status != "optimal":
        raise RuntimeError(f"policy iteration did not certify optimality: {res.message}")
    # Independent re-evaluation: a dense solve written here, not solvers.evaluate.
    P = mdp.dense_P()
    S = mdp.S
    idx = np.arange(S)
    P_pi = P[idx, res.actions]
    r_pi = mdp.r[idx, res.actions]
    v = np.linalg.solve(np.eye(S) - mdp.gamma * P_pi, r_pi)
    q = mdp.r + mdp.gamma * P @ v
    improvement = float(np.max(q - v[:, None]))
    # Policy iteration stops when no gain exceeds linear_solve_tol (its tie threshold);
    # the recomputation here adds at most (1 + gamma) times one solve's rounding.
    tol = (2 + mdp.gamma) * linear_solve_tol(S, _scale(mdp), mdp.gamma)
    return Evidence(improvement, 0.0, "<=", tol=tol,
                    details={"iterations": res.iterations, "gamma": mdp.gamma})


register(Theorem(
    id="mdp.policy_iteration_bellman_optimal",
    source=f"{PUTERMAN}, Thm 6.4.2 (policy iteration terminates at an optimal policy)",
    statement=r"\max_{s,a}\big[r(s,a)+\gamma\textstyle\sum_{s'}P(s'|s,a)V^{\pi_{PI}}(s')"
              r"-V^{\pi_{PI}}(s)\big]\le 0",
    summary="no single action improves the policy-iteration result in any state",
    instances=lambda: st.fixed_dictionaries({"mdp": mdps()}),
    check=_check_pi_optimal,
    tight=True,
))


# -- optimal value by enumeration -------------------------------------------------------
def _check_enumeration(inst: Instance) -> Evidence:
    mdp = inst["mdp"]
    res = policy_iteration(mdp)
    if res.status != "optimal":
        raise RuntimeError(f"policy iteration did not certify optimality: {res.message}")
    P, S, A = mdp.dense_P(), mdp.S, mdp.A
    idx = np.arange(S)
    best = np.full(S, -np.inf)
    for acts in itertools.product(range(A), repeat=S):
        a = np.asarray(acts)
        v = np.linalg.solve(np.eye(S) - mdp.gamma * P[idx, a], mdp.r[idx, a])
        best = np.maximum(best, v)
    # V* = max over deterministic policies, statewise; both sides are float solves.
    lhs = float(mdp.mu0 @ best)
    tol = res.value_error_bound + 2 * linear_solve_tol(S, _scale(mdp), mdp.gamma)
    return Evidence(lhs, res.value, "==", tol=tol,
                    details={"policies_enumerated": A**S, "gamma": mdp.gamma})


register(Theorem(
    id="mdp.deterministic_optimal_by_enumeration",
    source=f"{PUTERMAN}, Thm 6.2.10 (a deterministic stationary policy is optimal)",
    statement=r"\max_{\pi\in\Pi^{SD}}V^\pi(\mu_0)=V^\star(\mu_0)",
    summary="the optimal value equals the best of all A^S deterministic stationary policies",
    instances=lambda: st.fixed_dictionaries({"mdp": mdps(max_S=4, max_A=3)}),
    check=_check_enumeration,
    tight=True,
))
