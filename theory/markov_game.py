r"""Markov games for bilevel RL: Stackelberg hypergradient, Naive-PGD, Markov QRE, DiscreteToy4.

Every check compares independently computed sides: the exact Stackelberg hypergradient
(augmented configurable MDP, soft policy iteration, linear solves) against central finite
differences of the leader objective computed by a separate soft Q-iteration and an S x S
policy evaluation; Naive-PGD's direct term against those finite differences; the coupled
implicit QRE derivative against finite differences of re-solved equilibria; the sampled
estimator against the exact gradient (statistical); DiscreteToy4 against the printed table.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from solvers.markov_game import (
    SoftmaxTableLeader,
    StackelbergGame,
    leader_value,
    solve_follower,
    stackelberg_point,
)
from solvers.markov_game_sampling import sampled_stackelberg_hypergradient
from solvers.markov_qre import QREGame, designer_hypergradient, designer_value, solve_qre
from solvers.tolerances import EPS
from solvers.toy4 import discrete_toy4, toy4_profile

from .bilevel import NOTES, instance_seed, unbiasedness_evidence
from .core import Assumption, Evidence, Instance, Theorem
from .registry import register

__all__ = ["TOY4_TABLE", "game_instances", "objective_fd", "qre_instances"]

TOY4_SOURCE = ("BC-HG code (akimotolab/BC-HG, markov_game/src/envs/discrete_toy_env.py, "
               "arXiv 2603.14867); exact profile table of boundlab notes bilevel.md §3.1")


@st.composite
def game_instances(draw: st.DrawFn, max_S: int = 4, max_gamma: float = 0.9,
                   min_tau: float = 0.1, max_F: int = 3, max_L: int = 3) -> Instance:
    """Random Stackelberg games (notes §4, §6): S 2..max_S, L 2..max_L, F 2..max_F,
    Dirichlet or deterministic kernels, tau in [min_tau, 3], discounts in [0, max_gamma]."""
    S, L, F = draw(st.integers(2, max_S)), draw(st.integers(2, max_L)), draw(
        st.integers(2, max_F))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    alpha = draw(st.sampled_from([0.2, 1.0, 5.0, 0.0]))
    P = (np.eye(S)[rng.integers(0, S, (S, L, F))] if alpha == 0.0
         else rng.dirichlet(np.full(S, alpha), size=(S, L, F)))
    return {"P": P, "r_F": rng.normal(size=(S, L, F)), "r_U": rng.normal(size=(S, L, F)),
            "mu0": rng.dirichlet(np.ones(S)), "gamma_F": draw(st.floats(0.0, max_gamma)),
            "gamma_U": draw(st.floats(0.0, max_gamma)), "tau": draw(st.floats(min_tau, 3.0)),
            "x": rng.normal(size=S * L) * 0.5}


def _game(inst: Instance) -> StackelbergGame:
    return StackelbergGame(inst["P"], inst["r_F"], inst["r_U"], inst["mu0"], inst["gamma_F"],
                           inst["gamma_U"], inst["tau"])


def _objective(game: StackelbergGame, leader: SoftmaxTableLeader, x: np.ndarray,
               ) -> tuple[float, float]:
    """J_U(x) by soft Q-iteration (consistent operator) + an S x S solve, and its error bound.

    A follower Q error eps moves the Boltzmann policy by <= 2 eps / tau in l1 per state,
    hence J_U by <= 2 eps max|Q_U| / (tau (1 - gamma_U)) (performance difference); the solve
    adds 64 S eps_machine max|Q_U| / (1 - gamma_U)^2 (LU backward error, linear_solve_tol).
    """
    pi_L = leader.policy(x)
    fol = solve_follower(game, pi_L, "consistent", tol=None)
    q = max(float(np.abs(game.r_U).max()) / (1 - game.gamma_U), 1.0)
    err = (2 * fol.error_bound * q / game.tau + 64 * game.shape[0] * EPS * q / (
        1 - game.gamma_U)) / (1 - game.gamma_U)
    return leader_value(game, pi_L, fol.pi_F), err


def objective_fd(game: StackelbergGame, x: np.ndarray, h: float,
                 directions: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Central differences of :math:`J_U` along ``directions`` (rows; default the unit
    vectors) and their error estimates: Richardson :math:`|g_h-g_{2h}|/3` + rounding/h."""
    leader = SoftmaxTableLeader(*game.shape[:2])
    E = np.eye(leader.n) if directions is None else np.atleast_2d(directions)
    g, err = np.empty(len(E)), np.empty(len(E))
    for i, e in enumerate(E):
        vals, worst = [], 0.0
        for step in (h, -h, 2 * h, -2 * h):
            v, er = _objective(game, leader, x + step * e)
            vals.append(v)
            worst = max(worst, er)
        g[i] = (vals[0] - vals[1]) / (2 * h)
        err[i] = abs(g[i] - (vals[2] - vals[3]) / (4 * h)) / 3 + worst / h
    return g, err


def _exact_tol(game: StackelbergGame, scale: float, size: int) -> float:
    # Conditioning 1/(tau (1-gamma_U)^2 (1-gamma_F)) (notes §6): LU solves with I - gamma M
    # (||inverse||_inf <= 1/(1-gamma)), chained through J_Q and the 1/tau of the covariance;
    # backward-stable LU gives ~ size * eps relative per solve, 1e3 covers growth and sums.
    return 1e3 * size * EPS * max(scale, 1.0) / (
        game.tau * (1 - game.gamma_U) ** 2 * (1 - game.gamma_F))


# -- markov_game.stackelberg_hypergradient -----------------------------------------------------
def _check_hypergradient(inst: Instance) -> Evidence:
    game = _game(inst)
    pt = stackelberg_point(game, inst["x"], tol=None)
    g = pt.gradient("bc")
    # h ~ cube root of the objective error (~1e-11 / tau): balances truncation and rounding
    fd, err = objective_fd(game, inst["x"], h=1e-4)
    tol = 10 * float(err.max()) + _exact_tol(game, float(np.abs(pt.Q_U).max()), pt.Q_U.size)
    return Evidence(float(np.abs(g - fd).max()), 0.0, "==", tol=tol, details={
        "max_abs_grad": float(np.abs(g).max()), "fd_error_estimate": float(err.max()),
        "score_vs_bc": float(np.abs(pt.gradient("score") - g).max())})


register(Theorem(
    id="markov_game.stackelberg_hypergradient",
    source=f"{NOTES}, §1.6, §2.4",
    statement=r"\nabla_xJ_U=\sum_t\gamma_U^tE[\nabla\log\pi_x(l_t|s_t)Q_U(s_t,l_t)]+\frac1\tau"
              r"\sum_t\gamma_U^tE[B(s_t,l_t,f_t)\nabla_xQ_F(s_t,l_t,f_t)]",
    summary="Stackelberg hypergradient (direct + benefit x follower-Q gradient / tau) equals "
            "finite differences of the leader objective (consistent operator)",
    instances=lambda: game_instances(max_S=3),
    check=_check_hypergradient,
))


# -- markov_game.naive_pgd_bias_bound ------------------------------------------------------------
def _check_bias_bound(inst: Instance) -> Evidence:
    game = _game(inst)
    pt = stackelberg_point(game, inst["x"], tol=None)
    fd, err = objective_fd(game, inst["x"], h=1e-4)
    lhs = float(np.linalg.norm(fd - pt.direct))
    half_range = (pt.Q_U.max(axis=2) - pt.Q_U.min(axis=2)) / 2
    J = pt.J_Q
    diam = np.linalg.norm(J[:, :, :, None] - J[:, :, None], axis=4).max(axis=(2, 3))
    rhs = float((pt.dbar_U.sum(axis=2) * half_range * diam).sum()) / game.tau
    tol = 10 * float(np.linalg.norm(err)) + _exact_tol(game, max(rhs, 1.0), pt.Q_U.size)
    g = pt.gradient()
    cos = float(g @ pt.direct / max(np.linalg.norm(g) * np.linalg.norm(pt.direct), 1e-300))
    return Evidence(lhs, rhs, "<=", tol=tol, details={"cos_direct_true": cos})


register(Theorem(
    id="markov_game.naive_pgd_bias_bound",
    source=f"{NOTES}, §1.6, §2.6 (applied to the augmented state (s, l))",
    statement=r"\|\nabla J_U-g_{\text{direct}}\|_2\le\frac1\tau\sum_{s,l}\bar d_U(s,l)\,"
              r"\frac{\mathrm{range}_fQ_U(s,l,\cdot)}{2}\max_{f,f'}\|J_Q(s,l,f)-J_Q(s,l,f')\|_2",
    summary="Naive-PGD's bias (finite-difference gradient minus direct term) obeys the "
            "per-state covariance bound",
    instances=lambda: game_instances(max_S=3),
    check=_check_bias_bound,
))


# -- markov_game.naive_pgd_bias (witnesses on DiscreteToy4) ----------------------------------------
#: (R, p): points where the notes say the frozen-follower gradient points the wrong way:
#: R2 just below its cliff (p = 0.55) and R1 past its optimum (p = 0.3).
NAIVE_WITNESSES = ((2, 0.55), (1, 0.3))


def _toy4_x(p: float) -> np.ndarray:
    x = np.zeros(6)
    x[2:4] = np.log([1 - p, p])  # leader logits at A; S and B do not matter
    return x


def _check_naive_sign(inst: Instance) -> Evidence:
    game = discrete_toy4(inst["R"])
    x = _toy4_x(inst["p"])
    e = np.zeros(6)
    e[2:4] = (-0.5, 0.5)  # d/d logit(p) at A
    naive = float(stackelberg_point(game, x).direct @ e)
    # h = 1e-3: tau = 0.05 and gamma = 0.99 make the objective's rounding bound ~1e-6, so a
    # larger step keeps rounding / h small; Richardson estimates the truncation.
    fd, err = objective_fd(game, x, h=1e-3, directions=e)
    # conservative: move the finite difference by its error estimate towards naive's sign,
    # so lhs <= 0 certifies opposite signs of the naive and the true derivative.
    lhs = naive * float(fd[0]) + abs(naive) * 10 * float(err[0])
    return Evidence(lhs, 0.0, "<=", details={"naive": naive, "true_fd": float(fd[0]),
                                             "fd_error": float(err[0])})


register(Theorem(
    id="markov_game.naive_pgd_bias",
    source=f"{NOTES}, §1.9, §3.1 (Naive-PGD pushes p past the cliff)",
    statement=r"\exists\ \text{games}:\ \langle g_{\text{direct}},e\rangle\,\langle\nabla J_U,e"
              r"\rangle<0\ \text{(DiscreteToy4, }e=\partial/\partial\,\mathrm{logit}\,p)",
    summary="on DiscreteToy4 (R2 at p = 0.55, R1 at p = 0.3; leader value discounted 0.99, "
            "infinite horizon) the direct-only gradient has the wrong sign",
    instances=lambda: st.sampled_from([{"R": R, "p": p} for R, p in NAIVE_WITNESSES]),
    check=_check_naive_sign,
))


# -- markov_game.qre_hypergradient ---------------------------------------------------------------
@st.composite
def qre_instances(draw: st.DrawFn) -> Instance:
    """Random QRE games: S 2..3, A1, A2 2..3, n 1..3, tau_i in [0.5, 3], gamma <= 0.9."""
    S, A1, A2 = (draw(st.integers(2, 3)) for _ in range(3))
    n = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sh = (S, A1, A2)
    return {"P": rng.dirichlet(np.ones(S), size=sh), "r1": rng.normal(size=sh),
            "r2": rng.normal(size=sh), "Phi1": rng.normal(size=(*sh, n)),
            "Phi2": rng.normal(size=(*sh, n)), "mu0": rng.dirichlet(np.ones(S)),
            "gamma": draw(st.floats(0.0, 0.9)), "tau1": draw(st.floats(0.5, 3.0)),
            "tau2": draw(st.floats(0.5, 3.0)), "r_D": rng.normal(size=sh),
            "gamma_D": draw(st.floats(0.0, 0.9)), "x": rng.normal(size=n) * 0.5}


def _qre_game(inst: Instance) -> QREGame:
    return QREGame(*(inst[k] for k in ("P", "r1", "r2", "Phi1", "Phi2", "mu0", "gamma",
                                       "tau1", "tau2")))


def _check_qre(inst: Instance) -> Evidence:
    game, x, rD, gD = _qre_game(inst), inst["x"], inst["r_D"], inst["gamma_D"]
    g = designer_hypergradient(game, x, rD, gD)
    h = 1e-4
    fd, fd2 = np.empty_like(g), np.empty_like(g)
    worst = 0.0
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h
        v = [designer_value(game, x + s * e, rD, gD) for s in (1, -1, 2, -2)]
        worst = max(worst, solve_qre(game, x + e).error_estimate)
        fd[i], fd2[i] = (v[0] - v[1]) / (2 * h), (v[2] - v[3]) / (4 * h)
    q = max(float(np.abs(rD).max()) / (1 - gD), 1.0)
    tmin = min(game.tau1, game.tau2)
    # an equilibrium Q error delta moves each policy by <= 2 delta / tau in l1, the value by
    # <= 4 delta q / (tau (1 - gamma_D)); the S x S solve adds 64 S eps q / (1 - gamma_D)
    rounding = (4 * worst * q / tmin + 64 * game.shape[0] * EPS * q) / (1 - gD) / h
    tol = 10 * (float(np.abs(fd - fd2).max()) / 3 + rounding) + 1e4 * EPS * q / (
        tmin * (1 - game.gamma) * (1 - gD))
    return Evidence(float(np.abs(g - fd).max()), 0.0, "==", tol=tol, details={
        "max_abs_grad": float(np.abs(g).max()),
        "uncoupled_error": float(np.abs(designer_hypergradient(game, x, rD, gD, False)
                                        - fd).max())})


def _qre_unique_and_converges(inst: Instance) -> bool:
    # the damped iteration from zero must certify a fixed point (ConvergenceError otherwise)
    try:
        solve_qre(_qre_game(inst), inst["x"])
    except RuntimeError:
        return False
    return True


register(Theorem(
    id="markov_game.qre_hypergradient",
    source="derived (boundlab notes, bilevel.md §2.4: Markov QRE, coupled implicit "
           "differentiation); logit QRE of McKelvey & Palfrey 1995",
    statement=r"\frac{d\pi}{dx}=(I-D_\pi\Phi)^{-1}D_x\Phi\ \Rightarrow\ \nabla F(x)="
              r"\sum_s\bar d_D(s)\sum_{a_1,a_2}\nabla(\pi_1\pi_2)Q_D=\nabla F_{\text{FD}}",
    summary="the coupled implicit derivative of a Markov QRE gives the designer's gradient "
            "(equals finite differences of re-solved equilibria)",
    instances=qre_instances,
    check=_check_qre,
    assumptions=(Assumption("qre_converges", _qre_unique_and_converges,
                            "the damped/Newton QRE iteration certifies a fixed point"),),
))


# -- markov_game.toy4_profile ---------------------------------------------------------------------
_P_GRID = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
_R1 = (26.22, 27.05, 27.29, 27.18, 26.06, 22.49, 14.95, 6.42, 1.90, 0.48, 0.12, 0.03, 0.01,
       0.00, 0.00)
_R2 = (50.00, 52.06, 52.96, 53.90, 54.88, 55.88, 56.93, 58.00, 59.06, 59.75, 57.74, 41.46,
       10.61, 1.13, 0.10)
#: Rows (kind, R, p, operator, printed value) of notes §3.1: the profile (consistent
#: operator), "p >= 0.8" entries (0.00 for R1, <= 0.01 for R2), the optima (value and
#: location) and the code-operator values.
TOY4_TABLE = (
    *(("value", 1, p, "consistent", v) for p, v in zip(_P_GRID, _R1, strict=True)),
    *(("value", 2, p, "consistent", v) for p, v in zip(_P_GRID, _R2, strict=True)),
    *(("at_most", R, p, "consistent", v) for R, v in ((1, 0.0), (2, 0.01))
      for p in (0.8, 0.9, 1.0)),
    ("max", 1, 0.166, "consistent", 27.32), ("max", 2, 0.503, "consistent", 59.75),
    ("value", 2, 0.55, "code", 55.53), ("value", 1, 0.15, "code", 27.25),
    ("value", 1, 0.0, "code", 26.22), ("value", 2, 0.0, "code", 50.00),
)
#: Half a unit of the printed last digit, plus the solve error (follower certified to 1e-10,
#: moving a 150-step return by < 1e-6).
HALF_CENT = 0.005 + 1e-6
#: Brackets containing the printed optima (grid neighbours in the table).
_BRACKETS = {1: (0.1, 0.2), 2: (0.45, 0.55)}


def _check_toy4(inst: Instance) -> Evidence:
    kind, R, p, op, printed = inst["row"]
    if kind == "value":
        return Evidence(toy4_profile(R, p, op), printed, "==", tol=HALF_CENT)
    if kind == "at_most":
        return Evidence(toy4_profile(R, p, op), printed, "<=", tol=HALF_CENT)
    res = minimize_scalar(lambda q: -toy4_profile(R, q, op), bounds=_BRACKETS[R],
                          method="bounded", options={"xatol": 1e-5})
    # the value must round to the printed optimum and the maximiser to the printed 3 decimals
    # (0.0005 + the search's xatol)
    off = abs(res.x - p) - 5e-4 - 1e-5
    return Evidence(-res.fun, printed, "==", tol=HALF_CENT if off <= 0 else -1.0, details={
        "argmax": float(res.x), "printed_argmax": p})


register(Theorem(
    id="markov_game.toy4_profile",
    source=TOY4_SOURCE,
    statement=r"J(p)=\sum_{t<150}\gamma_U^tE[r_U]\ (\gamma_U=0.99\text{ R1},\ 1\text{ R2})"
              r"\ \text{equals the table of §3.1 to 2 decimals; }\max J=27.32\ (p\approx0.166),"
              r"\ 59.75\ (p\approx0.503)",
    summary="DiscreteToy4 R1/R2 exact profile (Stackelberg-consistent operator; code-operator "
            "values 55.53 and 27.25) matches the printed table",
    instances=lambda: st.sampled_from([{"row": r} for r in TOY4_TABLE]),
    check=_check_toy4,
    tight=True,
))


# -- markov_game.stackelberg_estimator_unbiased ----------------------------------------------------
N_UNBIASED = 3000
#: Smallest normalised leader occupancy (1 - gamma_U) dbar_U(s, l, f) for the z-test: with
#: N = 3000 every triple is visited >= 60 times in expectation, so the z statistic is close
#: to normal (a rare triple with a large sample contribution breaks the approximation, not
#: the unbiasedness; same reasoning as bilevel.bchg_estimator_unbiased).
MIN_OCCUPANCY = 0.02


def _check_unbiased(inst: Instance) -> Evidence:
    game = _game(inst)
    pt = stackelberg_point(game, inst["x"])
    seed = instance_seed(inst["x"])
    sg = sampled_stackelberg_hypergradient(game, inst["x"], N_UNBIASED,
                                           np.random.default_rng(seed), point=pt)
    # Two-sided Bonferroni over the n = S*L components at family-wise level alpha = 1e-6
    # (theory.bilevel.ALPHA): with 25-200 instances per run, P(any false alarm) <= 2e-4.
    return unbiasedness_evidence(sg, pt.gradient("bc"), seed)


def _occupancy_not_rare(inst: Instance) -> bool:
    game = _game(inst)
    pt = stackelberg_point(game, inst["x"])
    return bool((1 - game.gamma_U) * pt.dbar_U.min() >= MIN_OCCUPANCY)


register(Theorem(
    id="markov_game.stackelberg_estimator_unbiased",
    source=f"{NOTES}, §1.6 (single-trajectory influence estimator)",
    statement=r"E[\hat g]=\nabla J_U(x):\ \max_i|\bar g_i-\partial_iJ_U|/\mathrm{se}_i\le "
              r"z_{1-\alpha/(2n)},\ \alpha=10^{-6}",
    summary="the single-trajectory Stackelberg (influence) estimator is unbiased "
            "(Bonferroni z-test, fixed seed)",
    instances=lambda: game_instances(max_S=3, max_gamma=0.7, min_tau=0.5, max_F=2, max_L=2),
    check=_check_unbiased,
    assumptions=(Assumption("occupancy_not_rare", _occupancy_not_rare,
                            "every (s, l, f) has normalised leader occupancy >= 0.02"),),
))
