r"""RLVR estimator formulas: BNPO's Beta-normalised advantage and G2D's pairs.

Notes: ../shared/papers/poisoning_budget.md §3.1-§3.3 and §4 (ids). Every check
computes its two sides independently:

- BNPO (``bnpo.*``): the closed-form variance against QUADPACK integration of the
  defining integrand built from ``scipy.stats.beta`` densities; the optimal
  parameters :math:`(1+\alpha_0/3,1+\beta_0/3)` against a Nelder-Mead minimiser of the
  closed form and against the quadrature variance at neighbouring points; the
  REINFORCE / GRPO special cases against the advantages computed from a group's
  rewards.
- RiskPO (``riskpo.*``): in :mod:`theory.riskpo`.
- G2D (``g2d.*``): pair-yield closed forms against exact rational enumeration of all
  :math:`2^G` outcomes of a group.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st
from scipy import integrate, optimize
from scipy.special import digamma

from solvers.bnpo import (
    advantage_variance,
    advantage_variance_hessian,
    bnpo_advantage,
    grpo_advantage,
    optimal_beta_parameters,
)
from solvers.g2d import cross_pair_probability, expected_cross_pairs
from solvers.tolerances import EPS

from .core import Evidence, Instance, Theorem
from .registry import register

BNPO = "Xiao, Zhang, Cao: BNPO: Beta Normalization Policy Optimization, arXiv 2506.02864"
RISKPO = "Ren, Jiang, et al.: RiskPO (mixed value-at-risk policy optimisation), arXiv 2510.00911"
G2D = "Verma & Ravindran: G2D (GRPO warm-up then DPO), arXiv 2605.21266"
NOTES = "poisoning_budget notes"

_prior = st.one_of(st.sampled_from([0.1, 0.5, 1.0, 1.5, 3.0, 10.0]),
                   st.floats(0.1, 20.0, allow_nan=False, allow_subnormal=False))
_unit = st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False)


def _beta_pdf(p: float, a: float, b: float) -> float:
    """Beta(a, b) density from math.lgamma (independent of the solver's scipy betaln)."""
    return math.exp((a - 1) * math.log(p) + (b - 1) * math.log1p(-p)
                    + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))


def _quad_variance(alpha: float, beta: float, alpha0: float, beta0: float) -> tuple[float, float]:
    r""":math:`\int_0^1 p(1-p)\,\mathrm{Beta}(p;\alpha_0,\beta_0)/f_N(p;\alpha,\beta)^2\,dp` by
    QUADPACK on [0, 1/2] and [1/2, 1]; returns (value, QUADPACK's error estimate)."""

    def integrand(p: float) -> float:
        if p <= 0.0 or p >= 1.0:
            return 0.0  # QUADPACK's Gauss-Kronrod nodes are interior; guard the endpoints
        return p * (1 - p) * _beta_pdf(p, alpha0, beta0) / _beta_pdf(p, alpha, beta) ** 2

    total, err = 0.0, 0.0
    for lo, hi in ((0.0, 0.5), (0.5, 1.0)):
        v, e = integrate.quad(integrand, lo, hi, limit=400, epsabs=0.0, epsrel=1e-11)
        total, err = total + v, err + e
    return total, err


# -- bnpo.variance_closed_form --------------------------------------------------------------
@st.composite
def bnpo_variance_instances(draw: st.DrawFn) -> Instance:
    """Prior (alpha0, beta0) and (alpha, beta) with endpoint exponents >= -1/2 (quad-friendly)."""
    a0, b0 = draw(_prior), draw(_prior)
    ta, tb = draw(_unit), draw(_unit)
    # exponent of p in the integrand is a0 + 2 - 2 alpha >= -1/2  <=>  alpha <= (a0 + 2.5) / 2
    return {"alpha0": a0, "beta0": b0, "alpha": 0.3 + ta * ((a0 + 2.5) / 2 - 0.3),
            "beta": 0.3 + tb * ((b0 + 2.5) / 2 - 0.3)}


def _check_variance(inst: Instance) -> Evidence:
    a, b, a0, b0 = inst["alpha"], inst["beta"], inst["alpha0"], inst["beta0"]
    closed = advantage_variance(a, b, a0, b0)
    quad, err = _quad_variance(a, b, a0, b0)
    # QUADPACK's own error estimate (x10, it can be optimistic at the p^(-1/2) endpoint
    # singularity) plus the rounding of exp(sum of four betaln terms of size <= 60).
    tol = 10 * err + 1e-9 * quad + 256 * EPS * closed
    return Evidence(closed, quad, "==", tol=tol, details={"quad_error": err, **inst})


register(Theorem(
    id="bnpo.variance_closed_form",
    source=f"{BNPO}; {NOTES} §3.2 [derived]",
    statement=r"E\Big[\Big(\frac{R-p}{f_N(p;\alpha,\beta)}\Big)^2\Big]=\frac{B(\alpha,\beta)^2"
              r"B(\alpha_0+3-2\alpha,\beta_0+3-2\beta)}{B(\alpha_0,\beta_0)},\ "
              r"p\sim\mathrm{Beta}(\alpha_0,\beta_0),\ R\mid p\sim\mathrm{Bern}(p)",
    summary="BNPO advantage variance closed form equals numerical integration",
    instances=bnpo_variance_instances,
    check=_check_variance,
    proof_checks=("bnpo_variance_integrand",),
    tight=True,
))


# -- bnpo.optimal_beta -----------------------------------------------------------------------
@st.composite
def bnpo_prior_instances(draw: st.DrawFn) -> Instance:
    """A Beta(alpha0, beta0) law of the success rate p(q)."""
    return {"alpha0": draw(_prior), "beta0": draw(_prior)}


def numeric_argmin(alpha0: float, beta0: float) -> tuple[np.ndarray, float]:
    """BFGS minimiser of log Var (closed form) from REINFORCE's (1, 1); (x, argmin tol).

    The gradient is the chain rule on log B (digamma); the start (1, 1) is always in the
    domain. Tolerance: log Var is strongly convex near its minimiser with modulus lam
    (smallest Hessian eigenvalue), so ||x - x*|| <= ||grad(x)|| / lam (x10 for the
    local-quadratic approximation) plus the float resolution of the gradient.
    """
    a_max, b_max = (alpha0 + 3) / 2, (beta0 + 3) / 2

    def f(x: np.ndarray) -> float:
        if not (0 < x[0] < a_max and 0 < x[1] < b_max):
            return math.inf
        return math.log(advantage_variance(x[0], x[1], alpha0, beta0))

    def grad(x: np.ndarray) -> np.ndarray:
        a, b = float(x[0]), float(x[1])
        u, v = alpha0 + 3 - 2 * a, beta0 + 3 - 2 * b
        if not (0 < a and 0 < b and u > 0 and v > 0):
            return np.array([math.nan, math.nan])
        s, t = digamma(a + b), digamma(u + v)
        return np.array([2 * (digamma(a) - s) - 2 * (digamma(u) - t),
                         2 * (digamma(b) - s) - 2 * (digamma(v) - t)])

    res = optimize.minimize(f, x0=np.array([1.0, 1.0]), jac=grad, method="BFGS",
                            options={"gtol": 1e-12, "maxiter": 500})
    x = res.x  # BFGS's line search stalls at |grad| ~ 1e-9 on the rounded f: polish by Newton
    for _ in range(5):
        step = np.linalg.solve(advantage_variance_hessian(*x, alpha0, beta0), grad(x))
        if not np.all(np.isfinite(step)) or not (0 < x[0] - step[0] < a_max
                                                 and 0 < x[1] - step[1] < b_max):
            break
        x = x - step
    g = float(np.max(np.abs(grad(x))))
    if not g < 1e-6:
        raise RuntimeError(f"numeric minimiser stalled at |grad log Var| = {g:.3g}: "
                           f"{res.message}")
    lam = float(np.linalg.eigvalsh(advantage_variance_hessian(*x, alpha0, beta0))[0])
    # digamma terms up to ~log(alpha0 + beta0 + 6), each rounded to a few EPS
    g_floor = 64 * EPS * (1 + math.log(alpha0 + beta0 + 6))
    return x, 10 * (g + g_floor) / lam


def _check_optimal(inst: Instance) -> Evidence:
    a0, b0 = inst["alpha0"], inst["beta0"]
    x, tol = numeric_argmin(a0, b0)
    star = np.array(optimal_beta_parameters(a0, b0))
    dist = float(np.max(np.abs(x - star)))
    return Evidence(dist, 0.0, "==", tol=tol, details={
        "alpha_numeric": float(x[0]), "beta_numeric": float(x[1]),
        "alpha_formula": float(star[0]), "beta_formula": float(star[1]), **inst})


register(Theorem(
    id="bnpo.optimal_beta",
    source=f"{BNPO}; code rule alpha = max(1, 1 + alpha0/3); {NOTES} §3.2 [derived]",
    statement=r"\arg\min_{\alpha,\beta}\operatorname{Var}[A_{\alpha,\beta}]="
              r"(1+\alpha_0/3,\ 1+\beta_0/3)",
    summary="BNPO's (1 + a0/3, 1 + b0/3) equals the numeric argmin of the variance closed form",
    instances=bnpo_prior_instances,
    check=_check_optimal,
    proof_checks=("bnpo_stationarity",),
    tight=True,
))


# -- bnpo.optimal_beta_quadrature ------------------------------------------------------------
#: Step of the neighbour test: large enough that the curvature gain (Hessian eigenvalues
#: >= ~1e-2 for priors <= 20, so >= 1e-5 relative) beats quadrature noise (~1e-10).
_NEIGHBOUR_STEP = 0.05


def _check_optimal_quadrature(inst: Instance) -> Evidence:
    a0, b0 = inst["alpha0"], inst["beta0"]
    sa, sb = optimal_beta_parameters(a0, b0)
    at_star, err = _quad_variance(sa, sb, a0, b0)
    best, errs = math.inf, err
    for da, db in ((-1, 0), (1, 0), (0, -1), (0, 1), (1, 1), (-1, -1), (1, -1), (-1, 1)):
        v, e = _quad_variance(sa + da * _NEIGHBOUR_STEP, sb + db * _NEIGHBOUR_STEP, a0, b0)
        best, errs = min(best, v), errs + e
    return Evidence(at_star, best, "<=", tol=10 * errs + 1e-9 * at_star, details={
        "alpha_star": sa, "beta_star": sb, "step": _NEIGHBOUR_STEP, **inst})


register(Theorem(
    id="bnpo.optimal_beta_quadrature",
    source=f"{BNPO}; {NOTES} §3.2 [derived]",
    statement=r"V_{quad}(1+\alpha_0/3,1+\beta_0/3)\le V_{quad}(\alpha,\beta)\ \text{at the 8 "
              r"neighbours }\pm0.05",
    summary="the formula's (alpha, beta) beats its neighbours in the integrated variance",
    instances=bnpo_prior_instances,
    check=_check_optimal_quadrature,
))


# -- bnpo.special_cases ----------------------------------------------------------------------
@st.composite
def group_instances(draw: st.DrawFn) -> Instance:
    """A GRPO group of G binary rewards with at least one 0 and one 1."""
    G = draw(st.integers(2, 16))
    rewards = draw(st.lists(st.integers(0, 1), min_size=G, max_size=G))
    rewards[0], rewards[-1] = 0, 1
    return {"rewards": np.array(rewards, dtype=np.int64)}


def _check_special(inst: Instance) -> Evidence:
    r = inst["rewards"].astype(float)
    p = float(r.mean())
    reinf = float(np.max(np.abs(bnpo_advantage(r, p, 1.0, 1.0) - (r - p))))
    grpo = grpo_advantage(r)
    bn = bnpo_advantage(r, p, 1.5, 1.5) * (8 / math.pi)
    gap = float(np.max(np.abs(bn - grpo)))
    # a handful of correctly rounded operations on values of size <= sqrt(G)
    tol = 64 * EPS * max(1.0, float(np.max(np.abs(grpo))))
    return Evidence(max(reinf, gap), 0.0, "==", tol=tol,
                    details={"reinforce_gap": reinf, "grpo_gap": gap, "G": int(r.size)})


register(Theorem(
    id="bnpo.special_cases",
    source=f"{BNPO}; {NOTES} §3.2 [derived; checked]",
    statement=r"A_{1,1}=R-p\ \text{(REINFORCE)},\qquad \tfrac8\pi A_{3/2,3/2}="
              r"\frac{R-p}{\sqrt{p(1-p)}}\ \text{(GRPO, population std)}",
    summary="BNPO with (1,1) is REINFORCE with baseline; with (3/2,3/2) it is GRPO times pi/8",
    instances=group_instances,
    check=_check_special,
    proof_checks=("beta_three_halves_density",),
    tight=True,
))


# -- g2d.cross_pair_probability and g2d.expected_cross_pairs ---------------------------------
@st.composite
def group_size_instances(draw: st.DrawFn) -> Instance:
    """Success probability p in [0, 1] and group size G in 1..10."""
    return {"p": draw(st.one_of(st.sampled_from([0.0, 0.5, 1.0]), _unit)),
            "G": draw(st.integers(1, 10))}


def enumerate_group(p: float, G: int) -> tuple[Fraction, Fraction]:
    """(Pr[a cross pair exists], E[#cross pairs]) over all 2^G outcomes, in exact rationals."""
    q = Fraction(p)
    weight = [q**j * (1 - q) ** (G - j) for j in range(G + 1)]  # of one outcome with j correct
    prob, mean = Fraction(0), Fraction(0)
    for outcome in itertools.product((0, 1), repeat=G):
        j = sum(outcome)
        prob += weight[j] if 0 < j < G else 0
        mean += weight[j] * j * (G - j)
    return prob, mean


def _check_pair_probability(inst: Instance) -> Evidence:
    exact, _ = enumerate_group(inst["p"], inst["G"])
    # two powers (relative error <= G EPS each) and two subtractions from 1
    return Evidence(cross_pair_probability(inst["p"], inst["G"]), float(exact), "==",
                    tol=4 * (inst["G"] + 2) * EPS, details=dict(inst))


def _check_expected_pairs(inst: Instance) -> Evidence:
    _, exact = enumerate_group(inst["p"], inst["G"])
    G = inst["G"]
    return Evidence(expected_cross_pairs(inst["p"], G), float(exact), "==",
                    tol=8 * EPS * max(1, G * G), details=dict(inst))


register(Theorem(
    id="g2d.cross_pair_probability",
    source=f"{G2D}; {NOTES} §3.1 [derived]",
    statement=r"\Pr[\exists\text{ (correct, incorrect) pair in a group of }G]=1-p^G-(1-p)^G",
    summary="probability that a group of G rollouts yields a preference pair",
    instances=group_size_instances,
    check=_check_pair_probability,
    proof_checks=("g2d_pair_yield",),
    tight=True,
))

register(Theorem(
    id="g2d.expected_cross_pairs",
    source=f"{G2D}; {NOTES} §3.1 [derived]",
    statement=r"E[j(G-j)]=G(G-1)p(1-p),\qquad j\sim\mathrm{Bin}(G,p)",
    summary="expected number of (correct, incorrect) pairs in a group of G rollouts",
    instances=group_size_instances,
    check=_check_expected_pairs,
    proof_checks=("g2d_pair_yield",),
    tight=True,
))
