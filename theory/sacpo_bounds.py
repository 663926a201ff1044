r"""SACPO's estimated-model bounds (Theorems 2 and 3) as executable theorems (notes §4.8, §4.9).

The bounds of :mod:`solvers.sacpo_bounds` on the policy :math:`\hat\pi` aligned with
estimated reward and safety functions inside confidence bands :math:`U_r, U_g`, printed and
in the form before Lemma 16's Chebyshev step. ``sacpo.thm3_safety`` is false as printed (the
one-prompt, two-response instance of notes §4.9, :func:`thm3_counterexample`, is stored under
``counterexamples/``); ``sacpo.thm3_pre_chebyshev`` and ``sacpo.thm2_pre_chebyshev`` are the
corrected statements. ``sacpo.thm2_optimality`` has the same proof gap but is registered as
"holds", the status the search finds: ``check(..., examples=3000, seed=0)`` saw 0 violations
in 3000 instances, smallest normalised margin 2.6e-7 (an almost exactly estimated,
inactive-budget instance where both sides are ~1e-6), the same as for the pre-Chebyshev form.
The exact problem's theorems (Gibbs optimum, duality, realignment) are in :mod:`theory.sacpo`.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from solvers.sacpo_bounds import SacpoEstimate, sacpo_bounds

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register
from .sacpo import SACPO, _floats, _log_uniform, _solve, kl_bandits, problem_of

# -- Theorems 2 and 3 in the estimated-model setting -----------------------------------------
_EST_KEYS = ("r_hat", "g_hat", "U_r", "U_g", "alpha", "lam_hat", "B")


@st.composite
def estimate_instances(draw: st.DrawFn) -> Instance:
    r"""Bandit plus estimates inside the bands; widths log-uniform over 1e-6..10.

    Per-entry widths span seven orders of magnitude, so reward and safety data can cover
    different responses (the coverage-mismatch corner of notes §4.9); estimation errors are
    often at the band edge (:math:`\pm1`); :math:`\hat\lambda` is :math:`\lambda^\star` or
    a multiple of it.
    """
    inst = draw(kl_bandits(active=None))
    p = problem_of(inst)
    res = _solve(p)
    shape = (p.S, p.A)
    widths = hnp.arrays(np.float64, shape, elements=_log_uniform(-6.0, 1.0))
    signs = hnp.arrays(np.float64, shape, elements=st.one_of(st.sampled_from([-1.0, 1.0, 0.0]),
                                                             _floats(-1.0, 1.0)))
    alpha = draw(st.one_of(st.just(1.0), _floats(0.1, 2.0)))
    U_r, U_g = draw(widths), draw(widths)
    r_hat = p.r + alpha * U_r * draw(signs)
    g_hat = p.g + alpha * U_g * draw(signs)
    lam_hat = res.lam * draw(st.one_of(st.just(1.0), _floats(0.0, 2.0)))
    B = max(float(np.abs(g_hat).max()), float(np.abs(r_hat).max()), float(np.abs(p.r).max()),
            float(np.abs(p.g).max()))
    return {**inst, "r_hat": r_hat, "g_hat": g_hat, "U_r": U_r, "U_g": U_g, "alpha": alpha,
            "lam_hat": float(lam_hat), "B": B}


def bounds_of(inst: Instance):
    """:func:`solvers.sacpo_bounds.sacpo_bounds` of an estimate instance."""
    return sacpo_bounds(problem_of(inst), SacpoEstimate(*(inst[k] for k in _EST_KEYS)))


def _bound_evidence(lhs: float, rhs: float, extra: dict) -> Evidence:
    # Each side is a sum of <= S*A = 15 terms formed in the log domain; exponents up to
    # |Gamma/beta| ~ 1e3 turn EPS into ~1e-13 relative error, lam* from bisection adds ~EPS.
    # 1e-9 relative keeps a wide margin. An overflowed (vacuous) right side is +inf; the
    # bound then holds with margin 1 (Evidence.margin's limit for an infinite slack).
    tol = 1e-9 * max(1.0, abs(lhs), abs(rhs) if math.isfinite(rhs) else 1.0)
    return Evidence(lhs, rhs, "<=", tol=tol, details={**extra, "rhs_overflow":
                                                      not math.isfinite(rhs)})


def _check_thm2(inst: Instance) -> Evidence:
    bd = bounds_of(inst)
    return _bound_evidence(bd.thm2_lhs, bd.thm2_rhs, {"lam_star": bd.lam_star,
                                                      "pre_chebyshev_rhs": bd.thm2_rhs_pre})


def _check_thm2_pre(inst: Instance) -> Evidence:
    bd = bounds_of(inst)
    return _bound_evidence(bd.thm2_lhs, bd.thm2_rhs_pre, {"lam_star": bd.lam_star,
                                                          "printed_rhs": bd.thm2_rhs})


def _check_thm3(inst: Instance) -> Evidence:
    bd = bounds_of(inst)
    return _bound_evidence(bd.thm3_lhs, bd.thm3_rhs, {"lam_star": bd.lam_star,
                                                      "pre_chebyshev_rhs": bd.thm3_rhs_pre})


def _check_thm3_pre(inst: Instance) -> Evidence:
    bd = bounds_of(inst)
    return _bound_evidence(bd.thm3_lhs, bd.thm3_rhs_pre, {"lam_star": bd.lam_star,
                                                          "printed_rhs": bd.thm3_rhs})


_THM3_HYP = Assumption("estimated_safe", lambda i: bounds_of(i).thm3_applies,
                       "E_{mu0, pi_hat}[g_hat] >= b (SACPO judges pi_hat safe)")
_GAMMA = r"\hat\Gamma(c)=\alpha(U_r+cU_g)+|c-\hat\lambda|B"

register(Theorem(
    id="sacpo.thm2_optimality",
    source=f"{SACPO}, Theorem 2; cmdp_ccmdp notes §4.3, §4.8",
    statement=r"R(\pi^\star)-R(\hat\pi)\le-\lambda^\star b+E_{\mu_0,\pi^\star}[\hat\Gamma(0)"
              r"e^{2\hat\Gamma(\lambda^\star)/\beta}]+\beta\log E_{\mu_0,\pi^\star}"
              r"e^{\hat\Gamma(\lambda^\star)/\beta},\ " + _GAMMA,
    summary="published optimality bound (proof uses the invalid Chebyshev step; status from "
            "the search)",
    instances=estimate_instances, check=_check_thm2, corrected="sacpo.thm2_pre_chebyshev"))

register(Theorem(
    id="sacpo.thm2_pre_chebyshev",
    source=f"{SACPO}, Theorem 2 before Lemma 16's Chebyshev step (Lemmas 10-15); notes §4.8",
    statement=r"R(\pi^\star)-R(\hat\pi)\le-\lambda^\star b+E_{\mu_0}\big[E_{\pi^\star}"
              r"e^{\hat\Gamma(\lambda^\star)/\beta}\,E_{\pi^\star}(\hat\Gamma(0)"
              r"e^{\hat\Gamma(\lambda^\star)/\beta})\big]+\beta\log E_{\mu_0,\pi^\star}"
              r"e^{\hat\Gamma(\lambda^\star)/\beta}",
    summary="corrected optimality bound (the step before Chebyshev's sum inequality)",
    instances=estimate_instances, check=_check_thm2_pre))

register(Theorem(
    id="sacpo.thm3_safety",
    source=f"{SACPO}, Theorem 3; cmdp_ccmdp notes §4.9",
    statement=r"E_{\mu_0,\hat\pi}\hat g\ge b\Rightarrow[b-G(\hat\pi)]_+\le\alpha E_{\mu_0,"
              r"\pi^\star}[U_ge^{2\hat\Gamma(\lambda^\star)/\beta}],\ " + _GAMMA,
    summary="published safety-violation bound (false: coverage-mismatch counterexample)",
    instances=estimate_instances, check=_check_thm3, assumptions=(_THM3_HYP,),
    expected="violated", counterexample="sacpo.thm3_safety.json",
    corrected="sacpo.thm3_pre_chebyshev"))

register(Theorem(
    id="sacpo.thm3_pre_chebyshev",
    source=f"{SACPO}, Theorem 3 before Lemma 16's Chebyshev step; notes §4.8",
    statement=r"E_{\mu_0,\hat\pi}\hat g\ge b\Rightarrow[b-G(\hat\pi)]_+\le\alpha E_{\mu_0}\big["
              r"E_{\pi^\star}e^{\hat\Gamma(\lambda^\star)/\beta}\,E_{\pi^\star}(U_g"
              r"e^{\hat\Gamma(\lambda^\star)/\beta})\big]",
    summary="corrected safety-violation bound (the step before Chebyshev's sum inequality)",
    instances=estimate_instances, check=_check_thm3_pre, assumptions=(_THM3_HYP,)))


def thm3_counterexample() -> Instance:
    r"""The §4.9 instance: one prompt, two responses, :math:`\beta=\alpha=1`, :math:`b=-0.1`.

    :math:`r^\star=(-2.147,0)`, :math:`g^\star=(-1,0)`, :math:`U_r=(10^{-3},6)`,
    :math:`U_g=(1,10^{-6})`, :math:`\hat r=(-2.147,-6)`, :math:`\hat g=(0,0)`,
    :math:`\hat\lambda=\lambda^\star` (from the solver), :math:`B=6`.
    """
    inst = {"mu0": np.array([1.0]), "pi_ref": np.array([[0.5, 0.5]]),
            "r": np.array([[-2.147, 0.0]]), "g": np.array([[-1.0, 0.0]]), "beta": 1.0,
            "b": -0.1}
    lam = _solve(problem_of(inst)).lam
    return {**inst, "r_hat": np.array([[-2.147, -6.0]]), "g_hat": np.array([[0.0, 0.0]]),
            "U_r": np.array([[1e-3, 6.0]]), "U_g": np.array([[1.0, 1e-6]]), "alpha": 1.0,
            "lam_hat": float(lam), "B": 6.0}
