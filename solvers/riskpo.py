r"""RiskPO: CVaR, RVaR and the mixed value-at-risk (MVaR) of bundle scores, and their advantages.

RiskPO (Ren, Jiang, ..., Peng; arXiv 2510.00911; reference code ``RTkenny/RiskPO``)
bundles :math:`n_{bundle}` questions; the bundle score :math:`Y` is the sum of their
binary rewards. With :math:`q_u=\inf\{y:F_Y(y)\ge u\}` the lower u-quantile (notes §3.3):

.. math::

    \mathrm{CVaR}_\alpha=E[Y\mid Y\le q_\alpha],\quad
    \mathrm{RVaR}_{\alpha,\beta}=E[Y\mid q_\alpha\le Y\le q_\beta],\quad
    \mathrm{MVaR}=\frac{w_{mix}\mathrm{CVaR}_\alpha+\mathrm{RVaR}_{\alpha,\beta}}{w_{mix}+1}.

These *conditional* definitions are the notes'. The *quantile-integral* versions
:math:`\overline{\mathrm{CVaR}}_\alpha=\frac1\alpha\int_0^\alpha q_u\,du` and
:math:`\overline{\mathrm{RVaR}}_{\alpha,\beta}=\frac1{\beta-\alpha}\int_\alpha^\beta q_u\,du`
(Acerbi & Tasche 2002; Cont, Deguest & Scandolo 2010) coincide with them for continuous
Y but not for discrete bundle scores; both are provided (``*_tail`` functions).

Advantages, per bundle (assigned to every response in it):
:math:`A_{RVaR}=(\mathrm{clip}(Y,q_\alpha,q_\beta)-q_\beta)/(\beta-\alpha)`,
:math:`A_{CVaR}=-(q_\alpha-Y)_+/\alpha`, and
:math:`A_{MVaR}=(w_{mix}A_{CVaR}+A_{RVaR})/(w_{mix}+1)`.
Scores are per-bundle sums of rewards, not discounted values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import integrate

from .errors import ModelError
from .tolerances import PROB_SUM_TOL
from .validation import as_real_array

__all__ = [
    "QUANTILE_TOL",
    "ScoreDistribution",
    "bundle_score_distribution",
    "cvar",
    "cvar_advantage",
    "cvar_continuous",
    "cvar_tail",
    "lower_quantile",
    "mvar",
    "mvar_advantage",
    "rvar",
    "rvar_advantage",
    "rvar_continuous",
    "rvar_tail",
]

#: A cumulative probability within this of a level counts as reaching it in
#: :func:`lower_quantile`: a cumsum of n float64 probabilities is exact to about
#: n * EPS ~ 1e-15, so levels like 0.2 that the true CDF hits exactly are not missed.
QUANTILE_TOL: float = 1e-12


@dataclass(frozen=True)
class ScoreDistribution:
    """A finite distribution of scores: sorted distinct ``values`` (n,) with ``probs`` (n,)."""

    values: np.ndarray
    probs: np.ndarray

    def __post_init__(self) -> None:
        v = as_real_array(self.values, "values", ndim=1)
        w = as_real_array(self.probs, "probs", ndim=1)
        if v.ndim != 1 or v.shape != w.shape or v.size == 0:
            raise ModelError(f"values {v.shape} and probs {w.shape} must be equal non-empty 1-d",
                             field="probs")
        if not np.all(np.isfinite(v)) or np.any(np.diff(v) <= 0):
            raise ModelError("values must be finite and strictly increasing", field="values")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            i = int(np.argmax(~np.isfinite(w) | (w < 0)))
            raise ModelError(f"probs[{i}] = {w[i]!r}, expected a probability >= 0", field="probs")
        if abs(w.sum() - 1) > PROB_SUM_TOL:
            raise ModelError(f"probs sum to {w.sum()!r}, expected 1 within {PROB_SUM_TOL}",
                             field="probs")
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "probs", w)

    @property
    def mean(self) -> float:
        """E[Y]."""
        return float(self.values @ self.probs)


def bundle_score_distribution(p_success: Sequence[float] | np.ndarray) -> ScoreDistribution:
    r"""Distribution of :math:`Y=\sum_{i=1}^{n}R_i`, :math:`R_i\sim\mathrm{Bern}(p_i)` independent.

    The Poisson-binomial pmf on :math:`\{0,\dots,n\}` by repeated convolution.
    """
    p = np.asarray(p_success, dtype=float)
    if p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ModelError(f"p_success = {p.tolist()!r}, expected a non-empty 1-d array of "
                         "probabilities in [0, 1]", field="p_success")
    pmf = np.array([1.0])
    for pi in p:
        pmf = np.convolve(pmf, [1 - pi, pi])
    return ScoreDistribution(np.arange(p.size + 1, dtype=float), pmf)


def _level(u: float, name: str, *, open_right: bool = True) -> float:
    u = float(u)
    ok = 0 < u < 1 if open_right else 0 < u <= 1
    if not (math.isfinite(u) and ok):
        raise ModelError(f"{name} = {u!r}, expected a level in (0, 1{')' if open_right else ']'}",
                         field=name)
    return u


def _levels(alpha: float, beta: float) -> tuple[float, float]:
    a, b = _level(alpha, "alpha"), _level(beta, "beta", open_right=False)
    if not a < b:
        raise ModelError(f"alpha = {a!r} >= beta = {b!r}, expected alpha < beta", field="beta")
    return a, b


# -- discrete scores: conditional (notes) definitions ---------------------------------------
def lower_quantile(dist: ScoreDistribution, level: float) -> float:
    r"""Lower quantile :math:`q_u=\min\{y:F(y)\ge u\}` (within :data:`QUANTILE_TOL`)."""
    u = _level(level, "level", open_right=False)
    cdf = np.cumsum(dist.probs)
    return float(dist.values[int(np.argmax(cdf >= u - QUANTILE_TOL))])


def _conditional_mean(dist: ScoreDistribution, lo: float, hi: float) -> float:
    mask = (dist.values >= lo) & (dist.values <= hi)
    mass = float(dist.probs[mask].sum())
    return float(dist.values[mask] @ dist.probs[mask]) / mass


def cvar(dist: ScoreDistribution, alpha: float) -> float:
    r""":math:`\mathrm{CVaR}_\alpha=E[Y\mid Y\le q_\alpha]` (tail conditional expectation)."""
    a = _level(alpha, "alpha", open_right=False)
    return _conditional_mean(dist, -math.inf, lower_quantile(dist, a))


def rvar(dist: ScoreDistribution, alpha: float, beta: float) -> float:
    r""":math:`\mathrm{RVaR}_{\alpha,\beta}=E[Y\mid q_\alpha\le Y\le q_\beta]`, alpha < beta."""
    a, b = _levels(alpha, beta)
    return _conditional_mean(dist, lower_quantile(dist, a), lower_quantile(dist, b))


def mvar(dist: ScoreDistribution, alpha: float, beta: float, w_mix: float = 1.5) -> float:
    r""":math:`\mathrm{MVaR}=(w_{mix}\mathrm{CVaR}_\alpha+\mathrm{RVaR}_{\alpha,\beta})/(w_{mix}+1)`.

    Defaults of the released scripts: :math:`w_{mix}=1.5`, :math:`\alpha=0.2`, :math:`\beta=0.9`.
    """
    w = _weight(w_mix)
    return (w * cvar(dist, alpha) + rvar(dist, alpha, beta)) / (w + 1)


def _weight(w_mix: float) -> float:
    w = float(w_mix)
    if not math.isfinite(w) or w < 0:
        raise ModelError(f"w_mix = {w_mix!r}, expected a finite weight >= 0", field="w_mix")
    return w


# -- discrete scores: quantile-integral definitions -----------------------------------------
def _quantile_integral(dist: ScoreDistribution, lo: float, hi: float) -> float:
    r""":math:`\int_{lo}^{hi}q_u\,du`: atom y occupies the u-interval :math:`[F(y^-),F(y)]`."""
    cdf = np.cumsum(dist.probs)
    left = np.concatenate([[0.0], cdf[:-1]])
    overlap = np.clip(np.minimum(cdf, hi) - np.maximum(left, lo), 0.0, None)
    return float(dist.values @ overlap)


def cvar_tail(dist: ScoreDistribution, alpha: float) -> float:
    r""":math:`\overline{\mathrm{CVaR}}_\alpha=\frac1\alpha\int_0^\alpha q_u\,du`.

    The expected shortfall (Acerbi & Tasche 2002).
    """
    a = _level(alpha, "alpha", open_right=False)
    return _quantile_integral(dist, 0.0, a) / a


def rvar_tail(dist: ScoreDistribution, alpha: float, beta: float) -> float:
    r""":math:`\overline{\mathrm{RVaR}}_{\alpha,\beta}=\int_\alpha^\beta q_u du/(\beta-\alpha)`.

    The range value-at-risk of Cont, Deguest & Scandolo (2010).
    """
    a, b = _levels(alpha, beta)
    return _quantile_integral(dist, a, b) / (b - a)


# -- continuous scores ----------------------------------------------------------------------
def _check_frozen(dist: object) -> None:
    if not (hasattr(dist, "ppf") and hasattr(dist, "pdf")):
        raise ModelError(f"dist is {type(dist).__name__}, expected a frozen continuous "
                         "scipy.stats distribution", field="dist")


def _density_moment(dist, lo: float, hi: float) -> float:
    """:math:`\\int_{lo}^{hi} y f(y) dy` by adaptive quadrature (QUADPACK)."""
    val, _ = integrate.quad(lambda y: y * dist.pdf(y), lo, hi, limit=200,
                            epsabs=1e-13, epsrel=1e-12)
    return float(val)


def cvar_continuous(dist, alpha: float) -> float:
    r""":math:`E[Y\mid Y\le q_\alpha]=\frac1\alpha\int_{-\infty}^{q_\alpha}y f(y)\,dy` for a
    continuous ``scipy.stats`` distribution (density integral in y, not in the level)."""
    _check_frozen(dist)
    a = _level(alpha, "alpha")
    lo = float(dist.support()[0])
    return _density_moment(dist, lo, float(dist.ppf(a))) / a


def rvar_continuous(dist, alpha: float, beta: float) -> float:
    r""":math:`E[Y\mid q_\alpha\le Y\le q_\beta]=\frac1{\beta-\alpha}\int_{q_\alpha}^{q_\beta}
    y f(y)\,dy` for a continuous ``scipy.stats`` distribution."""
    _check_frozen(dist)
    a, b = _levels(alpha, beta)
    hi = float(dist.ppf(b)) if b < 1 else float(dist.support()[1])
    return _density_moment(dist, float(dist.ppf(a)), hi) / (b - a)


# -- advantages -----------------------------------------------------------------------------
def rvar_advantage(scores: np.ndarray | float, q_alpha: float, q_beta: float, alpha: float,
                   beta: float) -> np.ndarray:
    r""":math:`A_{RVaR}=[(Y-q_\alpha)_+-(Y-q_\beta)_++q_\alpha-q_\beta]/(\beta-\alpha)`.

    Equal to :math:`(\mathrm{clip}(Y,q_\alpha,q_\beta)-q_\beta)/(\beta-\alpha)` (sympy check
    ``riskpo_rvar_advantage_forms``), which is how it is computed: exactly zero for
    :math:`Y\ge q_\beta` (well-solved bundles get no push).
    """
    a, b = _levels(alpha, beta)
    if not q_alpha <= q_beta:
        raise ModelError(f"q_alpha = {q_alpha!r} > q_beta = {q_beta!r}", field="q_beta")
    y = np.asarray(scores, dtype=float)
    return (np.clip(y, q_alpha, q_beta) - q_beta) / (b - a)


def cvar_advantage(scores: np.ndarray | float, q_alpha: float, alpha: float) -> np.ndarray:
    r""":math:`A_{CVaR}=-(q_\alpha-Y)_+/\alpha`."""
    a = _level(alpha, "alpha")
    return -np.maximum(q_alpha - np.asarray(scores, dtype=float), 0) / a


def mvar_advantage(scores: np.ndarray | float, q_alpha: float, q_beta: float, alpha: float,
                   beta: float, w_mix: float = 1.5) -> np.ndarray:
    r""":math:`A_{MVaR}=(w_{mix}A_{CVaR}+A_{RVaR})/(w_{mix}+1)` (before any std normalisation)."""
    w = _weight(w_mix)
    return (w * cvar_advantage(scores, q_alpha, alpha)
            + rvar_advantage(scores, q_alpha, q_beta, alpha, beta)) / (w + 1)
