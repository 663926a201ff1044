r"""An optimal stationary CMDP policy as a per-episode mixture of deterministic policies.

The occupancy polytope is the convex hull of the occupancies of deterministic
policies (cmdp_ccmdp notes §2.3), so every stationary policy :math:`\pi` is a
per-episode mixture ("draw :math:`\pi_i` with probability :math:`w_i` once, at
:math:`t=0`, then follow it") of deterministic ones, with values linear in the
weights:

.. math::
    d^\pi=\sum_iw_i\,d^{\pi_i},\qquad (V_r,V_c)(\pi)=\sum_iw_i\,(V_r,V_c)(\pi_i).

When :math:`\pi` randomises in one visited state :math:`s^\star` (as every vertex of
a K = 1 CMDP and every ``method="flip"`` result does; notes §2.2), split it there
(Feinberg & Rothblum, Math. Oper. Res. 37(1), 2012): let :math:`\pi_i` play action
:math:`a_i` at :math:`s^\star` and agree with :math:`\pi` elsewhere, with
:math:`q_i=\pi(a_i|s^\star)` and state occupancy :math:`d_i(s^\star)`. The mixture
with

.. math::
    w_i=\frac{q_i/d_i(s^\star)}{\sum_jq_j/d_j(s^\star)}

has, at :math:`s^\star`, the conditional action law
:math:`w_id_i(s^\star)/\sum_jw_jd_j(s^\star)=q_i`, and :math:`\pi`'s law elsewhere,
so the stationary policy extracted from it is :math:`\pi`; an occupancy determines
its extracted policy's occupancy (notes §2.1), hence :math:`\sum_iw_id^{\pi_i}=d^\pi`.
Consecutive :math:`\pi_i` differ only at :math:`s^\star`; there are at most K + 1 of
them at a vertex. The first visit to :math:`s^\star` does not depend on the action
there, so the :math:`d_i(s^\star)` are all positive or all zero (then :math:`w=q`).
Finite-horizon (Markov) policies are split the same way at one pair
:math:`(t,s^\star)`.

Scope: policies randomising in more than one visited state (possible at vertices
when K >= 2) need the full Feinberg--Rothblum peeling, which is not implemented:
they raise :class:`~solvers.errors.ModelError`.
Values are :math:`E[\sum_t\gamma^tr_t]` (finite horizon :math:`E[\sum_{t<H}r_t]`), not
scaled by :math:`1-\gamma`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import ModelError
from .evaluation import evaluate, occupancy
from .tolerances import CMDP_VERIFY_RTOL

if TYPE_CHECKING:
    from .cmdp import CMDPResult

__all__ = ["FlippingDecomposition", "flipping_decomposition", "one_state_mixture_probability"]


@dataclass(frozen=True, eq=False)
class FlippingDecomposition:
    r"""Per-episode mixture :math:`\sum_iw_i\pi_i` of deterministic policies.

    Attributes
    ----------
    policies : ndarray (m, S) or (m, H, S), int
        Action indices of the deterministic policies; consecutive ones differ in one
        state ((t, s) pair).
    weights : ndarray (m,)
        Episode weights :math:`w_i\ge0`, summing to 1.
    points : ndarray (m, 1 + K)
        Row i is :math:`(V_r(\pi_i),V_{c_1}(\pi_i),\dots)`, each by exact policy evaluation.
    target : ndarray (1 + K,)
        The result's ``(value, *cost_values)``.
    slot : tuple of int or None
        The randomised state (``(s,)`` or ``(t, s)``) that was split, None if deterministic.
    residual : float
        :math:`\max|\sum_iw_i\,\mathrm{points}_i-\mathrm{target}|`.
    tolerance : float
        Allowance for ``residual``: ``CMDP_VERIFY_RTOL`` times the value scale, as in
        :meth:`~solvers.cmdp.CMDPResult.verify`.
    """

    policies: np.ndarray
    weights: np.ndarray
    points: np.ndarray
    target: np.ndarray
    slot: tuple[int, ...] | None
    residual: float
    tolerance: float

    @property
    def ok(self) -> bool:
        """True when the mixture reproduces the result's value and costs within ``tolerance``."""
        return bool(self.residual <= self.tolerance)


def flipping_decomposition(result: CMDPResult) -> FlippingDecomposition:
    r"""Write an optimal stationary policy as a per-episode mixture of <= K + 1 deterministic ones.

    Splits ``result.pi`` at its one randomised visited state (module docstring) with
    weights :math:`w_i\propto q_i/d_i(s^\star)`. States the policy never visits
    (``result.d`` has zero mass there; the LP's extracted policy is uniform there) take
    the policy's most likely action: that changes no occupancy.

    Parameters
    ----------
    result : CMDPResult
        An optimal result (``method`` "lp", "flip" or "cvxpy").

    Returns
    -------
    FlippingDecomposition
        With ``ok`` True when :math:`\sum_iw_i(V_r,V_c)(\pi_i)` equals the result's values.

    Raises
    ------
    ModelError
        ``field="status"`` if the result is not optimal; ``field="pi"`` if the policy
        randomises in more than one visited state (general peeling is not implemented).
    """
    if result.status != "optimal":
        raise ModelError(f"result.status = {result.status!r}, expected 'optimal'", field="status")
    mdp = result.mdp
    pi = np.asarray(result.pi, dtype=float)
    A = mdp.A
    flat = pi.reshape(-1, A)
    mass = np.asarray(result.d, dtype=float).reshape(-1, A).sum(axis=1)
    randomised = np.flatnonzero(((flat > 0).sum(axis=1) > 1) & (mass > 0))
    if randomised.size > 1:
        where = [tuple(int(i) for i in np.unravel_index(k, pi.shape[:-1])) for k in randomised]
        raise ModelError(f"pi randomises in {randomised.size} visited states {where[:5]}; "
                         "flipping_decomposition splits at most one (the Feinberg-Rothblum "
                         "peeling for several states is not implemented)", field="pi")
    base = np.argmax(flat, axis=1)
    if randomised.size == 0:
        policies = base[None]
        weights = np.ones(1)
        slot = None
    else:
        k = int(randomised[0])
        acts = np.flatnonzero(flat[k] > 0)
        policies = np.repeat(base[None], acts.size, axis=0)
        policies[:, k] = acts
        occ = np.array([occupancy(mdp, np.eye(A)[p.reshape(pi.shape[:-1])]).reshape(-1, A)[k].sum()
                        for p in policies])
        q = flat[k, acts]
        raw = q / occ if np.all(occ > 0) else q
        weights = raw / raw.sum()
        slot = tuple(int(i) for i in np.unravel_index(k, pi.shape[:-1]))
    policies = policies.reshape((-1, *pi.shape[:-1]))
    points = np.array([_values(mdp, p) for p in policies])
    target = np.concatenate([[result.value], result.cost_values])
    residual = float(np.max(np.abs(weights @ points - target)))
    T = float(mdp.horizon) if mdp.finite_horizon else 1.0 / (1.0 - mdp.gamma)
    scale = max(1.0, float(np.max(np.abs(mdp.r))), float(np.max(np.abs(mdp.costs))))
    return FlippingDecomposition(policies, weights, points, target, slot, residual,
                                 CMDP_VERIFY_RTOL * scale * T)


def one_state_mixture_probability(w: float, occ1: float, occ2: float) -> float:
    r"""Per-step probability that reproduces an episode mixture of two policies.

    Let :math:`\pi_1,\pi_2` be deterministic stationary policies that differ only in
    state :math:`s^\star` (actions :math:`a_1\ne a_2`), with state occupancies
    :math:`d_i(s^\star)=\sum_a d^{\pi_i}(s^\star,a)`. The episode mixture (draw
    :math:`\pi_1` once with probability w) has occupancy
    :math:`d_w=w\,d^{\pi_1}+(1-w)\,d^{\pi_2}`, a point of the occupancy polytope, so the
    stationary policy extracted from it, :math:`\pi(a|s)=d_w(s,a)/d_w(s)`, has occupancy
    exactly :math:`d_w` (notes §2.1) and hence the values
    :math:`w(V_1,C_1)+(1-w)(V_2,C_2)`. Outside :math:`s^\star` both policies take the same
    action, so the extracted policy is deterministic there; at :math:`s^\star` it plays
    :math:`a_1` with probability

    .. math::
        p=\frac{w\,d_1(s^\star)}{w\,d_1(s^\star)+(1-w)\,d_2(s^\star)} .

    This is the Feinberg--Rothblum splitting at one state, read backwards (notes §2.3);
    for a finite horizon the same holds for a Markov policy at one pair
    :math:`(t,s^\star)` with :math:`d_i=\Pr^{\pi_i}(s_t=s^\star)`. The map :math:`w\mapsto p`
    is increasing, so p is the unique root of :math:`V_c(\pi_p)=b` that
    :func:`~solvers.flipping.recalibrate_flip` finds numerically.

    Parameters
    ----------
    w : float in [0, 1]
        Episode weight of :math:`\pi_1`.
    occ1, occ2 : float >= 0
        :math:`d_1(s^\star)` and :math:`d_2(s^\star)`. The first-visit probability of
        :math:`s^\star` does not depend on the action there, so both are 0 or both > 0.

    Returns
    -------
    float
        p in [0, 1]; w itself when :math:`s^\star` is never visited (then any p works).
    """
    num, den = w * occ1, w * occ1 + (1.0 - w) * occ2
    if not den > 0.0:
        return float(w)
    return float(min(1.0, max(0.0, num / den)))


def _values(mdp, actions: np.ndarray) -> np.ndarray:
    ev = evaluate(mdp, np.eye(mdp.A)[actions])
    return np.concatenate([[ev.value], ev.cost_values])
