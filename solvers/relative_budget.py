r"""Sample sizes, regime laws and budget dynamics of the relative-budget theory (arXiv 2602.01523).

Built on the time-to-solution laws of :mod:`solvers.time_to_solution`; notation of
the poisoning_budget notes §2 (``shape`` for the paper's Gamma shape :math:`K`).

- :func:`sample_size`: the per-iteration rollout count of Theorem 6.2,
  :math:`n_i=2CH\log(|\mathcal R|/\delta)/(\sqrt{\kappa_i}\,\mathrm{ac}(\kappa_i)\,\sigma_R)`,
  which guarantees the improvement :math:`\tfrac12\sqrt{\kappa_i}\,\sigma_R`.
- :func:`regime_exponent`, :func:`regime_law`: Theorem 6.3's scaling of
  :math:`n_i` in :math:`\xi` per regime, with :math:`f(\xi)=\xi^k` for Gamma.
- :func:`classify_regime`: deficient / balanced / ample from :math:`q`.
- :func:`iterate_budget`: Theorem 6.4's dynamics with :math:`\kappa_i=1/(k\xi_i^2)`,
  idealised (:math:`\mu\leftarrow\mu(1-\tfrac12\sqrt{\kappa_i/k})`) or exact-Gamma
  (:math:`J(\mu_{i+1})=J(\mu_i)+\tfrac12\sqrt{\kappa_i}\,\sigma_R(\mu_i)` solved for
  :math:`\mu_{i+1}` with the exact :math:`J=E[\tilde R]` and :math:`\sigma_R`).

Returns :math:`J=E[R]` are undiscounted sums :math:`E[\sum_{t\le H}r_t]` (never scaled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize

from .errors import ModelError
from .time_to_solution import GammaTime, TimeToSolution, check_budget, check_kappa

__all__ = [
    "BudgetTrajectory",
    "SampleSize",
    "classify_regime",
    "iterate_budget",
    "log_slope",
    "regime_exponent",
    "regime_law",
    "sample_size",
]

Regime = Literal["deficient", "balanced", "ample"]


@dataclass(frozen=True)
class SampleSize:
    r"""Theorem 6.2 at one policy: rollouts needed and the improvement they guarantee.

    Attributes
    ----------
    n : float
        :math:`2CH\log(|\mathcal R|/\delta)/(\sqrt\kappa\,\mathrm{ac}(\kappa)\,\sigma_R)`;
        ``inf`` when :math:`\mathrm{ac}=0` or :math:`\sigma_R=0` (no informative rollout).
    improvement : float
        :math:`\tfrac12\sqrt\kappa\,\sigma_R`, the guaranteed :math:`J(\pi^{(i+1)})-J(\pi^{(i)})`.
    anti_conc, reward_std, xi, kappa, H : float
        The ingredients.
    status : {"finite", "infinite"}
    """

    n: float
    improvement: float
    anti_conc: float
    reward_std: float
    xi: float
    kappa: float
    H: float
    status: Literal["finite", "infinite"]

    @property
    def efficiency(self) -> float:
        r"""Improvement per token :math:`\tfrac12\sqrt\kappa\,\sigma_R/(nH)`; 0 if n = inf."""
        return self.improvement / (self.n * self.H) if self.status == "finite" else 0.0


def sample_size(dist: TimeToSolution, H: float, kappa: float, *, C: float = 1.0,
                log_term: float = 1.0) -> SampleSize:
    r"""Theorem 6.2's sufficient per-iteration sample size at relative budget :math:`H/E[T]`.

    .. math::

        n_i=\frac{2CH\log(|\mathcal R|/\delta_{conf})}
        {\sqrt{\kappa_i}\ \mathrm{ac}(\xi_i;\kappa_i)\ \sigma_R(\pi^{(i)})}
        \ \Longrightarrow\ J(\pi^{(i+1)})-J(\pi^{(i)})\ge\tfrac12\sqrt{\kappa_i}\,\sigma_R.

    Parameters
    ----------
    dist : TimeToSolution
        Law of :math:`T` under the current policy.
    H : float
        Token budget (>= 1; an integer for a discrete law).
    kappa : float
        Threshold in (0, 1].
    C : float
        The theorem's absolute constant (unknown; 1 by default, it only scales n).
    log_term : float
        :math:`\log(|\mathcal R|/\delta_{conf})` (> 0; 1 by default).

    References
    ----------
    Wachi et al., arXiv 2602.01523, Theorem 6.2 (poisoning_budget notes §2.2).
    """
    kappa = check_kappa(kappa)
    C = _positive_float(C, "C")
    log_term = _positive_float(log_term, "log_term")
    H = check_budget(H, integer=dist.discrete)
    ac = dist.anti_conc(H, kappa)
    sd = dist.reward_std(H)
    improvement = 0.5 * math.sqrt(kappa) * sd
    if ac <= 0.0 or sd <= 0.0:
        return SampleSize(math.inf, improvement, ac, sd, dist.xi(H), kappa, H, "infinite")
    n = 2.0 * C * H * log_term / (math.sqrt(kappa) * ac * sd)
    return SampleSize(n, improvement, ac, sd, dist.xi(H), kappa, H, "finite")


def _positive_float(v: float, field: str) -> float:
    v = float(v)
    if not math.isfinite(v) or v <= 0:
        raise ModelError(f"{field} = {v!r}, expected a finite value > 0", field=field)
    return v


# -- Theorem 6.3: regime laws ---------------------------------------------------------------
def regime_exponent(regime: Regime, shape: float) -> float:
    r"""Exponent of :math:`\xi` in Theorem 6.3's :math:`n_i` at fixed :math:`\kappa`, Gamma(shape).

    Deficient :math:`\kappa^{-1/2}f(\xi)^{-3/2}` with :math:`f(\xi)=\xi^k` gives
    :math:`-3k/2`; balanced :math:`\kappa^{-1/2}` gives 0; ample
    :math:`\xi\kappa^{-1/2}` gives +1 (notes §2.2-2.3).
    """
    shape = _positive_float(shape, "shape")
    exps = {"deficient": -1.5 * shape, "balanced": 0.0, "ample": 1.0}
    if regime not in exps:
        raise ModelError(f"regime = {regime!r}, expected one of {sorted(exps)}", field="regime")
    return exps[regime]


def regime_law(regime: Regime, xi: float, kappa: float, shape: float) -> float:
    r"""Theorem 6.3's order of :math:`n_i` (constants and logs dropped).

    Deficient :math:`\kappa^{-1/2}\xi^{-3k/2}`, balanced :math:`\kappa^{-1/2}`,
    ample :math:`\xi\kappa^{-1/2}`.
    """
    kappa = check_kappa(kappa)
    xi = _positive_float(xi, "xi")
    return xi ** regime_exponent(regime, shape) / math.sqrt(kappa)


def classify_regime(dist: TimeToSolution, H: float, q_min: float = 0.1) -> Regime:
    r"""Deficient if :math:`q<q_{min}`, ample if :math:`q>1-q_{min}`, else balanced.

    Follows Assumption 4.4 (balanced non-degeneracy :math:`q_{min}\le q\le1-q_{min}`);
    the default :math:`q_{min}=0.1` is this package's convention, not the paper's.
    For Gamma(1) it puts the balanced range at :math:`\xi\in[0.105, 2.30]`.
    """
    if not (0.0 < q_min < 0.5):
        raise ModelError(f"q_min = {q_min!r}, expected a value in (0, 0.5)", field="q_min")
    q = dist.q(H)
    if q < q_min:
        return "deficient"
    if q > 1.0 - q_min:
        return "ample"
    return "balanced"


def log_slope(x: np.ndarray, y: np.ndarray) -> float:
    r"""Least-squares slope of :math:`\log y` against :math:`\log x` (shapes (m,), m >= 2)."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    return float(np.polyfit(lx, ly, 1)[0])


# -- Theorem 6.4: budget dynamics -----------------------------------------------------------
@dataclass(frozen=True)
class BudgetTrajectory:
    r"""Iterates of Theorem 6.4's dynamics (arrays of shape (n_iter + 1,)).

    Attributes
    ----------
    xi, mean_T, kappa, J, n, improvement : ndarray
        :math:`\xi_i`, :math:`\mu_i`, :math:`\kappa_i=1/(k\xi_i^2)`, :math:`J_i=E[\tilde R]`
        (exact Gamma value), :math:`n_i` (Thm 6.2 with exact ac and :math:`\sigma_R`, C = 1,
        log term 1) and the step :math:`\tfrac12\sqrt{\kappa_i}\sigma_i` the dynamics used.
    mode : {"idealised", "exact"}
    status : {"complete", "saturated"}
        "saturated": the exact target value reached the budget :math:`H` (the
        iteration stopped early; arrays are truncated).
    """

    shape: float
    H: float
    xi: np.ndarray
    mean_T: np.ndarray
    kappa: np.ndarray
    J: np.ndarray
    n: np.ndarray
    improvement: np.ndarray
    mode: Literal["idealised", "exact"]
    status: Literal["complete", "saturated"]


def iterate_budget(shape: float, xi0: float, n_iter: int, *, H: float = 1000.0,
                   mode: Literal["idealised", "exact"] = "idealised") -> BudgetTrajectory:
    r"""Theorem 6.4's dynamics for :math:`T\sim\mathrm{Gamma}(k,p)`, :math:`\kappa_i=1/(k\xi_i^2)`.

    Idealised (notes §2.3; ample-regime :math:`J\approx H+1-\mu`, :math:`\sigma\approx\mu/\sqrt k`):

    .. math::

        \mu_{i+1}=\mu_i\Big(1-\tfrac12\sqrt{\kappa_i/k}\Big)=\mu_i\Big(1-\frac1{2k\xi_i}\Big),
        \qquad \xi_{i+1}-\xi_i=\frac{1/(2k)}{1-1/(2k\xi_i)}.

    Exact: :math:`\mu_{i+1}` solves :math:`J(\mu_{i+1})=J(\mu_i)+\tfrac12\sqrt{\kappa_i}
    \,\sigma_R(\mu_i)` with the exact Gamma :math:`J=E[(H-T)^+]` (strictly decreasing in
    :math:`\mu`) and exact :math:`\sigma_R`, by Brent's method to relative ``xtol`` 1e-14.

    Parameters
    ----------
    shape : float
        Gamma shape :math:`k>0`.
    xi0 : float
        Initial relative budget; :math:`\kappa_0=1/(k\xi_0^2)\le1` needs :math:`\xi_0\ge1/\sqrt k`.
    n_iter : int
        Number of updates (>= 1).
    H : float
        Token budget (>= 1); :math:`\xi` is scale-free, H only fixes units.
    mode : {"idealised", "exact"}

    References
    ----------
    Wachi et al., arXiv 2602.01523, Theorem 6.4: :math:`\xi_i-\xi_0\ge i/(2k)-O_k(1)`,
    :math:`n_i=\tilde\Theta(k\xi_i^2)`.
    """
    shape = _positive_float(shape, "shape")
    H = check_budget(H)
    xi0 = _positive_float(xi0, "xi0")
    if shape * xi0**2 < 1.0 - 1e-12:  # rounding of xi0 = 1/sqrt(shape) is accepted
        raise ModelError(f"xi0 = {xi0!r} gives kappa_0 = 1/(shape xi0^2) = "
                         f"{1 / (shape * xi0**2):.4g} > 1; expected xi0 >= 1/sqrt(shape) = "
                         f"{1 / math.sqrt(shape):.4g}", field="xi0")
    if int(n_iter) != n_iter or n_iter < 1:
        raise ModelError(f"n_iter = {n_iter!r}, expected an integer >= 1", field="n_iter")
    if mode not in ("idealised", "exact"):
        raise ModelError(f"mode = {mode!r}, expected 'idealised' or 'exact'", field="mode")
    mu = H / xi0
    rows: list[tuple[float, ...]] = []
    status: Literal["complete", "saturated"] = "complete"
    for i in range(int(n_iter) + 1):
        dist = GammaTime.from_mean(shape, mu)
        xi = H / mu
        kappa = min(1.0, 1.0 / (shape * xi * xi))  # <= 1 for xi >= xi0 (xi only grows)
        ss = sample_size(dist, H, kappa)
        J = dist.reward_mean(H)
        sd = ss.reward_std
        step = 0.5 * math.sqrt(kappa) * (mu / math.sqrt(shape) if mode == "idealised" else sd)
        rows.append((xi, mu, kappa, J, ss.n, step))
        if i == n_iter:
            break
        if mode == "idealised":
            mu = mu * (1.0 - 0.5 * math.sqrt(kappa / shape))
            continue
        target = J + step
        if target >= H * (1.0 - 1e-12):
            status = "saturated"
            break
        mu = _solve_mean_for_value(shape, H, target, mu)
    arr = np.array(rows)
    return BudgetTrajectory(shape, H, *(arr[:, j].copy() for j in range(6)), mode=mode,
                            status=status)


def _solve_mean_for_value(shape: float, H: float, target: float, mu_hi: float) -> float:
    """The mean mu in (0, mu_hi) with E[(H - T)^+] = target under Gamma(shape, shape/mu)."""

    def gap(mu: float) -> float:
        return GammaTime.from_mean(shape, mu).reward_mean(H) - target

    lo = mu_hi
    while gap(lo) < 0:  # J(mu) -> H as mu -> 0 and target < H, so this terminates
        lo *= 0.5
    if gap(lo) == 0:
        return lo
    return float(optimize.brentq(gap, lo, mu_hi, xtol=1e-14 * mu_hi, rtol=1e-14))
