r"""Classical constrained-MDP results (cmdp_ccmdp notes §2.1-2.4), checked independently.

- ``cmdp.lp_equals_best_policy``: the occupancy-LP optimum equals the best
  episode-level mixture of the :math:`A^S` deterministic policies (own solves,
  own small LP over mixture weights).
- ``cmdp.lp_randomizes_in_at_most_K_states``: a vertex optimum randomises in at
  most K states (Altman 1999; Feinberg & Shwartz 1996).
- ``cmdp.strong_duality``: :math:`V^\star(b)=\min_{\lambda\ge0}D(\lambda)`, with
  :math:`D(\lambda^\star)` by policy iteration on :math:`r-\lambda^\top c`.
- ``cmdp.value_concave_in_budget_lambda_is_slope``: :math:`\lambda^\star` is a
  supergradient of :math:`V^\star(b)`, with :math:`V^\star(b')` from enumeration.
- ``cmdp.slater_multiplier_bound``: :math:`0\le\lambda^\star\le(V^\star(b)-V_r(\bar\pi))
  /\epsilon_{sl}` for K = 1 (Ding et al. 2021; SACPO Lemma 2).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from solvers import TabularMDP, lagrangian_dual, solve_cmdp
from solvers.enumeration import best_episode_mixture, deterministic_policy_values
from solvers.tolerances import LP_FEASIBILITY_TOL

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register
from .strategies import mdps

ALTMAN = "Altman, Constrained Markov Decision Processes (1999), ch. 3"


def _scale(mdp: TabularMDP) -> float:
    """Value scale max(1, |r|, |c|) / (1 - gamma) that LP residuals are relative to."""
    return max(1.0, float(np.abs(mdp.r).max()), float(np.abs(mdp.costs).max())) / (1 - mdp.gamma)


def _lp_tol(mdp: TabularMDP) -> float:
    # HiGHS solves to LP_FEASIBILITY_TOL on its scaled LP; 10x that, relative to the
    # value scale, covers unscaling (observed residuals are ~1e-15).
    return 10 * LP_FEASIBILITY_TOL * _scale(mdp)


@st.composite
def cmdp_instances(draw: st.DrawFn, K: int | None = None) -> Instance:
    """Tiny discounted CMDP with a feasible budget: a random episode mixture's costs plus slack."""
    k = draw(st.integers(1, 2)) if K is None else K
    mdp = draw(mdps(max_S=3, max_A=2, K=k, max_gamma=0.95))
    _, pts = deterministic_policy_values(mdp)
    w = np.array(draw(st.lists(st.integers(0, 4), min_size=len(pts), max_size=len(pts))),
                 dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.full(len(pts), 1.0 / len(pts))
    slack = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 0.1, 1.0]), min_size=k,
                                   max_size=k)))
    return {"mdp": mdp, "b": w @ pts[:, 1:] + slack}


def _solve(inst: Instance):
    res = solve_cmdp(inst["mdp"], inst["b"])
    if res.status != "optimal":
        raise RuntimeError(f"solve_cmdp on a feasible budget returned {res.status}: {res.message}")
    return res


def _check_best_policy(inst: Instance) -> Evidence:
    mdp = inst["mdp"]
    res = _solve(inst)
    best = best_episode_mixture(deterministic_policy_values(mdp)[1], inst["b"])
    return Evidence(res.value, best, "==", tol=2 * _lp_tol(mdp), details={"K": mdp.K})


register(Theorem(
    id="cmdp.lp_equals_best_policy",
    source=f"{ALTMAN}; cmdp_ccmdp notes §2.1(a), §2.3",
    statement=r"\max_{d\in\mathcal D,\ \langle d,c_k\rangle/(1-\gamma)\le b_k}"
              r"\frac{\langle d,r\rangle}{1-\gamma}=\max_{w\in\Delta}\Big\{\sum_i w_iV_r(\pi_i):"
              r"\sum_i w_iV_{c_k}(\pi_i)\le b_k\Big\}",
    summary="occupancy-LP optimum equals the best episode mixture of deterministic policies",
    instances=lambda: cmdp_instances(),
    check=_check_best_policy,
    tight=True,
))


def _check_randomization(inst: Instance) -> Evidence:
    mdp = inst["mdp"]
    res = _solve(inst)
    d = res.d
    visited = d.sum(axis=1) > LP_FEASIBILITY_TOL
    # an action is in the support when its occupancy exceeds HiGHS's feasibility tolerance
    extra = int(((d > LP_FEASIBILITY_TOL).sum(axis=1) - 1)[visited].clip(min=0).sum())
    return Evidence(extra, mdp.K, "<=", details={"visited_states": int(visited.sum())})


register(Theorem(
    id="cmdp.lp_randomizes_in_at_most_K_states",
    source="Altman, Constrained Markov Decision Processes (1999), Thm 3.8 (verify); "
           "Feinberg & Shwartz, Math. Oper. Res. 21(4), 1996",
    statement=r"\sum_{s:d(s)>0}\big(|\mathrm{supp}\,\pi(\cdot|s)|-1\big)\le K"
              r"\ \text{for a vertex optimum}",
    summary="a vertex (basic) LP optimum uses at most K extra actions in total",
    instances=lambda: cmdp_instances(),
    check=_check_randomization,
))


def _check_strong_duality(inst: Instance) -> Evidence:
    mdp = inst["mdp"]
    res = _solve(inst)
    dual = lagrangian_dual(mdp, inst["b"], res.lam)
    return Evidence(res.value, dual, "==", tol=2 * _lp_tol(mdp),
                    details={"lam": float(np.max(res.lam))})


register(Theorem(
    id="cmdp.strong_duality",
    source=f"{ALTMAN}; Paternain et al., NeurIPS 2019; cmdp_ccmdp notes §2.4",
    statement=r"V^\star(b)=\max_\pi V_{r-\lambda^{\star\top}c}(\pi)+\lambda^{\star\top}b",
    summary="zero duality gap: the LP value equals the Lagrangian dual at the LP multipliers",
    instances=lambda: cmdp_instances(),
    check=_check_strong_duality,
    tight=True,
))


@st.composite
def _budget_pairs(draw: st.DrawFn) -> Instance:
    inst = draw(cmdp_instances())
    shift = np.array(draw(st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=len(inst["b"]),
                                   max_size=len(inst["b"]))))
    return {**inst, "b_other": inst["b"] + shift}


def _check_supergradient(inst: Instance) -> Evidence:
    mdp, b, b2 = inst["mdp"], inst["b"], inst["b_other"]
    res = _solve(inst)
    other = best_episode_mixture(deterministic_policy_values(mdp)[1], b2)
    if other is None:  # V*(b') = -inf: the inequality holds trivially
        return Evidence(-1e300, res.value, "<=", details={"feasible_other": False})
    rhs = res.value + float(res.lam @ (b2 - b))
    return Evidence(other, rhs, "<=", tol=3 * _lp_tol(mdp) * (1 + float(np.abs(b2 - b).sum())),
                    details={"feasible_other": True})


register(Theorem(
    id="cmdp.value_concave_in_budget_lambda_is_slope",
    source=f"{ALTMAN}; cmdp_ccmdp notes §2.4",
    statement=r"V^\star(b')\le V^\star(b)+\lambda^{\star\top}(b'-b)\quad\forall b'",
    summary="V*(b) is concave and the LP multipliers are a supergradient in the budget",
    instances=_budget_pairs,
    check=_check_supergradient,
    tight=True,
))


def _slater(inst: Instance) -> bool:
    mdp = inst["mdp"]
    _, pts = deterministic_policy_values(mdp)
    return mdp.K == 1 and float(inst["b"][0] - pts[:, 1].min()) > 1e-3


def _check_slater(inst: Instance) -> Evidence:
    mdp = inst["mdp"]
    res = _solve(inst)
    _, pts = deterministic_policy_values(mdp)
    i = int(np.argmin(pts[:, 1]))  # pi_bar: the least-cost deterministic policy
    eps_sl = float(inst["b"][0] - pts[i, 1])
    bound = (res.value - pts[i, 0]) / eps_sl
    return Evidence(float(res.lam[0]), bound, "<=", tol=2 * _lp_tol(mdp) / eps_sl,
                    details={"slater_margin": eps_sl})


register(Theorem(
    id="cmdp.slater_multiplier_bound",
    source="Ding et al. 2021; SACPO (arXiv 2404.11049) Lemma 2; cmdp_ccmdp notes §2.4",
    statement=r"b-V_c(\bar\pi)\ge\epsilon_{sl}>0\ \Rightarrow\ 0\le\lambda^\star\le"
              r"\frac{V^\star(b)-V_r(\bar\pi)}{\epsilon_{sl}}",
    summary="under Slater's condition the multiplier is bounded by the value gap over the margin",
    instances=lambda: cmdp_instances(K=1),
    check=_check_slater,
    assumptions=(Assumption("slater", _slater, "some policy has cost below b by > 1e-3"),),
))
