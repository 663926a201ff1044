r"""DiscreteToy4 (R1, R2): BC-HG's tabular Stackelberg benchmark (bilevel notes §3.1).

States S (0), A (1), B (2); leader actions :math:`a^L\in\{0,1\}`; follower actions s, a, b
(0, 1, 2). Deterministic transitions ("stay" = remain):

=====  =====  ========  ========  ========
state  a^L    f = s     f = a     f = b
=====  =====  ========  ========  ========
S      any    S         A         B
A      0      S         A         B
A      1      S         S         S
B      any    S         B         B
=====  =====  ========  ========  ========

Follower reward: +1 at S for f in {a, b}; at A with a^L = 1: -1 for every f; at A with
a^L = 0: R for f = b; 0 elsewhere. Leader (target) reward: +1 at (S, any, a) (each move
S -> A). Start at S. Follower: infinite-horizon soft Q-iteration, :math:`\gamma_F=0.99`,
:math:`\tau=0.05`. The leader's action matters only at A; :math:`p=\pi_x(a^L=1\mid A)`.
Evaluation: 150-step episodes from S; R1 reports the discounted (:math:`\gamma_U=0.99`)
target return :math:`\sum_{t<150}0.99^tr_U`, R2 the undiscounted one.
"""

from __future__ import annotations

import numpy as np

from .errors import ModelError
from .markov_game import OPERATORS, StackelbergGame, leader_value, solve_follower

__all__ = ["TOY4_EPISODE", "TOY4_GAMMA", "TOY4_TAU", "discrete_toy4", "toy4_leader_policy",
           "toy4_profile"]

#: Episode length, follower discount and temperature of DiscreteToy4 (notes §3.1, §1.8).
TOY4_EPISODE: int = 150
TOY4_GAMMA: float = 0.99
TOY4_TAU: float = 0.05

_S, _A, _B = 0, 1, 2
_MOVE = {_S: (_S, _A, _B), _B: (_S, _B, _B)}  # successor of f = s, a, b (leader irrelevant)


def discrete_toy4(R: int) -> StackelbergGame:
    r"""DiscreteToy4_R{R}-v0 as a :class:`StackelbergGame` (S = 3, L = 2, F = 3).

    ``R`` in {1, 2} is the follower's reward for b at A under leader action 0. The game's
    :math:`\gamma_U=0.99` is R1's evaluation discount (the undiscounted R2 figure is a
    finite-horizon evaluation, :func:`toy4_profile`).
    """
    if R not in (1, 2):
        raise ModelError(f"R = {R!r}, expected 1 (DiscreteToy4_R1) or 2 (DiscreteToy4_R2)",
                         field="R")
    P = np.zeros((3, 2, 3, 3))
    for s, succ in _MOVE.items():
        for f, nxt in enumerate(succ):
            P[s, :, f, nxt] = 1.0
    for f, nxt in enumerate((_S, _A, _B)):
        P[_A, 0, f, nxt] = 1.0
    P[_A, 1, :, _S] = 1.0
    r_F = np.zeros((3, 2, 3))
    r_F[_S, :, 1:] = 1.0
    r_F[_A, 1, :] = -1.0
    r_F[_A, 0, 2] = float(R)
    r_U = np.zeros((3, 2, 3))
    r_U[_S, :, 1] = 1.0
    return StackelbergGame(P, r_F, r_U, np.array([1.0, 0.0, 0.0]), TOY4_GAMMA, TOY4_GAMMA,
                           TOY4_TAU)


def toy4_leader_policy(p: float) -> np.ndarray:
    """Leader policy (3, 2) with pi(a^L = 1 | s) = p at every state (only A matters)."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ModelError(f"p = {p!r}, expected a probability in [0, 1]", field="p")
    return np.tile([1.0 - p, p], (3, 1))


def toy4_profile(R: int, p: float, operator: str = "consistent",
                 horizon: int = TOY4_EPISODE) -> float:
    r"""Exact :math:`J(p)`: R1 :math:`\sum_{t<150}0.99^tE[r_U]`, R2 :math:`\sum_{t<150}E[r_U]`.

    The follower plays the stationary Boltzmann policy of its infinite-horizon soft
    Q-function (:math:`\gamma_F=0.99`, :math:`\tau=0.05`) under the Bellman ``operator``
    ("consistent" or BC-HG's "code" operator, notes §2.4), certified to 1e-10; the leader's
    return is the exact forward propagation of the state distribution over ``horizon``
    steps (no sampling). Notes §3.1: optima 27.32 (R1, p ~ 0.166) and 59.75 (R2, p ~ 0.503).
    """
    if operator not in OPERATORS:
        raise ModelError(f"operator = {operator!r}, expected one of {OPERATORS}",
                         field="operator")
    game = discrete_toy4(R)
    pi_L = toy4_leader_policy(p)
    fol = solve_follower(game, pi_L, operator)
    return leader_value(game, pi_L, fol.pi_F, horizon=horizon,
                       gamma=TOY4_GAMMA if R == 1 else 1.0)
