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
from solvers.ccmdp import violation_error_bound
from solvers.tolerances import EPS, linear_solve_tol

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
