r"""BNPO: the Beta-normalised advantage for binary (verifiable) rewards, and its variance.

Beta Normalization Policy Optimization (Xiao, Zhang, Cao; arXiv 2506.02864;
reference code ``changyi7231/BNPO``, ``compute_bnpo_outcome_advantage``) scores a
response :math:`o` to a question :math:`q` with binary reward
:math:`R(q,o)\in\{0,1\}` by

.. math::

    A_{\alpha,\beta}(q,o)=\frac{R(q,o)-p(q)}{f_N(p(q);\alpha,\beta)},\qquad
    f_N(p;\alpha,\beta)=\frac{p^{\alpha-1}(1-p)^{\beta-1}}{B(\alpha,\beta)},

where :math:`p(q)=E[R\mid q]` (in practice the group mean) and :math:`f_N` is the
Beta density. Special cases: :math:`\alpha=\beta=1` is REINFORCE with a baseline
(:math:`f_N\equiv1`); :math:`\alpha=\beta=3/2` gives
:math:`f_N(p)=(8/\pi)\sqrt{p(1-p)}`, i.e. :math:`(\pi/8)` times the GRPO advantage
:math:`(R-p)/\sqrt{p(1-p)}` (population std of binary rewards).

If :math:`p\sim\mathrm{Beta}(\alpha_0,\beta_0)` and :math:`R\mid p\sim\mathrm{Bern}(p)`,
then :math:`E[A]=0` and

.. math::

    \operatorname{Var}[A]=E[A^2]=\frac{B(\alpha,\beta)^2\,
    B(\alpha_0+3-2\alpha,\ \beta_0+3-2\beta)}{B(\alpha_0,\beta_0)},

finite iff :math:`\alpha<(\alpha_0+3)/2` and :math:`\beta<(\beta_0+3)/2`, strictly
log-convex in :math:`(\alpha,\beta)` with unique minimiser
:math:`(1+\alpha_0/3,\ 1+\beta_0/3)` (derivation in docs/rlvr_estimators.md; sympy
check ``bnpo_stationarity``). These are per-sample quantities, not discounted values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import betaln, polygamma

from .errors import ModelError

__all__ = [
    "advantage_variance",
    "advantage_variance_hessian",
    "beta_density",
    "bnpo_advantage",
    "bnpo_parameters",
    "fit_beta_moments",
    "grpo_advantage",
    "optimal_beta_parameters",
    "reinforce_advantage",
    "variance_domain",
]


def _positive(x: float, name: str) -> float:
    x = float(x)
    if not math.isfinite(x) or x <= 0:
        raise ModelError(f"{name} = {x!r}, expected a finite number > 0", field=name)
    return x


def _probabilities(p: Sequence[float] | np.ndarray | float, name: str, *,
                   open_interval: bool) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    bad = ~np.isfinite(arr) | ((arr <= 0) | (arr >= 1) if open_interval else (arr < 0) | (arr > 1))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if arr.ndim else ()
        val = arr[idx] if arr.ndim else arr
        rng = "(0, 1)" if open_interval else "[0, 1]"
        raise ModelError(f"{name}{list(idx) if idx else ''} = {float(val)!r}, expected a value "
                         f"in {rng}", field=name)
    return arr


def _binary(r: Sequence[float] | np.ndarray, name: str = "rewards") -> np.ndarray:
    arr = np.asarray(r, dtype=float)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        idx = [int(i) for i in np.argwhere(bad)[0]] if arr.ndim else []
        raise ModelError(f"{name}{idx} = {float(arr[tuple(idx)])!r}, expected a binary reward "
                         "0 or 1", field=name)
    return arr


# -- the advantage -------------------------------------------------------------------------------
def beta_density(p: np.ndarray | float, alpha: float, beta: float) -> np.ndarray:
    r"""Beta density :math:`f_N(p;\alpha,\beta)=p^{\alpha-1}(1-p)^{\beta-1}/B(\alpha,\beta)`.

    Evaluated in log space, :math:`\exp((\alpha-1)\log p+(\beta-1)\log(1-p)-\log B)`.

    Parameters
    ----------
    p : float or array, entries in (0, 1)
    alpha, beta : float > 0
    """
    a, b = _positive(alpha, "alpha"), _positive(beta, "beta")
    pp = _probabilities(p, "p", open_interval=True)
    return np.exp((a - 1) * np.log(pp) + (b - 1) * np.log1p(-pp) - betaln(a, b))


def bnpo_advantage(rewards: Sequence[float] | np.ndarray, p: np.ndarray | float,
                   alpha: float, beta: float) -> np.ndarray:
    r"""BNPO advantage :math:`A_{\alpha,\beta}=(R-p)/f_N(p;\alpha,\beta)` (Xiao et al., eq. of §3).

    Parameters
    ----------
    rewards : array of 0/1
        Binary rewards :math:`R` of the responses.
    p : float or array broadcastable to ``rewards``, in (0, 1)
        Success probability :math:`p(q)` of each response's question (e.g. the group mean).
    alpha, beta : float > 0
        Parameters of the normalising Beta density.
    """
    r = _binary(rewards)
    return (r - p) / beta_density(p, alpha, beta)


def reinforce_advantage(rewards: Sequence[float] | np.ndarray,
                        p: np.ndarray | float) -> np.ndarray:
    r"""REINFORCE with baseline: :math:`A=R-p` (BNPO with :math:`\alpha=\beta=1`)."""
    r = _binary(rewards)
    return r - _probabilities(p, "p", open_interval=False)


def grpo_advantage(group_rewards: Sequence[float] | np.ndarray) -> np.ndarray:
    r"""GRPO advantage of one group: :math:`(R_i-\bar R)/\mathrm{std}(R)` (population std).

    For binary rewards :math:`\mathrm{std}(R)=\sqrt{\bar R(1-\bar R)}`. Computed here as
    ``numpy.std(ddof=0)`` of the group. Raises ``ModelError`` for a group whose rewards
    are all equal (zero std: GRPO's advantage is undefined there).
    """
    r = _binary(group_rewards, "group_rewards")
    if r.ndim != 1 or r.size < 2:
        raise ModelError(f"group_rewards has shape {r.shape}, expected a 1-d group of >= 2",
                         field="group_rewards")
    sd = float(np.std(r))
    if sd == 0.0:
        raise ModelError("group_rewards are all equal, GRPO's std normalisation is undefined",
                         field="group_rewards")
    return (r - r.mean()) / sd


# -- the parameters --------------------------------------------------------------------------
def fit_beta_moments(p_values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    r"""Method-of-moments Beta fit :math:`(\alpha_0,\beta_0)` of a batch of success rates.

    With :math:`m` the mean and :math:`v` the (population) variance of the values,
    :math:`\alpha_0=(m(1-m)/v-1)\,m` and :math:`\beta_0=(m(1-m)/v-1)(1-m)`.

    Raises ``ModelError`` if the values are not in [0, 1], or if :math:`v=0` or
    :math:`v\ge m(1-m)` (all values equal, or all in {0, 1}: no Beta fits).
    """
    x = _probabilities(p_values, "p_values", open_interval=False).ravel()
    if x.size < 2:
        raise ModelError(f"p_values has {x.size} entries, expected at least 2", field="p_values")
    m, v = float(x.mean()), float(x.var())
    if not 0.0 < v < m * (1 - m):
        raise ModelError(f"p_values have mean {m!r} and variance {v!r}; a Beta fit needs "
                         f"0 < variance < mean (1 - mean) = {m * (1 - m)!r}", field="p_values")
    k = m * (1 - m) / v - 1
    return k * m, k * (1 - m)


def optimal_beta_parameters(alpha0: float, beta0: float) -> tuple[float, float]:
    r"""Variance-minimising BNPO parameters :math:`(\alpha,\beta)=(1+\alpha_0/3,\ 1+\beta_0/3)`.

    The unique minimiser of :func:`advantage_variance` over its (open) domain when
    :math:`p\sim\mathrm{Beta}(\alpha_0,\beta_0)` (notes §3.2; stationarity proved by the
    sympy check ``bnpo_stationarity``).
    """
    return 1 + _positive(alpha0, "alpha0") / 3, 1 + _positive(beta0, "beta0") / 3


def bnpo_parameters(p_values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    r"""BNPO's rule: :math:`\alpha=\max(1,1+\alpha_0/3)`, :math:`\beta=\max(1,1+\beta_0/3)`.

    :math:`(\alpha_0,\beta_0)` from :func:`fit_beta_moments`. Since a valid fit has
    :math:`\alpha_0,\beta_0>0`, the ``max`` never binds and this equals
    :func:`optimal_beta_parameters` of the fit.
    """
    a0, b0 = fit_beta_moments(p_values)
    return max(1.0, 1 + a0 / 3), max(1.0, 1 + b0 / 3)


# -- the variance ----------------------------------------------------------------------------
def variance_domain(alpha0: float, beta0: float) -> tuple[float, float]:
    r"""Upper limits :math:`((\alpha_0+3)/2,\ (\beta_0+3)/2)`: the variance is finite iff
    :math:`\alpha` and :math:`\beta` are below them (and positive)."""
    return (_positive(alpha0, "alpha0") + 3) / 2, (_positive(beta0, "beta0") + 3) / 2


def advantage_variance(alpha: float, beta: float, alpha0: float, beta0: float) -> float:
    r"""Closed form of :math:`\operatorname{Var}[A_{\alpha,\beta}]` under a Beta prior on p.

    .. math::

        E\Big[\Big(\frac{R-p}{f_N(p;\alpha,\beta)}\Big)^2\Big]
        =\frac{B(\alpha,\beta)^2\,B(\alpha_0+3-2\alpha,\ \beta_0+3-2\beta)}{B(\alpha_0,\beta_0)},
        \quad p\sim\mathrm{Beta}(\alpha_0,\beta_0),\ R\mid p\sim\mathrm{Bern}(p).

    Returns ``inf`` outside the finite region :func:`variance_domain`. Computed as
    ``exp`` of a sum of ``betaln`` terms.
    """
    a, b = _positive(alpha, "alpha"), _positive(beta, "beta")
    a_max, b_max = variance_domain(alpha0, beta0)
    if a >= a_max or b >= b_max:
        return math.inf
    return math.exp(_log_variance(a, b, float(alpha0), float(beta0)))


def _log_variance(a: float, b: float, a0: float, b0: float) -> float:
    return 2 * betaln(a, b) + betaln(a0 + 3 - 2 * a, b0 + 3 - 2 * b) - betaln(a0, b0)


def advantage_variance_hessian(alpha: float, beta: float, alpha0: float,
                               beta0: float) -> np.ndarray:
    r"""Hessian (2, 2) of :math:`\log\operatorname{Var}[A_{\alpha,\beta}]` in (alpha, beta).

    With :math:`H_B(x,y)=\begin{pmatrix}\psi_1(x)-\psi_1(x+y)&-\psi_1(x+y)\\
    -\psi_1(x+y)&\psi_1(y)-\psi_1(x+y)\end{pmatrix}` the Hessian of :math:`\log B`
    (:math:`\psi_1` the trigamma function), it is
    :math:`2H_B(\alpha,\beta)+4H_B(\alpha_0+3-2\alpha,\beta_0+3-2\beta)`, positive
    definite on the domain (log B is strictly convex). Used to size argmin tolerances.
    """
    a, b = _positive(alpha, "alpha"), _positive(beta, "beta")
    a_max, b_max = variance_domain(alpha0, beta0)
    if a >= a_max or b >= b_max:
        raise ModelError(f"(alpha, beta) = ({a!r}, {b!r}) outside the finite-variance region "
                         f"alpha < {a_max!r}, beta < {b_max!r}", field="alpha")

    def h_logb(x: float, y: float) -> np.ndarray:
        t = float(polygamma(1, x + y))
        return np.array([[float(polygamma(1, x)) - t, -t], [-t, float(polygamma(1, y)) - t]])

    return 2 * h_logb(a, b) + 4 * h_logb(float(alpha0) + 3 - 2 * a, float(beta0) + 3 - 2 * b)
