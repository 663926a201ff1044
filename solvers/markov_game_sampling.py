r"""Single-trajectory estimator of the Stackelberg hypergradient (bilevel notes §1.6).

Split from :mod:`solvers.markov_game` (the game, the follower and the exact hypergradient);
``solvers.markov_game.sampled_stackelberg_hypergradient`` still resolves here. Trajectories
are drawn by inverse-CDF sampling, vectorised over trajectories, from a seeded
:class:`numpy.random.Generator`; the critics (:math:`Q_U`, :math:`V_U`, :math:`V_F`, the
benefit :math:`B`) are the exact ones of a :class:`~solvers.markov_game.StackelbergPoint`.
Values are :math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`.
"""

from __future__ import annotations

import numpy as np

from .errors import ModelError
from .hypergradient_sampling import SampledGradient, default_horizon
from .markov_game import SoftmaxTableLeader, StackelbergGame, StackelbergPoint, stackelberg_point

__all__ = ["sampled_stackelberg_hypergradient"]


def _draw(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws: rows of cumulative sums ``cum`` (N, k), uniforms u (N,)."""
    return np.minimum((cum < u[:, None] * cum[:, -1:]).sum(axis=1), cum.shape[1] - 1)


def sampled_stackelberg_hypergradient(game: StackelbergGame, x: np.ndarray, N: int,
                                      rng: np.random.Generator, *, method: str = "bchg",
                                      leader: SoftmaxTableLeader | None = None,
                                      H: int | None = None,
                                      point: StackelbergPoint | None = None) -> SampledGradient:
    r"""Single-trajectory estimator of §1.6 with exact critics, N trajectories of H steps.

    .. math::
        \hat g=\sum_t\gamma_U^t\nabla\log\pi_x(l_t|s_t)\big(Q_U(s_t,l_t)-V_U(s_t)\big)
        +\frac1\tau\sum_t\gamma_U^tB(s_t,l_t,f_t)\hat G_t,\quad
        \hat G_t=\sum_{k\ge1}\gamma_F^k\nabla\log\pi_x(l_{t+k}|s_{t+k})\big(V_F(s_{t+k},
        l_{t+k})-\textstyle\sum_{l'}\pi_xV_F(s_{t+k},l')\big)

    (the baselines have conditional mean zero). ``method`` "naive" keeps the first sum only.
    Default H: :math:`\max(\gamma_U,\gamma_F)^H\le10^{-13}`. Vectorised over trajectories.
    """
    if method not in ("bchg", "naive"):
        raise ModelError(f"method = {method!r}, expected 'bchg' or 'naive'", field="method")
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 1:
        raise ModelError(f"N = {N!r}, expected an integer >= 1", field="N")
    if not isinstance(rng, np.random.Generator):
        raise ModelError("rng must be a numpy.random.Generator", field="rng")
    pt = point or stackelberg_point(game, x, leader)
    H = default_horizon(max(game.gamma_U, game.gamma_F)) if H is None else int(H)
    pi_L, pi_F = pt.pi_L, pt.pi_F
    sc = pt.leader.score(pt.x)
    VU_c = pt.V_U - (pi_L * pt.V_U).sum(axis=1, keepdims=True)
    VF_c = pt.V_F - (pi_L * pt.V_F).sum(axis=1, keepdims=True)
    cums = tuple(np.cumsum(a, axis=-1) for a in (game.mu0, pi_L, pi_F, game.P))
    coef = {"U": game.gamma_U ** np.arange(H), "sc": sc.reshape(pi_L.size, -1)}
    size = max(1, 4_000_000 // (H + 1))  # bounds memory at ~100 MB of int64 indices
    parts = [_batch(pt, cums, coef, VU_c.ravel(), VF_c.ravel(), min(size, N - i), H, rng,
                    method) for i in range(0, N, size)]
    D, Ind = (np.concatenate([p[k] for p in parts]) for k in (0, 1))
    return SampledGradient(method, D + Ind, D, Ind, H)


def _batch(pt: StackelbergPoint, cums: tuple, coef: dict, VU_c: np.ndarray, VF_c: np.ndarray,
           N: int, H: int, rng: np.random.Generator, method: str) -> tuple[np.ndarray, ...]:
    r"""One batch of N trajectories: direct and indirect parts (N, n).

    Swapping sums, :math:`\frac1\tau\sum_t w_t\hat G_t=\frac1\tau\sum_{k\ge1}c_ky_k` with
    :math:`w_t=\gamma_U^tB_t`, :math:`c_k=\gamma_F(c_{k-1}+w_{k-1})`, :math:`c_0=0`; every
    :math:`y_k` is the score row of the visited :math:`(s_k,l_k)` times a scalar, so both sums
    are accumulated per augmented state (N, S*L) and multiplied by the score table once.
    """
    game = pt.game
    S, L, _ = game.shape
    cmu, cL, cF, cP = cums
    s = np.empty((N, H + 1), np.int64)
    lead = np.empty((N, H + 1), np.int64)
    foll = np.empty((N, H), np.int64)
    s[:, 0] = _draw(np.broadcast_to(cmu, (N, S)), rng.random(N))
    for t in range(H + 1):
        lead[:, t] = _draw(cL[s[:, t]], rng.random(N))
        if t == H:
            break
        foll[:, t] = _draw(cF[s[:, t], lead[:, t]], rng.random(N))
        s[:, t + 1] = _draw(cP[s[:, t], lead[:, t], foll[:, t]], rng.random(N))
    aug = s * L + lead  # (N, H + 1)
    rows = np.arange(N)[:, None] * (S * L)

    def per_state(idx: np.ndarray, w: np.ndarray) -> np.ndarray:
        acc = np.bincount((rows + idx).ravel(), w.ravel(), minlength=N * S * L)
        return acc.reshape(N, S * L) @ coef["sc"]

    D = per_state(aug[:, :H], coef["U"] * VU_c[aug[:, :H]])
    if method == "naive":
        return D, np.zeros_like(D)
    w = coef["U"] * pt.B[s[:, :H], lead[:, :H], foll]
    c = np.empty((N, H))
    acc = np.zeros(N)
    for k in range(H):  # c[:, k] is the weight of y_{k+1}
        acc = game.gamma_F * (acc + w[:, k])
        c[:, k] = acc
    return D, per_state(aug[:, 1:], c * VF_c[aug[:, 1:]]) / game.tau
