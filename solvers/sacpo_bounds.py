r"""The estimated-model setting of SACPO's Theorems 2 and 3 (notes §4.3, §4.8, §4.9).

True reward and safety :math:`r^\star,g^\star` (the :class:`~solvers.kl_bandit.KLBandit`),
estimates :math:`\hat r,\hat g` with :math:`|r^\star-\hat r|\le\alpha U_r`,
:math:`|g^\star-\hat g|\le\alpha U_g` (Definition 1 / Lemma 3), an estimated multiplier
:math:`\hat\lambda\ge0` and :math:`B\ge|\hat g|`. With

.. math:: \hat\Gamma(s,a,c)=\alpha(U_r+cU_g)+|c-\hat\lambda|B,\qquad
          \hat\pi=\pi_{ref}e^{(\hat r+\hat\lambda\hat g)/\beta}/Z,

Wachi et al. (arXiv 2404.11049) state

- Theorem 2: :math:`R(\pi^\star)-R(\hat\pi)\le-\lambda^\star b+E_{\mu_0,\pi^\star}
  [\hat\Gamma(0)e^{2\hat\Gamma(\lambda^\star)/\beta}]+\beta\log E_{\mu_0,\pi^\star}
  e^{\hat\Gamma(\lambda^\star)/\beta}`;
- Theorem 3 (if :math:`E_{\mu_0,\hat\pi}\hat g\ge b`): :math:`[b-G(\hat\pi)]_+\le\alpha
  E_{\mu_0,\pi^\star}[U_ge^{2\hat\Gamma(\lambda^\star)/\beta}]` -- **false** (§4.9).

The *pre-Chebyshev* forms replace :math:`E_{\pi^\star}[he^{2\hat\Gamma/\beta}]` by
:math:`E_{\pi^\star}[e^{\hat\Gamma/\beta}]\,E_{\pi^\star}[he^{\hat\Gamma/\beta}]` per prompt,
the step before the invalid Chebyshev-sum inequality (Lemma 16); they follow from
Lemmas 10-15 and hold. ``beta`` is the KL weight (notes' :math:`\tau`). Values are
one-step expectations (:math:`\gamma=0`), not rescaled.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .kl_bandit import (
    KLBandit,
    expected,
    gibbs_policy,
    regularised_value,
    solve_kl_bandit,
)
from .validation import as_real_array, check_finite, check_shape

__all__ = ["SacpoBounds", "SacpoEstimate", "sacpo_bounds", "uncertainty_gamma"]

#: Relative slack allowed in the band check |r* - r_hat| <= alpha U_r: estimates built as
#: r* +- alpha U_r in float64 round once (relative error EPS), 1e-12 leaves a margin.
BAND_RTOL: float = 1e-12


@dataclass(frozen=True)
class SacpoEstimate:
    r"""Estimated model: ``r_hat``, ``g_hat`` (S, A), widths ``U_r``, ``U_g`` (S, A) >= 0,
    ``alpha`` > 0, ``lam_hat`` >= 0, ``B`` >= max |g_hat|. Validated on construction."""

    r_hat: np.ndarray
    g_hat: np.ndarray
    U_r: np.ndarray
    U_g: np.ndarray
    alpha: float
    lam_hat: float
    B: float

    def __post_init__(self) -> None:
        arrs = {}
        for name in ("r_hat", "g_hat", "U_r", "U_g"):
            a = as_real_array(getattr(self, name), name, ndim=2)
            check_finite(a, name)
            arrs[name] = a
        shape = arrs["r_hat"].shape
        for name in ("g_hat", "U_r", "U_g"):
            check_shape(arrs[name], shape, name, "(S, A)")
        for name in ("U_r", "U_g"):
            if arrs[name].min() < 0:
                raise ModelError(f"{name} has a negative width {arrs[name].min()!r}, expected "
                                 ">= 0", field=name)
        nums = {}
        for name, lo in (("alpha", 0.0), ("lam_hat", 0.0), ("B", 0.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) \
                    or v < lo or (name == "alpha" and v == 0):
                raise ModelError(f"{name} = {v!r}, expected a finite number "
                                 f"{'> 0' if name == 'alpha' else '>= 0'}", field=name)
            nums[name] = float(v)
        gmax = float(np.abs(arrs["g_hat"]).max())
        if gmax > nums["B"] * (1 + BAND_RTOL):
            raise ModelError(f"B = {nums['B']!r} < max |g_hat| = {gmax!r}", field="B")
        for k, v in {**arrs, **nums}.items():
            object.__setattr__(self, k, v)

    def check_band(self, problem: KLBandit) -> None:
        r"""Raise ModelError unless :math:`|r^\star-\hat r|\le\alpha U_r` and the same for g."""
        for name, true, est, U in (("r_hat", problem.r, self.r_hat, self.U_r),
                                   ("g_hat", problem.g, self.g_hat, self.U_g)):
            check_shape(est, true.shape, name, "(S, A)")
            excess = np.abs(true - est) - self.alpha * U * (1 + BAND_RTOL)
            if excess.max() > BAND_RTOL * max(1.0, float(np.abs(true).max())):
                idx = np.unravel_index(int(np.argmax(excess)), excess.shape)
                raise ModelError(f"{name}[{idx[0]}, {idx[1]}] is outside the uncertainty band "
                                 f"by {excess[idx]!r}", field=name)


def uncertainty_gamma(est: SacpoEstimate, c: float) -> np.ndarray:
    r""":math:`\hat\Gamma(s,a,c)=\alpha(U_r+cU_g)+|c-\hat\lambda|B`, shape (S, A)."""
    return est.alpha * (est.U_r + c * est.U_g) + abs(c - est.lam_hat) * est.B


@dataclass(frozen=True)
class SacpoBounds:
    r"""Both sides of Theorems 2 and 3, printed and pre-Chebyshev.

    Attributes
    ----------
    lam_star, pi_star, pi_hat : the true optimum and the estimated Gibbs policy
    thm2_lhs : :math:`R(\pi^\star)-R(\hat\pi)`
    thm2_rhs, thm2_rhs_pre : printed and pre-Chebyshev right sides
    thm3_lhs : :math:`[b-G(\hat\pi)]_+`
    thm3_rhs, thm3_rhs_pre : printed and pre-Chebyshev right sides
    thm3_applies : bool, :math:`E_{\mu_0,\hat\pi}\hat g\ge b` (Theorem 3's hypothesis)
    hat_safety : :math:`E_{\mu_0,\hat\pi}\hat g`
    """

    lam_star: float
    pi_star: np.ndarray
    pi_hat: np.ndarray
    thm2_lhs: float
    thm2_rhs: float
    thm2_rhs_pre: float
    thm3_lhs: float
    thm3_rhs: float
    thm3_rhs_pre: float
    thm3_applies: bool
    hat_safety: float


def sacpo_bounds(problem: KLBandit, est: SacpoEstimate) -> SacpoBounds:
    r"""Exact left and right sides of SACPO Theorems 2 and 3 (see module docstring).

    :math:`\pi^\star,\lambda^\star` from :func:`~solvers.kl_bandit.solve_kl_bandit` (its
    status is read: it must be "optimal" with a finite multiplier).

    Raises
    ------
    ModelError
        If the estimates leave the uncertainty band, or the true problem has no finite
        optimal multiplier.
    """
    est.check_band(problem)
    sol = solve_kl_bandit(problem)
    if sol.status != "optimal" or not math.isfinite(sol.lam):
        raise ModelError(f"the true problem has status {sol.status!r} ({sol.message}); the "
                         "bounds need an optimum with a finite multiplier", field="b")
    lam, pstar, mu0, beta = sol.lam, sol.policy, problem.mu0, problem.beta
    pi_hat = gibbs_policy(problem.pi_ref, est.r_hat + est.lam_hat * est.g_hat, beta)
    gam_l = uncertainty_gamma(est, lam)
    gam_0 = uncertainty_gamma(est, 0.0)
    # e^{2 Gamma / beta} overflows for small beta: every expectation is formed in the log
    # domain (log-sum-exp), and only the final value is exponentiated (inf = vacuous bound).
    lp = _log(pstar)
    le1 = _lse(lp + gam_l / beta)  # (S,) log E_{pi*} e^{Gamma/beta}
    thm2_lhs = sol.value - regularised_value(problem, pi_hat)
    log_term = beta * float(_lse(_log(mu0) + le1))
    base = -lam * problem.b + log_term
    thm2_rhs = base + _mu_exp(mu0, _lse(lp + _log(gam_0) + 2 * gam_l / beta))
    thm2_pre = base + _mu_exp(mu0, le1 + _lse(lp + _log(gam_0) + gam_l / beta))
    G_hat_pi = expected(mu0, pi_hat, problem.g)
    hat_safety = expected(mu0, pi_hat, est.g_hat)
    thm3_rhs = est.alpha * _mu_exp(mu0, _lse(lp + _log(est.U_g) + 2 * gam_l / beta))
    thm3_pre = est.alpha * _mu_exp(mu0, le1 + _lse(lp + _log(est.U_g) + gam_l / beta))
    return SacpoBounds(lam_star=lam, pi_star=pstar, pi_hat=pi_hat, thm2_lhs=thm2_lhs,
                       thm2_rhs=thm2_rhs, thm2_rhs_pre=thm2_pre,
                       thm3_lhs=max(0.0, problem.b - G_hat_pi), thm3_rhs=thm3_rhs,
                       thm3_rhs_pre=thm3_pre, thm3_applies=bool(hat_safety >= problem.b),
                       hat_safety=hat_safety)


def _log(x: np.ndarray) -> np.ndarray:
    """Elementwise log with log 0 = -inf (no warning)."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)


def _lse(z: np.ndarray) -> np.ndarray | float:
    """log-sum-exp over the last axis; -inf when every term is -inf."""
    z = np.asarray(z, dtype=float)
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(m, -1) + np.log(np.sum(np.exp(z - m), axis=-1))


def _mu_exp(mu0: np.ndarray, log_vals: np.ndarray) -> float:
    r""":math:`\sum_s\mu_0(s)e^{\ell(s)}` from logs; ``inf`` when it overflows (never NaN)."""
    t = float(_lse(_log(mu0) + log_vals))
    return math.exp(t) if t < 709.0 else math.inf
