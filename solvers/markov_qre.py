r"""Simultaneous-move entropy-regularised Markov games: Markov QRE and its derivative (§2.4).

Two players choose :math:`a_1\sim\pi_1(\cdot|s)`, :math:`a_2\sim\pi_2(\cdot|s)` at once;
kernel :math:`P(s'|s,a_1,a_2)`, rewards linear in the designer's parameters x,
:math:`r_i=r_{i,0}+\Phi_ix`, common discount :math:`\gamma`, temperatures :math:`\tau_i`.
A (logit) Markov quantal response equilibrium is a fixed point of the joint soft
best-response map written on the players' soft Q-functions :math:`z=(Q_1,Q_2)`:

.. math::
    \Psi_1(z)(s,a_1)=\sum_{a_2}\pi_2(a_2|s)\,W_1(s,a_1,a_2),\quad
    W_1=r_1+\gamma\sum_{s'}P(s'|s,a_1,a_2)V_1(s'),\quad V_i=\tau_i\log\sum e^{Q_i/\tau_i},

symmetrically for player 2, with :math:`\pi_i=\mathrm{softmax}(Q_i/\tau_i)`; at a fixed
point each :math:`\pi_i` is the soft-optimal policy of the MDP induced by the other
player's policy. Implicit differentiation of :math:`z=\Psi(z,x)` gives

.. math::
    \frac{dz}{dx}=(I-D_z\Psi)^{-1}D_x\Psi,\qquad
    \frac{d\pi_i(a|s)}{dx}=\pi_i(a|s)\Big(\frac{dQ_i(s,a)}{dx}-\sum_b\pi_i(b|s)
    \frac{dQ_i(s,b)}{dx}\Big)\Big/\tau_i,

(equivalently :math:`d\pi/dx=(I-D_\pi\Phi)^{-1}D_x\Phi` for the map on policies). The
cross blocks of :math:`D_z\Psi` have covariance form,
:math:`\partial\Psi_1(s,a_1)/\partial Q_2(s,b)=\pi_2(b|s)(W_1(s,a_1,b)-\sum_{a_2}\pi_2W_1)
/\tau_2`; dropping them (``coupled=False``) is the single-player formula, wrong in general.
A designer with reward :math:`r_D` and discount :math:`\gamma_D` gets
:math:`F(x)=\mu_0^\top V_D` (value :math:`E[\sum_t\gamma_D^tr_D]`, not scaled by
:math:`1-\gamma_D`) and :math:`\nabla F=\sum_s\bar d_D(s)\sum_{a_1,a_2}
\nabla(\pi_1\pi_2)\,Q_D(s,a_1,a_2)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .mdp import TabularMDP
from .soft_dp import (
    ConvergenceError,
    as_temperature,
    boltzmann_policy,
    logsumexp_value,
    soft_policy_iteration,
)
from .validation import (
    as_discount,
    as_game_kernel,
    as_game_rewards,
    as_real_array,
    check_finite,
    check_nonnegative,
    check_rows_sum_to_one,
    check_shape,
)

__all__ = ["QRE_TOL", "QREGame", "QREResult", "designer_hypergradient", "designer_value",
           "qre_jacobian", "solve_qre"]

#: Default residual target ||Psi(z) - z||_inf of the equilibrium solve.
QRE_TOL: float = 1e-11


@dataclass(frozen=True, eq=False)
class QREGame:
    r"""Entropy-regularised two-player Markov game with rewards :math:`r_{i,0}+\Phi_ix`.

    Parameters
    ----------
    P : ndarray (S, A1, A2, S)
    r1, r2 : ndarray (S, A1, A2)
        Base rewards :math:`r_{i,0}`.
    Phi1, Phi2 : ndarray (S, A1, A2, n)
        Reward features.
    mu0 : ndarray (S,)
    gamma : float in [0, 1)
    tau1, tau2 : float > 0
    """

    P: np.ndarray
    r1: np.ndarray
    r2: np.ndarray
    Phi1: np.ndarray
    Phi2: np.ndarray
    mu0: np.ndarray
    gamma: float
    tau1: float
    tau2: float

    def __post_init__(self) -> None:
        P = as_game_kernel(self.P)
        S, A1, A2, _ = P.shape
        out = {"P": P, **as_game_rewards({"r1": self.r1, "r2": self.r2}, (S, A1, A2),
                                         "(S, A1, A2)")}
        n = np.shape(self.Phi1)[-1] if np.ndim(self.Phi1) == 4 else 0
        for name in ("Phi1", "Phi2"):
            Phi = as_real_array(getattr(self, name), name, ndim=4)
            check_shape(Phi, (S, A1, A2, n), name, "(S, A1, A2, n)")
            check_finite(Phi, name)
            out[name] = Phi
        mu0 = as_real_array(self.mu0, "mu0", ndim=1)
        check_shape(mu0, (S,), "mu0", "(S,)")
        check_nonnegative(mu0, "mu0")
        check_rows_sum_to_one(np.array([mu0.sum()]), "mu0", ())
        out.update(mu0=mu0, gamma=as_discount(self.gamma, "gamma"),
                   tau1=as_temperature(self.tau1, "tau1"), tau2=as_temperature(self.tau2, "tau2"))
        for k, v in out.items():
            object.__setattr__(self, k, v)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(S, A1, A2, n)."""
        return (*(int(k) for k in self.P.shape[:3]), int(self.Phi1.shape[3]))

    def rewards(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(r1(x), r2(x)), each (S, A1, A2)."""
        x = np.asarray(x, dtype=float)
        if x.shape != (self.shape[3],) or not np.isfinite(x).all():
            raise ModelError(f"x has shape {x.shape} (or non-finite entries), expected finite "
                             f"(n,) = ({self.shape[3]},)", field="x")
        return self.r1 + self.Phi1 @ x, self.r2 + self.Phi2 @ x


@dataclass(frozen=True, eq=False)
class QREResult:
    r"""A Markov QRE at x: ``Q1`` (S, A1), ``Q2`` (S, A2), policies ``pi1``, ``pi2``;
    ``residual`` :math:`=\|\Psi(z)-z\|_\infty` (the certificate of the fixed point) and
    ``error_estimate`` :math:`=\|(I-D_z\Psi)^{-1}\|_\infty\cdot` residual (first order)."""

    game: QREGame
    x: np.ndarray
    Q1: np.ndarray
    Q2: np.ndarray
    pi1: np.ndarray
    pi2: np.ndarray
    residual: float
    error_estimate: float
    iterations: int

    def best_response_gap(self) -> float:
        r"""Independent check: :math:`\max_i\|Q_i-Q_i^{BR}\|_\infty`, where :math:`Q_i^{BR}` is
        the soft-optimal Q of player i in the MDP induced by the other's policy (solved by
        soft policy iteration); 0 at an exact QRE."""
        g = self.game
        r1, r2 = g.rewards(self.x)
        P1 = np.einsum("sb,sabk->sak", self.pi2, g.P)
        m1 = TabularMDP(P1, (self.pi2[:, None, :] * r1).sum(axis=2), g.mu0, gamma=g.gamma)
        P2 = np.einsum("sa,sabk->sbk", self.pi1, g.P)
        m2 = TabularMDP(P2, (self.pi1[:, :, None] * r2).sum(axis=1), g.mu0, gamma=g.gamma)
        b1 = soft_policy_iteration(m1, g.tau1, 1e-12).require()
        b2 = soft_policy_iteration(m2, g.tau2, 1e-12).require()
        return max(float(np.abs(b1.Q - self.Q1).max()), float(np.abs(b2.Q - self.Q2).max()))


def _policies(g: QREGame, Q1: np.ndarray, Q2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return boltzmann_policy(Q1, g.tau1), boltzmann_policy(Q2, g.tau2)


def _W(g: QREGame, r1: np.ndarray, r2: np.ndarray, Q1: np.ndarray,
       Q2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    W1 = r1 + g.gamma * (g.P @ logsumexp_value(Q1, g.tau1))
    W2 = r2 + g.gamma * (g.P @ logsumexp_value(Q2, g.tau2))
    return W1, W2


def _psi(g: QREGame, r: tuple, Q1: np.ndarray, Q2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pi1, pi2 = _policies(g, Q1, Q2)
    W1, W2 = _W(g, *r, Q1, Q2)
    return np.einsum("sab,sb->sa", W1, pi2), np.einsum("sab,sa->sb", W2, pi1)


def _dpsi(g: QREGame, r: tuple, Q1: np.ndarray, Q2: np.ndarray,
          coupled: bool = True) -> np.ndarray:
    r""":math:`D_z\Psi`, shape (S(A1+A2), S(A1+A2)), z = (Q1.ravel(), Q2.ravel())."""
    S, A1, A2, _ = g.shape
    pi1, pi2 = _policies(g, Q1, Q2)
    W1, W2 = _W(g, *r, Q1, Q2)
    n1 = S * A1
    D = np.zeros((S * (A1 + A2),) * 2)
    K1 = g.gamma * np.einsum("sb,sabk->sak", pi2, g.P)  # (S, A1, S')
    D[:n1, :n1] = (K1[..., None] * pi1[None, None]).reshape(n1, n1)
    K2 = g.gamma * np.einsum("sa,sabk->sbk", pi1, g.P)  # (S, A2, S')
    D[n1:, n1:] = (K2[..., None] * pi2[None, None]).reshape(S * A2, S * A2)
    if coupled:
        c12 = pi2[:, None, :] * (W1 - np.einsum("sab,sb->sa", W1, pi2)[..., None]) / g.tau2
        c21 = pi1[:, None, :] * (W2 - np.einsum("sab,sa->sb", W2, pi1)[:, None, :]).transpose(
            0, 2, 1) / g.tau1  # (S, A2, A1)
        for s in range(S):
            D[s * A1:(s + 1) * A1, n1 + s * A2:n1 + (s + 1) * A2] = c12[s]
            D[n1 + s * A2:n1 + (s + 1) * A2, s * A1:(s + 1) * A1] = c21[s]
    return D


def solve_qre(game: QREGame, x: np.ndarray, tol: float = QRE_TOL, damping: float = 0.5,
              max_iter: int = 20_000) -> QREResult:
    r"""Markov QRE by damped iteration :math:`z\leftarrow z+\alpha(\Psi(z)-z)` polished by
    Newton steps :math:`z\leftarrow z-(I-D_z\Psi)^{-1}(z-\Psi(z))` once the residual is below
    1e-4. Stops when :math:`\|\Psi(z)-z\|_\infty\le` ``tol``; raises ConvergenceError otherwise
    (e.g. several equilibria at small temperatures and a cycling iteration)."""
    if not 0.0 < damping <= 1.0:
        raise ModelError(f"damping = {damping!r}, expected 0 < damping <= 1", field="damping")
    S, A1, A2, _ = game.shape
    r = game.rewards(x)
    Q1, Q2 = np.zeros((S, A1)), np.zeros((S, A2))
    res = np.inf
    k = 0
    for k in range(1, max_iter + 1):  # noqa: B007 (k is the iteration count)
        T1, T2 = _psi(game, r, Q1, Q2)
        res = max(float(np.abs(T1 - Q1).max()), float(np.abs(T2 - Q2).max()))
        if res <= tol:
            break
        if res < 1e-4:
            D = _dpsi(game, r, Q1, Q2)
            step = np.linalg.solve(np.eye(D.shape[0]) - D,
                                   np.concatenate([(T1 - Q1).ravel(), (T2 - Q2).ravel()]))
            Q1, Q2 = Q1 + step[:S * A1].reshape(S, A1), Q2 + step[S * A1:].reshape(S, A2)
        else:
            Q1, Q2 = Q1 + damping * (T1 - Q1), Q2 + damping * (T2 - Q2)
    else:
        raise ConvergenceError(f"Markov QRE iteration did not reach ||Psi(z) - z||_inf <= "
                               f"{tol:g} in {max_iter} iterations (residual {res:.3g}, tau1 = "
                               f"{game.tau1:g}, tau2 = {game.tau2:g}); raise the temperatures "
                               "or lower damping")
    D = _dpsi(game, r, Q1, Q2)
    inv_norm = float(np.abs(np.linalg.inv(np.eye(D.shape[0]) - D)).sum(axis=1).max())
    pi1, pi2 = _policies(game, Q1, Q2)
    return QREResult(game, np.asarray(x, float), Q1, Q2, pi1, pi2, res, inv_norm * res, k)


def qre_jacobian(game: QREGame, x: np.ndarray, coupled: bool = True,
                 eq: QREResult | None = None) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`(d\pi_1/dx, d\pi_2/dx)`, shapes (S, A1, n), (S, A2, n), by one linear solve
    :math:`(I-D_z\Psi)^{-1}D_x\Psi`; ``coupled=False`` drops the cross blocks (the naive
    single-player formula)."""
    eq = eq or solve_qre(game, x)
    S, A1, A2, n = game.shape
    r = game.rewards(x)
    D = _dpsi(game, r, eq.Q1, eq.Q2, coupled)
    Dx = np.concatenate([np.einsum("sabn,sb->san", game.Phi1, eq.pi2).reshape(S * A1, n),
                         np.einsum("sabn,sa->sbn", game.Phi2, eq.pi1).reshape(S * A2, n)])
    dz = np.linalg.solve(np.eye(D.shape[0]) - D, Dx)
    out = []
    for pi, dQ, tau in ((eq.pi1, dz[:S * A1].reshape(S, A1, n), game.tau1),
                        (eq.pi2, dz[S * A1:].reshape(S, A2, n), game.tau2)):
        out.append(pi[..., None] * (dQ - np.einsum("sa,san->sn", pi, dQ)[:, None]) / tau)
    return out[0], out[1]


def _designer_solve(game: QREGame, pi1: np.ndarray, pi2: np.ndarray, r_D: np.ndarray,
                    gamma_D: float) -> tuple[np.ndarray, np.ndarray]:
    joint = pi1[:, :, None] * pi2[:, None, :]
    P_pi = np.einsum("sab,sabk->sk", joint, game.P)
    r_pi = (joint * r_D).sum(axis=(1, 2))
    V = np.linalg.solve(np.eye(game.shape[0]) - gamma_D * P_pi, r_pi)
    return V, P_pi


def designer_value(game: QREGame, x: np.ndarray, r_D: np.ndarray, gamma_D: float) -> float:
    r"""Designer's value :math:`F(x)=\mu_0^\top V_D` under the QRE at x (unscaled)."""
    eq = solve_qre(game, x)
    return float(game.mu0 @ _designer_solve(game, eq.pi1, eq.pi2, r_D, gamma_D)[0])


def designer_hypergradient(game: QREGame, x: np.ndarray, r_D: np.ndarray, gamma_D: float,
                           coupled: bool = True) -> np.ndarray:
    r""":math:`\nabla F(x)=\sum_s\bar d_D(s)\sum_{a_1,a_2}(\dot\pi_1\pi_2+\pi_1\dot\pi_2)
    Q_D(s,a_1,a_2)`, (n,), with :math:`\bar d_D=\mu_0^\top(I-\gamma_DP_\pi)^{-1}` and
    :math:`Q_D=r_D+\gamma_DPV_D` (coupled implicit differentiation)."""
    gamma_D = as_discount(gamma_D, "gamma_D")
    r_D = as_real_array(r_D, "r_D", ndim=3)
    check_shape(r_D, game.shape[:3], "r_D", "(S, A1, A2)")
    eq = solve_qre(game, x)
    d1, d2 = qre_jacobian(game, x, coupled, eq)
    V, P_pi = _designer_solve(game, eq.pi1, eq.pi2, r_D, gamma_D)
    dbar = np.linalg.solve((np.eye(game.shape[0]) - gamma_D * P_pi).T, game.mu0)
    Q_D = r_D + gamma_D * (game.P @ V)
    dj = d1[:, :, None, :] * eq.pi2[:, None, :, None] + eq.pi1[:, :, None, None] * d2[:, None]
    return np.einsum("s,sabn,sab->n", dbar, dj, Q_D)
