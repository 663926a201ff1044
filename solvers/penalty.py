r"""The penalty function of Kwon et al. for a Boltzmann (soft-optimal) follower (notes §2.5, §8.1).

With one discount :math:`\gamma=\gamma_F=\gamma_U`, the soft-optimal value of the
follower's reward tilted towards the leader's,

.. math::
    W(x,\sigma)=\mu_0^\top V^\star_\tau\big(r_F(x)+\sigma r_U(x)\big),\qquad
    \psi_\sigma(x)=\frac{W(x,\sigma)-W(x,0)}{\sigma}\ \xrightarrow[\sigma\to0]{}\ F(x),

(values :math:`E[\sum_t\gamma^t(\cdot)]`, entropy bonus included in W, not scaled by
:math:`1-\gamma`). :math:`\partial_\sigma W=J_U(\pi^\star_{x,\sigma})` (envelope theorem) and
:math:`W` is convex in :math:`\sigma`, so :math:`\psi_\sigma\ge F` and :math:`\psi_\sigma` is
nondecreasing in :math:`\sigma`. Its gradient needs only first-order quantities,

.. math::
    \nabla_xW(x,\sigma)=\sum_{s,a}\bar d_\sigma(s,a)\Big[\nabla_xr_F+\sigma\nabla_xr_U
    +\gamma\sum_{s'}\nabla_xP_x(s'|s,a)V_\sigma(s')\Big],

with :math:`\bar d_\sigma` the unnormalised discounted occupancy of
:math:`\pi^\star_{x,\sigma}`; :math:`\nabla\psi_\sigma=(\nabla W(x,\sigma)-\nabla W(x,0))/\sigma`.
Kwon, Kwon, Wright, Nowak, ICLR 2024 (arXiv 2309.01753).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .configurable_mdp import ConfigurableMDP
from .errors import ModelError
from .hypergradient import _factor, _kernel_term
from .mdp import TabularMDP
from .soft_dp import SoftResult, precise_tol, soft_policy_iteration

__all__ = ["PenaltyResult", "penalty", "tilted_value"]


def _require_common_discount(model: ConfigurableMDP) -> float:
    if model.gamma_F != model.gamma_U:
        raise ModelError(f"the penalty view needs gamma_F == gamma_U, got {model.gamma_F} and "
                         f"{model.gamma_U}; use the covariance hypergradient instead",
                         field="gamma_U")
    return model.gamma_F


def tilted_value(model: ConfigurableMDP, x: np.ndarray, sigma: float,
                 tol: float | None = None) -> tuple[float, np.ndarray, SoftResult]:
    r"""``(W, grad_x W, soft solution)`` for the tilted reward :math:`r_F+\sigma r_U` at x."""
    gamma = _require_common_discount(model)
    d = model.at(x)
    fol = d["follower"]
    mdp = TabularMDP(fol.P, fol.r + sigma * d["leader"].r, fol.mu0, gamma=gamma)
    if tol is None:
        tol = precise_tol(mdp, model.tau)
    sol = soft_policy_iteration(mdp, model.tau, tol).require()
    S, A = sol.pi.shape
    dbar = _factor(mdp, sol.pi, gamma).solve((mdp.mu0[:, None] * sol.pi).ravel(),
                                             trans="T").reshape(S, A)
    partial = d["J_rF"] + sigma * d["J_rU"] + gamma * _kernel_term(d["J_P"], sol.V, S, A,
                                                                    model.n)
    return sol.value, np.einsum("sa,san->n", dbar, partial), sol


@dataclass(frozen=True)
class PenaltyResult:
    r""":math:`\psi_\sigma(x)` (``value``), its gradient (n,), and W at 0 and sigma.

    ``error_bound`` bounds the float error of ``value`` from the two soft solves:
    :math:`(\epsilon_\sigma+\epsilon_0)/\sigma`, with :math:`\epsilon` the certified
    :math:`\|Q-Q^\star\|_\infty` (rounding included) of each; the soft value is 1-Lipschitz
    in Q, so W is off by at most :math:`\epsilon`.
    """

    sigma: float
    value: float
    grad: np.ndarray
    W0: float
    W_sigma: float
    error_bound: float


def penalty(model: ConfigurableMDP, x: np.ndarray, sigma: float,
            tol: float | None = None) -> PenaltyResult:
    r"""The penalty :math:`\psi_\sigma(x)=(W(x,\sigma)-W(x,0))/\sigma` and its gradient.

    Parameters
    ----------
    model : ConfigurableMDP
        Needs ``gamma_F == gamma_U`` (ModelError(field="gamma_U") otherwise).
    x : ndarray (n,)
    sigma : float > 0
    tol : float
        Certified accuracy of each soft solve; None: the tightest reachable
        (:func:`~solvers.soft_dp.precise_tol`).
    """
    if isinstance(sigma, bool) or not (isinstance(sigma, (int, float)) and math.isfinite(sigma)
                                       and sigma > 0):
        raise ModelError(f"sigma = {sigma!r}, expected a finite sigma > 0", field="sigma")
    W0, g0, s0 = tilted_value(model, x, 0.0, tol)
    Ws, gs, ss = tilted_value(model, x, float(sigma), tol)
    err = (s0.error_bound + ss.error_bound) / sigma
    return PenaltyResult(sigma=float(sigma), value=(Ws - W0) / sigma, grad=(gs - g0) / sigma,
                         W0=W0, W_sigma=Ws, error_bound=err)
