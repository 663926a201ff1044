r"""SACPO's stepwise alignment, its n-constraint composition and the P-SACPO merge (notes §4.3-4.4).

The alignment operator (SACPO Appendix B) with KL weight :math:`\beta` (paper's
:math:`\beta`, notes' :math:`\tau`) is

.. math:: T_f\pi_1=\pi_1e^{f/\beta}/Z_f(s;\pi_1),\qquad
          Z_f(s;\pi_1)=\sum_a\pi_1(a|s)e^{f(s,a)/\beta},

the maximiser of :math:`E_\pi f-\beta KL(\pi\|\pi_1)`. Theorem 1 (Wachi et al.,
arXiv 2404.11049): :math:`\pi^\star_{r+\lambda g}=T_{\lambda g}T_r\pi_{ref}`, i.e. align to
:math:`r` with weight :math:`\beta`, then realign to :math:`g` with weight
:math:`\beta/\lambda`; the order commutes (Remark 2). Theorem 4 composes :math:`n`
constraints. P-SACPO merges the logits
:math:`q\theta_{r+\bar\lambda g}+(1-q)\theta_r`, which in the tabular softmax case is exactly
:math:`\pi^\star_{r+q\bar\lambda g}` (notes §4.8, ``sacpo.psacpo_merge_exact``).
"""

from __future__ import annotations

import numpy as np

from .errors import ModelError
from .kl_bandit import gibbs_policy, log_partition

__all__ = [
    "align",
    "compose_alignments",
    "merge_logits",
    "psacpo_merge",
    "softmax_logits",
    "stepwise_sacpo",
]


def align(pi_base: np.ndarray, f: np.ndarray, weight: float) -> np.ndarray:
    r"""Alignment :math:`\pi_{base}e^{f/w}/Z_f(s;\pi_{base})` with KL weight ``weight`` = w > 0.

    Shape (S, A). Realigning to ``g`` with weight :math:`\beta/\lambda` equals
    :math:`T_{\lambda g}` with weight :math:`\beta`.
    """
    if not weight > 0:
        raise ModelError(f"weight = {weight!r}, expected a KL weight > 0", field="weight")
    return gibbs_policy(pi_base, f, weight)


def stepwise_sacpo(pi_ref: np.ndarray, r: np.ndarray, g: np.ndarray, beta: float, lam: float,
                   order: str = "reward_first") -> np.ndarray:
    r"""SACPO's two alignment steps; equals the joint optimum :math:`\pi^\star_{r+\lambda g}`.

    ``order="reward_first"``: :math:`\pi_r=T_r\pi_{ref}` (weight :math:`\beta`), then
    realign to :math:`g` with weight :math:`\beta/\lambda`. ``"safety_first"``: align to
    :math:`g` with weight :math:`\beta/\lambda`, then to :math:`r` with weight :math:`\beta`.
    ``lam = 0`` skips the safety step.
    """
    if lam < 0:
        raise ModelError(f"lam = {lam!r}, expected a multiplier >= 0", field="lam")
    if order == "reward_first":
        pi = align(pi_ref, r, beta)
        return pi if lam == 0 else align(pi, g, beta / lam)
    if order == "safety_first":
        pi = pi_ref if lam == 0 else align(pi_ref, g, beta / lam)
        return align(pi, r, beta)
    raise ModelError(f"order = {order!r}, expected 'reward_first' or 'safety_first'",
                     field="order")


def compose_alignments(pi_ref: np.ndarray, r: np.ndarray, gs: np.ndarray, lams: np.ndarray,
                       beta: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Theorem 4: :math:`T_{\lambda_ng_n}\circ\dots\circ T_{\lambda_1g_1}T_r\pi_{ref}`.

    Parameters
    ----------
    gs : (n, S, A) array
    lams : (n,) array of multipliers >= 0

    Returns
    -------
    policy : (S, A) array
    log_upsilon : (S,) array
        :math:`\log\prod_k Z_{\lambda_kg_k}(s;\pi_{k-1})`, the product of the stepwise
        normalisers, which equals :math:`\log Z_{r+\sum_k\lambda_kg_k}(s;\pi_{ref})-\log
        Z_r(s;\pi_{ref})` (the ratio :math:`\Upsilon` of Theorem 1, generalised).
    """
    lams = np.asarray(lams, dtype=float)
    if (lams < 0).any():
        raise ModelError(f"lams = {lams.tolist()}, expected multipliers >= 0", field="lams")
    pi = align(pi_ref, r, beta)
    log_up = np.zeros(pi.shape[0])
    for lam, g in zip(lams, gs, strict=True):
        log_up = log_up + log_partition(pi, lam * g, beta)
        pi = gibbs_policy(pi, lam * g, beta)
    return pi, log_up


def softmax_logits(theta: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits ``theta`` (S, A) restricted to ``support`` (zero elsewhere)."""
    z = np.where(support, theta, -np.inf)
    m = z.max(axis=1, keepdims=True)
    w = np.where(support, np.exp(z - m), 0.0)
    return w / w.sum(axis=1, keepdims=True)


def merge_logits(theta_a: np.ndarray, theta_b: np.ndarray, q: float,
                 support: np.ndarray) -> np.ndarray:
    r"""Softmax of the linear merge :math:`q\theta_a+(1-q)\theta_b` (model soup), on ``support``."""
    if not 0.0 <= q <= 1.0:
        raise ModelError(f"q = {q!r}, expected a merge weight in [0, 1]", field="q")
    za = np.where(support, theta_a, 0.0)
    zb = np.where(support, theta_b, 0.0)
    return softmax_logits(q * za + (1 - q) * zb, support)


def psacpo_merge(pi_ref: np.ndarray, r: np.ndarray, g: np.ndarray, beta: float, lam_bar: float,
                 q: float, shifts: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    r"""P-SACPO: merge the logits of :math:`\pi_{r+\bar\lambda g}` and :math:`\pi_r` with weight q.

    Tabular softmax logits are :math:`\theta=\log\pi+c(s)` with an arbitrary per-prompt
    shift :math:`c(s)` (``shifts``, two (S,) arrays; zero by default). The result is exactly
    :math:`\pi^\star_{r+q\bar\lambda g}` (``sacpo.psacpo_merge_exact``).
    """
    support = pi_ref > 0
    c1, c2 = shifts if shifts is not None else (np.zeros(pi_ref.shape[0]),) * 2
    safe = stepwise_sacpo(pi_ref, r, g, beta, lam_bar)
    pr = align(pi_ref, r, beta)
    theta_safe = np.log(np.where(support, safe, 1.0)) + np.asarray(c1)[:, None]
    theta_r = np.log(np.where(support, pr, 1.0)) + np.asarray(c2)[:, None]
    return merge_logits(theta_safe, theta_r, q, support)
