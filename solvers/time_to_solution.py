r"""Time-to-first-correct-solution laws and the relative-budget reward (arXiv 2602.01523).

A rollout with token budget (horizon) :math:`H` produces its first correct
solution after :math:`T` tokens. The paper's reward is

.. math::

    R=(H-T+1)\,\mathbb 1\{T\le H\}=\sum_{t=1}^{H}\mathbb 1\{T\le t\}\in[0,H]

for a discrete :math:`T\in\{1,2,\dots\}`, and its continuous analogue
:math:`\tilde R=(H-T)^+` for a continuous :math:`T` (poisoning_budget notes §2.1,
§2.4). It is an undiscounted episode return :math:`E[\sum_t r_t]` with a per-token
reward of 1 from the solution on (``gamma`` = 1, horizon ``H``); nothing is scaled.

Three laws, each a frozen validated dataclass with the same methods:

- :class:`GammaTime` (``shape``, ``rate``): continuous, reward :math:`\tilde R`;
- :class:`GeometricTime` (``p``, the per-token success probability): discrete;
- :class:`EmpiricalTime` (``pmf[t-1] = Pr[T = t]``): discrete, user-given.

Every law gives the mean :math:`\mu=E[T]`, the relative budget :math:`\xi=H/\mu`,
the success probability :math:`q=\Pr[T\le H]`, :math:`E[R]`, :math:`E[R^2]`,
:math:`\operatorname{Var}[R]` and the anti-concentration coefficient
:math:`\mathrm{ac}(\kappa)=\Pr[R\ge E[R]+\sigma_R\sqrt\kappa]` (the paper's
Definition 3.1, written :math:`c_x(\varepsilon)` there), and draws seeded samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from scipy import special

from .errors import ModelError
from .tolerances import PROB_SUM_TOL
from .validation import as_real_array, as_real_scalar

__all__ = [
    "EmpiricalTime",
    "GammaTime",
    "GeometricTime",
    "TimeToSolution",
    "check_budget",
    "check_kappa",
]


# -- validation -----------------------------------------------------------------------------
def check_budget(H: float, *, integer: bool = False) -> float:
    """Validate a token budget: finite, ``H >= 1`` and, for a discrete law, an integer."""
    h = as_real_scalar(H, "H", "a finite token budget >= 1")
    if h < 1:
        raise ModelError(f"H = {H!r}, expected a finite token budget >= 1", field="H")
    if integer and h != math.floor(h):
        raise ModelError(f"H = {H!r}, expected an integer token budget for a discrete law",
                         field="H")
    return h


def check_kappa(kappa: float) -> float:
    r"""Validate the anti-concentration threshold :math:`\kappa\in(0,1]`."""
    k = as_real_scalar(kappa, "kappa", "kappa in (0, 1]")
    if not (0.0 < k <= 1.0):
        raise ModelError(f"kappa = {kappa!r}, expected kappa in (0, 1]", field="kappa")
    return k


def _positive(value: float, field: str) -> float:
    v = as_real_scalar(value, field, "a finite value > 0")
    if v <= 0:
        raise ModelError(f"{field} = {value!r}, expected a finite value > 0", field=field)
    return v


def _variance(second: float, first: float) -> float:
    """E[R^2] - E[R]^2, clipped at 0 (rounding can make a zero variance slightly negative)."""
    return max(second - first * first, 0.0)


@runtime_checkable
class TimeToSolution(Protocol):
    """What every time-to-solution law provides (see the module docstring)."""

    @property
    def mean(self) -> float: ...
    @property
    def discrete(self) -> bool: ...
    def cdf(self, t: float) -> float: ...
    def xi(self, H: float) -> float: ...
    def q(self, H: float) -> float: ...
    def reward_mean(self, H: float) -> float: ...
    def reward_second_moment(self, H: float) -> float: ...
    def reward_var(self, H: float) -> float: ...
    def reward_std(self, H: float) -> float: ...
    def anti_conc(self, H: float, kappa: float) -> float: ...
    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray: ...
    def reward(self, T: np.ndarray, H: float) -> np.ndarray: ...


class _Common:
    """Methods shared by the laws: xi, Var, sd and ac from the law-specific pieces."""

    def xi(self, H: float) -> float:
        r"""Relative budget :math:`\xi=H/E[T]` (Definition 4.1)."""
        return check_budget(H, integer=self.discrete) / self.mean  # type: ignore[attr-defined]

    def reward_var(self, H: float) -> float:
        r""":math:`\operatorname{Var}[R]=E[R^2]-E[R]^2` (undiscounted return, not scaled)."""
        return _variance(self.reward_second_moment(H), self.reward_mean(H))  # type: ignore

    def reward_std(self, H: float) -> float:
        r""":math:`\sigma_R=\sqrt{\operatorname{Var}[R]}`."""
        return math.sqrt(self.reward_var(H))

    def anti_threshold(self, H: float, kappa: float) -> float:
        r"""The level :math:`E[R]+\sigma_R\sqrt\kappa` in :math:`\mathrm{ac}(\kappa)`."""
        kappa = check_kappa(kappa)
        return self.reward_mean(H) + self.reward_std(H) * math.sqrt(kappa)  # type: ignore


# -- Gamma(shape, rate) ---------------------------------------------------------------------
@dataclass(frozen=True)
class GammaTime(_Common):
    r"""Continuous :math:`T\sim\mathrm{Gamma}(k,p)` (shape, rate), reward :math:`\tilde R=(H-T)^+`.

    Density :math:`p^kt^{k-1}e^{-pt}/\Gamma(k)`, :math:`\mu=k/p`, :math:`\xi=Hp/k`.
    With :math:`F_j` the Gamma(:math:`j`, :math:`p`) CDF at :math:`H` (notes §2.4):

    .. math::

        q=F_k,\qquad E[\tilde R]=HF_k-\mu F_{k+1},\qquad
        E[\tilde R^2]=H^2F_k-2H\mu F_{k+1}+\frac{k(k+1)}{p^2}F_{k+2}.

    Parameters
    ----------
    shape : float
        :math:`k>0` (the paper's :math:`K`; renamed, DESIGN's ``K`` counts constraints).
    rate : float
        :math:`p>0`.
    """

    shape: float
    rate: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _positive(self.shape, "shape"))
        object.__setattr__(self, "rate", _positive(self.rate, "rate"))

    @classmethod
    def from_mean(cls, shape: float, mean_T: float) -> GammaTime:
        """The Gamma law with this shape and mean :math:`E[T]` (rate = shape / mean)."""
        return cls(shape, _positive(shape, "shape") / _positive(mean_T, "mean_T"))

    @property
    def discrete(self) -> bool:
        """False: ``T`` is continuous and the reward is :math:`(H-T)^+`."""
        return False

    @property
    def mean(self) -> float:
        r""":math:`\mu=E[T]=k/p`."""
        return self.shape / self.rate

    def _F(self, j: float, t: float) -> float:
        return float(special.gammainc(j, self.rate * t)) if t > 0 else 0.0

    def cdf(self, t: float) -> float:
        r""":math:`\Pr[T\le t]` (regularised lower incomplete gamma :math:`P(k,pt)`)."""
        return self._F(self.shape, float(t))

    def q(self, H: float) -> float:
        r""":math:`q=\Pr[T\le H]=F_k`."""
        return self.cdf(check_budget(H))

    def reward_mean(self, H: float) -> float:
        r""":math:`E[\tilde R]=HF_k-\mu F_{k+1}` (undiscounted return, not scaled)."""
        H = check_budget(H)
        k = self.shape
        return max(H * self._F(k, H) - self.mean * self._F(k + 1, H), 0.0)

    def reward_second_moment(self, H: float) -> float:
        r""":math:`E[\tilde R^2]=H^2F_k-2H\mu F_{k+1}+k(k+1)F_{k+2}/p^2`."""
        H = check_budget(H)
        k, p = self.shape, self.rate
        return max(H * H * self._F(k, H) - 2 * H * self.mean * self._F(k + 1, H)
                   + k * (k + 1) / p**2 * self._F(k + 2, H), 0.0)

    def anti_conc(self, H: float, kappa: float) -> float:
        r""":math:`\mathrm{ac}(\kappa)=\Pr[\tilde R\ge m]=F_k(H-m)` if :math:`m<H`, else 0.

        Here :math:`m=E\tilde R+\sigma_R\sqrt\kappa`.

        :math:`\tilde R\ge m>0` iff :math:`T\le H-m`; :math:`\tilde R=H` only when
        :math:`T=0`, which has probability 0.
        """
        H = check_budget(H)
        m = self.anti_threshold(H, kappa)
        return self.cdf(H - m) if m < H else 0.0

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` i.i.d. draws of ``T`` from ``rng`` (shape ``(size,)``)."""
        return rng.gamma(self.shape, 1.0 / self.rate, size=int(size))

    def reward(self, T: np.ndarray, H: float) -> np.ndarray:
        r""":math:`\tilde R=(H-T)^+` elementwise."""
        return np.maximum(check_budget(H) - np.asarray(T, dtype=float), 0.0)


# -- Geometric(p) per token -----------------------------------------------------------------
@dataclass(frozen=True)
class GeometricTime(_Common):
    r"""Discrete :math:`\Pr[T=t]=p(1-p)^{t-1}` (:math:`t\ge1`), reward :math:`R=(H-T+1)^+`.

    :math:`\mu=1/p`, :math:`\xi=Hp`. With :math:`a=1-p` and :math:`w=1-a^H=q`
    (notes §2.4, sympy-checked in ``proofs_check.relative_budget``):

    .. math::

        E[R]=\sum_{t=1}^H(1-a^t)=H-\frac{a\,w}{p},\qquad
        E[R^2]=\sum_{t=1}^H(2(H-t)+1)(1-a^t)
        =H^2-\frac{(2H+1)\,a\,w}{p}+\frac{2a\,(w-Hp\,a^H)}{p^2}.

    :math:`a^H` and :math:`w` are computed as ``exp``/``-expm1`` of
    :math:`H\log1p(-p)`, so they are accurate to a few ulps. The closed forms
    cancel when :math:`\xi` is small: the relative rounding error is about
    :math:`\epsilon/\xi` for :math:`E[R]` and :math:`\epsilon/\xi^2` for
    :math:`E[R^2]`; below :math:`\xi=0.05` (where that would exceed ~1e-13)
    :math:`E[R^2]` is therefore computed as the finite sum of its positive terms
    (:math:`O(H)` work) instead of the closed form.

    Parameters
    ----------
    p : float
        Per-token success probability in (0, 1].
    """

    p: float

    def __post_init__(self) -> None:
        p = as_real_scalar(self.p, "p", "p in (0, 1]")
        if not (0.0 < p <= 1.0):
            raise ModelError(f"p = {self.p!r}, expected a per-token success probability in "
                             "(0, 1]", field="p")
        object.__setattr__(self, "p", p)

    @property
    def discrete(self) -> bool:
        """True: ``T`` is an integer and ``H`` must be one."""
        return True

    @property
    def mean(self) -> float:
        r""":math:`\mu=E[T]=1/p`."""
        return 1.0 / self.p

    def _pow_a(self, n: float) -> tuple[float, float]:
        """(a^n, 1 - a^n) for a = 1 - p, accurate for small p."""
        if self.p == 1.0:
            return (0.0, 1.0) if n > 0 else (1.0, 0.0)
        x = n * math.log1p(-self.p)
        return math.exp(x), -math.expm1(x)

    def cdf(self, t: float) -> float:
        r""":math:`\Pr[T\le t]=1-(1-p)^{\lfloor t\rfloor}` (0 for :math:`t<1`)."""
        n = math.floor(float(t))
        return self._pow_a(n)[1] if n >= 1 else 0.0

    def q(self, H: float) -> float:
        r""":math:`q=1-(1-p)^H`."""
        return self.cdf(check_budget(H, integer=True))

    def reward_mean(self, H: float) -> float:
        r""":math:`E[R]=H-(1-p)(1-(1-p)^H)/p` (undiscounted return, not scaled)."""
        H = check_budget(H, integer=True)
        _, w = self._pow_a(H)
        return max(H - (1.0 - self.p) * w / self.p, 0.0)

    def reward_second_moment(self, H: float) -> float:
        r""":math:`E[R^2]=H^2-(2H+1)aw/p+2a(w-Hpa^H)/p^2`."""
        H = check_budget(H, integer=True)
        p, a = self.p, 1.0 - self.p
        if H * p < _GEOM_DIRECT_XI:
            return self._second_moment_by_sum(H)
        aH, w = self._pow_a(H)
        return max(H * H - (2 * H + 1) * a * w / p + 2 * a * (w - H * p * aH) / p**2, 0.0)

    def _second_moment_by_sum(self, H: float) -> float:
        """sum_t (2(H-t)+1)(1-a^t): positive terms, no cancellation; O(H) in chunks."""
        b = -math.log1p(-self.p)
        total, start, n = 0.0, 1, int(H)
        while start <= n:
            t = np.arange(start, min(start + _CHUNK, n + 1), dtype=float)
            total += math.fsum((2.0 * (H - t) + 1.0) * -np.expm1(-t * b))
            start += _CHUNK
        return total

    def anti_conc(self, H: float, kappa: float) -> float:
        r""":math:`\mathrm{ac}(\kappa)=\Pr[R\ge m]=\Pr[T\le H+1-\lceil m\rceil]` (R integer)."""
        H = check_budget(H, integer=True)
        m = self.anti_threshold(H, kappa)
        return self.cdf(H + 1 - math.ceil(m)) if m > 0 else 1.0

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` i.i.d. draws of ``T`` in {1, 2, ...} from ``rng`` (int64, shape ``(size,)``)."""
        return rng.geometric(self.p, size=int(size))

    def reward(self, T: np.ndarray, H: float) -> np.ndarray:
        r""":math:`R=(H-T+1)\mathbb 1\{T\le H\}` elementwise."""
        return _discrete_reward(T, check_budget(H, integer=True))


#: Below this relative budget the geometric E[R^2] is summed term by term (see GeometricTime).
_GEOM_DIRECT_XI = 0.05
_CHUNK = 1 << 20


def _discrete_reward(T: np.ndarray, H: float) -> np.ndarray:
    T = np.asarray(T, dtype=float)
    return np.where(T <= H, H - T + 1.0, 0.0)


# -- empirical pmf --------------------------------------------------------------------------
@dataclass(frozen=True)
class EmpiricalTime(_Common):
    r"""Discrete law given by its pmf: ``pmf[t-1]`` :math:`=\Pr[T=t]`, :math:`t=1..n`.

    All quantities are exact finite sums (in float64):

    .. math::

        q=\sum_{t\le H}\pi_t,\quad E[R]=\sum_{t\le H}(H-t+1)\pi_t,\quad
        E[R^2]=\sum_{t\le H}(H-t+1)^2\pi_t,\quad \mu=\sum_t t\,\pi_t.

    Parameters
    ----------
    pmf : array_like, shape (n,)
        Finite, non-negative, summing to 1 within ``PROB_SUM_TOL``.
    """

    pmf: np.ndarray

    def __post_init__(self) -> None:
        pmf = np.array(as_real_array(self.pmf, "pmf"))  # a writable copy
        if pmf.ndim != 1 or pmf.size == 0:
            raise ModelError(f"pmf has shape {pmf.shape}, expected a non-empty vector (n,)",
                             field="pmf")
        bad = np.flatnonzero(~np.isfinite(pmf) | (pmf < 0))
        if bad.size:
            i = int(bad[0])
            raise ModelError(f"pmf[{i}] = {pmf[i]!r}, expected a finite probability >= 0",
                             field="pmf")
        total = math.fsum(pmf)
        if abs(total - 1.0) > PROB_SUM_TOL:
            raise ModelError(f"pmf sums to {total!r}, expected 1 within {PROB_SUM_TOL:g}",
                             field="pmf")
        pmf.setflags(write=False)
        object.__setattr__(self, "pmf", pmf)

    @property
    def discrete(self) -> bool:
        """True: ``T`` is an integer and ``H`` must be one."""
        return True

    @property
    def support(self) -> np.ndarray:
        """The values t = 1..n (shape (n,))."""
        return np.arange(1, self.pmf.size + 1, dtype=float)

    @property
    def mean(self) -> float:
        r""":math:`\mu=\sum_t t\,\pi_t`."""
        return math.fsum(self.support * self.pmf)

    def cdf(self, t: float) -> float:
        r""":math:`\Pr[T\le t]=\sum_{s\le t}\pi_s`."""
        n = min(math.floor(float(t)), self.pmf.size)
        return math.fsum(self.pmf[:n]) if n >= 1 else 0.0

    def q(self, H: float) -> float:
        r""":math:`q=\Pr[T\le H]`."""
        return self.cdf(check_budget(H, integer=True))

    def _reward_moment(self, H: float, power: int) -> float:
        H = check_budget(H, integer=True)
        n = min(int(H), self.pmf.size)
        r = H - self.support[:n] + 1.0
        return math.fsum(r**power * self.pmf[:n])

    def reward_mean(self, H: float) -> float:
        r""":math:`E[R]=\sum_{t\le H}(H-t+1)\pi_t` (undiscounted return, not scaled)."""
        return self._reward_moment(H, 1)

    def reward_second_moment(self, H: float) -> float:
        r""":math:`E[R^2]=\sum_{t\le H}(H-t+1)^2\pi_t`."""
        return self._reward_moment(H, 2)

    def anti_conc(self, H: float, kappa: float) -> float:
        r""":math:`\mathrm{ac}(\kappa)=\Pr[T\le H+1-\lceil m\rceil]` (R integer, m as above)."""
        H = check_budget(H, integer=True)
        m = self.anti_threshold(H, kappa)
        return self.cdf(H + 1 - math.ceil(m)) if m > 0 else 1.0

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` i.i.d. draws of ``T`` in {1..n} from ``rng`` (int64, shape ``(size,)``)."""
        p = self.pmf / self.pmf.sum()
        return rng.choice(self.pmf.size, size=int(size), p=p) + 1

    def reward(self, T: np.ndarray, H: float) -> np.ndarray:
        r""":math:`R=(H-T+1)\mathbb 1\{T\le H\}` elementwise."""
        return _discrete_reward(T, check_budget(H, integer=True))
