r"""Conservative (and not-so-conservative) surrogates of a joint chance constraint.

Both are linear in the state marginals :math:`\rho_t(s)=\Pr^\pi(s_t=s)` of a
Markov policy in a finite-horizon model (horizon H), computed exactly by the
forward recursion :func:`solvers.ccmdp.state_marginals`. The violation event is
:math:`V_H=\{\exists t\in\{0..H\}: s_t\in U\}` as in :mod:`solvers.ccmdp`.
Nothing is scaled by :math:`1-\gamma` or :math:`1-\gamma_u`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .ccmdp import _time_policy, require_finite_horizon, validate_unsafe
from .errors import ModelError
from .mdp import TabularMDP

__all__ = ["boole_bound", "h_unsafe", "state_marginals", "unsafe_marginals"]


def unsafe_marginals(mdp: TabularMDP, pi: object, unsafe: object) -> np.ndarray:
    r""":math:`P_t=\Pr^\pi(s_t\in U)` for t = 0..H, shape (H+1,)."""
    require_finite_horizon(mdp)
    mask = validate_unsafe(mdp, unsafe)
    return state_marginals(mdp, pi)[:, mask].sum(axis=1)


def boole_bound(mdp: TabularMDP, pi: object, unsafe: object) -> float:
    r"""Boole's (union) bound :math:`\sum_{t=0}^{H}\Pr^\pi(s_t\in U)\ge\Pr^\pi(V_H)`.

    .. math::
        \Pr\Big(\bigcup_{t=0}^H\{s_t\in U\}\Big)\le\sum_{t=0}^H\Pr(s_t\in U)
        =E\Big[\sum_{t=0}^H\mathbb 1\{s_t\in U\}\Big].

    Same index range as :func:`solvers.ccmdp.violation_probability` (t = 0 and
    t = H included). The flipping paper's :math:`H_{acc}` with window
    :math:`T=H` is ``boole_bound - mu0(U)`` (its sum starts at :math:`t=1`); the
    bound is tight when :math:`U` is visited at most once on every trajectory.

    Returns
    -------
    float
        A number in :math:`[0, H+1]` (not a probability in general).

    References
    ----------
    Shen, Jiang, Wachi, Hashimoto, Gros, "Flipping-based policy for chance-constrained
    MDPs", NeurIPS 2024, arXiv 2410.06474, Appendix J, Theorem 9 ("affine chance
    constraint"); cmdp_ccmdp notes §2.6 and §3.9-E.
    """
    return float(unsafe_marginals(mdp, pi, unsafe).sum())


def h_unsafe(mdp: TabularMDP, pi: object, unsafe: object, gamma_u: object) -> float:
    r"""Discounted expected unsafety :math:`H_{unsafe}=E^\pi_{s_0\sim\mu_0}\big[\sum_{i=1}^{H}
    \gamma_u^i\,\mathbb 1\{s_i\in U\}\big]`.

    The flipping paper defines :math:`H_{unsafe}(\theta,s)=E[\sum_{i\ge1}\gamma_u^i
    \mathbb 1\{g(s_i)>0\}\mid s_0=s]` (notes §3.3): the sum starts at :math:`i=1`
    (the initial state is not counted) and is *not* multiplied by :math:`1-\gamma_u`.
    Here the expectation is over :math:`s_0\sim\mu_0` (as in the paper's
    parametrised problems; use a point mass :math:`\mu_0` for the per-state
    version) and the sum stops at :math:`i=H`, the last state of a
    finite-horizon trajectory. Computed exactly as
    :math:`\sum_{i=1}^H\gamma_u^i\Pr^\pi(s_i\in U)`.

    It is **not** a conservative surrogate in general (Theorem 5 is false,
    notes §3.9-A): on the chain :math:`s_0\to u` (prob. p), :math:`u\to z`,
    :math:`z` absorbing, :math:`H_{unsafe}=\gamma_u p<p=\Pr(V_H)`. What always
    holds is :math:`\Pr(V_H)\le\mu_0(U)+\gamma_u^{-H}H_{unsafe}`.

    Parameters
    ----------
    gamma_u : float in (0, 1)
        Safety discount; anything else raises ModelError naming "gamma_u".

    References
    ----------
    Shen et al., arXiv 2410.06474, ECRL and Theorem 5; cmdp_ccmdp notes §3.3, §3.9-A.
    """
    if isinstance(gamma_u, bool) or not isinstance(gamma_u, numbers.Real):
        raise ModelError(f"gamma_u = {gamma_u!r} is not a real number, expected a float in "
                         "(0, 1)", field="gamma_u")
    g = float(gamma_u)
    if not math.isfinite(g) or not 0.0 < g < 1.0:
        raise ModelError(f"gamma_u = {g!r}, expected a float in (0, 1)", field="gamma_u")
    p = unsafe_marginals(mdp, pi, unsafe)
    return float(np.dot(g ** np.arange(1, p.size), p[1:]))


def state_marginals(mdp: TabularMDP, pi: object) -> np.ndarray:
    r"""State distributions :math:`\rho_t(s)=\Pr^\pi(s_t=s)` for t = 0..H, shape (H+1, S).

    :math:`\rho_0=\mu_0`, :math:`\rho_{t+1}(s')=\sum_{s,a}\rho_t(s)\pi_t(a|s)P(s'|s,a)`.
    """
    H = require_finite_horizon(mdp)
    pis = _time_policy(mdp, pi)
    Pt = mdp.transition_matrix.T.tocsr()
    rho = np.empty((H + 1, mdp.S))
    rho[0] = mdp.mu0
    for t in range(H):
        rho[t + 1] = Pt @ (rho[t][:, None] * pis[t]).ravel()
    return rho
