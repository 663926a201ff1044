r"""RiskPO's risk measures (Ren, Jiang, et al., arXiv 2510.00911; poisoning_budget notes §3.3).

Every check computes its two sides independently: RVaR from a density integral in y
against CVaR from an integral of the quantile function in u; CVaR of a bundle score
against the mean from enumerating all :math:`2^n` reward outcomes; monotonicity under
first-order stochastic dominance, which **fails** for the notes' conditional
definitions on discrete bundle scores (a finding, ``riskpo.mvar_fosd_monotone``) and
holds for the quantile-integral ones (``riskpo.mvar_tail_fosd_monotone``).
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st
from scipy import integrate, stats

from solvers.riskpo import (
    ScoreDistribution,
    bundle_score_distribution,
    cvar,
    cvar_tail,
    mvar,
    rvar_continuous,
    rvar_tail,
)
from solvers.tolerances import EPS

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register

RISKPO = "Ren, Jiang, et al.: RiskPO (mixed value-at-risk policy optimisation), arXiv 2510.00911"
NOTES = "poisoning_budget notes"

_unit = st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False)


# -- riskpo.rvar_cvar_identity ---------------------------------------------------------------
_FAMILIES = {"norm": 2, "gamma": 1, "beta": 2, "lognorm": 1, "logistic": 0, "uniform": 0}


@st.composite
def continuous_score_instances(draw: st.DrawFn) -> Instance:
    """A continuous score law (family, shape parameters) and levels 0.01 <= alpha < beta <= 0.99."""
    fam = draw(st.sampled_from(sorted(_FAMILIES)))
    params = [draw(st.floats(0.3, 5.0, allow_nan=False, allow_subnormal=False))
              for _ in range(_FAMILIES[fam])]
    if fam == "lognorm":
        params = [min(params[0], 1.5)]
    a = draw(st.floats(0.01, 0.98, allow_nan=False, allow_subnormal=False))
    b = draw(st.floats(a + 0.01, 0.99, allow_nan=False, allow_subnormal=False))
    return {"family": fam, "params": params, "alpha": a, "beta": b}


def _frozen(inst: Instance):
    fam, params = inst["family"], list(inst["params"])
    if fam == "norm":
        return stats.norm(loc=params[0] - 2.5, scale=params[1])
    return getattr(stats, fam)(*params)


def _quantile_cvar(dist, u: float) -> tuple[float, float]:
    r""":math:`\frac1u\int_0^u q_v\,dv` by QUADPACK over the level v; (value, error)."""
    v, e = integrate.quad(dist.ppf, 0.0, u, limit=400, epsabs=1e-13, epsrel=1e-12)
    return v / u, e / u


def _check_rvar_identity(inst: Instance) -> Evidence:
    dist, a, b = _frozen(inst), inst["alpha"], inst["beta"]
    lhs = rvar_continuous(dist, a, b)
    ca, ea = _quantile_cvar(dist, a)
    cb, eb = _quantile_cvar(dist, b)
    rhs = (b * cb - a * ca) / (b - a)
    # QUADPACK errors of both level integrals (x10), plus the density integral's requested
    # accuracy 1e-12 relative, all divided by (beta - alpha) >= 0.01.
    scale = max(1.0, abs(b * cb), abs(a * ca))
    tol = (10 * (b * eb + a * ea) + 1e-10 * scale) / (b - a)
    return Evidence(lhs, rhs, "==", tol=tol, details={"cvar_alpha": ca, "cvar_beta": cb,
                                                      "family": inst["family"]})


register(Theorem(
    id="riskpo.rvar_cvar_identity",
    source=f"{RISKPO}; {NOTES} §3.3 [derived]",
    statement=r"Y\ \text{continuous}\Rightarrow\ \mathrm{RVaR}_{\alpha,\beta}(Y)="
              r"\frac{\beta\,\mathrm{CVaR}_\beta(Y)-\alpha\,\mathrm{CVaR}_\alpha(Y)}{\beta-\alpha}",
    summary="RVaR (density integral) equals (beta CVaR_beta - alpha CVaR_alpha)/(beta - alpha)",
    instances=continuous_score_instances,
    check=_check_rvar_identity,
    tight=True,
))


# -- riskpo.cvar_le_mean ---------------------------------------------------------------------
_prob = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0]), _unit)


@st.composite
def bundle_instances(draw: st.DrawFn) -> Instance:
    """Success probabilities of a bundle of 1..6 questions and a level alpha in (0, 1)."""
    n = draw(st.integers(1, 6))
    p = [draw(_prob) for _ in range(n)]
    alpha = draw(st.one_of(st.sampled_from([0.2, 0.5, 0.9]),
                           st.floats(0.001, 0.999, allow_nan=False, allow_subnormal=False)))
    return {"p_success": np.array(p), "alpha": alpha}


def enumerated_mean(p_success: np.ndarray) -> float:
    """E[sum R_i] by summing over all 2^n reward vectors (no pmf, no linearity)."""
    total = 0.0
    for outcome in itertools.product((0, 1), repeat=len(p_success)):
        w = 1.0
        for r, p in zip(outcome, p_success, strict=True):
            w *= p if r else 1 - p
        total += w * sum(outcome)
    return total


def _check_cvar_mean(inst: Instance) -> Evidence:
    p = np.asarray(inst["p_success"], dtype=float)
    lhs = cvar(bundle_score_distribution(p), inst["alpha"])
    rhs = enumerated_mean(p)
    # 2^n products of n factors and a pmf by n convolutions: rounding <= 8 n^2 EPS per unit.
    return Evidence(lhs, rhs, "<=", tol=8 * p.size**2 * EPS * max(1.0, p.size),
                    details={"n_bundle": int(p.size), "alpha": inst["alpha"]})


register(Theorem(
    id="riskpo.cvar_le_mean",
    source=f"{RISKPO}; {NOTES} §3.3",
    statement=r"\mathrm{CVaR}_\alpha(Y)=E[Y\mid Y\le q_\alpha]\le E[Y]",
    summary="CVaR of a bundle score is at most its mean (mean by enumerating 2^n outcomes)",
    instances=bundle_instances,
    check=_check_cvar_mean,
))


# -- riskpo.mvar_fosd_monotone (violated) and its corrected form -----------------------------
@st.composite
def dominance_instances(draw: st.DrawFn) -> Instance:
    """Two bundle-score pmfs on {0..n}; ``probs_high`` moves mass of ``probs_low`` upward."""
    n = draw(st.integers(1, 5))
    w = np.array(draw(st.lists(st.integers(0, 8), min_size=n + 1, max_size=n + 1)), float)
    w[0] += 1
    low = w / w.sum()
    i = draw(st.integers(0, n - 1))
    j = draw(st.integers(i + 1, n))
    moved = low[i] * draw(_unit)
    high = low.copy()
    high[i] -= moved
    high[j] += moved
    return {"probs_low": low, "probs_high": high, "alpha": 0.2, "beta": 0.9, "w_mix": 1.5}


def _dominates(inst: Instance) -> bool:
    low, high = np.cumsum(inst["probs_low"]), np.cumsum(inst["probs_high"])
    return bool(np.all(high <= low + 1e-12))


def _dists(inst: Instance) -> tuple[ScoreDistribution, ScoreDistribution]:
    vals = np.arange(len(inst["probs_low"]), dtype=float)
    return ScoreDistribution(vals, inst["probs_low"]), ScoreDistribution(vals, inst["probs_high"])


def _check_mvar_monotone(inst: Instance) -> Evidence:
    lo, hi = _dists(inst)
    a, b, w = inst["alpha"], inst["beta"], inst["w_mix"]
    return Evidence(mvar(lo, a, b, w), mvar(hi, a, b, w), "<=", tol=1e-12, details={
        "cvar_low": cvar(lo, a), "cvar_high": cvar(hi, a)})


def _mvar_tail(dist: ScoreDistribution, a: float, b: float, w: float) -> float:
    return (w * cvar_tail(dist, a) + rvar_tail(dist, a, b)) / (w + 1)


def _check_mvar_tail_monotone(inst: Instance) -> Evidence:
    lo, hi = _dists(inst)
    a, b, w = inst["alpha"], inst["beta"], inst["w_mix"]
    return Evidence(_mvar_tail(lo, a, b, w), _mvar_tail(hi, a, b, w), "<=", tol=1e-12)


_FOSD = Assumption("first_order_dominance", _dominates,
                   "probs_high first-order stochastically dominates probs_low")

register(Theorem(
    id="riskpo.mvar_fosd_monotone",
    source=f"{NOTES} §3.3, derived test list ('MVaR is monotone under FOSD') for the "
           f"MVaR objective of {RISKPO}; a statement of the notes, not of the paper",
    statement=r"Y'\succeq_{FSD}Y\Rightarrow\mathrm{MVaR}(Y')\ge\mathrm{MVaR}(Y),\ "
              r"\mathrm{CVaR}_\alpha=E[Y\mid Y\le q_\alpha],\ "
              r"\mathrm{RVaR}=E[Y\mid q_\alpha\le Y\le q_\beta]",
    summary="MVaR with conditional CVaR/RVaR is monotone under FOSD (false for bundle scores)",
    instances=dominance_instances,
    check=_check_mvar_monotone,
    assumptions=(_FOSD,),
    expected="violated",
    counterexample="riskpo.mvar_fosd_monotone.json",
    corrected="riskpo.mvar_tail_fosd_monotone",
))

register(Theorem(
    id="riskpo.mvar_tail_fosd_monotone",
    source=f"{RISKPO}; Acerbi & Tasche (2002); {NOTES} §3.3, corrected",
    statement=r"Y'\succeq_{FSD}Y\Rightarrow\overline{\mathrm{MVaR}}(Y')\ge"
              r"\overline{\mathrm{MVaR}}(Y),\ \overline{\mathrm{CVaR}}_\alpha=\tfrac1\alpha"
              r"\int_0^\alpha q_u\,du,\ \overline{\mathrm{RVaR}}=\tfrac1{\beta-\alpha}"
              r"\int_\alpha^\beta q_u\,du",
    summary="MVaR with quantile-integral CVaR/RVaR is monotone under FOSD",
    instances=dominance_instances,
    check=_check_mvar_tail_monotone,
    assumptions=(_FOSD,),
))
