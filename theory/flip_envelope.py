r"""The flipping paper's envelope theorems (Shen et al., arXiv 2410.06474, Thms 6, 7; notes §3.3).

- ``flip.thm6_concave_envelope``: the mixture value is the least concave
  majorant of the deterministic frontier, attained by 2 policies, and beats
  :math:`J_{det}` exactly where :math:`J_{det}` is below it;
- ``flip.thm7_lp_two_nonzeros``: the sampled-level LP has an optimal solution
  with at most 2 nonzeros.

The mixture LP (:func:`solvers.flip_lp.solve_mixture_lp`, HiGHS) is checked
against the monotone-chain hull of enumerated deterministic policies
(:func:`solvers.flip_lp.concave_majorant`), two independent computations.
Instances and the count evidence are shared with :mod:`theory.flip_paper`
(Thms 2-4). Values are :math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from solvers import solve_cmdp
from solvers.enumeration import deterministic_policy_values
from solvers.flip_lp import concave_majorant, majorant_value, solve_mixture_lp

from .core import Evidence, Instance, Theorem
from .flip_paper import (
    _lp_tol,
    _mixture_tol,
    _solve_tol,
    binding_budget,
    stay_safe_probability,
    support_evidence,
    tiny_models,
)
from .flip_per_step import FLIP
from .registry import register


# -- Theorem 6: the concave envelope -----------------------------------------------------------
def _budget_grid(C: np.ndarray, V: np.ndarray, b: float) -> np.ndarray:
    """The instance's b, the jumps of J_det, midpoints between them, one below and one above."""
    order = np.lexsort((-V, C))
    pts = np.unique([C[i] for n, i in enumerate(order) if V[i] > V[order[:n]].max(initial=-np.inf)])
    mids = (pts[:-1] + pts[1:]) / 2
    return np.unique(np.concatenate([[b, pts[0] - 1.0, pts[-1] + 1.0], pts, mids]))


def _check_thm6(inst: Instance) -> Evidence:
    mdp = inst["mdp"]
    _, pts = deterministic_policy_values(mdp)
    V, C = pts[:, 0], pts[:, 1]
    maj = concave_majorant(C, V)
    # LP side: HiGHS tolerance; hull side: each point carries one solve's rounding.
    tol = _lp_tol(mdp) + _mixture_tol(C, V, _solve_tol(mdp))
    worst, n_gain, n_below, n_disagree = None, 0, 0, 0
    for b in _budget_grid(C, V, float(inst["b"])):
        res = solve_cmdp(mdp, [b])
        lp = res.value if res.status == "optimal" else -math.inf
        hull, i, j, w = majorant_value(maj, b)
        if lp == hull == -math.inf:
            continue  # both say: no policy meets b
        if hull == -math.inf:  # HiGHS's feasibility tolerance admits budgets up to b + lp_tol
            b = b + _lp_tol(mdp)
            hull, i, j, w = majorant_value(maj, b)
        j_det = float(V[C <= b].max()) if np.any(C <= b) else -math.inf
        gain, below = lp - j_det > tol, hull - j_det > tol
        n_gain, n_below, n_disagree = n_gain + gain, n_below + below, n_disagree + (gain != below)
        ev = Evidence(lp, hull, "==", tol=tol, details={"b": float(b), "pair": f"{i},{j}",
                                                         "weight": w, "j_det": j_det})
        if worst is None or ev.slack < worst.slack:
            worst = ev
    assert worst is not None  # the grid always contains feasible budgets
    return Evidence(worst.lhs, worst.rhs, "==", tol=tol, details={
        **worst.details, "grid": len(_budget_grid(C, V, float(inst["b"]))), "strict_gain": n_gain,
        "below_majorant": n_below, "strictness_disagreements": n_disagree})


@st.composite
def envelope_instances(draw: st.DrawFn) -> Instance:
    """K = 1 tiny model and a budget anywhere in (and just outside) the deterministic cost range."""
    mdp = draw(tiny_models(min_A=1, max_A=3, K=1))
    C = deterministic_policy_values(mdp)[1][:, 1]
    return {"mdp": mdp, "b": draw(st.floats(float(C.min()) - 0.5, float(C.max()) + 0.5))}


register(Theorem(
    id="flip.thm6_concave_envelope",
    source=f"{FLIP}, Theorem 6 (PSPRL = PFPRL) and its strictness claim; "
           "cmdp_ccmdp notes §2.3, §3.8",
    statement=r"V^\star(b)=\widehat{J_{det}}(b)=\max_{i,j,w}\{wV_i+(1-w)V_j:wC_i+(1-w)C_j\le b\}"
              r"\ \forall b;\ \ V^\star(b)>J_{det}(b)\iff J_{det}(b)<\widehat{J_{det}}(b)",
    summary="the CMDP optimum over a budget grid equals the least concave majorant of the "
            "deterministic frontier (2 policies)",
    instances=envelope_instances,
    check=_check_thm6,
    tight=True,
))


# -- Theorem 7: the LP over sampled levels -----------------------------------------------------
def _deterministic_frontier(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """(violation 1 - F, J) of every deterministic policy: F = Pr(s_1..s_T safe), s_0 ~ mu0."""
    mdp = inst["mdp"]
    acts, pts = deterministic_policy_values(mdp)
    eye = np.eye(mdp.A)
    viol = np.array([1 - mdp.mu0 @ np.einsum(
        "sa,sa->s", eye[a], stay_safe_probability(mdp, eye[a], inst["safe"], inst["window"]))
        for a in acts])
    return viol, pts[:, 0]


def _sampled_points(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """Per sampled level: the best deterministic policy with violation <= level (PDPRL)."""
    viol, J = _deterministic_frontier(inst)
    rows = []
    for lev in inst["levels"]:
        ok = np.flatnonzero(viol <= lev)
        if ok.size:
            k = ok[np.argmax(J[ok])]
            rows.append((viol[k], J[k]))
    pts = np.array(rows).reshape(-1, 2)
    return pts[:, 0], pts[:, 1]


@st.composite
def sampled_level_instances(draw: st.DrawFn) -> Instance:
    """A tiny model with a safe set and window T, L sampled levels (some at breakpoints), delta."""
    mdp = draw(tiny_models(min_A=2, max_A=3, K=0))
    safe = np.array(draw(st.lists(st.booleans(), min_size=mdp.S, max_size=mdp.S)))
    safe[draw(st.integers(0, mdp.S - 1))] = False  # some state is unsafe
    inst = {"mdp": mdp, "safe": safe, "window": draw(st.integers(1, 3))}
    viol = np.unique(_deterministic_frontier(inst)[0])
    level = st.one_of(st.floats(0.0, 1.0), st.sampled_from(list(viol)))
    # the last level (the largest violation) makes at least one policy feasible
    inst["levels"] = np.array([*draw(st.lists(level, min_size=1, max_size=12)), viol.max()])
    C, J = _sampled_points(inst)
    return {**inst, "delta": binding_budget(draw, C, J)}


def _check_thm7(inst: Instance) -> Evidence:
    C, J = _sampled_points(inst)
    delta = float(inst["delta"])
    res = solve_mixture_lp(C, J, delta)
    if res.status != "optimal":
        raise RuntimeError(f"sampled-level LP: {res.message}")
    hull = majorant_value(concave_majorant(C, J), delta)[0]
    ev = support_evidence(C, J, delta, res.weights, hull, _mixture_tol(C, J))
    return Evidence(ev.lhs, ev.rhs, "<=", details={**ev.details, "levels": int(C.size)})


register(Theorem(
    id="flip.thm7_lp_two_nonzeros",
    source=f"{FLIP}, Theorem 7 and Algorithm 1 (LP over sampled levels); cmdp_ccmdp notes §3.3, "
           "§3.8",
    statement=r"\max_{\nu\in\Delta_L}\Big\{\sum_i\nu_iJ(\tilde\theta_i):\sum_i\nu_iF^d("
              r"\tilde\theta_i)\ge1-\delta\Big\}\ \text{has an optimal solution with}\le2"
              r"\ \text{nonzeros (value = upper hull of the }(F,J)\text{ points)}",
    summary="the sampled-level LP has a vertex optimum with at most 2 nonzero weights",
    instances=sampled_level_instances,
    check=_check_thm7,
    tight=True,
))
