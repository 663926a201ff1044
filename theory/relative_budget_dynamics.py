r"""The relative-budget dynamics of RLVR (Wachi et al., arXiv 2602.01523, Thms 6.3, 6.4).

The required-sample-size regimes (Theorem 6.3: log-slopes of :math:`n_i` in the deficient
and ample regimes) and the linear growth of the relative budget under the idealised
iteration (Theorem 6.4), checked against least-squares slopes of exact quantities and
against the iterated exact Gamma dynamics. The closed forms, Monte Carlo and variance-peak
theorems are in :mod:`theory.relative_budget`. Rewards are undiscounted returns
:math:`E[\sum_{t\le H}r_t]` (never scaled).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from solvers.relative_budget import iterate_budget, log_slope, regime_exponent, sample_size
from solvers.time_to_solution import GammaTime
from solvers.tolerances import EPS

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register
from .relative_budget import NOTES, PAPER, _kappas, _shapes


# -- relative_budget.regime_slopes (Theorem 6.3; notes §2.5 item 4) -------------------------
@st.composite
def slope_instances(draw: st.DrawFn) -> Instance:
    """Shape in [1, 16], kappa in (0, 1], a regime at its end of the xi axis."""
    return {"shape": draw(_shapes), "kappa": draw(_kappas),
            "regime": draw(st.sampled_from(["deficient", "ample"]))}


_SLOPE_XI = {"deficient": (1e-4, 1e-3), "ample": (20.0, 200.0)}


def _check_slopes(inst: Instance) -> Evidence:
    k, kappa, regime = inst["shape"], inst["kappa"], inst["regime"]
    xs = np.geomspace(*_SLOPE_XI[regime], 5)
    n = [sample_size(GammaTime.from_mean(k, 1.0 / x), 1.0, kappa).n for x in xs]
    slope = log_slope(xs, n)
    lo, hi = _SLOPE_XI[regime]
    if regime == "deficient":
        # first-order corrections, doubled: the Gamma left tail's log-slope is k(1 - O(k xi))
        # and ac sits below q by a relative threshold shift ~ k sqrt(kappa q).
        tol = 2 * k * k * hi + k * k * math.sqrt(GammaTime.from_mean(k, 1 / hi).q(1.0))
    else:
        # ample: corrections are the tail mass Pr[T > H] <= Pr[Z > 20] (times poly(xi) from
        # the variance) and the variance's rounding ~ k xi^2 ulps.
        tol = 1e-8 + 1e3 * hi * (1 - GammaTime.from_mean(k, 1 / lo).q(1.0)) \
            + 1e3 * EPS * k * hi * hi
    return Evidence(slope, regime_exponent(regime, k), "==", tol=tol,
                    details={"xi_lo": lo, "xi_hi": hi})


register(Theorem(
    id="relative_budget.regime_slopes",
    source=f"{PAPER}, Theorems 6.2-6.3; {NOTES} §2.3, §2.5 item 4",
    statement=r"\frac{d\log n_i}{d\log\xi}\to-\tfrac{3k}{2}\ (\xi\to0),\quad\to1\ (\xi\to\infty)"
              r",\quad n_i=\frac{2CH\log(|\mathcal R|/\delta)}{\sqrt\kappa\,\mathrm{ac}(\kappa)"
              r"\sigma_R}",
    summary="Thm 6.2's n_i (exact sigma_R and ac) has log-slope -3 shape/2 in the deficient and "
            "+1 in the ample regime",
    instances=slope_instances,
    check=_check_slopes,
    assumptions=(Assumption(
        "ample_ac_positive",
        lambda inst: inst["regime"] != "ample" or math.sqrt(inst["kappa"] / inst["shape"]) <= 0.9,
        "sqrt(kappa/shape) <= 0.9, so ac -> Pr[Z <= 1 - sqrt(kappa/shape)] > 0 in the ample "
        "limit"),),
))


# -- relative_budget.linear_growth (Theorem 6.4; notes §2.3, §2.5 item 5) -------------------
@st.composite
def growth_instances(draw: st.DrawFn) -> Instance:
    """Shape in [1, 8], xi0 >= 1/sqrt(shape), 100..800 iterations, idealised or exact."""
    k = draw(st.one_of(st.sampled_from([1.0, 2.0, 4.0, 8.0]), st.floats(1.0, 8.0)))
    return {"shape": k, "xi0": draw(st.floats(1.0, 3.0)) / math.sqrt(k),
            "n_iter": draw(st.integers(100, 800)),
            "mode": draw(st.sampled_from(["idealised", "exact"]))}


def _check_growth(inst: Instance) -> Evidence:
    k = inst["shape"]
    tr = iterate_budget(k, inst["xi0"], inst["n_iter"], mode=inst["mode"])
    i = np.arange(tr.xi.size)
    excess = tr.xi - tr.xi[0] - i / (2 * k)
    # rounding of xi_i = H/mu_i accumulates ~ i ulps of xi; brentq's 1e-14 relative root.
    tol = 1e-12 * float(tr.xi.max()) * (1 + tr.xi.size)
    return Evidence(float(excess.min()), 0.0, ">=", tol=tol, details={
        "slope_times_2k": float((tr.xi[-1] - tr.xi[0]) / (tr.xi.size - 1) * 2 * k),
        "n_over_k_xi2_last": float(tr.n[-1] / (k * tr.xi[-1] ** 2)), "status": tr.status})


register(Theorem(
    id="relative_budget.linear_growth",
    source=f"{PAPER}, Theorem 6.4 (Gamma case study); {NOTES} §2.3, §2.5 item 5",
    statement=r"\kappa_i=\tfrac1{k\xi_i^2}:\ \xi_i-\xi_0\ge\tfrac{i}{2k}\ \text{for all }i"
              r"\ \text{(idealised and exact-Gamma dynamics)}",
    summary="with kappa_i = 1/(shape xi_i^2) the relative budget grows at least linearly, "
            "xi_i - xi_0 >= i/(2 shape)",
    instances=growth_instances,
    check=_check_growth,
))


def _check_growth_slope(inst: Instance) -> Evidence:
    k = inst["shape"]
    tr = iterate_budget(k, inst["xi0"], inst["n_iter"], mode=inst["mode"])
    half = tr.xi.size // 2
    slope = float((tr.xi[-1] - tr.xi[half]) / (tr.xi.size - 1 - half))
    # idealised increments are (1/2k)/(1 - 1/(2k xi)) in [1/2k, (1/2k)/(1 - 1/(2k xi_half))];
    # the exact model differs from it by the tail terms (E[(T-H)^+] and its square in J and
    # sigma_R), each a bounded multiple of Pr[T > H]; 100 Pr[T > H at xi_half] covers them
    # (<= e^{-10} ~ 5e-5 once xi_half >= 10, the assumption), 1e-6 root finder and rounding.
    hi = 1.0 / (1.0 - 1.0 / (2 * k * tr.xi[half]))
    tail = 1.0 - GammaTime.from_mean(k, 1.0 / tr.xi[half]).q(1.0)
    return Evidence(abs(2 * k * slope - (1 + hi) / 2), (hi - 1) / 2, "<=",
                    tol=1e-6 + 100 * tail, details={"slope_times_2k": 2 * k * slope,
                                       "xi_half": float(tr.xi[half])})


register(Theorem(
    id="relative_budget.linear_growth_slope",
    source=f"{PAPER}, Theorem 6.4; {NOTES} §2.3, §2.5 item 5",
    statement=r"\frac{\xi_N-\xi_{N/2}}{N/2}\in\Big[\tfrac1{2k},\ \tfrac{1/(2k)}"
              r"{1-1/(2k\xi_{N/2})}\Big]\ \to\tfrac1{2k}",
    summary="the late growth rate of xi_i is 1/(2 shape) up to the explicit O(1/xi) excess",
    instances=growth_instances,
    check=_check_growth_slope,
    assumptions=(Assumption(
        "ample_by_half", lambda inst: inst["xi0"] + inst["n_iter"] / (4 * inst["shape"]) >= 10.0,
        "xi at N/2 is at least 10 (ample regime, tail terms Pr[T > H] < 1e-4)"),),
))
