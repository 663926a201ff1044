r"""KL-regularised finite-horizon optimum and trajectory log-ratios (PREFINE; notes §5).

The KL-regularised finite-horizon problem with reference policy :math:`\pi_{ref}` and
KL coefficient :math:`\beta>0` (the notes write :math:`\tau`; DESIGN.md reserves ``tau``
for soft followers, so the API calls it ``beta``, as DPO does) is

.. math::
    \max_{\pi}\ E^\pi\Big[\sum_{t<H} r(s_t,a_t)\Big]
    -\beta\,E^\pi\Big[\sum_{t<H}\mathrm{KL}\big(\pi_t(\cdot|s_t)\,\|\,\pi_{ref}(\cdot|s_t)\big)\Big].

Its optimum comes from soft backward induction (:func:`soft_backward_induction`):
:math:`V_H=0`, :math:`Q_t=r+PV_{t+1}`,
:math:`V_t(s)=\beta\log\sum_a\pi_{ref}(a|s)e^{Q_t(s,a)/\beta}`,
:math:`\pi^\star_t(a|s)=\pi_{ref}(a|s)e^{(Q_t(s,a)-V_t(s))/\beta}`. Trajectories
:math:`\omega=(s_0,a_0,\dots,s_{H-1},a_{H-1})` of tiny models are enumerated exactly
(:func:`enumerate_trajectories`) and scored by
:math:`\sum_{t<H}\log(\pi_t/\pi_{ref,t})(a_t|s_t)` (:func:`trajectory_log_ratio`); the
identity these feed and population DPO live in :mod:`solvers.trajectory_dpo`. Values are
undiscounted finite-horizon sums :math:`E[\sum_{t<H}r_t]` (the model has
:math:`\gamma=1`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from .errors import ModelError
from .mdp import TabularMDP
from .policies import as_policy

__all__ = [
    "MAX_TRAJECTORIES",
    "SoftOptimum",
    "TrajectorySet",
    "as_beta",
    "enumerate_trajectories",
    "soft_backward_induction",
    "trajectory_log_ratio",
]


#: Largest number of trajectories :func:`enumerate_trajectories` builds (tiny models only).
MAX_TRAJECTORIES: int = 200_000


def as_beta(beta: object) -> float:
    """Validate the KL/DPO coefficient ``beta`` (the notes' tau): a finite float > 0."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise ModelError(f"beta = {beta!r} is not a real number, expected a float > 0",
                         field="beta")
    b = float(beta)
    if not np.isfinite(b) or b <= 0:
        raise ModelError(f"beta = {b!r}, expected a finite float > 0", field="beta")
    return b


def _finite_model(mdp: TabularMDP) -> None:
    if not mdp.finite_horizon:
        raise ModelError(f"{mdp!r} is discounted, expected a finite-horizon model (horizon set)",
                         field="horizon")


def _time_policy(mdp: TabularMDP, pi: object, field: str) -> np.ndarray:
    arr = as_policy(mdp, pi, field)
    return np.array(np.broadcast_to(arr, (mdp.horizon, mdp.S, mdp.A)))


@dataclass(frozen=True, eq=False)
class SoftOptimum:
    r"""KL-regularised finite-horizon optimum (soft backward induction).

    Attributes
    ----------
    pi : ndarray (H, S, A)
        :math:`\pi^\star_t(a|s)`.
    q, v : ndarray (H, S, A), (H + 1, S)
        Soft action values and values; ``v[H] = 0``. Values are
        :math:`E[\sum_{t<H}r_t]-\beta\,\mathrm{KL}` (finite horizon, undiscounted).
    log_ratio : ndarray (H, S, A)
        :math:`\log(\pi^\star_t/\pi_{ref})=(Q_t-V_t)/\beta` (0 where :math:`\pi_{ref}=0`).
    value : float
        :math:`\mu_0^\top V_0`, the optimal regularised objective.
    beta : float
    """

    pi: np.ndarray
    q: np.ndarray
    v: np.ndarray
    log_ratio: np.ndarray
    value: float
    beta: float


def soft_backward_induction(mdp: TabularMDP, pi_ref: object, beta: float,
                            reward: np.ndarray | None = None) -> SoftOptimum:
    r"""Soft (KL-regularised) backward induction with a stable log-sum-exp.

    :math:`V_t(s)=\beta\log\sum_a\pi_{ref,t}(a|s)\exp(Q_t(s,a)/\beta)` with
    :math:`Q_t=r+PV_{t+1}`, :math:`V_H=0`; the log-sum-exp is shifted by its maximum, so no
    overflow for small ``beta``. Actions with :math:`\pi_{ref}=0` get probability 0.

    Parameters
    ----------
    mdp : TabularMDP
        Finite-horizon model.
    pi_ref : ndarray (S, A) or (H, S, A)
        Reference policy.
    beta : float
        KL coefficient > 0 (the notes' :math:`\tau`).
    reward : ndarray (S, A), optional
        Reward to use instead of ``mdp.r`` (e.g. ``-c`` for the cost-preference variant).
    """
    _finite_model(mdp)
    beta = as_beta(beta)
    ref = _time_policy(mdp, pi_ref, "pi_ref")
    r = mdp.r if reward is None else _reward(mdp, reward)
    H, S, A = mdp.horizon, mdp.S, mdp.A
    Pm = mdp.transition_matrix
    with np.errstate(divide="ignore"):
        log_ref = np.log(ref)
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    lr = np.zeros((H, S, A))
    for t in range(H - 1, -1, -1):
        Q[t] = r + (Pm @ V[t + 1]).reshape(S, A)
        V[t] = beta * logsumexp(log_ref[t] + Q[t] / beta, axis=1)
        lr[t] = np.where(ref[t] > 0, (Q[t] - V[t][:, None]) / beta, 0.0)
    pi = np.where(ref > 0, ref * np.exp(lr), 0.0)
    pi /= pi.sum(axis=2, keepdims=True)  # removes the rounding of exp; rows already sum to 1
    return SoftOptimum(pi=pi, q=Q, v=V, log_ratio=lr, value=float(mdp.mu0 @ V[0]), beta=beta)


def _reward(mdp: TabularMDP, reward: np.ndarray) -> np.ndarray:
    r = np.asarray(reward, dtype=float)
    if r.shape != (mdp.S, mdp.A) or not np.isfinite(r).all():
        raise ModelError(f"reward has shape {r.shape} or non-finite entries, expected finite "
                         f"(S, A) = {(mdp.S, mdp.A)}", field="reward")
    return r


@dataclass(frozen=True, eq=False)
class TrajectorySet:
    r"""All trajectories :math:`(s_0,a_0,\dots,s_{H-1},a_{H-1})` of positive probability.

    Attributes
    ----------
    states, actions : ndarray (N, H) of int
    prob : ndarray (N,)
        :math:`\mu_0(s_0)\prod_t\pi_t(a_t|s_t)\prod_{t<H-1}P(s_{t+1}|s_t,a_t)` under the
        policy used for the enumeration (the final transition is summed out).
    """

    states: np.ndarray
    actions: np.ndarray
    prob: np.ndarray

    def returns(self, r: np.ndarray) -> np.ndarray:
        r""":math:`R(\omega)=\sum_{t<H}r(s_t,a_t)` for every trajectory, (N,)."""
        return r[self.states, self.actions].sum(axis=1)


def enumerate_trajectories(mdp: TabularMDP, pi: object) -> TrajectorySet:
    """Enumerate every trajectory with positive probability under ``pi`` (tiny models).

    Raises ``ModelError`` (field ``horizon``) beyond :data:`MAX_TRAJECTORIES`.
    """
    _finite_model(mdp)
    pis = _time_policy(mdp, pi, "pi")
    P = mdp.dense_P()
    states = np.flatnonzero(mdp.mu0 > 0)[:, None]
    actions = np.zeros((states.shape[0], 0), dtype=np.int64)
    prob = mdp.mu0[states[:, 0]]
    for t in range(mdp.horizon):
        s = states[:, -1]
        w = prob[:, None] * pis[t][s]  # (N, A)
        i, a = np.nonzero(w > 0)
        states, actions, prob = states[i], np.column_stack([actions[i], a]), w[i, a]
        if t < mdp.horizon - 1:
            w = prob[:, None] * P[states[:, -1], actions[:, -1]]  # (N, S)
            i, s2 = np.nonzero(w > 0)
            states, actions, prob = np.column_stack([states[i], s2]), actions[i], w[i, s2]
        if prob.size > MAX_TRAJECTORIES:
            raise ModelError(f"{prob.size} trajectories at t = {t}, expected at most "
                             f"{MAX_TRAJECTORIES}: use a smaller horizon or model",
                             field="horizon")
    return TrajectorySet(states=states, actions=actions, prob=prob)


def trajectory_log_ratio(pi: np.ndarray, pi_ref: np.ndarray, traj: TrajectorySet) -> np.ndarray:
    r""":math:`\sum_{t<H}\log\pi_t(a_t|s_t)-\log\pi_{ref,t}(a_t|s_t)` per trajectory, (N,).

    Transition terms cancel for Markov policies under shared dynamics (notes §5).
    ``pi`` and ``pi_ref`` are (H, S, A); trajectories must have :math:`\pi_{ref}>0`.
    """
    t = np.arange(traj.states.shape[1])[None, :]
    num = pi[t, traj.states, traj.actions]
    den = pi_ref[t, traj.states, traj.actions]
    if np.any(den <= 0):
        raise ModelError("a trajectory uses an action with pi_ref = 0, expected pi_ref > 0 "
                         "on every enumerated action", field="pi_ref")
    with np.errstate(divide="ignore"):
        return (np.log(num) - np.log(den)).sum(axis=1)

