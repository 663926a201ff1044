r"""Stackelberg Markov games with a quantal-responding follower (bilevel notes §1.6, §2.4).

Per step the leader draws :math:`a^L=l\sim\pi_x(l|s)`, the follower observes it and plays
:math:`a^F=f\sim\pi_F(f|s,l)`, the state moves by :math:`P(s'|s,l,f)`; rewards
:math:`r_F(s,l,f)` (follower) and :math:`r_U(s,l,f)` (leader). The follower is an
entropy-regularised (temperature :math:`\tau`) agent on the augmented state :math:`(s,l)`,
whose kernel contains the leader policy:

.. math::
    \tilde P\big((s',l')\,|\,(s,l),f\big)=P(s'|s,l,f)\,\pi_x(l'|s'),\qquad
    \pi_F(f|s,l)=\exp\big((Q_F(s,l,f)-V_F(s,l))/\tau\big).

So the follower's problem is a :class:`~solvers.configurable_mdp.ConfigurableMDP` with a
kernel parameterised by x (:class:`LeaderPolicyKernel`), and the hypergradient reuses
:func:`~solvers.hypergradient.bilevel_point`; the only extra piece is the initial
distribution :math:`\mu_0(s)\pi_x(l|s)`, which also depends on x. The leader objective (a
value :math:`E[\sum_t\gamma_U^tr_U]`, not scaled by :math:`1-\gamma_U`) and its gradient:

.. math::
    J_U(x)=\sum_{s,l}\mu_0(s)\pi_x(l|s)V_U(s,l),\qquad
    \nabla J_U=\underbrace{\sum_t\gamma_U^tE\big[\nabla\log\pi_x(l_t|s_t)Q_U(s_t,l_t)\big]}_{
    \text{direct (Naive-PGD)}}
    +\frac1\tau\sum_t\gamma_U^tE\big[B(s_t,l_t,f_t)\,\nabla_xQ_F(s_t,l_t,f_t)\big],

with :math:`Q_U(s,l)=\sum_f\pi_FQ_U(s,l,f)`, benefit :math:`B=Q_U(s,l,f)-Q_U(s,l)`.

Two follower Bellman operators (§2.4) are available for the *objective*:
``"consistent"`` (default; Stackelberg-consistent, :math:`W(s')=\sum_{l'}\pi_x(l'|s')
\tau\log\sum_f e^{Q(s',l',f)/\tau}`) and ``"code"`` (BC-HG's ``SoftQIteration``:
:math:`W(s')=\tau\log\sum_f\exp(\sum_{l'}\pi_x(l'|s')Q(s',l',f)/\tau)`). Both are
:math:`\gamma_F`-contractions. The hypergradient is that of the consistent operator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .configurable_mdp import ConfigurableMDP, LinearReward
from .errors import ModelError
from .hypergradient import EXACT_METHODS, BilevelPoint, bilevel_point
from .soft_dp import SOFT_TOL, ConvergenceError, as_temperature, boltzmann_policy, logsumexp_value
from .tolerances import EPS
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

__all__ = ["OPERATORS", "FollowerSolution", "LeaderPolicyKernel", "SoftmaxTableLeader",
           "StackelbergGame", "StackelbergPoint", "follower_mdp", "leader_value",
           "naive_direct_gradient", "solve_follower",
           "stackelberg_hypergradient", "stackelberg_objective", "stackelberg_point"]

OPERATORS = ("consistent", "code")


@dataclass(frozen=True, eq=False)
class StackelbergGame:
    r"""Two-player Stackelberg Markov game (notes §1.6).

    Parameters
    ----------
    P : ndarray (S, L, F, S)
        Kernel :math:`P(s'|s,l,f)`, rows summing to 1.
    r_F, r_U : ndarray (S, L, F)
        Follower and leader rewards.
    mu0 : ndarray (S,)
    gamma_F, gamma_U : float in [0, 1)
    tau : float > 0
        Follower temperature.
    """

    P: np.ndarray
    r_F: np.ndarray
    r_U: np.ndarray
    mu0: np.ndarray
    gamma_F: float
    gamma_U: float
    tau: float

    def __post_init__(self) -> None:
        P = as_game_kernel(self.P, "(S, L, F, S)")
        S, L, F, _ = P.shape
        out = {"P": P, **as_game_rewards({"r_F": self.r_F, "r_U": self.r_U}, (S, L, F),
                                         "(S, L, F)")}
        mu0 = as_real_array(self.mu0, "mu0", ndim=1)
        check_shape(mu0, (S,), "mu0", "(S,)")
        check_finite(mu0, "mu0")
        check_nonnegative(mu0, "mu0")
        check_rows_sum_to_one(np.array([mu0.sum()]), "mu0", ())
        out.update(mu0=mu0, gamma_F=as_discount(self.gamma_F, "gamma_F"),
                   gamma_U=as_discount(self.gamma_U, "gamma_U"), tau=as_temperature(self.tau))
        for k, v in out.items():
            object.__setattr__(self, k, v)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(S, L, F): states, leader actions, follower actions."""
        return tuple(int(k) for k in self.P.shape[:3])


@dataclass(frozen=True)
class SoftmaxTableLeader:
    r"""Leader policy :math:`\pi_x(l|s)=\mathrm{softmax}_l(x_{s,l})`, x of shape (S*L,) (C order).

    Score :math:`\partial\log\pi_x(l|s)/\partial x_{s',l'}=\delta_{ss'}(\delta_{ll'}-\pi_x(l'|s))`.
    """

    S: int
    L: int

    @property
    def n(self) -> int:
        """Number of leader parameters S * L."""
        return self.S * self.L

    def _x(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if x.shape != (self.n,) or not np.isfinite(x).all():
            raise ModelError(f"x has shape {x.shape} (or non-finite entries), expected finite "
                             f"(S*L,) = ({self.n},)", field="x")
        return x

    def policy(self, x: np.ndarray) -> np.ndarray:
        """pi_x, shape (S, L)."""
        return boltzmann_policy(self._x(x).reshape(self.S, self.L), 1.0)

    def score(self, x: np.ndarray) -> np.ndarray:
        r""":math:`\nabla_x\log\pi_x(l|s)`, shape (S, L, n); ModelError if some
        :math:`\pi_x(l|s)=0` (then :math:`\log\pi=-\infty` and the score is undefined)."""
        pi = self.policy(x)
        require_positive_policy(pi)
        out = np.zeros((self.S, self.L, self.S, self.L))
        idx = np.arange(self.S)
        out[idx, :, idx, :] = np.eye(self.L)[None] - pi[:, None, :]
        return out.reshape(self.S, self.L, self.n)


def require_positive_policy(pi_L: np.ndarray, field: str = "pi_L") -> None:
    """Raise ModelError naming the first zero of a leader policy used in a score function."""
    zero = pi_L <= 0
    if zero.any():
        s, l = np.argwhere(zero)[0]
        raise ModelError(f"{field}[{s}, {l}] = {pi_L[s, l]:g}: the score grad log pi_x(l|s) "
                         "needs log pi = -inf there, expected a leader policy with full "
                         "support (bound the logits x)", field=field)


# -- the follower ---------------------------------------------------------------------------
def follower_mdp(game: StackelbergGame, pi_L: np.ndarray) -> dict:
    r"""The follower's augmented MDP at leader policy ``pi_L`` (S, L).

    Returns ``{"P": (S*L, F, S*L), "r_F", "r_U": (S*L, F), "mu0": (S*L,)}`` with augmented
    state index ``s*L + l``, :math:`\tilde P=P(s'|s,l,f)\pi_L(l'|s')` and initial
    :math:`\mu_0(s)\pi_L(l|s)`.
    """
    S, L, F = game.shape
    pi_L = _leader_policy(pi_L, S, L)
    Pt = game.P[..., None] * pi_L[None, None, None]
    return {"P": Pt.reshape(S * L, F, S * L),
            "r_F": game.r_F.reshape(S * L, F), "r_U": game.r_U.reshape(S * L, F),
            "mu0": (game.mu0[:, None] * pi_L).ravel()}


@dataclass(frozen=True, eq=False)
class FollowerSolution:
    r"""Follower soft Q (S, L, F), policy (S, L, F), values ``V`` (S, L) (log-sum-exp of Q),
    with certificate ``error_bound`` :math:`\ge\|Q-Q^\star\|_\infty` (residual/(1-gamma_F))."""

    operator: str
    Q: np.ndarray
    pi_F: np.ndarray
    V: np.ndarray
    residual: float
    error_bound: float
    iterations: int


def _backup(game: StackelbergGame, pi_L: np.ndarray, Q: np.ndarray, operator: str) -> np.ndarray:
    tau = game.tau
    if operator == "consistent":
        W = (pi_L * logsumexp_value(Q, tau)).sum(axis=1)
    else:
        W = logsumexp_value(np.einsum("sl,slf->sf", pi_L, Q), tau)
    return game.r_F + game.gamma_F * (game.P @ W)


def solve_follower(game: StackelbergGame, pi_L: np.ndarray, operator: str = "consistent",
                   tol: float | None = SOFT_TOL, max_iter: int = 1_000_000) -> FollowerSolution:
    r"""Soft Q-iteration :math:`Q\leftarrow r_F+\gamma_FPW_Q` with a certified stop (§2.4).

    ``operator`` "consistent": :math:`W(s)=\sum_l\pi_L(l|s)\,\tau\log\sum_fe^{Q(s,l,f)/\tau}`;
    "code": :math:`W(s)=\tau\log\sum_f\exp(\sum_l\pi_L(l|s)Q(s,l,f)/\tau)`. Both are
    :math:`\gamma_F`-contractions (log-sum-exp and averaging are 1-Lipschitz in sup norm), so
    a step residual :math:`\varepsilon` certifies :math:`\|Q_{k+1}-Q^\star\|\le
    \gamma_F\varepsilon/(1-\gamma_F)`. Raises ConvergenceError if ``tol`` is not reached.
    The follower plays :math:`\pi_F=\mathrm{softmax}_f(Q(s,l,\cdot)/\tau)` under both.
    ``tol=None`` asks for the tightest reachable: max(1e-12, 10x the rounding floor).
    """
    if operator not in OPERATORS:
        raise ModelError(f"operator = {operator!r}, expected one of {OPERATORS}", field="operator")
    S, L, F = game.shape
    pi_L = _leader_policy(pi_L, S, L)
    g = game.gamma_F
    if tol is None:  # a-priori floor at ||Q*|| <= (max|r_F| + tau log F) / (1 - gamma_F)
        vmax = (float(np.abs(game.r_F).max()) + game.tau * np.log(F)) / (1 - g)
        tol = max(1e-12, 10 * (F + S + 4) * EPS * (1 + vmax) / (1 - g))
    Q = np.zeros((S, L, F))
    k = 0
    for k in range(1, max_iter + 1):  # noqa: B007 (k is the iteration count)
        Qn = _backup(game, pi_L, Q, operator)
        eps = float(np.abs(Qn - Q).max())
        Q = Qn
        # rounding of one backup ~ (F + S + 4) eps_machine * |Q|, amplified by 1/(1-g)
        floor = (F + S + 4) * EPS * (1 + float(np.abs(Q).max())) / (1 - g)
        if g * eps / (1 - g) + floor <= tol:
            break
        if floor > tol / 2:
            raise ConvergenceError(f"tol = {tol:g} is below the rounding floor {floor:.3g} of "
                                   f"the follower's soft Q-iteration; pass tol=None")
    else:
        raise ConvergenceError(f"follower soft Q-iteration ({operator}) did not reach tol = "
                               f"{tol:g} in {max_iter} iterations (tau = {game.tau:g})")
    res = float(np.abs(_backup(game, pi_L, Q, operator) - Q).max())
    return FollowerSolution(operator, Q, boltzmann_policy(Q, game.tau),
                            logsumexp_value(Q, game.tau), res,
                            min(res, g * eps) / (1 - g) + floor, k)


def leader_value(game: StackelbergGame, pi_L: np.ndarray, pi_F: np.ndarray,
                 horizon: int | None = None, gamma: float | None = None) -> float:
    r"""Leader value :math:`E[\sum_t\gamma^tr_U(s_t,l_t,f_t)]` from :math:`s_0\sim\mu_0`.

    Infinite horizon (default, :math:`\gamma=\gamma_U`): one S x S solve
    :math:`(I-\gamma P_\pi)V=r_\pi`. With ``horizon`` H: exact forward propagation of the
    state distribution over H steps with discount ``gamma`` (1 allowed: undiscounted).
    """
    S, L, F = game.shape
    pi_L = _leader_policy(pi_L, S, L)
    check_shape(np.asarray(pi_F), (S, L, F), "pi_F", "(S, L, F)")
    w = pi_L[:, :, None] * pi_F
    P_pi = np.einsum("slf,slfk->sk", w, game.P)
    r_pi = (w * game.r_U).sum(axis=(1, 2))
    gamma = game.gamma_U if gamma is None else float(gamma)
    if horizon is None:
        return float(game.mu0 @ np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi))
    d, total = game.mu0.copy(), 0.0
    for t in range(int(horizon)):
        total += gamma ** t * float(d @ r_pi)
        d = d @ P_pi
    return total


def stackelberg_objective(game: StackelbergGame, x: np.ndarray, operator: str = "consistent",
                          leader: SoftmaxTableLeader | None = None,
                          tol: float = SOFT_TOL) -> float:
    r""":math:`J_U(x)=E[\sum_t\gamma_U^tr_U]` under :math:`\pi_x` and the follower's
    soft response for ``operator`` (value not scaled by :math:`1-\gamma_U`)."""
    leader = leader or SoftmaxTableLeader(*game.shape[:2])
    pi_L = leader.policy(x)
    return leader_value(game, pi_L, solve_follower(game, pi_L, operator, tol).pi_F)


# -- the hypergradient ----------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LeaderPolicyKernel:
    r"""The follower's augmented kernel :math:`\tilde P_x` as a kernel parameterisation for
    :class:`ConfigurableMDP`: value (SL, F, SL), score :math:`\nabla_x\log\pi_x(l'|s')` on the
    support of :math:`P`, Jacobian :math:`\tilde P\cdot\text{score}` (SL, F, SL, n)."""

    game: StackelbergGame
    leader: SoftmaxTableLeader

    def value(self, x: np.ndarray) -> np.ndarray:
        return follower_mdp(self.game, self.leader.policy(x))["P"]

    def score(self, x: np.ndarray) -> np.ndarray:
        S, L, F = self.game.shape
        sc = self.leader.score(x).reshape(1, 1, S * L, -1)
        sup = np.repeat(self.game.P > 0, L, axis=3).reshape(S * L, F, S * L, 1)
        return np.where(sup, sc, 0.0)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        return self.value(x)[..., None] * self.score(x)


@dataclass(frozen=True, eq=False)
class StackelbergPoint:
    r"""Exact quantities at x: the augmented :class:`BilevelPoint` plus the initial term
    :math:`\sum_{s,l}\mu_0(s)\nabla\pi_x(l|s)V_U(s,l)` (n,). Views of shape (S, L, F):
    ``pi_F, Q_U, B, J_Q`` (last with n); (S, L): ``pi_L, V_U, V_F``."""

    game: StackelbergGame
    leader: SoftmaxTableLeader
    x: np.ndarray
    bilevel: BilevelPoint
    initial: np.ndarray

    def _v(self, a: np.ndarray) -> np.ndarray:
        S, L = self.game.shape[:2]
        return a.reshape(S, L, *a.shape[1:])

    pi_L = property(lambda self: self.leader.policy(self.x))
    pi_F = property(lambda self: self._v(self.bilevel.pi))
    Q_U = property(lambda self: self._v(self.bilevel.Q_U))
    B = property(lambda self: self._v(self.bilevel.A_U))
    J_Q = property(lambda self: self._v(self.bilevel.J_Q))
    V_U = property(lambda self: self._v(self.bilevel.V_U))
    V_F = property(lambda self: self._v(self.bilevel.V_F))
    dbar_U = property(lambda self: self._v(self.bilevel.dbar_U))

    @property
    def F(self) -> float:
        """Leader value :math:`J_U(x)` (unscaled)."""
        return self.bilevel.F

    @property
    def direct(self) -> np.ndarray:
        r"""Naive-PGD gradient (follower frozen): :math:`\sum_t\gamma_U^tE[\nabla\log\pi_x
        Q_U(s_t,l_t)]`, (n,)."""
        return self.bilevel.direct + self.initial

    @property
    def response(self) -> np.ndarray:
        r""":math:`\frac1\tau\sum\bar d_UBJ_Q`, (n,)."""
        return self.bilevel.response

    def gradient(self, method: str = "bc") -> np.ndarray:
        """The exact hypergradient (n,) by ``method`` in ("implicit", "bc", "score")."""
        if method not in EXACT_METHODS:
            raise ModelError(f"method = {method!r}, expected one of {EXACT_METHODS}",
                             field="method")
        return self.bilevel.gradient(method) + self.initial


def stackelberg_point(game: StackelbergGame, x: np.ndarray,
                      leader: SoftmaxTableLeader | None = None,
                      tol: float | None = SOFT_TOL) -> StackelbergPoint:
    """Solve the follower (consistent operator, certified) and the leader's linear systems at x."""
    S, L, F = game.shape
    leader = leader or SoftmaxTableLeader(S, L)
    x = leader._x(x)
    pi_L = leader.policy(x)
    sc = leader.score(x)  # raises on a zero leader probability
    n = leader.n
    zero = LinearReward(np.zeros((S * L, F)), np.zeros((S * L, F, n)))
    aug = follower_mdp(game, pi_L)
    model = ConfigurableMDP(LinearReward(aug["r_F"], zero.Phi), LinearReward(aug["r_U"], zero.Phi),
                            LeaderPolicyKernel(game, leader), aug["mu0"], game.gamma_F,
                            game.gamma_U, game.tau, n)
    bp = bilevel_point(model, x, tol)
    V_U = bp.V_U.reshape(S, L)
    initial = np.einsum("s,sl,sln,sl->n", game.mu0, pi_L, sc, V_U)
    return StackelbergPoint(game, leader, x, bp, initial)


def stackelberg_hypergradient(game: StackelbergGame, x: np.ndarray, method: str = "bc",
                              leader: SoftmaxTableLeader | None = None) -> np.ndarray:
    r"""Exact :math:`\nabla J_U(x)` = direct + :math:`\frac1\tau E[B\nabla Q_F]` (§1.6), (n,),
    by linear solves (consistent operator); ``method`` picks the form of the response term."""
    return stackelberg_point(game, x, leader).gradient(method)


def naive_direct_gradient(game: StackelbergGame, x: np.ndarray,
                          leader: SoftmaxTableLeader | None = None) -> np.ndarray:
    """The direct term only (the follower frozen; Naive-PGD's gradient), (n,)."""
    return stackelberg_point(game, x, leader).direct


def _leader_policy(pi_L: np.ndarray, S: int, L: int) -> np.ndarray:
    pi_L = np.asarray(pi_L, dtype=float)
    check_shape(pi_L, (S, L), "pi_L", "(S, L)")
    check_finite(pi_L, "pi_L")
    check_nonnegative(pi_L, "pi_L")
    check_rows_sum_to_one(pi_L.sum(axis=1), "pi_L", (S,))
    return pi_L


def __getattr__(name: str):
    """Compatibility re-export: the sampler lives in :mod:`solvers.markov_game_sampling`
    (imported lazily, since that module imports this one)."""
    if name == "sampled_stackelberg_hypergradient":
        from .markov_game_sampling import sampled_stackelberg_hypergradient
        return sampled_stackelberg_hypergradient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
