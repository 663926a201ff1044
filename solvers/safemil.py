r"""SafeMIL's bag lemma and score-order probability, exactly and by Monte Carlo (notes §6.2).

A bag is :math:`n_{bag}` trajectories drawn with replacement. An *unlabeled* bag draws
from :math:`D^U`, in which a fraction :math:`\alpha` of trajectories is preferred; a
*non-preferred* bag draws from :math:`D^N`. Each trajectory :math:`\omega` carries a
(discounted) cost :math:`C(\omega)=\sum_t\gamma^tc(s_t,a_t)`, and

.. math::
    \mathrm{Score}(\mathcal B)=\frac1{n_{bag}}\sum_{\omega\in\mathcal B}C(\omega).

- Lemma 1: :math:`\Pr(\mathcal B\cap\mathcal T_p\ne\emptyset)=1-(1-\alpha)^{n_{bag}}`.
- Theorem 1 (per the notes, homogeneous non-preferred costs):
  :math:`\Pr(\mathrm{Score}(\mathcal B_n)>\mathrm{Score}(\mathcal B_u))=1-(1-\alpha)^{n_{bag}}`.
  Exact when every non-preferred cost equals :math:`C_N` and every preferred cost is
  below it; with heterogeneous costs the probability differs (computed exactly here).

Cost distributions are finite: values with probabilities. Exact computations compare
bag *sums* (both bags have the same size) with values held as ``Fraction`` (so ties are
exact); probabilities stay ``Fraction`` when every input probability is rational
(``Fraction`` or ``int``), else float.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from numbers import Rational, Real

import numpy as np

from .errors import ModelError
from .random_models import as_generator
from .tolerances import EPS, PROB_SUM_TOL

__all__ = [
    "CostDistribution",
    "MonteCarloEstimate",
    "ScoreOrder",
    "bag_hit_probability",
    "bag_hit_probability_enumeration",
    "bag_hit_probability_mc",
    "score_order_mc",
    "score_order_probability",
]

Number = Fraction | float

#: Largest bag for the 2^n_bag label enumeration of Lemma 1.
MAX_ENUMERATION_BAG: int = 20


def as_probability(value: object, field: str) -> Number:
    """A probability in [0, 1]: ``Fraction`` if rational input, else float; else ModelError."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ModelError(f"{field} = {value!r}, expected a probability in [0, 1]", field=field)
    v = Fraction(value) if isinstance(value, Rational) else float(value)
    if not (0 <= v <= 1):  # also rejects NaN
        raise ModelError(f"{field} = {value!r}, expected a probability in [0, 1]", field=field)
    return v


def as_bag_size(n_bag: object) -> int:
    """Validate the bag size ``n_bag`` (the paper's K): an integer >= 1."""
    if isinstance(n_bag, bool) or not isinstance(n_bag, (int, np.integer)) or n_bag < 1:
        raise ModelError(f"n_bag = {n_bag!r}, expected an integer >= 1", field="n_bag")
    return int(n_bag)


@dataclass(frozen=True)
class CostDistribution:
    """A finite distribution of trajectory costs (values and probabilities).

    Values are stored as exact ``Fraction`` (a float converts exactly); probabilities as
    ``Fraction`` when all are rational, else float. Validated: same length, finite
    values, probabilities >= 0 summing to 1 (exactly, or within ``PROB_SUM_TOL``).
    """

    values: tuple[Fraction, ...]
    probs: tuple[Number, ...]

    @classmethod
    def of(cls, values: Sequence[Real], probs: Sequence[Real] | None = None,
           field: str = "costs") -> CostDistribution:
        """Build and validate; ``probs=None`` means uniform (an empirical data set)."""
        vals = list(values)
        if not vals:
            raise ModelError(f"{field} is empty, expected at least one cost value", field=field)
        for i, v in enumerate(vals):
            if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
                raise ModelError(f"{field}[{i}] = {v!r}, expected a finite real", field=field)
        ps = [Fraction(1, len(vals))] * len(vals) if probs is None else list(probs)
        if len(ps) != len(vals):
            raise ModelError(f"{field}: {len(vals)} values but {len(ps)} probabilities",
                             field=field)
        ps = [as_probability(p, f"{field}.probs[{i}]") for i, p in enumerate(ps)]
        if any(isinstance(p, float) for p in ps):
            ps = [float(p) for p in ps]
            if abs(sum(ps) - 1.0) > PROB_SUM_TOL:
                raise ModelError(f"{field}.probs sums to {sum(ps)!r}, expected 1 within "
                                 f"{PROB_SUM_TOL:g}", field=field)
        elif sum(ps) != 1:
            raise ModelError(f"{field}.probs sums to {sum(ps)}, expected exactly 1",
                             field=field)
        merged: dict[Fraction, Number] = {}
        for v, p in zip(vals, ps, strict=True):
            if p > 0:
                merged[Fraction(v)] = merged.get(Fraction(v), 0) + p
        keys = sorted(merged)
        return cls(tuple(keys), tuple(merged[k] for k in keys))

    @property
    def homogeneous(self) -> bool:
        """True when the distribution is a single cost value."""
        return len(self.values) == 1


def bag_hit_probability(alpha: Real, n_bag: int) -> Number:
    r"""Closed form of Lemma 1: :math:`1-(1-\alpha)^{n_{bag}}` (exact for rational alpha)."""
    a = as_probability(alpha, "alpha")
    return 1 - (1 - a) ** as_bag_size(n_bag)


def bag_hit_probability_enumeration(alpha: Real, n_bag: int) -> Number:
    r"""Lemma 1 by enumerating all :math:`2^{n_{bag}}` label vectors of the bag.

    :math:`\sum_{\ell\in\{0,1\}^{n}:\ \ell\ne0}\prod_i\alpha^{\ell_i}(1-\alpha)^{1-\ell_i}`,
    exact for rational alpha; ``n_bag`` at most :data:`MAX_ENUMERATION_BAG`.
    """
    a = as_probability(alpha, "alpha")
    n = as_bag_size(n_bag)
    if n > MAX_ENUMERATION_BAG:
        raise ModelError(f"n_bag = {n}, expected at most {MAX_ENUMERATION_BAG} for the "
                         "enumeration (use bag_hit_probability)", field="n_bag")
    total: Number = 0
    for labels in itertools.product((0, 1), repeat=n):
        if any(labels):
            total += math.prod(a if lab else 1 - a for lab in labels)
    return total


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte Carlo frequency with its standard error sqrt(p(1-p)/n)."""

    estimate: float
    std_error: float
    n_samples: int


def bag_hit_probability_mc(alpha: Real, n_bag: int, n_samples: int,
                           rng: np.random.Generator | int) -> MonteCarloEstimate:
    """Lemma 1 by sampling ``n_samples`` bags of i.i.d. Bernoulli(alpha) labels."""
    a, n = float(as_probability(alpha, "alpha")), as_bag_size(n_bag)
    gen = as_generator(rng)
    hits = (gen.random((int(n_samples), n)) < a).any(axis=1)
    return _estimate(hits)


def _estimate(hits: np.ndarray) -> MonteCarloEstimate:
    p = float(hits.mean())
    return MonteCarloEstimate(p, math.sqrt(p * (1 - p) / hits.size), int(hits.size))


@dataclass(frozen=True)
class ScoreOrder:
    r"""Exact :math:`\Pr(\mathrm{Score}_n>\mathrm{Score}_u)`, tie probability, Lemma 1 value."""

    greater: Number
    tie: Number
    lemma1: Number


def _mixture(nonpref: CostDistribution, pref: CostDistribution,
             alpha: Number) -> dict[Fraction, Number]:
    out: dict[Fraction, Number] = {}
    for v, p in zip(nonpref.values, nonpref.probs, strict=True):
        out[v] = out.get(v, 0) + (1 - alpha) * p
    for v, p in zip(pref.values, pref.probs, strict=True):
        out[v] = out.get(v, 0) + alpha * p
    return {v: p for v, p in out.items() if p > 0}


def _sum_distribution(step: dict[Fraction, Number], n: int) -> dict[Fraction, Number]:
    """Distribution of the sum of n i.i.d. draws, by n successive convolutions."""
    dist: dict[Fraction, Number] = {Fraction(0): 1}
    for _ in range(n):
        nxt: dict[Fraction, Number] = {}
        for x, px in dist.items():
            for v, pv in step.items():
                nxt[x + v] = nxt.get(x + v, 0) + px * pv
        dist = nxt
    return dist


def score_order_probability(nonpref: CostDistribution, pref: CostDistribution, alpha: Real,
                            n_bag: int) -> ScoreOrder:
    r"""Exact :math:`\Pr(\mathrm{Score}(\mathcal B_n)>\mathrm{Score}(\mathcal B_u))`.

    :math:`\mathcal B_n`: ``n_bag`` i.i.d. costs from ``nonpref``; :math:`\mathcal B_u`:
    ``n_bag`` i.i.d. costs from the mixture :math:`(1-\alpha)\,\mathrm{nonpref}+
    \alpha\,\mathrm{pref}`. Both sum distributions are built by convolution with exact
    (``Fraction``) support points; then
    :math:`\Pr(X>Y)=\sum_xp_X(x)\Pr(Y<x)`. Cost
    :math:`O(n_{bag}\cdot|\text{support}|\cdot k)`.
    """
    a = as_probability(alpha, "alpha")
    n = as_bag_size(n_bag)
    if any(isinstance(p, float) for p in nonpref.probs + pref.probs):
        a = float(a)
    X = _sum_distribution(dict(zip(nonpref.values, nonpref.probs, strict=True)), n)
    Y = _sum_distribution(_mixture(nonpref, pref, a), n)
    ys = sorted(Y)
    cdf = list(itertools.accumulate(Y[y] for y in ys))  # cdf[i] = P(Y <= ys[i])
    greater: Number = 0
    tie: Number = 0
    for x, px in X.items():
        i = bisect.bisect_left(ys, x)  # ys[:i] < x
        if i:
            greater += px * cdf[i - 1]
        if i < len(ys) and ys[i] == x:
            tie += px * Y[x]
    return ScoreOrder(greater=greater, tie=tie, lemma1=1 - (1 - a) ** n)


def score_order_mc(nonpref: CostDistribution, pref: CostDistribution, alpha: Real,
                   n_bag: int, n_samples: int,
                   rng: np.random.Generator | int) -> MonteCarloEstimate:
    r"""Monte Carlo estimate of :math:`\Pr(\mathrm{Score}_n>\mathrm{Score}_u)`.

    Bags are sampled as count vectors (multinomial over the support; the number of
    preferred draws in an unlabeled bag is Binomial(n_bag, alpha)), and the bag sums are
    ``counts @ values`` in float64. Two sums within
    :math:`8\,n_{bag}\max|v|\,\varepsilon` are counted as a tie: each sum of
    :math:`n_{bag}` terms rounds by at most :math:`n_{bag}\max|v|\,\varepsilon`, so exact
    ties are never split by rounding (distinct exact sums closer than that would be
    merged; the exact routine has no such caveat).
    """
    a, n = float(as_probability(alpha, "alpha")), as_bag_size(n_bag)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) \
            or n_samples < 1:
        raise ModelError(f"n_samples = {n_samples!r}, expected an integer >= 1",
                         field="n_samples")
    gen = as_generator(rng)
    vn = np.array([float(v) for v in nonpref.values])
    vp = np.array([float(v) for v in pref.values])
    pn = np.array([float(p) for p in nonpref.probs])
    pp = np.array([float(p) for p in pref.probs])
    pn, pp = pn / pn.sum(), pp / pp.sum()
    N = int(n_samples)
    s_n = gen.multinomial(n, pn, size=N) @ vn
    m = gen.binomial(n, a, size=N)
    s_u = gen.multinomial(n - m, pn) @ vn + gen.multinomial(m, pp) @ vp
    tol = 8 * n * max(np.abs(vn).max(), np.abs(vp).max(), 1.0) * EPS
    return _estimate(s_n > s_u + tol)
