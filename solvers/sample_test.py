r"""The S-CPOS sample test of the flipping paper: exact pass probability and Hoeffding's bound.

Shen, Jiang, Wachi, Hashimoto, Gros, "Flipping-based policy for
chance-constrained MDPs", NeurIPS 2024, arXiv 2410.06474, §4 (S-CPOS) and
Theorem 8; cmdp_ccmdp notes §3.3. The CPO step constrains the one-step
unsafety of the new policy at a state :math:`s`,

.. math::
    \frac{q}{1-\gamma_u}\le\delta_s,\qquad q=\Pr(s^+\in U)=\sum_a\pi(a|s)\,P(U|s,a),

and the sample version replaces :math:`q` by the empirical frequency of
:math:`N` i.i.d. successors :math:`s^{+,(i)}` and accepts when

.. math::
    \frac{1}{(1-\gamma_u)N}\sum_{i=1}^N\mathbb 1\{s^{+,(i)}\in U\}\le\tilde\delta_s,
    \qquad 0\le\tilde\delta_s<\delta_s.

(The paper's constraint also adds the known constant :math:`H_{unsafe}(\theta_k,s)`
to both sides; subtracting it from :math:`\delta_s` and :math:`\tilde\delta_s`
leaves the gap :math:`\delta_s-\tilde\delta_s` unchanged, so it is omitted here.)
With :math:`X=\sum_i\mathbb 1\{s^{+,(i)}\in U\}\sim\mathrm{Bin}(N,q)` the test
passes iff :math:`X\le k^\star:=\lfloor N\tilde\delta_s(1-\gamma_u)\rfloor`, so the
**exact** pass probability is the binomial CDF :math:`F_{N,q}(k^\star)`
(:func:`pass_probability`, computed in integer arithmetic, no rounding). For an
infeasible policy, :math:`q\ge\delta_s(1-\gamma_u)`, Hoeffding's inequality with
:math:`t=q-\tilde\delta_s(1-\gamma_u)\ge(\delta_s-\tilde\delta_s)(1-\gamma_u)>0` gives

.. math::
    F_{N,q}(k^\star)=\Pr(\bar X\le q-t)\le e^{-2Nt^2}
    \le\exp\{-2N(\delta_s-\tilde\delta_s)^2(1-\gamma_u)^2\}

(:func:`hoeffding_pass_bound`). Nothing here is a value; no quantity is
scaled by :math:`1-\gamma`.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

from .errors import ModelError
from .mdp import TabularMDP
from .policies import as_policy
from .random_models import as_generator

__all__ = [
    "EXACT_MAX_N",
    "binomial_cdf_exact",
    "hoeffding_pass_bound",
    "pass_count_threshold",
    "pass_probability",
    "passes_sample_test",
    "sample_successors_unsafe",
    "sample_test_statistic",
]

#: :func:`binomial_cdf_exact` refuses larger N (its integers have about 53 N bits).
EXACT_MAX_N: int = 20_000


# -- validation -----------------------------------------------------------------------
def _real(x: object, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, Fraction)):
        raise ModelError(f"{name} = {x!r} is not a real number", field=name)
    v = float(x)
    if not math.isfinite(v):
        raise ModelError(f"{name} = {v!r}, expected a finite number", field=name)
    return v


def _count(n: object, name: str = "N") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < 1:
        raise ModelError(f"{name} = {n!r}, expected an integer >= 1", field=name)
    return int(n)


def _gamma_u(gamma_u: object) -> float:
    g = _real(gamma_u, "gamma_u")
    if not 0.0 < g < 1.0:
        raise ModelError(f"gamma_u = {g!r}, expected a float in (0, 1)", field="gamma_u")
    return g


def _level(x: object, name: str) -> float:
    v = _real(x, name)
    if v < 0.0:
        raise ModelError(f"{name} = {v!r}, expected a level >= 0", field=name)
    return v


def _probability(q: object) -> Fraction:
    if isinstance(q, bool) or not isinstance(q, (numbers.Real, Fraction)):
        raise ModelError(f"q = {q!r} is not a real number, expected a probability", field="q")
    frac = q if isinstance(q, Fraction) else Fraction(float(q))
    if not (0 <= frac <= 1):
        raise ModelError(f"q = {float(frac)!r}, expected a probability in [0, 1]", field="q")
    return frac


# -- the test and its exact pass probability --------------------------------------------
def pass_count_threshold(N: int, delta_tilde: float, gamma_u: float) -> int:
    r"""Largest unsafe count the sample test accepts.

    .. math:: k^\star=\lfloor N\tilde\delta_s(1-\gamma_u)\rfloor,\qquad
        \frac{X}{(1-\gamma_u)N}\le\tilde\delta_s\iff X\le N\tilde\delta_s(1-\gamma_u).

    The product is formed in exact rationals from the given floats, so the
    floor has no rounding ambiguity at the boundary. The result is >= 0; a
    value >= N means every sample passes.
    """
    n = _count(N)
    dt = Fraction(_level(delta_tilde, "delta_tilde"))
    g = Fraction(_gamma_u(gamma_u))
    return math.floor(n * dt * (1 - g))


def binomial_cdf_exact(k: int, N: int, q: object) -> Fraction:
    r"""Exact :math:`\Pr(X\le k)` for :math:`X\sim\mathrm{Bin}(N,q)`, q rational (a float is exact).

    With :math:`q=m/d` in lowest terms,

    .. math:: F_{N,q}(k)=d^{-N}\sum_{j=0}^{\min(k,N)}\binom Nj m^j(d-m)^{N-j},

    summed in Python integers (no rounding at all). ``k < 0`` gives 0.
    """
    n = _count(N)
    if n > EXACT_MAX_N:
        raise ModelError(f"N = {n}, expected at most {EXACT_MAX_N} for exact arithmetic",
                         field="N")
    frac = _probability(q)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ModelError(f"k = {k!r}, expected an integer", field="k")
    k = int(k)
    if k < 0:
        return Fraction(0)
    if k >= n:
        return Fraction(1)
    m, d = frac.numerator, frac.denominator
    # Horner in (d - m): acc = sum_j C(n,j) m^j (d-m)^(k-j), binomials and powers updated
    # incrementally; then multiply by (d-m)^(n-k). Integers only.
    acc, binom_j, m_pow = 0, 1, 1
    for j in range(k + 1):
        acc = acc * (d - m) + binom_j * m_pow
        binom_j = binom_j * (n - j) // (j + 1)
        m_pow *= m
    return Fraction(acc * (d - m) ** (n - k), d**n)


def pass_probability(N: int, q: object, delta_tilde: float, gamma_u: float,
                     *, exact: bool = True) -> Fraction | float:
    r"""Probability that the S-CPOS sample test passes: :math:`F_{N,q}(k^\star)`.

    Parameters
    ----------
    N : int >= 1
        Number of sampled successors.
    q : float or Fraction in [0, 1]
        True one-step unsafety :math:`\Pr(s^+\in U)` of the policy at the state.
    delta_tilde : float >= 0
        Sample level :math:`\tilde\delta_s`.
    gamma_u : float in (0, 1)
        Safety discount.
    exact : bool
        ``True``: a ``Fraction`` by :func:`binomial_cdf_exact`; ``False``:
        ``scipy.stats.binom.cdf`` (float, for N beyond :data:`EXACT_MAX_N`).
    """
    k = pass_count_threshold(N, delta_tilde, gamma_u)
    if exact:
        return binomial_cdf_exact(k, N, q)
    from scipy.stats import binom

    return float(binom.cdf(k, int(N), float(_probability(q))))


def hoeffding_pass_bound(N: int, delta_s: float, delta_tilde: float, gamma_u: float,
                         *, constant: float = 2.0) -> float:
    r"""Theorem 8's bound :math:`\exp\{-c\,N(\delta_s-\tilde\delta_s)^2(1-\gamma_u)^2\}`, c = 2.

    Bounds the probability that a policy with :math:`q\ge\delta_s(1-\gamma_u)`
    passes the sample test (module docstring). ``constant`` exists so that tests
    can show a wrong constant is caught; the theorem's is 2 (Hoeffding 1963).

    Raises
    ------
    ModelError
        N < 1, gamma_u outside (0, 1), negative levels, or
        :math:`\tilde\delta_s\ge\delta_s` (the paper requires :math:`\tilde\delta_s<\delta_s`).
    """
    n = _count(N)
    ds, dt, g = _level(delta_s, "delta_s"), _level(delta_tilde, "delta_tilde"), _gamma_u(gamma_u)
    if not dt < ds:
        raise ModelError(f"delta_tilde = {dt!r} >= delta_s = {ds!r}, expected "
                         "0 <= delta_tilde < delta_s", field="delta_tilde")
    c = _real(constant, "constant")
    return math.exp(-c * n * ((ds - dt) * (1.0 - g)) ** 2)


# -- sampling (Monte Carlo of the test on a tabular model) --------------------------------
def sample_successors_unsafe(mdp: TabularMDP, pi: object, s: int, unsafe: object, size: int,
                             rng: np.random.Generator | int) -> np.ndarray:
    r"""Indicators :math:`\mathbb 1\{s^{+,(i)}\in U\}` of ``size`` i.i.d. successors of state s.

    Each sample draws :math:`a\sim\pi(\cdot|s)` and then :math:`s^+\sim P(\cdot|s,a)`
    with ``rng`` (two inverse-CDF draws per sample), i.e. it simulates the
    chain rather than the binomial law.

    Returns
    -------
    ndarray of bool, shape (size,)
    """
    gen = as_generator(rng)
    n = _count(size, "size")
    if mdp.finite_horizon:
        raise ModelError("sample_successors_unsafe needs a stationary policy; got a "
                         "finite-horizon model", field="horizon")
    pol = as_policy(mdp, pi)
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= int(s) < mdp.S:
        raise ModelError(f"s = {s!r}, expected a state index in [0, {mdp.S})", field="s")
    mask = np.asarray(unsafe, dtype=bool)
    if mask.shape != (mdp.S,):
        raise ModelError(f"unsafe has shape {mask.shape}, expected ({mdp.S},)", field="unsafe")
    P = mdp.dense_P()[int(s)]  # (A, S)
    act_cdf = np.cumsum(pol[int(s)])
    actions = np.minimum(np.searchsorted(act_cdf, gen.random(n), side="right"), mdp.A - 1)
    succ_cdf = np.cumsum(P, axis=1)
    u = gen.random(n)
    succ = np.empty(n, dtype=np.int64)
    for a in range(mdp.A):
        chosen = actions == a
        succ[chosen] = np.searchsorted(succ_cdf[a], u[chosen], side="right")
    return mask[np.minimum(succ, mdp.S - 1)]


def sample_test_statistic(indicators: np.ndarray, gamma_u: float) -> float:
    r"""The S-CPOS estimate :math:`\frac{1}{(1-\gamma_u)N}\sum_i\mathbb 1\{s^{+,(i)}\in U\}`."""
    ind = np.asarray(indicators, dtype=bool)
    n = _count(ind.size, "N")
    return float(ind.sum()) / ((1.0 - _gamma_u(gamma_u)) * n)


def passes_sample_test(indicators: np.ndarray, delta_tilde: float, gamma_u: float) -> bool:
    r"""Whether the sample test accepts: count :math:`\le k^\star` (exactly the statistic
    :math:`\le\tilde\delta_s`, decided in rational arithmetic)."""
    ind = np.asarray(indicators, dtype=bool)
    return int(ind.sum()) <= pass_count_threshold(ind.size, delta_tilde, gamma_u)
