r"""The relative-budget theory of RLVR (Wachi et al., arXiv 2602.01523) as executable theorems.

Ids follow poisoning_budget notes §4; checks are the notes' §2.5 items 1-6. Every
check compares a closed form of :mod:`solvers.time_to_solution` /
:mod:`solvers.relative_budget` with an independent quantity: numerical quadrature
(``scipy.integrate.quad``), exact rational summation (``fractions``), seeded Monte
Carlo with a CLT tolerance, scipy's Gamma quantiles, or a least-squares slope
against the predicted exponent. Rewards are undiscounted returns
:math:`E[\sum_{t\le H}r_t]` (never scaled).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st
from scipy import integrate, optimize, special, stats

from solvers.time_to_solution import GammaTime, GeometricTime
from solvers.tolerances import EPS

from .core import Evidence, Instance, Theorem
from .registry import register

PAPER = ("Wachi, Kinoshita, Takakura, Higuchi, Suzuki: A Relative-Budget Theory for RL with "
         "Verifiable Rewards in LLM Reasoning, arXiv 2602.01523")
NOTES = "poisoning_budget notes"

_shapes = st.one_of(st.sampled_from([1.0, 2.0, 4.0, 8.0, 16.0]),
                    st.floats(1.0, 16.0, allow_nan=False, allow_subnormal=False))
_xis = st.floats(0.05, 20.0, allow_nan=False, allow_subnormal=False)
_kappas = st.one_of(st.sampled_from([1.0, 0.25, 0.01]),
                    st.floats(1e-3, 1.0, allow_nan=False, allow_subnormal=False))


def _gamma_at(inst: Instance) -> tuple[GammaTime, float]:
    """The Gamma law with the instance's shape and xi, at the instance's budget H."""
    H = float(inst.get("H", 100.0))
    return GammaTime.from_mean(inst["shape"], H / inst["xi"]), H


# -- relative_budget.closed_forms (notes §2.4) ----------------------------------------------
@st.composite
def gamma_instances(draw: st.DrawFn) -> Instance:
    """Gamma shape in [1, 16], xi in [0.05, 20], H in [1, 1e4]."""
    return {"shape": draw(_shapes), "xi": draw(_xis),
            "H": draw(st.sampled_from([1.0, 7.0, 100.0, 1e4]))}


def _check_closed_forms(inst: Instance) -> Evidence:
    g, H = _gamma_at(inst)
    pdf = stats.gamma(g.shape, scale=1.0 / g.rate).pdf
    pts = [min(g.mean, H)] if g.mean < H else None
    quads = [integrate.quad(lambda t, j=j: (H - t) ** j * pdf(t), 0.0, H, points=pts,
                            epsabs=0.0, epsrel=1e-11, limit=200) for j in (0, 1, 2)]
    closed = [g.q(H), g.reward_mean(H), g.reward_second_moment(H)]
    scale = [1.0, H, H * H]
    dev = max(abs(c - v) / s for c, (v, _), s in zip(closed, quads, scale, strict=True))
    # quad's error estimate (x4 safety) plus the closed form's rounding: gammainc is accurate
    # to ~1e-14 relative, the three-term sums lose up to a factor (k + 2)^2 to cancellation.
    tol = max(4 * e / s for (_, e), s in zip(quads, scale, strict=True)) \
        + 256 * EPS * (g.shape + 2) ** 2
    return Evidence(dev, 0.0, "<=", tol=tol, details={
        "q": closed[0], "ER": closed[1], "ER2": closed[2], "q_quad": quads[0][0],
        "ER_quad": quads[1][0], "ER2_quad": quads[2][0]})


register(Theorem(
    id="relative_budget.closed_forms",
    source=f"{PAPER}; {NOTES} §2.4 (closed forms for Gamma(k, p))",
    statement=r"q=F_k,\ E[(H-T)^+]=HF_k-\mu F_{k+1},\ E[((H-T)^+)^2]=H^2F_k-2H\mu F_{k+1}"
              r"+\tfrac{k(k+1)}{p^2}F_{k+2}",
    summary="Gamma closed forms of q, E[R~], E[R~^2] equal numerical quadrature of the density",
    instances=gamma_instances,
    check=_check_closed_forms,
    proof_checks=("relative_budget_exponential_reward_moments",),
    tight=True,
))


# -- relative_budget.geometric_sum (notes §2.4) ---------------------------------------------
@st.composite
def geometric_instances(draw: st.DrawFn) -> Instance:
    """p = num/den rational in (0, 1], H in [1, 60]."""
    den = draw(st.integers(1, 400))
    return {"p_num": draw(st.integers(1, den)), "p_den": den, "H": draw(st.integers(1, 60))}


def _check_geometric(inst: Instance) -> Evidence:
    p = Fraction(inst["p_num"], inst["p_den"])
    H = int(inst["H"])
    geo = GeometricTime(float(p))
    # exact rational enumeration of Pr[T = t] = p (1-p)^(t-1), t <= H
    probs = [p * (1 - p) ** (t - 1) for t in range(1, H + 1)]
    exact = [sum(probs), sum((H - t + 1) * pr for t, pr in enumerate(probs, 1)),
             sum((H - t + 1) ** 2 * pr for t, pr in enumerate(probs, 1))]
    closed = [geo.q(H), geo.reward_mean(H), geo.reward_second_moment(H)]
    scale = [1.0, H, H * H]
    dev = max(abs(c - float(e)) / s for c, e, s in zip(closed, exact, scale, strict=True))
    # float p itself is rounded (rel EPS); the closed forms' three terms are each <= H^2 + 2H/p
    # with a few ulps of error; relative to H^2 that is <= 64 EPS (1 + 2/(pH)) (1 + pH).
    pf = float(p)
    tol = 64 * EPS * (1 + 2 / (pf * H)) * (1 + pf * H)
    return Evidence(dev, 0.0, "<=", tol=tol, details={
        "p": pf, "ER": closed[1], "ER_exact": float(exact[1]), "ER2": closed[2]})


register(Theorem(
    id="relative_budget.geometric_sum",
    source=f"{PAPER}; {NOTES} §2.4 (discrete geometric per-token success)",
    statement=r"E[R]=\sum_{t=1}^H(1-(1-p)^t)=H-\tfrac{(1-p)(1-(1-p)^H)}{p},\ "
              r"E[R^2]=\sum_{t=1}^H(2(H-t)+1)(1-(1-p)^t)",
    summary="geometric closed forms of q, E[R], E[R^2] equal exact rational summation",
    instances=geometric_instances,
    check=_check_geometric,
    proof_checks=("relative_budget_geometric_reward_sum",
                  "relative_budget_geometric_second_moment"),
    tight=True,
))


# -- relative_budget.monte_carlo (notes §2.5 item 6) ----------------------------------------
_MC_N = 40_000
_MC_Z = 5.0  # two-sided 5-sigma CLT band: false alarm ~6e-7 per quantity


@st.composite
def mc_instances(draw: st.DrawFn) -> Instance:
    """Gamma or geometric law, xi in [0.1, 10], kappa in (0, 1], a seed."""
    law = draw(st.sampled_from(["gamma", "geometric"]))
    inst = {"law": law, "xi": draw(st.floats(0.1, 10.0, allow_nan=False)),
            "kappa": draw(_kappas), "seed": draw(st.integers(0, 2**31 - 1))}
    if law == "gamma":
        inst["shape"] = draw(_shapes)
    else:
        inst["H"] = draw(st.integers(5, 200))
    return inst


def _mc_law(inst: Instance):
    if inst["law"] == "gamma":
        g, H = _gamma_at(inst)
        return g, H
    H = int(inst["H"])
    return GeometricTime(min(1.0, inst["xi"] / H)), H


def _check_monte_carlo(inst: Instance) -> Evidence:
    dist, H = _mc_law(inst)
    rng = np.random.default_rng(inst["seed"])
    R = dist.reward(dist.sample(_MC_N, rng), H)
    m, v = dist.reward_mean(H), dist.reward_var(H)
    ac = dist.anti_conc(H, inst["kappa"])
    hit = R >= dist.anti_threshold(H, inst["kappa"])
    # CLT standard errors: mean sd/sqrt(n); variance sqrt((m4 - v^2)/n) with the sample
    # fourth central moment; a frequency sqrt(ac(1-ac)/n) (floored at one sample for ac ~ 0).
    # When fewer than ~30 successes are expected (deficient regime) the sample fourth
    # moment is itself unreliable (often exactly 0: no success drawn), so use the bound
    # E[(R - m)^4] <= H^2 Var[R], valid because 0 <= R <= H and 0 <= m <= H.
    m4 = float(np.mean((R - R.mean()) ** 4))
    if _MC_N * dist.q(H) < 30:
        m4 = max(m4, H * H * v)
    z = [abs(R.mean() - m) / max(math.sqrt(v / _MC_N), EPS * H),
         abs(R.var() - v) / max(math.sqrt(max(m4 - v * v, 0.0) / _MC_N), EPS * H * H),
         abs(hit.mean() - ac) / max(math.sqrt(ac * (1 - ac) / _MC_N), 1.0 / _MC_N)]
    return Evidence(max(z), _MC_Z, "<=", details={
        "z_mean": z[0], "z_var": z[1], "z_ac": z[2], "ER": m, "VarR": v, "ac": ac,
        "n": _MC_N})


register(Theorem(
    id="relative_budget.monte_carlo",
    source=f"{PAPER}, Definition 3.1 and §4; {NOTES} §2.5 item 6",
    statement=r"\max\big(z_{E[R]},z_{\mathrm{Var}[R]},z_{\mathrm{ac}(\kappa)}\big)\le5"
              r"\quad(n=40000\text{ seeded draws})",
    summary="seeded Monte Carlo of E[R], Var[R] and ac(kappa) agrees with the closed forms "
            "within 5 standard errors",
    instances=mc_instances,
    check=_check_monte_carlo,
))


# -- relative_budget.scale_invariance (notes §2.5 item 1) -----------------------------------
@st.composite
def scale_instances(draw: st.DrawFn) -> Instance:
    """Gamma law, a budget and a scale factor c in [1e-3, 1e3]."""
    return {"shape": draw(_shapes), "xi": draw(_xis), "H": draw(st.floats(1.0, 1e3)),
            "c": draw(st.floats(1e-3, 1e3)), "kappa": draw(_kappas)}


def _check_scale(inst: Instance) -> Evidence:
    g, H = _gamma_at(inst)
    c = inst["c"]
    cH = max(c * H, 1.0)
    c = cH / H
    gc = GammaTime(g.shape, g.rate / c)  # every T multiplied by c
    pairs = [(g.xi(H), gc.xi(cH)), (g.q(H), gc.q(cH)),
             (g.reward_mean(H) / H, gc.reward_mean(cH) / cH),
             (g.reward_std(H) / H, gc.reward_std(cH) / cH),
             (g.anti_conc(H, inst["kappa"]), gc.anti_conc(cH, inst["kappa"]))]
    dev = max(abs(a - b) / max(1.0, abs(a)) for a, b in pairs)
    # The two parameterisations agree up to the rounding of rate*H (one ulp) propagated
    # through gammainc (relative condition ~ k), the variance's cancellation (~ k xi^2 ulps)
    # and, for ac, the CDF's slope times the threshold's error.
    tol = 1e3 * EPS * g.shape * (1 + g.xi(H)) ** 2
    return Evidence(dev, 0.0, "<=", tol=tol, details={"xi": pairs[0][0], "q": pairs[1][0]})


register(Theorem(
    id="relative_budget.scale_invariance",
    source=f"{PAPER}, Definition 4.1; {NOTES} §2.5 item 1",
    statement=r"(H,T)\mapsto(cH,cT):\ \xi,\ q,\ E[\tilde R]/H,\ \sigma_R/H,\ \mathrm{ac}(\kappa)"
              r"\ \text{unchanged}",
    summary="xi = H/E[T] is scale-free: scaling H and T leaves q, ac and R~/H unchanged",
    instances=scale_instances,
    check=_check_scale,
))


# -- relative_budget.regime_limits (notes §2.5 item 2, §2.4 left tail) ---------------------
@st.composite
def limit_instances(draw: st.DrawFn) -> Instance:
    """Deficient side xi in [1e-4, 0.1] or ample side xi in [5, 200]."""
    side = draw(st.sampled_from(["deficient", "ample"]))
    lo, hi = (1e-4, 0.1) if side == "deficient" else (5.0, 200.0)
    return {"shape": draw(_shapes), "xi": draw(st.floats(lo, hi)), "side": side}


def _check_limits(inst: Instance) -> Evidence:
    k, xi = inst["shape"], inst["xi"]
    g, H = _gamma_at({**inst, "H": 1.0})
    if inst["side"] == "deficient":
        # F_k(x) = x^k e^{-x} M(1; k+1; x)/Gamma(k+1) with M >= 1 and e^{-x} M <= 1, so
        # q / ((k xi)^k / Gamma(k+1)) lies in [e^{-k xi}, 1] (x = k xi); -> 1 at rate k xi.
        lead = math.exp(k * math.log(k * xi) - special.gammaln(k + 1))
        ratio = g.q(H) / lead
        lo = math.exp(-k * xi)
        return Evidence(abs(ratio - (1 + lo) / 2), (1 - lo) / 2, "<=", tol=1e-12 * k,
                        details={"ratio": ratio, "lower": lo, "ac_le_q": g.anti_conc(H, 1.0)
                                 <= g.q(H)})
    # Ample: Var(T) - Var(min(T,H)) = Var(Y) + 2(H - E min(T,H)) E Y with Y = (T-H)^+, so
    # 0 <= 1/k - Var(R~)/mu^2 <= (E[T^2 1{T>H}] + 2H E[T 1{T>H}]) / mu^2.
    mu, p = g.mean, g.rate
    tail = (k * (k + 1) / p**2 * special.gammaincc(k + 2, p * H)
            + 2 * H * mu * special.gammaincc(k + 1, p * H)) / mu**2
    gap = 1.0 / k - g.reward_var(H) / mu**2
    tol = 64 * EPS * (k * xi * xi + 1)  # cancellation in E[R~^2] - E[R~]^2 ~ k xi^2 ulps
    return Evidence(abs(gap - tail / 2), tail / 2, "<=", tol=tol,
                    details={"var_over_mu2": g.reward_var(H) / mu**2, "one_over_shape": 1 / k,
                             "tail_bound": tail})


register(Theorem(
    id="relative_budget.regime_limits",
    source=f"{PAPER}, Assumption 4.3 and §4; {NOTES} §2.4-2.5 item 2",
    statement=r"\xi\to0:\ q/\tfrac{(k\xi)^k}{\Gamma(k+1)}\in[e^{-k\xi},1];\quad"
              r"\xi\to\infty:\ 0\le\tfrac1k-\tfrac{\mathrm{Var}\tilde R}{\mu^2}\le"
              r"\tfrac{E[T^21\{T>H\}]+2HE[T1\{T>H\}]}{\mu^2}",
    summary="regime limits: q ~ (k xi)^k/Gamma(k+1) as xi -> 0 and Var(R~)/mu^2 -> 1/shape "
            "as xi -> inf, with exact brackets",
    instances=limit_instances,
    check=_check_limits,
    tight=True,
))


# -- relative_budget.variance_peak / binary_variance_peak (notes §2.5 item 3) --------------
_PEAK_XTOL = 1e-7


def variance_peak(shape: float) -> float:
    r"""Argmax over :math:`\xi` of :math:`\operatorname{Var}(\tilde R)/H^2` for Gamma(shape)."""
    def neg(x: float) -> float:
        return -GammaTime.from_mean(shape, 1.0 / x).reward_var(1.0)

    grid = np.linspace(0.2, 5.0, 97)
    i = int(np.argmin([neg(x) for x in grid]))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    return float(optimize.minimize_scalar(neg, bounds=(lo, hi), method="bounded",
                                          options={"xatol": _PEAK_XTOL}).x)


@st.composite
def shape_instances(draw: st.DrawFn) -> Instance:
    """A Gamma shape in [1, 16]."""
    return {"shape": draw(_shapes)}


def _check_variance_peak(inst: Instance) -> Evidence:
    x = variance_peak(inst["shape"])
    return Evidence(abs(x - 1.25), 0.35, "<=", tol=_PEAK_XTOL, details={"peak_xi": x})


register(Theorem(
    id="relative_budget.variance_peak",
    source=f"{PAPER} (balanced regime); {NOTES} §2.4 table, §2.5 item 3",
    statement=r"k\in[1,16]:\ \arg\max_\xi\operatorname{Var}(\tilde R)/H^2\in(0.9,1.6)",
    summary="the variance per unit budget Var(R~)/H^2 peaks at xi in (0.9, 1.6) for shape in "
            "[1, 16]",
    instances=shape_instances,
    check=_check_variance_peak,
))


def _check_binary_peak(inst: Instance) -> Evidence:
    k = inst["shape"]

    def neg(x: float) -> float:
        q = GammaTime.from_mean(k, 1.0 / x).q(1.0)
        return -q * (1 - q)

    x = float(optimize.minimize_scalar(neg, bounds=(0.05, 5.0), method="bounded",
                                       options={"xatol": _PEAK_XTOL}).x)
    median = float(stats.gamma.ppf(0.5, k, scale=1.0 / k))  # median of Z = T / mu
    # q(1-q) is flat (quadratic) at its peak: the optimiser's x is good to ~xatol + sqrt(EPS)/q'
    return Evidence(x, median, "==", tol=1e3 * _PEAK_XTOL, details={
        "median_lt_one": median < 1.0})


register(Theorem(
    id="relative_budget.binary_variance_peak",
    source=f"{NOTES} §2.4 table, §2.5 item 3",
    statement=r"\arg\max_\xi q(\xi)(1-q(\xi))=\mathrm{median}(Z)<1,\ Z\sim\Gamma(k,\text{rate }k)",
    summary="the binary-reward variance q(1-q) peaks at xi = median(T)/E[T] < 1",
    instances=shape_instances,
    check=_check_binary_peak,
    tight=True,
))
