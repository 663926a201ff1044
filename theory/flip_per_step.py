r"""Per-step flipping versus per-episode mixing (flipping paper, Algorithm 2; notes §2.3, §3.9-B).

The LP / PSPRL solution of a one-constraint CMDP is an *episode* mixture of two
deterministic policies :math:`\pi_1,\pi_2` with weight :math:`\nu` at cost exactly b.
Algorithm 2 of Shen et al. (arXiv 2410.06474) re-flips the coin at every step,
which plays the stationary policy :math:`\pi_\nu=\nu\pi_1+(1-\nu)\pi_2`; its cost is
a nonlinear function of :math:`\nu`, so it misses the budget
(``flip.alg2_per_step_equivalence``, violated). Recalibrating the per-step
probability by root finding meets the budget exactly
(``flip.alg2_recalibrated``) and, when the two policies differ in one state
(then :math:`\pi_p` stays on the segment, Feinberg & Rothblum 2012), recovers
the LP optimum (``flip.alg2_recalibrated_value``).

Every side is computed independently: the pair and :math:`\nu` from brute-force
enumeration of deterministic policies, the per-step values from one exact
evaluation of :math:`\pi_p`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from solvers import TabularMDP, deterministic_policy
from solvers.enumeration import best_episode_mixture, deterministic_policy_values
from solvers.flipping import (
    FLIP_RTOL,
    FLIP_XTOL,
    envelope_pair,
    flip_lipschitz,
    per_step_flip,
    recalibrate_flip,
)
from solvers.tolerances import LP_FEASIBILITY_TOL, linear_solve_tol

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register
from .strategies import mdps

FLIP = "Shen, Jiang, Wachi, Hashimoto, Gros: Flipping-based policy for CCMDPs (NeurIPS 2024), " \
       "arXiv 2410.06474"

#: Smallest spread max C - min C of the deterministic costs for a budget "strictly between".
_MIN_SPREAD = 1e-3


@st.composite
def straddle_instances(draw: st.DrawFn) -> Instance:
    """Tiny discounted CMDP (K = 1) with b strictly inside the deterministic cost range."""
    mdp = draw(mdps(max_S=3, max_A=2, K=1, max_gamma=0.95))
    _, pts = deterministic_policy_values(mdp)
    lo, hi = float(pts[:, 1].min()), float(pts[:, 1].max())
    assume(hi - lo > _MIN_SPREAD)
    t = draw(st.one_of(st.sampled_from([0.5, 0.25, 0.75]),
                       st.floats(0.05, 0.95, allow_nan=False, allow_subnormal=False)))
    return {"mdp": mdp, "b": np.array([lo + t * (hi - lo)])}


def _pair(inst: Instance) -> dict:
    """The LP mixture from enumeration: the envelope pair at cost b, its weight and value."""
    mdp = inst["mdp"]
    acts, pts = deterministic_policy_values(mdp)
    b = float(inst["b"][0])
    i, j, nu, val = envelope_pair(pts, b)
    return {"pi1": deterministic_policy(acts[i], mdp.A),
            "pi2": deterministic_policy(acts[j], mdp.A), "nu": nu, "value": val,
            "V": pts[[i, j], 0], "C": pts[[i, j], 1],
            "n_diff": int(np.sum(acts[i] != acts[j])), "points": pts, "b": b}


def _solve_tol(mdp: TabularMDP) -> float:
    """Rounding of one float64 evaluation of the (cost or reward) values."""
    scale = max(float(np.abs(mdp.r).max()), float(np.abs(mdp.costs).max()))
    return linear_solve_tol(mdp.S, scale, mdp.gamma)


# -- flip.alg2_per_step_equivalence (violated) ----------------------------------------------
def _check_equivalence(inst: Instance) -> Evidence:
    mdp = inst["mdp"]
    pr = _pair(inst)
    flip = per_step_flip(mdp, pr["pi1"], pr["pi2"], pr["nu"])
    episode_cost = float(pr["nu"] * pr["C"][0] + (1 - pr["nu"]) * pr["C"][1])
    # lhs and the budget each carry the rounding of one linear solve.
    return Evidence(float(flip.cost_values[0]), pr["b"], "<=", tol=2 * _solve_tol(mdp), details={
        "nu": pr["nu"], "per_step_value": flip.value, "episode_value": pr["value"],
        "episode_cost": episode_cost, "states_differing": pr["n_diff"]})


register(Theorem(
    id="flip.alg2_per_step_equivalence",
    source=f"{FLIP}, Algorithm 2 with the LP weight; cmdp_ccmdp notes §3.9-B",
    statement=r"\pi_\nu=\nu\pi_1+(1-\nu)\pi_2\ \text{(re-flipped every step)}\Rightarrow"
              r"(V_r,V_c)(\pi_\nu)=\nu(V_1,C_1)+(1-\nu)(V_2,C_2),\ \text{so }V_c(\pi_\nu)\le b",
    summary="published: per-step flipping with the LP weight nu achieves the episode mixture "
            "(false)",
    instances=straddle_instances,
    check=_check_equivalence,
    expected="violated",
    counterexample="flip.alg2_per_step_equivalence.json",
    corrected="flip.alg2_recalibrated",
))


# -- flip.alg2_recalibrated (holds) ---------------------------------------------------------
def _budget_tol(mdp: TabularMDP) -> float:
    # brentq stops on a sign change of the *computed* cost within a bracket of width
    # <= xtol + rtol (p <= 1): the true cost at p is within one solve error plus
    # Lipschitz * width of b; the independent re-evaluation adds one more solve error.
    return 3 * _solve_tol(mdp) + 2 * flip_lipschitz(mdp) * (FLIP_XTOL + FLIP_RTOL)


def _recalibrate(inst: Instance):
    pr = _pair(inst)
    res = recalibrate_flip(inst["mdp"], pr["pi1"], pr["pi2"], pr["b"])
    if res.status != "optimal":
        raise RuntimeError(f"recalibrate_flip on a straddling pair returned {res.status}: "
                           f"{res.message}")
    return pr, res


def _check_recalibrated(inst: Instance) -> Evidence:
    mdp = inst["mdp"]
    pr, res = _recalibrate(inst)
    again = per_step_flip(mdp, pr["pi1"], pr["pi2"], res.p)  # independent of the root finder
    return Evidence(float(again.cost_values[0]), pr["b"], "==", tol=_budget_tol(mdp), details={
        "p": res.p, "nu": pr["nu"], "value": again.value, "states_differing": pr["n_diff"]})


register(Theorem(
    id="flip.alg2_recalibrated",
    source=f"{FLIP}, Algorithm 2 corrected (cmdp_ccmdp notes §3.9-B)",
    statement=r"p^\star:\ V_c(p^\star\pi_1+(1-p^\star)\pi_2)=b\ \text{by root finding on }[0,1]"
              r"\ \Rightarrow\ |V_c(\pi_{p^\star})-b|\le\mathrm{tol}",
    summary="per-step flipping with the recalibrated probability meets the budget exactly",
    instances=straddle_instances,
    check=_check_recalibrated,
    tight=True,
))


def _one_state(inst: Instance) -> bool:
    return _pair(inst)["n_diff"] == 1


def _budget_binds(inst: Instance) -> bool:
    """Some reward-maximal deterministic policy costs >= b, so the LP optimum costs exactly b."""
    pts = _pair(inst)["points"]
    return bool(pts[pts[:, 1] >= float(inst["b"][0]), 0].max() == pts[:, 0].max())


def _check_recalibrated_value(inst: Instance) -> Evidence:
    mdp = inst["mdp"]
    pr, res = _recalibrate(inst)
    lp = best_episode_mixture(pr["points"], inst["b"])
    if lp is None:
        raise RuntimeError("best episode mixture infeasible for a budget inside the cost range")
    # LP side: HiGHS to LP_FEASIBILITY_TOL, 10x for unscaling, relative to the value scale.
    scale = max(1.0, float(np.abs(mdp.r).max()), float(np.abs(mdp.costs).max())) / (1 - mdp.gamma)
    dC = pr["C"][0] - pr["C"][1]
    slope = abs((pr["V"][0] - pr["V"][1]) / dC) if dC != 0 else 0.0
    # On the segment a budget miss e moves the value by slope * e.
    tol = 10 * LP_FEASIBILITY_TOL * scale + _solve_tol(mdp) + slope * _budget_tol(mdp)
    return Evidence(float(res.value), lp, "==", tol=tol, details={
        "p": res.p, "nu": pr["nu"], "slope": slope, "cost_miss": res.residual})


register(Theorem(
    id="flip.alg2_recalibrated_value",
    source=f"{FLIP}, Algorithm 2 corrected; Feinberg & Rothblum, Math. Oper. Res. 37(1), 2012; "
           "cmdp_ccmdp notes §2.3, §3.9-B",
    statement=r"\pi_1,\pi_2\ \text{differ in one state},\ V_c(\pi_{p^\star})=b\ \Rightarrow\ "
              r"V_r(\pi_{p^\star})=\max_{w\in\Delta}\{w^\top V_r: w^\top V_c\le b\}",
    summary="recalibrated per-step flipping recovers the LP optimum when the pair differs in "
            "one state",
    instances=straddle_instances,
    check=_check_recalibrated_value,
    assumptions=(
        Assumption("differ_in_one_state", _one_state,
                   "the envelope pair of deterministic policies differs in exactly one state"),
        Assumption("budget_binds", _budget_binds,
                   "some reward-maximal deterministic policy costs >= b (the LP optimum costs b)"),
    ),
    tight=True,
))
