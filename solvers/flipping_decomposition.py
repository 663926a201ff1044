r"""An optimal stationary CMDP policy as a per-episode mixture of deterministic policies.

The occupancy polytope :math:`\mathcal D` is the convex hull of the occupancies of
deterministic policies (cmdp_ccmdp notes §2.3), so every stationary policy :math:`\pi`
(Markov policy, finite horizon) is a per-episode mixture ("draw :math:`\pi_i` with
probability :math:`w_i` once, at :math:`t=0`, then follow it") of deterministic ones,
with values linear in the weights:

.. math::
    d^\pi=\sum_iw_i\,d^{\pi_i},\qquad (V_r,V_c)(\pi)=\sum_iw_i\,(V_r,V_c)(\pi_i).

**Peeling** (Feinberg & Rothblum, Math. Oper. Res. 37(1), 2012). Write :math:`d=d^\pi`.
Call a slot (a state, or a pair :math:`(t,s)`) visited if it is reachable from
:math:`\mu_0` through actions in the support of :math:`\pi`. Start from the
deterministic :math:`\pi_0` that plays :math:`\arg\max_a\pi(a|s)` everywhere. Repeat:

1. :math:`\pi_k` plays an action of :math:`\operatorname{supp}\pi(\cdot|s)` at every
   visited slot, so it visits only visited slots and
   :math:`\operatorname{supp}d^{\pi_k}\subseteq\operatorname{supp}d`;
2. take the largest :math:`\omega` with :math:`d-\omega d^{\pi_k}\ge0`, i.e.
   :math:`\omega=\min\{d(s,a)/d^{\pi_k}(s,a): d^{\pi_k}(s,a)>0\}\in(0,1]`; then
   :math:`d'=(d-\omega d^{\pi_k})/(1-\omega)` is an affine combination of points of the
   flow polytope and non-negative, so :math:`d'\in\mathcal D` is the occupancy of its
   extracted policy :math:`\pi'` (notes §2.1), and :math:`d=\omega d^{\pi_k}+(1-\omega)d'`;
3. at least one pair :math:`(s,\pi_k(s))` leaves the support, so the number of
   *extra actions* :math:`r=\sum_{s\text{ visited}}(|\operatorname{supp}\pi(\cdot|s)|-1)`
   drops by at least one (if the removed pair's state is no longer visited, the path
   that :math:`\pi_k` took to it leaves the support of :math:`\pi'` at a visited
   randomised slot);
4. :math:`\pi_{k+1}` is :math:`\pi_k` with the action changed (to :math:`\arg\max\pi'`)
   exactly at the visited slots of :math:`\pi'` where :math:`\pi_k`'s action left the
   support, usually one slot; continue with :math:`(\pi',d')` until :math:`\pi'` is
   deterministic on its visited slots, which is the last component.

Hence :math:`d^\pi` is a mixture of at most :math:`r+1` deterministic policies, and
consecutive ones differ in the slots whose action left the support: one slot unless
two pairs left the support at the same step (a tie), which ``differing`` and
``adjacent`` report. The bound :math:`r+1` is Carathéodory's in the minimal face of
:math:`\mathcal D` containing :math:`d` (its dimension is at most :math:`r`: the
:math:`V` visited flow equations are independent on the :math:`V+r` positive
coordinates). A **vertex** of the CMDP LP has :math:`r\le K` (notes §2.2), so LP
(``method="lp"``) and ``method="flip"`` results split into at most K + 1 policies; a
non-vertex (interior) policy needs up to :math:`r+1>K+1` of them, and for almost
every such policy no fewer (the components lie in that face, and the hulls of
:math:`r` of its vertices are finitely many sets of dimension :math:`r-1`). Matching
only the K + 1 values instead of the occupancy would allow mixtures whose occupancy
differs from :math:`d^\pi`; the peeling preserves the whole occupancy, hence every value.
The one-state case reduces to the split with weights
:math:`w_i\propto\pi(a_i|s^\star)/d_i(s^\star)` (:func:`one_state_mixture_probability`).

Scope: any stationary (discounted) or Markov (finite-horizon) policy of an optimal
:class:`~solvers.cmdp.CMDPResult`, K >= 1. Numerically every step re-evaluates
:math:`d'` as the occupancy of :math:`\pi'` (staying in :math:`\mathcal D`) and the
result carries the measured :math:`\|\sum_iw_id^{\pi_i}-d^\pi\|_1`;
:meth:`FlippingDecomposition.verify` recomputes it independently, in rational
arithmetic with ``exact=True`` for small models. Values are
:math:`E[\sum_t\gamma^tr_t]` (finite horizon :math:`E[\sum_{t<H}r_t]`), not scaled by
:math:`1-\gamma`.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from .errors import ModelError
from .evaluation import evaluate, occupancy
from .flipping_mixture import DecompositionCheck, FlippingDecomposition
from .policies import as_policy
from .tolerances import CMDP_VERIFY_RTOL, PEEL_ZERO_RTOL

if TYPE_CHECKING:
    from .cmdp import CMDPResult
    from .mdp import TabularMDP

__all__ = [
    "DecompositionCheck",
    "FlippingDecomposition",
    "flipping_decomposition",
    "one_state_mixture_probability",
]


def flipping_decomposition(result: CMDPResult) -> FlippingDecomposition:
    r"""Write an optimal policy as a per-episode mixture of deterministic policies (peeling).

    The peeling of the module docstring: at most :math:`r+1` policies (r extra actions;
    :math:`r\le K` at an LP vertex and for ``method="flip"``, hence at most K + 1),
    consecutive ones differing in one slot unless a tie removed several pairs at once
    (``differing``, ``adjacent``). Slots the policy never visits take its most likely
    action: that changes no occupancy.

    Parameters
    ----------
    result : CMDPResult
        An optimal result (``method`` "lp", "flip" or "cvxpy"), discounted (stationary
        ``pi`` (S, A)) or finite horizon (Markov ``pi`` (H, S, A)).

    Returns
    -------
    FlippingDecomposition
        With ``ok`` True when :math:`\sum_iw_i(V_r,V_c)(\pi_i)` equals the result's values
        and :math:`\sum_iw_id^{\pi_i}=d^\pi` (L1) within their tolerances.

    Raises
    ------
    ModelError
        ``field="status"`` if the result is not optimal; ``field="pi"`` if ``pi`` is not a
        policy of the model (wrong shape, negative entries, rows not summing to 1).
    RuntimeError
        If the peeling fails to terminate within :math:`r+1` steps (numerical breakdown).
    """
    if result.status != "optimal":
        raise ModelError(f"result.status = {result.status!r}, expected 'optimal'", field="status")
    mdp = result.mdp
    pi = np.array(as_policy(mdp, result.pi, "pi"), dtype=float)
    shape, A = pi.shape[:-1], mdp.A
    flat = pi.reshape(-1, A)
    visited = _reachable(mdp, flat > 0)
    randomised = np.flatnonzero(visited & ((flat > 0).sum(axis=1) > 1))
    extra = int(((flat > 0).sum(axis=1) - 1)[visited].sum())
    acts, weights = _peel(mdp, flat, shape, extra + 1)
    policies = np.array(acts).reshape((-1, *shape))
    weights = np.array(weights)
    weights = weights / weights.sum()
    differing = tuple(int((p != q).sum()) for p, q in pairwise(acts))
    slot = None
    if len(acts) > 1:
        first = int(np.flatnonzero(acts[0] != acts[1])[0])
        slot = tuple(int(i) for i in np.unravel_index(first, shape))
    points = np.array([_values(mdp, p) for p in policies])
    target = np.concatenate([[result.value], result.cost_values])
    residual = float(np.max(np.abs(weights @ points - target)))
    mixed = sum(w * occupancy(mdp, np.eye(A)[p]) for w, p in zip(weights, policies, strict=True))
    occ_res = float(np.abs(mixed - occupancy(mdp, pi)).sum())
    T = float(mdp.horizon) if mdp.finite_horizon else 1.0 / (1.0 - mdp.gamma)
    scale = max(1.0, float(np.max(np.abs(mdp.r))), float(np.max(np.abs(mdp.costs))))
    where = tuple(tuple(int(i) for i in np.unravel_index(k, shape)) for k in randomised)
    return FlippingDecomposition(policies, weights, points, target, slot, residual,
                                 CMDP_VERIFY_RTOL * scale * T, pi, where, extra, differing,
                                 occ_res)


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


# -- helpers -----------------------------------------------------------------------------------
def _peel(mdp: TabularMDP, flat: np.ndarray, shape: tuple[int, ...],
          max_steps: int) -> tuple[list[np.ndarray], list[float]]:
    """The peeling of the module docstring on the flat (slots, A) policy table."""
    A = mdp.A
    rows = np.arange(flat.shape[0])
    cur = flat.copy()
    acts = np.argmax(cur, axis=1)
    d = _masked_occupancy(mdp, cur, shape)
    remaining = 1.0
    policies: list[np.ndarray] = []
    weights: list[float] = []
    for _ in range(max_steps):
        visited = _reachable(mdp, cur > 0)
        if np.all((cur > 0).sum(axis=1)[visited] == 1):  # deterministic where it matters
            policies.append(acts.copy())
            weights.append(remaining)
            return policies, weights
        d0 = _masked_occupancy(mdp, np.eye(A)[acts], shape)
        on = d0 > 0
        omega = float(np.min(d[on] / d0[on]))
        if not 0.0 < omega < 1.0:
            raise RuntimeError(f"flipping_decomposition: peeling weight {omega!r} outside "
                               "(0, 1): the policy's support was lost to rounding")
        rest = d - omega * d0
        rest[rest <= PEEL_ZERO_RTOL * d] = 0.0
        policies.append(acts.copy())
        weights.append(remaining * omega)
        remaining *= 1.0 - omega
        mass = rest.sum(axis=1, keepdims=True)
        cur = np.where(mass > 0, rest / np.where(mass > 0, mass, 1.0), np.eye(A)[acts])
        d = _masked_occupancy(mdp, cur, shape)
        visited = _reachable(mdp, cur > 0)
        change = visited & (cur[rows, acts] == 0)
        if not change.any():
            raise RuntimeError("flipping_decomposition: a peeling step removed no action of "
                               "the current deterministic policy (numerical breakdown)")
        acts = np.where(change, np.argmax(cur, axis=1), acts)
    raise RuntimeError(f"flipping_decomposition: peeling did not end within {max_steps} steps "
                       "(the extra-action count + 1)")


def _reachable(mdp: TabularMDP, support: np.ndarray) -> np.ndarray:
    """Slots reachable from mu0 through (slot, a) with ``support[slot, a]`` (structural)."""
    S, A = mdp.S, mdp.A
    succ = mdp.transition_matrix  # CSR (S*A, S)
    if mdp.finite_horizon:
        out = np.zeros((mdp.horizon, S), dtype=bool)
        out[0] = mdp.mu0 > 0
        sup = support.reshape(mdp.horizon, S, A)
        for t in range(mdp.horizon - 1):
            pairs = (out[t][:, None] & sup[t]).ravel().astype(float)
            out[t + 1] = (succ.T @ pairs) > 0
        return out.ravel()
    seen = mdp.mu0 > 0
    while True:
        pairs = (seen[:, None] & support).ravel().astype(float)
        new = seen | ((succ.T @ pairs) > 0)
        if np.array_equal(new, seen):
            return seen
        seen = new


def _masked_occupancy(mdp: TabularMDP, flat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Float occupancy (slots, A), exactly 0 off the structurally reachable support."""
    d = occupancy(mdp, flat.reshape((*shape, mdp.A))).reshape(-1, mdp.A)
    return np.where(_reachable(mdp, flat > 0)[:, None] & (flat > 0), np.maximum(d, 0.0), 0.0)


def _values(mdp: TabularMDP, actions: np.ndarray) -> np.ndarray:
    ev = evaluate(mdp, np.eye(mdp.A)[actions])
    return np.concatenate([[ev.value], ev.cost_values])
