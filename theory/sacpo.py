r"""SACPO (Wachi et al., NeurIPS 2024, arXiv 2404.11049) as executable theorems (notes §4.8).

The KL-regularised constrained contextual bandit (:mod:`solvers.kl_bandit`), its closed-form
dual, the stepwise realignment (Theorem 1), the n-constraint composition (Theorem 4), the
P-SACPO merge, and the estimated-model bounds of Theorems 2 and 3 with their pre-Chebyshev
forms (:mod:`solvers.sacpo_bounds`), the latter registered in :mod:`theory.sacpo_bounds`
(where ``sacpo.thm3_safety`` is the registered finding).
``beta`` is the KL weight (paper's :math:`\beta`, notes' :math:`\tau`). Values are one-step
expectations (:math:`\gamma=0`), not rescaled.

Tolerances: a Gibbs policy, a log-partition or a KL is a sum of at most A terms whose
exponent :math:`f/\beta` is rounded with relative error EPS, so each side carries an absolute
error of at most ``64 * A * EPS * scale`` with ``scale`` bounding
:math:`1+\max|f|/\beta` (value-type sides are multiplied by :math:`\beta`); the 64 covers the
handful of roundings per term.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from solvers.kl_bandit import (
    KLBandit,
    best_achievable_safety,
    dual_derivative,
    dual_value,
    expected,
    gibbs_policy,
    log_partition,
    regularised_value,
    solve_kl_bandit,
)
from solvers.sacpo import compose_alignments, psacpo_merge, stepwise_sacpo
from solvers.tolerances import EPS

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register
from .strategies import stochastic_rows

SACPO = "Wachi, Tran, Sato, Tanabe, Akimoto: Stepwise Alignment for Constrained Language " \
        "Model Policy Optimization (NeurIPS 2024), arXiv 2404.11049"
_KEYS = ("mu0", "pi_ref", "r", "g", "beta", "b")
#: Smallest spread G_max - G(pi_r) for a budget "strictly between" (else lam* is astronomically
#: large and every side is dominated by rounding).
_MIN_SPREAD = 1e-3


def problem_of(inst: Instance) -> KLBandit:
    """The :class:`KLBandit` of an instance dict (keys mu0, pi_ref, r, g, beta, b)."""
    return KLBandit(*(inst[k] for k in _KEYS))


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_subnormal=False)


def _log_uniform(lo_exp: float, hi_exp: float) -> st.SearchStrategy[float]:
    return _floats(lo_exp, hi_exp).map(lambda u: 10.0 ** u)


@st.composite
def kl_bandits(draw: st.DrawFn, active: bool | None = True, max_S: int = 3,
               max_A: int = 5) -> Instance:
    r"""Tiny bandit: S <= 3, A in [2, 5], reference with zeros allowed, beta in [0.05, 2].

    ``active=True``: :math:`b` strictly between :math:`G(\pi^\star_r)` and the best achievable
    :math:`G` (so :math:`\lambda^\star>0`, Slater holds) unless :math:`g` spreads by less than
    ``_MIN_SPREAD`` on the support; ``None``: also inactive budgets.
    """
    S, A = draw(st.integers(1, max_S)), draw(st.integers(2, max_A))
    pi_ref = stochastic_rows(draw, (S, A))
    mu0 = stochastic_rows(draw, (S,))
    vals = st.one_of(st.integers(-6, 6).map(lambda k: k / 2), _floats(-3.0, 3.0))
    r = draw(hnp.arrays(np.float64, (S, A), elements=vals))
    g = draw(hnp.arrays(np.float64, (S, A), elements=vals))
    beta = draw(st.one_of(st.sampled_from([0.05, 0.1, 1.0, 2.0]), _log_uniform(-1.3, 0.3)))
    p = KLBandit(mu0, pi_ref, r, g, beta, 0.0)
    lo, hi = dual_derivative(p, 0.0), best_achievable_safety(p)
    t = draw(st.one_of(st.sampled_from([0.5, 0.9]), _floats(0.02 if active else -1.0, 0.98)))
    # a budget inside (G(pi_r), G_max); if g barely varies, an inactive budget below G(pi_r)
    b = lo + t * (hi - lo) if hi - lo >= _MIN_SPREAD else lo - 1.0
    return {"mu0": mu0, "pi_ref": pi_ref, "r": r, "g": g, "beta": beta, "b": float(b)}


def _scale(p: KLBandit, lam: float = 0.0) -> float:
    """1 + max|r + lam g| / beta + max|log pi_ref| (exponent size of every Gibbs term)."""
    logs = np.abs(np.log(p.pi_ref[p.support])).max()
    return 1.0 + float(np.abs(p.r + lam * p.g).max()) / p.beta + float(logs)


def _tol(p: KLBandit, lam: float = 0.0) -> float:
    return 64 * p.A * EPS * _scale(p, lam)


def _solve(p: KLBandit):
    res = solve_kl_bandit(p)
    if res.status != "optimal" or not math.isfinite(res.lam):
        raise RuntimeError(f"solve_kl_bandit on a budget inside (G(pi_r), G_max) returned "
                           f"{res.status}: {res.message}")
    return res


# -- sacpo.gibbs_optimum ---------------------------------------------------------------------
@st.composite
def gibbs_instances(draw: st.DrawFn) -> Instance:
    """A bandit plus another policy on the support of pi_ref (random, or a small perturbation)."""
    inst = draw(kl_bandits(active=None))
    p = problem_of(inst)
    nu = stochastic_rows(draw, (p.S, p.A)) * p.support
    nu = np.where(nu.sum(axis=1, keepdims=True) > 0, nu, p.pi_ref)
    nu = nu / nu.sum(axis=1, keepdims=True)
    eps = draw(st.sampled_from([1.0, 0.1, 1e-3]))
    star = gibbs_policy(p.pi_ref, p.r, p.beta)
    return {**inst, "other": (1 - eps) * star + eps * nu}


def _check_gibbs(inst: Instance) -> Evidence:
    p = problem_of(inst)
    star = gibbs_policy(p.pi_ref, p.r, p.beta)
    j_star, j_other = regularised_value(p, star), regularised_value(p, inst["other"])
    return Evidence(j_star, j_other, ">=", tol=p.beta * _tol(p), details={
        "closed_form": p.beta * float(p.mu0 @ log_partition(p.pi_ref, p.r, p.beta))})


register(Theorem(
    id="sacpo.gibbs_optimum",
    source=f"{SACPO}, Appendix A, Lemma 4; cmdp_ccmdp notes §4.1",
    statement=r"\pi^\star_f=\pi_{ref}e^{f/\beta}/Z_f\ \Rightarrow\ J_f(\pi^\star_f)\ge J_f(\pi)"
              r"\ \forall\pi,\quad J_f(\pi)=E_{\mu_0,\pi}f-\beta E_{\mu_0}KL(\pi\|\pi_{ref})",
    summary="the Gibbs policy maximises E f - beta KL(pi || pi_ref)",
    instances=gibbs_instances, check=_check_gibbs, tight=True))


# -- sacpo.dual_convex_monotone --------------------------------------------------------------
@st.composite
def dual_instances(draw: st.DrawFn) -> Instance:
    inst = draw(kl_bandits(active=None))
    l1, l2 = sorted(draw(st.lists(_floats(0.0, 10.0), min_size=2, max_size=2)))
    return {**inst, "lam1": l1, "lam2": l2, "t": draw(_floats(0.0, 1.0))}


def _check_dual(inst: Instance) -> Evidence:
    p = problem_of(inst)
    l1, l2, t = inst["lam1"], inst["lam2"], inst["t"]
    lm = t * l1 + (1 - t) * l2
    convex = t * dual_value(p, l1) + (1 - t) * dual_value(p, l2) - dual_value(p, lm)
    mono = dual_derivative(p, l2) - dual_derivative(p, l1)
    tol = (p.beta + 1.0) * _tol(p, l2) + 4 * EPS * abs(p.b) * l2
    return Evidence(min(convex, mono), 0.0, ">=", tol=tol, details={
        "convexity_slack": convex, "monotonicity_slack": mono})


register(Theorem(
    id="sacpo.dual_convex_monotone",
    source=f"{SACPO}, Lemma 1 setting; cmdp_ccmdp notes §4.1 [derived]",
    statement=r"D(\lambda)=E_{\mu_0}\beta\log Z_{r+\lambda g}-\lambda b\ \text{convex},\ "
              r"\lambda\mapsto G(\pi^\star_{r+\lambda g})\ \text{nondecreasing}",
    summary="the closed-form dual is convex and G(pi_lam) is nondecreasing in lam",
    instances=dual_instances, check=_check_dual))


# -- sacpo.strong_duality --------------------------------------------------------------------
def _check_strong_duality(inst: Instance) -> Evidence:
    p = problem_of(inst)
    res = _solve(p)
    R = regularised_value(p, res.policy)  # E r - beta KL from the policy
    D = dual_value(p, res.lam)  # closed form via the log-partition
    lo, hi = res.bracket
    g_range = float(np.ptp(p.g))
    # D'' <= range(g)^2 / (4 beta): the bisection bracket moves G by at most that times its width.
    tol = p.beta * _tol(p, res.lam) + res.lam * (hi - lo) * g_range ** 2 / (4 * p.beta) \
        + res.lam * _tol(p, res.lam) * g_range
    return Evidence(R, D, "==", tol=tol, details={"lam": res.lam, "G_minus_b": res.G - p.b})


register(Theorem(
    id="sacpo.strong_duality",
    source=f"{SACPO}, Lemma 1 (Paternain et al. 2022, Thm 3); cmdp_ccmdp notes §4.3",
    statement=r"R(\pi^\star)=D(\lambda^\star)\ \text{and}\ \lambda^\star(G(\pi^\star)-b)=0",
    summary="strong duality and complementary slackness of the KL-regularised bandit",
    instances=lambda: kl_bandits(active=None), check=_check_strong_duality, tight=True))


# -- sacpo.lambda_bound ----------------------------------------------------------------------
@st.composite
def slater_instances(draw: st.DrawFn) -> Instance:
    """Active bandit plus a Slater policy: a mixture of a random policy and a g-maximiser."""
    inst = draw(kl_bandits(active=True))
    p = problem_of(inst)
    nu = stochastic_rows(draw, (p.S, p.A)) * p.support
    nu = np.where(nu.sum(axis=1, keepdims=True) > 0, nu, p.pi_ref)
    nu = nu / nu.sum(axis=1, keepdims=True)
    gm = np.where(p.support, p.g, -np.inf)
    top = np.eye(p.A)[gm.argmax(axis=1)]
    g_nu, g_top = expected(p.mu0, nu, p.g), expected(p.mu0, top, p.g)
    w0 = max(0.0, (p.b - g_nu) / (g_top - g_nu)) if g_top > g_nu else 0.0
    u = draw(st.one_of(st.sampled_from([1.0, 0.5]), _floats(0.01, 1.0)))
    return {**inst, "slater": (1 - (w0 + u * (1 - w0))) * nu + (w0 + u * (1 - w0)) * top}


def _slater_margin(inst: Instance) -> float:
    p = problem_of(inst)
    return expected(p.mu0, inst["slater"], p.g) - p.b


def _check_lambda_bound(inst: Instance) -> Evidence:
    p = problem_of(inst)
    res = _solve(p)
    eps = _slater_margin(inst)
    gap = res.value - regularised_value(p, inst["slater"])
    tol = 2 * p.beta * _tol(p, res.lam) / eps + (res.bracket[1] - res.bracket[0])
    return Evidence(res.lam, gap / eps, "<=", tol=tol, details={"slater_margin": eps})


register(Theorem(
    id="sacpo.lambda_bound",
    source=f"{SACPO}, Lemma 2 (Ding et al. 2021, Lemma 1 with H = 1)",
    statement=r"G(\bar\pi)-b=\epsilon_{sl}>0\ \Rightarrow\ 0\le\lambda^\star\le"
              r"(R(\pi^\star)-R(\bar\pi))/\epsilon_{sl}",
    summary="the optimal multiplier is bounded by the value gap over the Slater margin",
    instances=slater_instances, check=_check_lambda_bound,
    assumptions=(Assumption("slater", lambda i: _slater_margin(i) > 1e-6,
                            "the Slater policy meets the budget with margin > 1e-6"),)))


# -- sacpo.thm1_realignment ------------------------------------------------------------------
@st.composite
def realign_instances(draw: st.DrawFn) -> Instance:
    inst = draw(kl_bandits(active=None))
    n = draw(st.integers(1, 3))
    S, A = inst["r"].shape
    gs = draw(hnp.arrays(np.float64, (n, S, A), elements=_floats(-3.0, 3.0)))
    lams = np.array(draw(st.lists(_floats(0.0, 5.0), min_size=n, max_size=n)))
    return {**inst, "gs": gs, "lams": lams}


def _check_realignment(inst: Instance) -> Evidence:
    p = problem_of(inst)
    res = _solve(p)
    lam = res.lam
    errs = {o: float(np.abs(stepwise_sacpo(p.pi_ref, p.r, p.g, p.beta, lam, o)
                            - res.policy).max()) for o in ("reward_first", "safety_first")}
    gs, lams = inst["gs"], inst["lams"]
    f = p.r + np.tensordot(lams, gs, axes=1)
    comp, log_up = compose_alignments(p.pi_ref, p.r, gs, lams, p.beta)
    errs["composition"] = float(np.abs(comp - gibbs_policy(p.pi_ref, f, p.beta)).max())
    ups = log_partition(p.pi_ref, f, p.beta) - log_partition(p.pi_ref, p.r, p.beta)
    errs["upsilon"] = float(np.abs(log_up - ups).max())
    big = max(lam, float(np.abs(lams).sum()) * 3.0)
    return Evidence(max(errs.values()), 0.0, "<=", tol=4 * (len(lams) + 2) * _tol(p, big),
                    details=errs)


register(Theorem(
    id="sacpo.thm1_realignment",
    source=f"{SACPO}, Theorem 1, Remark 2 and Theorem 4 (Appendix B)",
    statement=r"\pi^\star=T_{\lambda^\star g}T_r\pi_{ref}=T_rT_{\lambda^\star g}\pi_{ref};\ "
              r"T_{\lambda_ng_n}\circ\dots\circ T_{\lambda_1g_1}T_r\pi_{ref}="
              r"\pi^\star_{r+\sum_k\lambda_kg_k},\ \prod_kZ_k=Z_{r+\sum\lambda g}/Z_r",
    summary="stepwise realignment (both orders, n constraints) equals the joint Gibbs optimum",
    instances=realign_instances, check=_check_realignment,
    proof_checks=("sacpo_stepwise_realignment",)))


# -- sacpo.psacpo_merge_exact ----------------------------------------------------------------
@st.composite
def merge_instances(draw: st.DrawFn) -> Instance:
    inst = draw(kl_bandits(active=None))
    S = inst["r"].shape[0]
    shifts = draw(hnp.arrays(np.float64, (2, S), elements=_floats(-5.0, 5.0)))
    return {**inst, "lam_bar": draw(_floats(0.0, 5.0)), "q": draw(_floats(0.0, 1.0)),
            "shifts": shifts}


def _check_merge(inst: Instance) -> Evidence:
    p = problem_of(inst)
    lb, q = inst["lam_bar"], inst["q"]
    merged = psacpo_merge(p.pi_ref, p.r, p.g, p.beta, lb, q, tuple(inst["shifts"]))
    target = gibbs_policy(p.pi_ref, p.r + q * lb * p.g, p.beta)
    return Evidence(float(np.abs(merged - target).max()), 0.0, "<=",
                    tol=8 * _tol(p, lb) + 64 * EPS * float(np.abs(inst["shifts"]).max()))


register(Theorem(
    id="sacpo.psacpo_merge_exact",
    source=f"{SACPO}, §4.4 (P-SACPO); cmdp_ccmdp notes §4.8 [derived]",
    statement=r"\theta=\log\pi+c(s):\ \mathrm{softmax}(q\theta_{r+\bar\lambda g}+(1-q)\theta_r)"
              r"=\pi^\star_{r+q\bar\lambda g}",
    summary="P-SACPO's linear logit merge is exactly the Gibbs policy of r + q lam_bar g",
    instances=merge_instances, check=_check_merge))
