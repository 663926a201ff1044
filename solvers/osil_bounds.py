r"""Performance-difference lower bounds behind OSIL's Theorem 1, on tabular instances (notes §6.1).

OSIL (Burnwal, Bhatt, Ravindran; arXiv 2602.11018) replaces the return by a lower bound
whose maximisation is behaviour cloning of the data policy :math:`\pi_U`. Its exact form
is not available; the standard bounds it is built from are computed here exactly
(values are :math:`J=E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`; :math:`d` is
the normalised discounted occupancy):

- performance difference (Kakade & Langford 2002):
  :math:`J(\pi)-J(\pi_U)=\frac1{1-\gamma}E_{s\sim d^\pi,a\sim\pi}[A^{\pi_U}(s,a)]`;
- total variation: with :math:`\Delta r=\max r-\min r` (:math:`\le R_{max}` when
  :math:`r\in[0,R_{max}]`),

  .. math::
      J(\pi)\ \ge\ J(\pi_U)-\frac{\Delta r}{(1-\gamma)^2}E_{s\sim d^\pi}D_{TV}(\pi,\pi_U)[s]
      \ \ge\ J(\pi_U)-\frac{\Delta r}{(1-\gamma)^2}\sqrt{\tfrac12E_{s\sim d^\pi}
      D_{KL}(\pi_U\|\pi)[s]}

  (Pinsker per state, then Jensen);
- Achiam et al. 2017 (CPO), Corollary 1, with the data distribution :math:`d^{\pi_U}`:

  .. math::
      J(\pi)-J(\pi_U)\ge\frac1{1-\gamma}E_{s\sim d^{\pi_U},a\sim\pi}\Big[A^{\pi_U}(s,a)
      -\frac{2\gamma\epsilon}{1-\gamma}D_{TV}(\pi\|\pi_U)[s]\Big],\quad
      \epsilon=\max_s|E_{a\sim\pi}A^{\pi_U}(s,a)|.

For a cost, pass ``reward=-c``: the bounds become upper bounds on :math:`J_c(\pi)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .evaluation import evaluate, occupancy
from .mdp import TabularMDP
from .policies import as_policy

__all__ = ["PDBounds", "kl_per_state", "pd_lower_bounds", "tv_per_state"]


def tv_per_state(pi: np.ndarray, pi_u: np.ndarray) -> np.ndarray:
    r""":math:`D_{TV}(\pi,\pi_U)[s]=\tfrac12\sum_a|\pi(a|s)-\pi_U(a|s)|`, shape (S,)."""
    return 0.5 * np.abs(np.asarray(pi) - np.asarray(pi_u)).sum(axis=-1)


def kl_per_state(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    r""":math:`D_{KL}(p\|q)[s]=\sum_ap\log(p/q)`, shape (S,); ``inf`` where q = 0 < p."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return terms.sum(axis=-1)


@dataclass(frozen=True)
class PDBounds:
    r"""Exact left side and the lower bounds on :math:`J(\pi)`.

    Values are :math:`E[\sum_t\gamma^tr_t]` (not scaled by :math:`1-\gamma`).

    Attributes
    ----------
    j_pi, j_u : float
        :math:`J(\pi)`, :math:`J(\pi_U)` by exact policy evaluation.
    pd_advantage : float
        :math:`\frac1{1-\gamma}E_{d^\pi,\pi}[A^{\pi_U}]` (equals ``j_pi - j_u``).
    tv_bound, pinsker_bound, kl_jensen_bound : float
        :math:`J(\pi_U)-\frac{\Delta r}{(1-\gamma)^2}\times` :math:`E_{d^\pi}D_{TV}`,
        :math:`E_{d^\pi}\sqrt{D_{KL}/2}`, :math:`\sqrt{E_{d^\pi}D_{KL}/2}` respectively
        (``-inf`` when the KL is infinite).
    cpo_bound : float
        :math:`J(\pi_U)+` the CPO Corollary 1 right side.
    eps_cpo : float
        :math:`\epsilon=\max_s|E_{a\sim\pi}A^{\pi_U}(s,a)|`.
    error_bound : float
        Rounding of the exact evaluations (sum of the two certified evaluation errors).
    """

    j_pi: float
    j_u: float
    pd_advantage: float
    tv_bound: float
    pinsker_bound: float
    kl_jensen_bound: float
    cpo_bound: float
    eps_cpo: float
    error_bound: float


def pd_lower_bounds(mdp: TabularMDP, pi: object, pi_u: object,
                    reward: np.ndarray | None = None) -> PDBounds:
    """Exact :math:`J(\\pi)` and the PD / Pinsker / Jensen / CPO Corollary 1 lower bounds.

    Parameters
    ----------
    mdp : TabularMDP
        Discounted model (``gamma`` in [0, 1)).
    pi, pi_u : ndarray (S, A)
        The learned policy and the data (behaviour) policy :math:`\\pi_U`.
    reward : ndarray (S, A), optional
        Replaces ``mdp.r`` (pass ``-c`` to bound a cost from above).
    """
    if mdp.finite_horizon:
        raise ModelError(f"{mdp!r} has a horizon, expected a discounted model", field="gamma")
    pi = as_policy(mdp, pi, "pi")
    pi_u = as_policy(mdp, pi_u, "pi_u")
    if reward is not None:
        r = np.asarray(reward, dtype=float)
        if r.shape != (mdp.S, mdp.A) or not np.isfinite(r).all():
            raise ModelError(f"reward has shape {r.shape} or non-finite entries, expected "
                             f"finite (S, A) = {(mdp.S, mdp.A)}", field="reward")
        mdp = TabularMDP(mdp.P, r, mdp.mu0, gamma=mdp.gamma)
    g = mdp.gamma
    ev_pi, ev_u = evaluate(mdp, pi), evaluate(mdp, pi_u)
    adv = ev_u.q - ev_u.v[:, None]  # A^{pi_U}(s, a)
    d_pi = occupancy(mdp, pi).sum(axis=1)
    d_u = occupancy(mdp, pi_u).sum(axis=1)
    exp_adv = np.einsum("sa,sa->s", pi, adv)  # E_{a~pi} A^{pi_U}(s, a)
    tv = tv_per_state(pi, pi_u)
    kl = kl_per_state(pi_u, pi)
    span = float(mdp.r.max() - mdp.r.min())
    coef = span / (1 - g) ** 2
    with np.errstate(invalid="ignore"):
        mean_kl = float(np.sum(np.where(d_pi > 0, d_pi * kl, 0.0)))
        mean_sqrt = float(np.sum(np.where(d_pi > 0, d_pi * np.sqrt(kl / 2), 0.0)))
    eps = float(np.max(np.abs(exp_adv)))
    cpo = float(d_u @ (exp_adv - 2 * g * eps / (1 - g) * tv)) / (1 - g)
    j_u = ev_u.value

    def shifted(x: float) -> float:
        if coef == 0.0:
            return j_u  # constant reward: J(pi) = J(pi_U), and 0 * inf must not become NaN
        return -np.inf if x == np.inf else j_u - coef * x

    return PDBounds(
        j_pi=ev_pi.value, j_u=j_u, pd_advantage=float(d_pi @ exp_adv) / (1 - g),
        tv_bound=j_u - coef * float(d_pi @ tv), pinsker_bound=shifted(mean_sqrt),
        kl_jensen_bound=shifted(float(np.sqrt(mean_kl / 2))), cpo_bound=j_u + cpo,
        eps_cpo=eps, error_bound=ev_pi.error_bound + ev_u.error_bound)
