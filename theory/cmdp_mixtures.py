r"""Episode mixtures of deterministic policies versus stationary policies (cmdp_ccmdp notes §2.3).

- ``cmdp.mixture_equals_stationary``: drawing deterministic :math:`\pi_i` with
  probability :math:`w_i` once per episode has the values of the stationary
  policy :math:`\pi_w(a|s)=\sum_iw_id_i(s,a)/\sum_iw_id_i(s)` (its occupancy is
  :math:`\sum_iw_id_i`).
- ``cmdp.splitting_one_state_collinear``: for deterministic :math:`\pi_1,\pi_2`
  differing only in state :math:`s^\ast`, per-step randomisation with
  probability p has :math:`(V_r,V_c)(\pi_p)=w(p)E_1+(1-w(p))E_2` with
  :math:`w(p)=p\rho_2/(p\rho_2+(1-p)\rho_1)`, :math:`\rho_i=d^{\pi_i}(s^\ast)`: on the
  segment, at a position nonlinear in p (Feinberg & Rothblum 2012).

The mixture side uses the values of the enumerated deterministic policies (one
direct solve each, :func:`solvers.enumeration.deterministic_policy_values`); the
stationary side one exact evaluation (:func:`solvers.evaluate`). Values are
:math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from solvers import TabularMDP, deterministic_policy, evaluate, occupancy, per_step_flip
from solvers.cmdp import extract_policy
from solvers.enumeration import deterministic_policy_values
from solvers.tolerances import linear_solve_tol

from .core import Assumption, Evidence, Instance, Theorem
from .flip_paper import tiny_models
from .registry import register

__all__ = ["mixture_evidence", "splitting_evidence"]

FEINBERG_ROTHBLUM = ("Feinberg & Rothblum, Splitting randomized stationary policies in "
                     "total-reward MDPs, Math. Oper. Res. 37(1):129-153, 2012")


def _tol(mdp: TabularMDP, n_solves: int) -> float:
    """``n_solves`` float64 evaluations, each within :func:`linear_solve_tol`.

    The stationary policy built from float occupancies is off by the occupancy rounding; its
    effect on the value is bounded by the same solve error per occupancy used (the value is
    linear in the occupancy and the policy's own occupancy re-solves the flow equations).
    """
    scale = max(float(np.abs(mdp.r).max()), float(np.abs(mdp.costs).max()) if mdp.K else 0.0)
    return n_solves * linear_solve_tol(mdp.S, scale, mdp.gamma)


# -- cmdp.mixture_equals_stationary ------------------------------------------------------------
@st.composite
def mixture_instances(draw: st.DrawFn) -> Instance:
    """A tiny model (K in {1, 2}) and mixture weights over its deterministic policies."""
    mdp = draw(tiny_models(min_A=1, max_A=3, K=draw(st.integers(1, 2))))
    n = mdp.A ** mdp.S
    raw = np.array(draw(st.lists(st.sampled_from([0, 0, 1, 2, 5]), min_size=n, max_size=n)), float)
    raw[draw(st.integers(0, n - 1))] += 1.0  # at least one policy has weight
    return {"mdp": mdp, "weights": raw / raw.sum()}


def mixture_evidence(mdp: TabularMDP, weights: np.ndarray,
                     pi: np.ndarray | None = None) -> Evidence:
    r"""max over (r, c_k) of :math:`|V(\pi)-\sum_iw_iV(\pi_i)|`, ``<= 0``.

    ``pi`` defaults to :math:`\pi_w` built from the occupancies; a test may pass
    another stationary policy (e.g. per-step flipping with the weights) to see it fail.
    """
    acts, pts = deterministic_policy_values(mdp)
    w = np.asarray(weights, dtype=float)
    if pi is None:
        d = sum(wi * occupancy(mdp, deterministic_policy(a, mdp.A))
                for wi, a in zip(w, acts, strict=True) if wi > 0)
        pi = extract_policy(d)
    pv = evaluate(mdp, pi)
    stationary = np.concatenate([[pv.value], pv.cost_values])
    mixture = w @ pts
    gap = float(np.abs(stationary - mixture).max())
    # the mixture: one solve per policy, averaged; pi_w: one occupancy solve per policy used,
    # plus its own evaluation.
    tol = _tol(mdp, 2 * int(np.sum(w > 0)) + 1)
    return Evidence(gap, 0.0, "<=", tol=tol, details={
        "stationary_value": float(pv.value), "mixture_value": float(mixture[0]),
        "policies_mixed": int(np.sum(w > 0))})


register(Theorem(
    id="cmdp.mixture_equals_stationary",
    source="Altman, Constrained Markov Decision Processes (1999), ch. 3; "
           "cmdp_ccmdp notes §2.1, §2.3",
    statement=r"\pi_w(a|s)=\frac{\sum_iw_id^{\pi_i}(s,a)}{\sum_iw_id^{\pi_i}(s)}\ \Rightarrow\ "
              r"\big(V_r,V_{c_k}\big)(\pi_w)=\sum_iw_i\big(V_r,V_{c_k}\big)(\pi_i)",
    summary="an episode mixture of deterministic policies has the values of a stationary "
            "policy (the one its occupancy induces)",
    instances=mixture_instances,
    check=lambda inst: mixture_evidence(inst["mdp"], inst["weights"]),
    tight=True,
))


# -- cmdp.splitting_one_state_collinear --------------------------------------------------------
@st.composite
def splitting_instances(draw: st.DrawFn) -> Instance:
    """Two deterministic policies differing in exactly one state (A >= 2) and p in [0, 1]."""
    mdp = draw(tiny_models(min_A=2, max_A=3, K=draw(st.integers(1, 2))))
    a1 = np.array(draw(st.lists(st.integers(0, mdp.A - 1), min_size=mdp.S, max_size=mdp.S)))
    s, shift = draw(st.integers(0, mdp.S - 1)), draw(st.integers(1, mdp.A - 1))
    a2 = a1.copy()
    a2[s] = (a1[s] + shift) % mdp.A
    p = draw(st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0)))
    return {"mdp": mdp, "actions1": a1, "actions2": a2, "p": float(p)}


def _differ_in_one_state(inst: Instance) -> bool:
    return int(np.sum(inst["actions1"] != inst["actions2"])) == 1


def splitting_evidence(inst: Instance, position: str = "closed_form") -> Evidence:
    r"""Distance of :math:`(V_r,V_c)(\pi_p)` from :math:`w(p)E_1+(1-w(p))E_2`, ``<= 0``.

    ``position="closed_form"`` uses :math:`w(p)=p\rho_2/(p\rho_2+(1-p)\rho_1)`;
    ``"linear"`` uses :math:`w=p` (the per-episode reading, wrong in general).
    """
    mdp, p = inst["mdp"], float(inst["p"])
    a1, a2 = np.asarray(inst["actions1"]), np.asarray(inst["actions2"])
    acts, pts = deterministic_policy_values(mdp)
    E1 = pts[np.flatnonzero((acts == a1).all(axis=1))[0]]
    E2 = pts[np.flatnonzero((acts == a2).all(axis=1))[0]]
    pi1, pi2 = deterministic_policy(a1, mdp.A), deterministic_policy(a2, mdp.A)
    s = int(np.flatnonzero(a1 != a2)[0]) if np.any(a1 != a2) else 0
    rho1 = float(occupancy(mdp, pi1)[s].sum())
    rho2 = float(occupancy(mdp, pi2)[s].sum())
    den = p * rho2 + (1 - p) * rho1
    w = p if position == "linear" or den == 0 else p * rho2 / den
    flip = per_step_flip(mdp, pi1, pi2, p)
    point = np.concatenate([[flip.value], flip.cost_values])
    dist = float(np.abs(point - (w * E1 + (1 - w) * E2)).max())
    # E1, E2, rho1, rho2 and the flip: one solve each; w's rounding (relative ~ the occupancy
    # solve error / rho) moves the target by |E1 - E2| times it, covered by two more solves
    # scaled by the endpoint spread.
    spread = float(np.abs(E1 - E2).max())
    tol = _tol(mdp, 5) * (1 + spread / max(min(rho1, rho2), 1e-300) * (rho1 + rho2 > 0))
    return Evidence(dist, 0.0, "<=", tol=tol, details={
        "p": p, "position": w, "rho1": rho1, "rho2": rho2, "state": s, "spread": spread})


register(Theorem(
    id="cmdp.splitting_one_state_collinear",
    source=f"{FEINBERG_ROTHBLUM}; cmdp_ccmdp notes §2.3 and §3.9-B",
    statement=r"\pi_1,\pi_2\ \text{deterministic, equal off }s^\ast:\ (V_r,V_c)(p\pi_1+(1-p)\pi_2)"
              r"=w(p)E_1+(1-w(p))E_2,\ w(p)=\frac{p\rho_2(s^\ast)}{p\rho_2(s^\ast)+(1-p)"
              r"\rho_1(s^\ast)}\in[0,1]",
    summary="per-step randomisation in one state stays on the segment between the two "
            "deterministic endpoints (closed-form position)",
    instances=splitting_instances,
    check=splitting_evidence,
    assumptions=(Assumption("differ_in_one_state", _differ_in_one_state,
                            "the two deterministic policies differ in exactly one state"),),
    tight=True,
))
