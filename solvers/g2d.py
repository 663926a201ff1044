r"""G2D: how many informative (correct, incorrect) pairs a group of G rollouts yields.

G2D (Verma & Ravindran, arXiv 2605.21266) warms a policy up with GRPO, then builds a
static preference set from groups of rollouts and trains DPO on it; the abstract
attributes performance to pair *informativeness*. For one question with success
probability :math:`p` and a group of :math:`G` independent rollouts, the number of
correct rollouts is :math:`j\sim\mathrm{Bin}(G,p)` and the group yields
:math:`j(G-j)` (correct, incorrect) cross pairs. Then (notes §3.1)

.. math::

    \Pr[j(G-j)>0]=1-p^G-(1-p)^G,\qquad E[j(G-j)]=G(G-1)\,p(1-p),

both maximal at :math:`p=1/2` and vanishing as :math:`p\to0` or :math:`1` (the
"overconfident policy gives uninformative data" effect). The DPO per-pair gradient
weight is :math:`\sigma(-\tau h)` for implicit margin :math:`h`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import comb, expit

from .errors import ModelError

__all__ = [
    "cross_pair_count_pmf",
    "cross_pair_probability",
    "dpo_pair_weight",
    "expected_cross_pairs",
]


def _group_size(G: int) -> int:
    if isinstance(G, bool) or not isinstance(G, (int, np.integer)) or G < 1:
        raise ModelError(f"G = {G!r}, expected an integer group size >= 1", field="G")
    return int(G)


def _success(p: np.ndarray | float) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        val = arr[tuple(np.argwhere(bad)[0])] if arr.ndim else arr
        raise ModelError(f"p = {float(val)!r}, expected a success probability in [0, 1]",
                         field="p")
    return arr


def cross_pair_probability(p: np.ndarray | float, G: int) -> np.ndarray | float:
    r"""Probability that a group of G rollouts holds at least one (correct, incorrect) pair.

    :math:`1-p^G-(1-p)^G` (0 for :math:`G=1`).

    Parameters
    ----------
    p : float or array in [0, 1]
        Success probability of one rollout.
    G : int >= 1
        Group size.
    """
    G = _group_size(G)
    pp = _success(p)
    out = 1.0 - pp**G - (1.0 - pp) ** G
    return float(out) if np.ndim(out) == 0 else out


def expected_cross_pairs(p: np.ndarray | float, G: int) -> np.ndarray | float:
    r"""Expected number of (correct, incorrect) pairs in a group: :math:`G(G-1)p(1-p)`.

    Equals :math:`E[j(G-j)]` with :math:`j\sim\mathrm{Bin}(G,p)`; its maximum over p
    is :math:`G(G-1)/4` at :math:`p=1/2`.
    """
    G = _group_size(G)
    pp = _success(p)
    out = G * (G - 1) * pp * (1.0 - pp)
    return float(out) if np.ndim(out) == 0 else out


def cross_pair_count_pmf(p: float, G: int) -> dict[int, float]:
    r"""Distribution of the number of cross pairs :math:`j(G-j)`, :math:`j\sim\mathrm{Bin}(G,p)`.

    Returns ``{count: probability}`` (counts :math:`j(G-j)` for :math:`j=0..G`,
    merged since :math:`j` and :math:`G-j` give the same count).
    """
    G = _group_size(G)
    pp = float(_success(p))
    pmf: dict[int, float] = {}
    for j in range(G + 1):
        w = float(comb(G, j, exact=True)) * pp**j * (1 - pp) ** (G - j)
        pmf[j * (G - j)] = pmf.get(j * (G - j), 0.0) + w
    return dict(sorted(pmf.items()))


def dpo_pair_weight(margin: np.ndarray | float, tau: float) -> np.ndarray | float:
    r"""DPO per-pair gradient weight :math:`\sigma(-\tau h)` for implicit margin h.

    The gradient of :math:`-\log\sigma(\tau h)` in h is :math:`-\tau\,\sigma(-\tau h)`;
    pairs the policy already separates (:math:`h\to\infty`) carry weight :math:`\to0`.

    Parameters
    ----------
    margin : float or array
        Implicit reward margin h (chosen minus rejected log-ratio).
    tau : float > 0
        DPO coefficient (the notes' :math:`\tau`).
    """
    t = float(tau)
    if not math.isfinite(t) or t <= 0:
        raise ModelError(f"tau = {tau!r}, expected a finite number > 0", field="tau")
    h = np.asarray(margin, dtype=float)
    if not np.all(np.isfinite(h)):
        raise ModelError("margin has a non-finite entry, expected finite margins",
                         field="margin")
    out = expit(-t * h)
    return float(out) if np.ndim(out) == 0 else out
