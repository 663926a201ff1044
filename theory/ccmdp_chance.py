r"""Joint chance constraints: the exact augmentation, Boole's bound, and the flipping paper's Thm 5.

Notes: ../shared/papers/cmdp_ccmdp.md §2.6 (exact reduction), §3.8 (checkable
statements) and §3.9-A (the Theorem 5 counterexample). Violation event
:math:`V_T=\{\exists t\le T: s_t\in U\}`; with :math:`s_0` safe it is the
paper's :math:`\{\exists 1\le i\le T: s_i\notin\mathcal S_{safe}\}`. The paper's
discounted unsafety is the infinite-horizon
:math:`H_{unsafe}=E[\sum_{i\ge1}\gamma_u^i\mathbb 1\{s_i\in U\}]`, computed here
by a discounted policy evaluation with reward :math:`P(U|s,a)` (independent of
the finite-horizon recursion used for the probability).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from solvers import (
    TabularMDP,
    augment_with_flag,
    boole_bound,
    evaluate,
    violation_probability_enumeration,
)
from solvers.ccmdp import violation_error_bound, violation_probability
from solvers.ccmdp_solve import solve_ccmdp
from solvers.tolerances import EPS, LP_FEASIBILITY_TOL, linear_solve_tol

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register
from .strategies import mdps, policies

FLIP = "Shen, Jiang, Wachi, Hashimoto, Gros: Flipping-based policy for CCMDPs (NeurIPS 2024), " \
       "arXiv 2410.06474"


def h_unsafe_infinite(mdp: TabularMDP, pi: np.ndarray, unsafe: np.ndarray,
                      gamma_u: float) -> float:
    r""":math:`H_{unsafe}=\gamma_u E_{\mu_0}[\sum_{t\ge0}\gamma_u^t P(U|s_t,a_t)]`, same kernel.

    Equals :math:`E[\sum_{i\ge1}\gamma_u^i\mathbb 1\{s_i\in U\}]` for the stationary
    policy ``pi`` run forever (not scaled by :math:`1-\gamma_u`).
    """
    P = mdp.dense_P()
    c_unsafe = P[:, :, np.asarray(unsafe, bool)].sum(axis=2)
    disc = TabularMDP(P, c_unsafe, mdp.mu0, gamma=gamma_u)
    return gamma_u * evaluate(disc, pi).value


@st.composite
def chance_instances(draw: st.DrawFn, absorbing: bool = False) -> Instance:
    """Finite-horizon model (horizon T), stationary policy, unsafe mask, gamma_u; s_0 safe."""
    base = draw(mdps(horizon=True, max_S=4, max_A=2, max_horizon=4))
    S = base.S
    unsafe = np.array(draw(st.lists(st.booleans(), min_size=S, max_size=S)), dtype=bool)
    if unsafe.all():
        unsafe[0] = False
    safe = ~unsafe
    mu0 = np.where(safe, base.mu0, 0.0)
    mu0 = mu0 / mu0.sum() if mu0.sum() > 0 else safe / safe.sum()
    P = base.dense_P().copy()
    if absorbing:
        for u in np.flatnonzero(unsafe):
            P[u] = 0.0
            P[u, :, u] = 1.0
    mdp = TabularMDP(P, base.r, mu0, horizon=base.horizon)
    # gamma_u >= 0.01: gamma_u^-T must stay finite for the corrected bound (T <= 4).
    gamma_u = draw(st.one_of(st.sampled_from([0.5, 0.9, 0.99]),
                             st.floats(0.01, 0.99, allow_nan=False, allow_subnormal=False)))
    return {"mdp": mdp, "pi": policies(draw, mdp), "unsafe": unsafe, "gamma_u": gamma_u}


def _start_safe(inst: Instance) -> bool:
    return float(inst["mdp"].mu0[np.asarray(inst["unsafe"], bool)].sum()) == 0.0


START_SAFE = Assumption("start_safe", _start_safe, "mu0 puts no mass on unsafe states")


# -- ccmdp.augmented_state_exact ---------------------------------------------------------
def _check_augmented(inst: Instance) -> Evidence:
    mdp, pi, unsafe = inst["mdp"], inst["pi"], inst["unsafe"]
    aug = augment_with_flag(mdp, unsafe)
    via_cost = aug.initial_violation + evaluate(aug.mdp, aug.lift_policy(pi)).cost_values[0]
    exact = float(violation_probability_enumeration(mdp, pi, unsafe, exact=True))
    # The augmented evaluation is a float backward recursion over H steps on 2S states;
    # the enumeration is exact rational arithmetic on the stored floats.
    tol = violation_error_bound(aug.mdp) + 4 * EPS
    return Evidence(via_cost, exact, "==", tol=tol, details={"S": mdp.S, "H": mdp.horizon})


register(Theorem(
    id="ccmdp.augmented_state_exact",
    source="cmdp_ccmdp notes §2.6 (exact reduction of a finite-horizon joint chance constraint; "
           "consistent with Schmid et al., arXiv 2402.19360)",
    statement=r"\Pr^\pi(\exists t\le H: s_t\in U)=\mu_0(U)+E^{\pi}_{aug}\Big[\sum_{t<H}"
              r"(1-f_t)P(U\mid s_t,a_t)\Big]",
    summary="violation probability from the flag-augmented chain equals trajectory enumeration",
    instances=lambda: chance_instances(),
    check=_check_augmented,
    proof_checks=("augmented_chain_violation_identity",),
    tight=True,
))


# -- Boole / union bound -------------------------------------------------------------------
def _check_union(inst: Instance) -> Evidence:
    mdp, pi, unsafe = inst["mdp"], inst["pi"], inst["unsafe"]
    prob = float(violation_probability_enumeration(mdp, pi, unsafe, exact=True))
    bound = boole_bound(mdp, pi, unsafe)
    # boole_bound is a float forward recursion of H steps (S terms each).
    return Evidence(prob, bound, "<=", tol=violation_error_bound(mdp),
                    details={"H": mdp.horizon})


register(Theorem(
    id="ccmdp.union_bound",
    source="Boole's inequality; cmdp_ccmdp notes §2.6",
    statement=r"\Pr(\exists t\le H: s_t\in U)\le\sum_{t=0}^{H}\Pr(s_t\in U)",
    summary="the accumulated expected unsafety bounds the joint violation probability",
    instances=lambda: chance_instances(),
    check=_check_union,
    proof_checks=("boole_inequality_two_events",),
))

register(Theorem(
    id="flip.thm9_union_bound",
    source=f"{FLIP}, Thm 9 (union-bound surrogate is conservative)",
    statement=r"\Pr(\exists i\le T: s_i\notin\mathcal S_{safe})\le\sum_{i=1}^T"
              r"\Pr(s_i\notin\mathcal S_{safe})",
    summary="the union-bound surrogate of the flipping paper is conservative",
    instances=lambda: chance_instances(),
    check=_check_union,
    assumptions=(START_SAFE,),
    proof_checks=("boole_inequality_two_events",),
))


# -- Theorem 5 (violated) and its corrections -------------------------------------------
def _prob_and_h(inst: Instance) -> tuple[float, float, float]:
    mdp, pi, unsafe, gu = inst["mdp"], inst["pi"], inst["unsafe"], float(inst["gamma_u"])
    prob = float(violation_probability_enumeration(mdp, pi, unsafe, exact=True))
    h = h_unsafe_infinite(mdp, pi, unsafe, gu)
    # h comes from one discounted solve with reward in [0, 1].
    return prob, h, linear_solve_tol(mdp.S, 1.0, gu)


def _check_thm5(inst: Instance) -> Evidence:
    """Violation probability (lhs) against H_unsafe (rhs): Thm 5 and its absorbing correction."""
    prob, h, tol = _prob_and_h(inst)
    # Premise H_unsafe <= delta with the smallest admissible delta = H_unsafe.
    return Evidence(prob, h, "<=", tol=tol, details={"delta": h, "T": inst["mdp"].horizon,
                                                     "gamma_u": float(inst["gamma_u"])})


register(Theorem(
    id="flip.thm5_conservative",
    source=f"{FLIP}, Thm 5",
    statement=r"H_{unsafe}(\pi,s)\le\delta\ \Rightarrow\ \Pr(\exists i\le T:"
              r"s_i\notin\mathcal S_{safe}\mid s_0=s)\le\delta",
    summary="published: H_unsafe <= delta implies the T-step joint constraint (false)",
    instances=lambda: chance_instances(),
    check=_check_thm5,
    assumptions=(START_SAFE,),
    expected="violated",
    counterexample="flip.thm5_conservative.json",
    corrected="ccmdp.discounted_surrogate_absorbing",
))


def _check_general(inst: Instance) -> Evidence:
    prob, h, tol = _prob_and_h(inst)
    T, gu = inst["mdp"].horizon, float(inst["gamma_u"])
    return Evidence(prob, h * gu ** (-T), "<=", tol=tol * gu ** (-T), details={"T": T})


register(Theorem(
    id="flip.thm5_corrected_general",
    source=f"{FLIP}, Thm 5 as corrected in cmdp_ccmdp notes §3.9-A (no absorption needed)",
    statement=r"\Pr(\exists 1\le i\le T: s_i\in U)\le\gamma_u^{-T}H_{unsafe}",
    summary="corrected Thm 5 without absorption: violation probability <= gamma_u^-T H_unsafe",
    instances=lambda: chance_instances(),
    check=_check_general,
    assumptions=(START_SAFE,),
))


def _absorbing(inst: Instance) -> bool:
    P, unsafe = inst["mdp"].dense_P(), np.asarray(inst["unsafe"], bool)
    return all(np.all(P[u, :, u] == 1.0) for u in np.flatnonzero(unsafe))


def _discount_condition(inst: Instance) -> bool:
    gu = float(inst["gamma_u"])
    return gu ** inst["mdp"].horizon >= 1.0 - gu


register(Theorem(
    id="ccmdp.discounted_surrogate_absorbing",
    source=f"{FLIP}, Thm 5 corrected (cmdp_ccmdp notes §3.9-A, derived)",
    statement=r"U\text{ absorbing},\ \gamma_u^T\ge1-\gamma_u,\ H_{unsafe}\le\delta\ \Rightarrow\ "
              r"\Pr(t_U\le T)\le\delta,\ \text{since }H_{unsafe}=E[\gamma_u^{t_U}]/(1-\gamma_u)",
    summary="corrected Thm 5: with absorbing unsafe states and gamma_u^T >= 1-gamma_u",
    instances=lambda: chance_instances(absorbing=True).filter(_discount_condition),
    check=_check_thm5,  # same two sides; here the assumptions make it hold
    assumptions=(START_SAFE, Assumption("unsafe_absorbing", _absorbing),
                 Assumption("gamma_u^T >= 1 - gamma_u", _discount_condition)),
))


# -- ccmdp.augmented_lp_optimal --------------------------------------------------------
def history_lp_value(mdp: TabularMDP, unsafe: np.ndarray, delta: float) -> float | None:
    r"""Best value over *all* history-dependent randomised policies, by the trajectory-tree LP.

    Variables :math:`x(h_t,a)\ge0` for every history prefix :math:`h_t=(s_0,a_0,\dots,s_t)`
    (the joint probability of :math:`h_t` and :math:`a_t=a`): :math:`\sum_ax(s_0,a)=\mu_0(s_0)`,
    :math:`\sum_{a'}x((h_t,a,s'),a')=P(s'|s_t,a)\,x(h_t,a)`; objective
    :math:`\sum x(h_t,a)r(s_t,a)`; constraint :math:`\sum_{h_{H-1},a,s'}x(h_{H-1},a)
    P(s'|s_{H-1},a)\mathbb 1\{h\text{ or }s'\text{ meets }U\}\le\delta`. Every such
    :math:`x` is the law of some history-dependent policy and conversely (a policy is a
    conditional distribution per history), so no flag and no Markov property is assumed.
    ``None`` when infeasible. Exponential size: tiny models only.
    """
    from scipy.optimize import linprog

    P, S, A, H = mdp.dense_P(), mdp.S, mdp.A, int(mdp.horizon)
    nodes = [(s, bool(unsafe[s]), None, 1.0) for s in range(S)]  # (s_t, hit, (parent var), p)
    obj, viol, eq_rhs = [], [], []
    n_var = 0
    rows_data: list[list[tuple[int, float]]] = []
    for t in range(H):
        new_nodes = []
        for s, hit, parent, p_par in nodes:
            first = n_var
            row = [(first + a, 1.0) for a in range(A)]
            if parent is None:
                eq_rhs.append(float(mdp.mu0[s]))
            else:
                row.append((parent, -p_par))
                eq_rhs.append(0.0)
            rows_data.append(row)
            for a in range(A):
                obj.append(float(mdp.r[s, a]))
                v = 0.0
                for s2 in np.flatnonzero(P[s, a] > 0):
                    hit2 = hit or bool(unsafe[s2])
                    if t + 1 < H:
                        new_nodes.append((int(s2), hit2, first + a, float(P[s, a, s2])))
                    else:  # leaves: the full trajectory (s_0..s_H) is known
                        v += float(P[s, a, s2]) * hit2
                viol.append(v)
            n_var += A
        nodes = new_nodes
    A_eq = np.zeros((len(rows_data), n_var))
    for i, row in enumerate(rows_data):
        for j, val in row:
            A_eq[i, j] += val
    res = linprog(-np.array(obj), A_ub=np.array([viol]), b_ub=[delta], A_eq=A_eq, b_eq=eq_rhs,
                  bounds=(0, None), method="highs",
                  options={"primal_feasibility_tolerance": LP_FEASIBILITY_TOL,
                           "dual_feasibility_tolerance": LP_FEASIBILITY_TOL})
    if res.status == 2:
        return None
    if res.status != 0:
        raise RuntimeError(f"trajectory-tree LP failed: {res.message}")
    return float(-res.fun)


@st.composite
def ccmdp_instances(draw: st.DrawFn) -> Instance:
    """Tiny finite-horizon model (S <= 3, A <= 2, H <= 3), unsafe mask, delta in [0, 1]."""
    mdp = draw(mdps(horizon=True, max_S=3, max_A=2, max_horizon=3))
    unsafe = np.array(draw(st.lists(st.booleans(), min_size=mdp.S, max_size=mdp.S)), dtype=bool)
    delta = draw(st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0]),
                           st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False)))
    return {"mdp": mdp, "unsafe": unsafe, "delta": delta}


def _lp_tol(mdp: TabularMDP) -> float:
    # Both LPs are solved by HiGHS to LP_FEASIBILITY_TOL on scaled problems whose values are
    # at most H * max|r|; 20x that covers unscaling of both (observed gaps ~1e-15).
    return 20 * LP_FEASIBILITY_TOL * max(1.0, mdp.horizon * float(np.abs(mdp.r).max()))


def _check_augmented_optimal(inst: Instance) -> Evidence:
    mdp, unsafe, delta = inst["mdp"], np.asarray(inst["unsafe"], bool), float(inst["delta"])
    res = solve_ccmdp(mdp, unsafe, delta)
    tree = history_lp_value(mdp, unsafe, delta)
    tol = _lp_tol(mdp)
    if res.status == "optimal" and res.violation_probability > delta + 10 * LP_FEASIBILITY_TOL:
        # the augmented LP's policy must itself be feasible (exact recomputed probability)
        return Evidence(res.violation_probability, delta, "<=", tol=10 * LP_FEASIBILITY_TOL,
                        details={"failed": "feasibility of the augmented LP policy"})
    if tree is None or res.status != "optimal":
        both = tree is None and res.status == "infeasible"
        return Evidence(0.0, 0.0 if both else float("nan"), "==",
                        details={"augmented_status": res.status, "tree_feasible": tree is not None})
    return Evidence(res.value, tree, "==", tol=tol,
                    details={"S": mdp.S, "H": mdp.horizon, "delta": delta,
                             "violation": res.violation_probability})


register(Theorem(
    id="ccmdp.augmented_lp_optimal",
    source="cmdp_ccmdp notes §2.6(i); Schmid et al., arXiv 2402.19360",
    statement=r"\max_{d\in\mathcal D_{aug}:\ \mu_0(U)+\langle d,c\rangle\le\delta}"
              r"\langle d,r\rangle"
              r"=\sup\{V_r(\pi):\pi\ \text{history-dependent},\ \Pr^\pi(\exists t\le H:"
              r"s_t\in U)\le\delta\}",
    summary="the flag-augmented LP optimum equals the best history-dependent policy "
            "(trajectory-tree LP), and its policy is feasible",
    instances=lambda: ccmdp_instances(),
    check=_check_augmented_optimal,
    tight=True,
))


# -- ccmdp.flag_needed -----------------------------------------------------------------
def flag_witness(p: float) -> tuple[TabularMDP, np.ndarray]:
    r"""Witness that optimal CCMDP policies need the flag (notes §2.6(ii)); H = 3.

    States 0 = start, 1 = u (unsafe), 2 = v, 3 = m, 4 = g (unsafe), 5 = z. From 0 every
    action goes to u w.p. p and to v otherwise; u and v lead to m; at m (always at t = 2)
    action 1 earns 1 and enters g, action 0 earns 0 and enters the safe sink z.
    """
    P = np.zeros((6, 2, 6))
    P[0, :, 1], P[0, :, 2] = p, 1.0 - p
    P[1, :, 3] = P[2, :, 3] = 1.0
    P[3, 0, 5] = P[3, 1, 4] = 1.0
    P[4, :, 4] = P[5, :, 5] = 1.0
    r = np.zeros((6, 2))
    r[3, 1] = 1.0
    unsafe = np.zeros(6, dtype=bool)
    unsafe[[1, 4]] = True
    return TabularMDP(P, r, np.eye(6)[0], horizon=3), unsafe


@st.composite
def flag_witness_instances(draw: st.DrawFn) -> Instance:
    """The witness family: p in (0, 0.9], delta in [p, 1)."""
    p = draw(st.one_of(st.sampled_from([0.5, 0.25]), st.floats(0.01, 0.9)))
    delta = p + (1.0 - p) * draw(st.floats(0.0, 0.99))
    mdp, unsafe = flag_witness(p)
    return {"mdp": mdp, "unsafe": unsafe, "delta": delta, "p": p}


def _check_flag_needed(inst: Instance) -> Evidence:
    mdp, unsafe, delta, p = inst["mdp"], inst["unsafe"], float(inst["delta"]), float(inst["p"])
    res = solve_ccmdp(mdp, unsafe, delta)
    if res.status != "optimal":
        return Evidence(float("nan"), 0.0, "==", details={"status": res.status})
    # Markov in (t, s): the only decision that matters is q = pi_2(1 | m), the same whether or
    # not u was visited; value = q and Pr(V_H) = p + (1 - p) q, so the best is
    # q* = (delta - p) / (1 - p) (an episode-level mixture of Markov policies does no better:
    # its (Pr, value) points all lie on that same line).
    q = (delta - p) / (1.0 - p)
    pi = np.full((3, 6, 2), 0.5)
    pi[2, 3] = [1.0 - q, q]
    markov_value = evaluate(mdp, pi).value
    markov_viol = violation_probability(mdp, pi, unsafe)
    if abs(markov_viol - delta) > violation_error_bound(mdp) + 4 * EPS:
        # q* must exhaust the budget exactly, else the closed form does not apply
        return Evidence(markov_viol, delta, "==", tol=violation_error_bound(mdp) + 4 * EPS,
                        details={"failed": "Markov q* does not meet delta exactly"})
    gain = res.value - markov_value
    predicted = p * (1.0 - delta) / (1.0 - p)
    return Evidence(gain, predicted, "==", tol=_lp_tol(mdp) + 4 * EPS,
                    details={"J_aug": res.value, "J_markov": markov_value, "p": p,
                             "delta": delta, "markov_violation": markov_viol})


register(Theorem(
    id="ccmdp.flag_needed",
    source="cmdp_ccmdp notes §2.6(ii) (existence; witness family constructed here)",
    statement=r"\exists\ \text{instances}:\ J_{aug}(\delta)>\max_{\pi\ \text{Markov in}\ (t,s)}"
              r"V_r(\pi);\ \text{on the witness family }J_{aug}-J_{Markov}"
              r"=\tfrac{p(1-\delta)}{1-p}>0\ (\delta<1)",
    summary="existence: the flag strictly helps; on a witness family the gain of the "
            "augmented LP over the best Markov-in-(t,s) policy is p(1-delta)/(1-p) > 0",
    instances=lambda: flag_witness_instances(),
    check=_check_flag_needed,
    tight=True,
))
