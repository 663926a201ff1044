r"""Trajectory-level DPO in finite-horizon tabular MDPs (PREFINE's setting; notes §5).

The KL-regularised finite-horizon problem with reference policy :math:`\pi_{ref}` and
KL coefficient :math:`\beta>0` (the notes write :math:`\tau`; DESIGN.md reserves ``tau``
for soft followers, so the API calls it ``beta``, as DPO does) is

.. math::
    \max_{\pi}\ E^\pi\Big[\sum_{t<H} r(s_t,a_t)\Big]
    -\beta\,E^\pi\Big[\sum_{t<H}\mathrm{KL}\big(\pi_t(\cdot|s_t)\,\|\,\pi_{ref}(\cdot|s_t)\big)\Big].

Its optimum comes from soft backward induction
(:func:`~solvers.trajectory_soft_optimum.soft_backward_induction`): :math:`V_H=0`,
:math:`Q_t=r+PV_{t+1}`, :math:`V_t(s)=\beta\log\sum_a\pi_{ref}(a|s)e^{Q_t(s,a)/\beta}`,
:math:`\pi^\star_t(a|s)=\pi_{ref}(a|s)e^{(Q_t(s,a)-V_t(s))/\beta}`. Summing
:math:`\beta\log(\pi^\star_t/\pi_{ref})=Q_t-V_t` along a trajectory
:math:`\omega=(s_0,a_0,\dots,s_{H-1},a_{H-1})` telescopes to

.. math::
    \beta\sum_{t<H}\log\frac{\pi^\star_t(a_t|s_t)}{\pi_{ref}(a_t|s_t)}
    =R(\omega)-V_0(s_0)+M(\omega),\qquad
    M(\omega)=\sum_{t=0}^{H-2}\big((PV_{t+1})(s_t,a_t)-V_{t+1}(s_{t+1})\big),

and :math:`M\equiv0` under deterministic transitions (Rafailov et al. 2024, "From r to
Q*"). Values are undiscounted finite-horizon sums :math:`E[\sum_{t<H}r_t]` (the model has
:math:`\gamma=1`). Population DPO (:func:`population_dpo`) fits time-indexed logits to
Bradley-Terry labels
:math:`\Pr(\omega_1\succ\omega_2)=\sigma(R(\omega_1)-R(\omega_2))` on pairs from a shared
start state.

This module holds the identity's residual (:func:`identity_residual`) and population DPO;
the soft optimum, trajectory enumeration and log-ratios live in
:mod:`solvers.trajectory_soft_optimum` and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from .errors import ModelError
from .mdp import TabularMDP
from .trajectory_soft_optimum import (
    MAX_TRAJECTORIES,
    SoftOptimum,
    TrajectorySet,
    _finite_model,
    _reward,
    _time_policy,
    as_beta,
    enumerate_trajectories,
    soft_backward_induction,
    trajectory_log_ratio,
)

__all__ = [
    "MAX_TRAJECTORIES",
    "PopulationDPOResult",
    "SoftOptimum",
    "TrajectoryResidual",
    "TrajectorySet",
    "as_beta",
    "enumerate_trajectories",
    "identity_residual",
    "population_dpo",
    "population_dpo_loss",
    "soft_backward_induction",
    "trajectory_log_ratio",
]


@dataclass(frozen=True, eq=False)
class TrajectoryResidual:
    r"""Residual of the naive identity :math:`\beta\sum_t\log(\pi^\star/\pi_{ref})=R-V_0(s_0)`.

    Attributes
    ----------
    traj : TrajectorySet
        Every trajectory of positive reference probability (``prob`` under :math:`\pi_{ref}`).
    lhs : ndarray (N,)
        :math:`\beta\sum_t\log(\pi^\star_t/\pi_{ref})` from the policy tables.
    naive_rhs : ndarray (N,)
        :math:`R(\omega)-V_0(s_0)`.
    martingale : ndarray (N,)
        Closed form :math:`M(\omega)=\sum_{t\le H-2}((PV_{t+1})(s_t,a_t)-V_{t+1}(s_{t+1}))`.
    residual : ndarray (N,)
        ``lhs - naive_rhs``.
    max_abs_residual, rms_residual_star : float
        :math:`\max_\omega|\cdot|` and :math:`(E_{\pi^\star}[\cdot^2])^{1/2}` of the residual.
    closure_error : float
        :math:`\max_\omega|\mathrm{residual}-M|` (rounding only).
    start_state_bias : float
        :math:`\max-\min` of :math:`V_0` over :math:`\mathrm{supp}\,\mu_0`: the bias of the
        Bradley-Terry logit for pairs with different start states.
    optimum : SoftOptimum
    """

    traj: TrajectorySet
    lhs: np.ndarray
    naive_rhs: np.ndarray
    martingale: np.ndarray
    residual: np.ndarray
    max_abs_residual: float
    rms_residual_star: float
    closure_error: float
    start_state_bias: float
    optimum: SoftOptimum


def identity_residual(mdp: TabularMDP, pi_ref: object, beta: float) -> TrajectoryResidual:
    """Compute the trajectory-DPO identity residual exactly over all trajectories (notes §5)."""
    opt = soft_backward_induction(mdp, pi_ref, beta)
    ref = _time_policy(mdp, pi_ref, "pi_ref")
    traj = enumerate_trajectories(mdp, ref)
    # (Q_t - V_t) summed directly: log of the policy table would underflow for small beta.
    tt = np.arange(mdp.horizon)[None, :]
    lhs = opt.beta * opt.log_ratio[tt, traj.states, traj.actions].sum(axis=1)
    naive = traj.returns(mdp.r) - opt.v[0][traj.states[:, 0]]
    H = mdp.horizon
    Pm = mdp.transition_matrix
    mart = np.zeros(traj.prob.size)
    for t in range(H - 1):
        pv = (Pm @ opt.v[t + 1]).reshape(mdp.S, mdp.A)
        mart += pv[traj.states[:, t], traj.actions[:, t]] - opt.v[t + 1][traj.states[:, t + 1]]
    res = lhs - naive
    p_star = traj.prob * np.exp(lhs / opt.beta)  # P^{pi*}(omega) = P^ref(omega) prod pi*/pi_ref
    v0 = opt.v[0][mdp.mu0 > 0]
    return TrajectoryResidual(
        traj=traj, lhs=lhs, naive_rhs=naive, martingale=mart, residual=res,
        max_abs_residual=float(np.max(np.abs(res))),
        rms_residual_star=float(np.sqrt(np.sum(p_star * res**2) / np.sum(p_star))),
        closure_error=float(np.max(np.abs(res - mart))),
        start_state_bias=float(v0.max() - v0.min()), optimum=opt)


@dataclass(frozen=True, eq=False)
class PopulationDPOResult:
    r"""Minimiser of the population trajectory-DPO loss over time-indexed logits.

    Attributes
    ----------
    status : {"optimal", "iteration_limit"}
        Read before using ``pi``.
    message : str
    pi : ndarray (H, S, A)
        :math:`\mathrm{softmax}(\theta_t(s,\cdot))`.
    loss : float
        Population loss at ``pi``.
    grad_norm : float
        :math:`\|\nabla_\theta L\|_\infty` at the solution.
    reachable : ndarray (H, S) of bool
        :math:`(t,s)` with positive probability under :math:`\pi_{ref}`; DPO identifies the
        policy only there.
    iterations : int
    """

    status: str
    message: str
    pi: np.ndarray
    loss: float
    grad_norm: float
    reachable: np.ndarray
    iterations: int


class _DPOProblem:
    """Pairs, weights and labels of the population DPO loss; ``loss_grad(theta)``."""

    def __init__(self, mdp: TabularMDP, pi_ref: object, beta: float,
                 reward: np.ndarray | None) -> None:
        _finite_model(mdp)
        self.beta = as_beta(beta)
        ref = _time_policy(mdp, pi_ref, "pi_ref")
        if np.any(ref <= 0):
            idx = tuple(int(i) for i in np.argwhere(ref <= 0)[0])
            raise ModelError(f"pi_ref{list(idx)} = 0: DPO cannot move mass onto an action the "
                             "reference never takes; expected pi_ref > 0", field="pi_ref")
        r = mdp.r if reward is None else _reward(mdp, reward)
        self.shape = (mdp.horizon, mdp.S, mdp.A)
        self.ref = ref
        self.traj = traj = enumerate_trajectories(mdp, ref)
        R = traj.returns(r)
        s0 = traj.states[:, 0]
        cond = traj.prob / mdp.mu0[s0]  # P_ref(omega | s0)
        self.W = np.where(s0[:, None] == s0[None, :],
                          mdp.mu0[s0][:, None] * cond[:, None] * cond[None, :], 0.0)
        self.p = 0.5 * (1.0 + np.tanh((R[:, None] - R[None, :]) / 2.0))  # sigma(dR), stable
        self.tt = np.broadcast_to(np.arange(mdp.horizon), traj.states.shape)
        self.log_ref_sum = np.log(ref[self.tt, traj.states, traj.actions]).sum(axis=1)

    def floor(self) -> float:
        """Smallest possible loss: sum of W times the binary entropy of the labels."""
        p = self.p
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.where(p > 0, p * np.log(p), 0.0) - np.where(p < 1, (1 - p) * np.log1p(-p),
                                                                  0.0)
        return float(np.sum(self.W * ent))

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        th = theta.reshape(self.shape)
        logpi = th - logsumexp(th, axis=2, keepdims=True)
        st, at, tt = self.traj.states, self.traj.actions, self.tt
        h = logpi[tt, st, at].sum(axis=1) - self.log_ref_sum
        z = self.beta * (h[:, None] - h[None, :])
        W, p = self.W, self.p
        loss = float(np.sum(W * (p * np.logaddexp(0.0, -z) + (1 - p) * np.logaddexp(0.0, z))))
        dz = W * (0.5 * (1.0 + np.tanh(z / 2.0)) - p)  # dL/dz
        gh = self.beta * (dz.sum(axis=1) - dz.sum(axis=0))  # dL/dh
        g = np.zeros(self.shape)
        np.add.at(g, (tt, st, at), gh[:, None])
        occ = np.zeros(self.shape[:2])
        np.add.at(occ, (tt, st), gh[:, None])
        g -= occ[:, :, None] * np.exp(logpi)
        return loss, g.ravel()


def population_dpo_loss(mdp: TabularMDP, pi_ref: object, beta: float, pi: np.ndarray,
                        reward: np.ndarray | None = None) -> tuple[float, float]:
    r"""(population DPO loss of the policy ``pi`` (H, S, A) > 0, the loss floor).

    The floor :math:`\sum W\,H_2(p)` (binary entropy of the labels) is attained iff
    :math:`\beta(h(\omega)-h(\omega'))=R(\omega)-R(\omega')` on every weighted pair.
    """
    prob = _DPOProblem(mdp, pi_ref, beta, reward)
    pi = _time_policy(mdp, pi, "pi")
    with np.errstate(divide="ignore"):
        return prob.loss_grad(np.log(pi).ravel())[0], prob.floor()


def population_dpo(mdp: TabularMDP, pi_ref: object, beta: float,
                   reward: np.ndarray | None = None, *, gtol: float = 1e-11,
                   max_iter: int = 5000) -> PopulationDPOResult:
    r"""Minimise the population trajectory-DPO loss with Bradley-Terry labels from returns.

    .. math::
        L(\theta)=\sum_{s_0}\mu_0(s_0)\sum_{\omega,\omega'}P_{ref}(\omega|s_0)P_{ref}(\omega'|s_0)
        \Big[-p\log\sigma(z)-(1-p)\log\sigma(-z)\Big],\quad
        z=\beta(h_\theta(\omega)-h_\theta(\omega')),\ p=\sigma(R(\omega)-R(\omega')),

    with :math:`h_\theta(\omega)=\sum_t\log(\pi_\theta/\pi_{ref})(a_t|s_t)` (pairs share
    :math:`s_0`, as in PREFINE's counterfactual rollouts). Under deterministic transitions
    its minimiser is the soft optimum :math:`\pi^\star` of :func:`soft_backward_induction`
    on every reachable :math:`(t,s)`. L-BFGS from :math:`\theta=\log\pi_{ref}` with the
    analytic gradient; ``pi_ref`` must be positive everywhere.
    """
    prob = _DPOProblem(mdp, pi_ref, beta, reward)
    res = minimize(prob.loss_grad, np.log(prob.ref).ravel(), jac=True, method="L-BFGS-B",
                   options={"gtol": gtol, "ftol": 0.0, "maxiter": max_iter, "maxcor": 30})
    loss, grad = prob.loss_grad(res.x)
    th = res.x.reshape(prob.shape)
    pi = np.exp(th - logsumexp(th, axis=2, keepdims=True))
    reachable = np.zeros(prob.shape[:2], dtype=bool)
    reachable[prob.tt, prob.traj.states] = True
    gnorm = float(np.max(np.abs(grad)))
    ok = gnorm <= 100 * gtol or bool(res.success)
    return PopulationDPOResult(
        status="optimal" if ok else "iteration_limit",
        message=f"L-BFGS: {res.message} (|grad|_inf = {gnorm:.3g}); increase max_iter if "
                "the status is iteration_limit",
        pi=pi, loss=loss, grad_norm=gnorm, reachable=reachable, iterations=int(res.nit))
