r"""Performance-difference lower bounds behind OSIL's Theorem 1 (notes §6.1, §7).

OSIL (Burnwal, Bhatt, Ravindran; AAMAS 2026; arXiv 2602.11018) states "a performance
lower bound under an approximate KL constraint"; its exact form is not public, so the
standard bounds it is built from are checked, left side by exact policy evaluation
(values :math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`):

- ``osil.pd_lower_bound``: :math:`J(\pi)\ge J(\pi_U)-\frac{\Delta r}{(1-\gamma)^2}
  \sqrt{\tfrac12E_{s\sim d^\pi}D_{KL}(\pi_U\|\pi)[s]}` (performance difference, total
  variation, Pinsker, Jensen; :math:`\Delta r=\max r-\min r\le R_{max}`).
- ``osil.cpo_corollary1_lower_bound``: Achiam et al. 2017, Corollary 1, with the data
  distribution :math:`d^{\pi_U}`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from solvers.osil_bounds import pd_lower_bounds

from .core import Evidence, Instance, Theorem
from .registry import register
from .strategies import mdps, stochastic_rows

OSIL = "Burnwal, Bhatt, Ravindran: OSIL (AAMAS 2026), arXiv 2602.11018, Theorem 1 (form " \
       "not public)"
KAKADE = "Kakade & Langford 2002, Lemma 6.1; Pinsker; Jensen"
CPO = "Achiam, Held, Tamar, Abbeel: Constrained Policy Optimization (ICML 2017), Corollary 1"


@st.composite
def policy_pair_instances(draw: st.DrawFn) -> Instance:
    """Discounted model, data policy pi_U (any) and learned pi with full support."""
    mdp = draw(mdps(max_S=4, max_A=3, max_gamma=0.95))
    w = draw(hnp.arrays(np.int64, (mdp.S, mdp.A), elements=st.integers(1, 6))).astype(float)
    pi = w / w.sum(axis=1, keepdims=True)
    return {"mdp": mdp, "pi": pi, "pi_u": stochastic_rows(draw, (mdp.S, mdp.A))}


def _tol(inst: Instance, error_bound: float) -> float:
    # Both sides carry the certified evaluation errors of J(pi) and J(pi_U); the bound's
    # occupancy-weighted sums add a few eps times the value scale max|r| / (1-gamma)^2.
    mdp = inst["mdp"]
    scale = max(1.0, float(np.abs(mdp.r).max())) / (1 - mdp.gamma) ** 2
    return 2 * error_bound + 64 * mdp.S * mdp.A * np.finfo(float).eps * scale


def _check_pd(inst: Instance) -> Evidence:
    b = pd_lower_bounds(inst["mdp"], inst["pi"], inst["pi_u"])
    return Evidence(b.j_pi, b.kl_jensen_bound, ">=", tol=_tol(inst, b.error_bound),
                    details={"j_u": b.j_u, "tv_bound": b.tv_bound,
                             "pinsker_bound": b.pinsker_bound})


register(Theorem(
    id="osil.pd_lower_bound",
    source=f"{KAKADE}; the kind of bound behind {OSIL}; cmdp_ccmdp notes §6.1",
    statement=r"J(\pi)\ge J(\pi_U)-\frac{\Delta r}{(1-\gamma)^2}E_{s\sim d^\pi}D_{TV}"
              r"(\pi,\pi_U)[s]\ge J(\pi_U)-\frac{\Delta r}{(1-\gamma)^2}\sqrt{\tfrac12"
              r"E_{s\sim d^\pi}D_{KL}(\pi_U\|\pi)[s]}",
    summary="performance-difference lower bound with Pinsker and Jensen (KL to the data "
            "policy)",
    instances=policy_pair_instances,
    check=_check_pd,
))


def _check_cpo(inst: Instance) -> Evidence:
    b = pd_lower_bounds(inst["mdp"], inst["pi"], inst["pi_u"])
    return Evidence(b.j_pi, b.cpo_bound, ">=", tol=_tol(inst, b.error_bound),
                    details={"j_u": b.j_u, "eps": b.eps_cpo})


register(Theorem(
    id="osil.cpo_corollary1_lower_bound",
    source=f"{CPO}; the kind of bound behind {OSIL}; cmdp_ccmdp notes §6.1",
    statement=r"J(\pi)-J(\pi_U)\ge\frac1{1-\gamma}E_{s\sim d^{\pi_U},a\sim\pi}\Big[A^{\pi_U}"
              r"(s,a)-\frac{2\gamma\epsilon}{1-\gamma}D_{TV}(\pi\|\pi_U)[s]\Big],\ \epsilon="
              r"\max_s|E_{a\sim\pi}A^{\pi_U}(s,a)|",
    summary="CPO Corollary 1 lower bound with the data distribution d^{pi_U}",
    instances=policy_pair_instances,
    check=_check_cpo,
))
