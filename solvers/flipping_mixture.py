r"""The per-episode mixture of deterministic policies and its independent re-check.

:class:`FlippingDecomposition` holds the result of
:func:`~solvers.flipping_decomposition.flipping_decomposition`: deterministic policies
:math:`\pi_i` and episode weights :math:`w_i` ("draw :math:`\pi_i` with probability
:math:`w_i` once, at :math:`t=0`, then follow it") with

.. math::
    d^\pi=\sum_iw_i\,d^{\pi_i},\qquad (V_r,V_c)(\pi)=\sum_iw_i\,(V_r,V_c)(\pi_i).

:meth:`FlippingDecomposition.verify` recomputes
:math:`\|\sum_iw_id^{\pi_i}-d^\pi\|_1` from the model alone, in floats or (small
models) in rational arithmetic: the discounted occupancy
:math:`d(s,a)=(1-\gamma)\,\pi(a|s)\,[(I-\gamma P_\pi^\top)^{-1}\mu_0](s)` by exact
elimination, the finite-horizon one by the forward recursion
:math:`d_t(s,a)=\rho_t(s)\pi_t(a|s)`, :math:`\rho_{t+1}=\sum_{s,a}d_t(s,a)P(\cdot|s,a)`.
Values are :math:`E[\sum_t\gamma^tr_t]` (finite horizon :math:`E[\sum_{t<H}r_t]`), not
scaled by :math:`1-\gamma`: a value residual is :math:`T\sum_{s,a}\Delta d(s,a)R(s,a)`
with :math:`T=1/(1-\gamma)` (finite horizon: 1, since :math:`d_t` sums to 1 per step).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from .errors import ModelError
from .evaluation import occupancy
from .exact import EXACT_MAX_STATES, fraction_array, solve_fractions
from .tolerances import CMDP_EXACT_MAX_SA, CMDP_VERIFY_RTOL

if TYPE_CHECKING:
    from .mdp import TabularMDP

__all__ = ["DecompositionCheck", "FlippingDecomposition"]


@dataclass(frozen=True)
class DecompositionCheck:
    r"""Independent re-check of a decomposition (:meth:`FlippingDecomposition.verify`).

    Attributes
    ----------
    occupancy_residual : float
        :math:`\|\sum_iw_id^{\pi_i}-d^\pi\|_1`, every occupancy recomputed from the model.
    value_residual : float
        :math:`\max_k|\sum_iw_iV_k(\pi_i)-V_k(\pi)|` over reward and costs (values
        :math:`E[\sum_t\gamma^t\cdot]` from the recomputed occupancies).
    weight_residual : float
        :math:`\max(|\sum_iw_i-1|,\max_i(-w_i))`.
    tolerance : float
        Allowance for ``occupancy_residual`` and ``weight_residual``: ``CMDP_VERIFY_RTOL``,
        so that the implied value error :math:`T\,\|r\|_\infty\|\Delta d\|_1` stays within
        the allowance of :meth:`~solvers.cmdp.CMDPResult.verify` (1e-6 of the value scale).
    exact : bool
        True when computed in rational arithmetic (then the residuals are the exact
        residuals of the float weights and policies as stored).
    """

    occupancy_residual: float
    value_residual: float
    weight_residual: float
    tolerance: float
    exact: bool

    @property
    def ok(self) -> bool:
        """Occupancy and weights reproduced within ``tolerance``."""
        return bool(max(self.occupancy_residual, self.weight_residual) <= self.tolerance)


@dataclass(frozen=True, eq=False)
class FlippingDecomposition:
    r"""Per-episode mixture :math:`\sum_iw_i\pi_i` of deterministic policies.

    Attributes
    ----------
    policies : ndarray (m, S) or (m, H, S), int
        Action indices of the deterministic policies, in peeling order.
    weights : ndarray (m,)
        Episode weights :math:`w_i>0`, summing to 1.
    points : ndarray (m, 1 + K)
        Row i is :math:`(V_r(\pi_i),V_{c_1}(\pi_i),\dots)`, each by exact policy evaluation.
    target : ndarray (1 + K,)
        The result's ``(value, *cost_values)``.
    slot : tuple of int or None
        The first slot split (``(s,)`` or ``(t, s)``, where :math:`\pi_0,\pi_1` differ),
        None if the policy is deterministic on its visited slots.
    residual : float
        :math:`\max|\sum_iw_i\,\mathrm{points}_i-\mathrm{target}|`.
    tolerance : float
        Allowance for ``residual``: ``CMDP_VERIFY_RTOL`` times the value scale, as in
        :meth:`~solvers.cmdp.CMDPResult.verify`.
    pi : ndarray (S, A) or (H, S, A)
        The decomposed policy (the result's).
    randomised_slots : tuple of tuple of int
        Visited slots where ``pi`` randomises.
    extra_actions : int
        :math:`r=\sum_{\text{visited}}(|\operatorname{supp}\pi|-1)`; ``len(weights) <= r + 1``.
    differing : tuple of int
        Number of slots in which consecutive policies differ (m - 1 entries).
    occupancy_residual : float
        Measured :math:`\|\sum_iw_id^{\pi_i}-d^\pi\|_1` (float occupancies).
    """

    policies: np.ndarray
    weights: np.ndarray
    points: np.ndarray
    target: np.ndarray
    slot: tuple[int, ...] | None
    residual: float
    tolerance: float
    pi: np.ndarray
    randomised_slots: tuple[tuple[int, ...], ...]
    extra_actions: int
    differing: tuple[int, ...]
    occupancy_residual: float

    @property
    def adjacent(self) -> bool:
        """True when every two consecutive policies differ in exactly one slot."""
        return all(n == 1 for n in self.differing)

    @property
    def ok(self) -> bool:
        """Values within ``tolerance`` and occupancy within ``CMDP_VERIFY_RTOL`` (L1)."""
        return bool(self.residual <= self.tolerance
                    and self.occupancy_residual <= CMDP_VERIFY_RTOL)

    def verify(self, mdp: TabularMDP, exact: bool = False) -> DecompositionCheck:
        r"""Recompute :math:`\sum_iw_id^{\pi_i}-d^\pi` from ``mdp`` alone.

        ``exact=False``: one float occupancy solve per policy
        (:func:`solvers.evaluation.occupancy`). ``exact=True``: every occupancy by exact
        rational elimination (discounted) or recursion (finite horizon) over the
        ``Fraction`` values of the stored floats, residuals summed exactly; models with
        S*A > ``CMDP_EXACT_MAX_SA`` (per time step) are refused.
        """
        if exact:
            if mdp.S * mdp.A > CMDP_EXACT_MAX_SA or mdp.S > EXACT_MAX_STATES:
                raise ModelError(f"exact verification needs S*A <= {CMDP_EXACT_MAX_SA}, got "
                                 f"S*A = {mdp.S * mdp.A}; use verify(exact=False)", field="S")
            occ, w = _exact_occupancy, [Fraction(float(x)) for x in self.weights]
        else:
            occ, w = occupancy, [float(x) for x in self.weights]
        R = np.concatenate([mdp.r[None], mdp.costs])
        R = fraction_array(R) if exact else R
        T = Fraction(1) if mdp.finite_horizon else 1 / (1 - Fraction(mdp.gamma))
        if not exact:
            T = float(T)
        ref = occ(mdp, self.pi)
        mixed = sum(wi * occ(mdp, np.eye(mdp.A)[p]) for wi, p in
                    zip(w, self.policies, strict=True))
        diff = (mixed - ref).reshape(-1, mdp.A)
        vals = [T * (diff * Rk.reshape(-1, mdp.A)[np.arange(diff.size // mdp.A) % mdp.S]).sum()
                for Rk in R]
        return DecompositionCheck(float(np.abs(diff).sum()), float(max(abs(v) for v in vals)),
                                  float(max(abs(sum(w) - 1), -min(w))), CMDP_VERIFY_RTOL,
                                  bool(exact))


def _exact_occupancy(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    r"""Occupancy as Fractions: :math:`(1-\gamma)\pi(a|s)[(I-\gamma P_\pi^\top)^{-1}\mu_0](s)`,
    or the forward recursion :math:`d_t(s,a)=\rho_t(s)\pi_t(a|s)` (finite horizon)."""
    S = mdp.S
    P = fraction_array(mdp.dense_P())
    pif = fraction_array(pi)
    rho = fraction_array(mdp.mu0)
    if mdp.finite_horizon:
        out = np.empty(pif.shape, dtype=object)
        for t in range(mdp.horizon):
            out[t] = rho[:, None] * pif[t]
            rho = np.tensordot(out[t], P, axes=([0, 1], [0, 1]))
        return out
    g = Fraction(mdp.gamma)
    P_pi = np.einsum("sa,sat->st", pif, P)
    M = np.empty((S, S), dtype=object)
    for i in range(S):
        for j in range(S):
            M[i, j] = (1 if i == j else 0) - g * P_pi[j, i]
    x = solve_fractions(M, (1 - g) * rho)
    return x[:, None] * pif
