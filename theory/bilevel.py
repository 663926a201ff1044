r"""Bilevel RL with a soft-optimal follower: hypergradient theorems (bilevel notes §1-2, §6).

Every check compares independently computed sides: the implicit soft-Bellman
gradient against central finite differences of the soft solver; the three exact
hypergradient forms (forward-mode implicit, Boltzmann covariance, score) against
each other and against finite differences of F; the sampled BC-HG estimator
against the exact gradient (statistical); the §2.6 bounds against the exact
response term and the sampled indirect parts.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from scipy.stats import norm

from solvers.configurable_mdp import (
    ConfigurableMDP,
    FixedKernel,
    LinearReward,
    SoftmaxKernel,
    TanhReward,
)
from solvers.hypergradient import bilevel_point, finite_difference_hypergradient
from solvers.hypergradient_sampling import SampledGradient, sampled_hypergradient
from solvers.soft_dp import precise_tol, soft_policy_iteration
from solvers.tolerances import EPS

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register

__all__ = ["NOTES", "bilevel_instances", "build_model"]

NOTES = ("derived (boundlab notes, bilevel.md); consistent with BC-HG code, arXiv 2603.14867 "
         "eq. 8 per code comment")

#: Family-wise false-alarm rate of the unbiasedness test per instance (Bonferroni over the
#: n components): with 25-200 instances per run the chance of any false alarm is <= 2e-4.
ALPHA = 1e-6


@st.composite
def bilevel_instances(draw: st.DrawFn, kernel: str = "any", max_gamma: float = 0.9,
                      max_S: int = 4, min_tau: float = 0.1) -> Instance:
    r"""Random configurable MDPs (notes §4): S 2..max_S, A 2..3, n 1..3, tau in [0.1, 3].

    ``kernel``: "fixed" (reward-parameterised only), "softmax" (x also in the kernel),
    or "any". Arrays come from a seeded numpy Generator (the seed is drawn), so the
    instance is a plain dict of arrays and numbers (JSON-encodable).
    """
    S, A, n = draw(st.integers(2, max_S)), draw(st.integers(2, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["fixed", "softmax"])) if kernel == "any" else kernel
    rng = np.random.default_rng(seed)
    alpha = draw(st.sampled_from([0.2, 1.0, 5.0]))
    inst = {
        "rF0": rng.normal(size=(S, A)), "PhiF": rng.normal(size=(S, A, n)),
        "rU0": rng.normal(size=(S, A)), "PhiU": rng.normal(size=(S, A, n)) * draw(
            st.sampled_from([0.0, 1.0])),
        "tanh": draw(st.booleans()), "mu0": rng.dirichlet(np.ones(S)),
        "gamma_F": draw(st.floats(0.0, max_gamma)), "gamma_U": draw(st.floats(0.0, max_gamma)),
        "tau": draw(st.floats(min_tau, 3.0)), "x": rng.normal(size=n) * 0.5,
        "P": rng.dirichlet(np.full(S, alpha), size=(S, A)), "logits": None, "Psi": None,
    }
    if kind == "softmax":
        inst["logits"] = rng.normal(size=(S, A, S))
        inst["Psi"] = 0.5 * rng.normal(size=(S, A, S, n))
    return inst


def build_model(inst: Instance) -> ConfigurableMDP:
    """The ConfigurableMDP of an instance dict from :func:`bilevel_instances`."""
    rF = (TanhReward if inst["tanh"] else LinearReward)(inst["rF0"], inst["PhiF"])
    kern = (FixedKernel(inst["P"]) if inst["logits"] is None
            else SoftmaxKernel(inst["logits"], inst["Psi"]))
    return ConfigurableMDP(rF, LinearReward(inst["rU0"], inst["PhiU"]), kern, inst["mu0"],
                           inst["gamma_F"], inst["gamma_U"], inst["tau"], len(inst["x"]))


def _exact_tol(m: ConfigurableMDP, scale: float, SA: int) -> float:
    # Each form is a few LU solves with I - gamma M (||inverse||_inf <= 1/(1-gamma)),
    # chained through J_Q (amplified by 1/tau in the score); backward-stable LU gives
    # relative error ~ SA * eps per solve, 1e3 covers the LU growth constant and the sums.
    return 1e3 * SA * EPS * max(scale, 1.0) / (m.tau * (1 - m.gamma_U) ** 2 * (1 - m.gamma_F))


# -- softbellman.implicit_gradient ----------------------------------------------------------
def _check_implicit(inst: Instance) -> Evidence:
    m = build_model(inst)
    x = inst["x"]
    p = bilevel_point(m, x, None)
    h = 1e-4
    fd, fd2 = np.empty_like(p.J_Q), np.empty_like(p.J_Q)
    err = 0.0
    for i in range(m.n):
        e = np.zeros(m.n)
        e[i] = h
        Qs = []
        for step in (e, -e, 2 * e, -2 * e):
            fol = m.at(x + step)["follower"]
            r = soft_policy_iteration(fol, m.tau, precise_tol(fol, m.tau)).require()
            err = max(err, r.error_bound)
            Qs.append(r.Q)
        fd[..., i] = (Qs[0] - Qs[1]) / (2 * h)
        fd2[..., i] = (Qs[2] - Qs[3]) / (4 * h)
    # central differences: rounding <= err / h, truncation ~ |fd - fd2| / 3 (Richardson);
    # a factor 10 covers the Richardson estimate being itself approximate.
    tol = 10 * (float(np.abs(fd - fd2).max()) / 3 + err / h) + _exact_tol(
        m, float(np.abs(p.J_Q).max()), p.pi.size)
    diff = float(np.abs(p.J_Q - fd).max())
    return Evidence(diff, 0.0, "==", tol=tol, details={"max_abs_JQ": float(np.abs(p.J_Q).max()),
                                                        "h": h})


register(Theorem(
    id="softbellman.implicit_gradient",
    source=f"{NOTES}, §1.3",
    statement=r"\nabla_xQ_F=(I-\gamma_FM_\pi)^{-1}\big[\nabla_xr_F+\gamma_F(\nabla_xP_x)V_F\big]",
    summary="the implicit soft-Bellman Jacobian equals finite differences of soft-optimal Q",
    instances=lambda: bilevel_instances(max_S=3),
    check=_check_implicit,
))


# -- bilevel.hypergradient_three_forms --------------------------------------------------------
def _check_three_forms(inst: Instance) -> Evidence:
    m = build_model(inst)
    p = bilevel_point(m, inst["x"], None)
    g = {k: p.gradient(k) for k in ("implicit", "bc", "score")}
    fd = finite_difference_hypergradient(m, inst["x"])
    scale = max(float(np.abs(g["bc"]).max()), float(np.abs(p.Q_U).max()))
    te = _exact_tol(m, scale, p.pi.size)
    # finite differences: 10x the (Richardson truncation + rounding) estimate, plus the exact
    # forms' own error.
    tf = 10 * float(fd.error_estimate.max()) + te
    ratios = {"implicit_vs_bc": float(np.abs(g["implicit"] - g["bc"]).max()) / te,
              "score_vs_bc": float(np.abs(g["score"] - g["bc"]).max()) / te,
              "fd_vs_bc": float(np.abs(fd.grad - g["bc"]).max()) / tf}
    return Evidence(max(ratios.values()), 1.0, "<=", details={
        **ratios, "max_abs_grad": float(np.abs(g["bc"]).max()), "fd_h": fd.h})


register(Theorem(
    id="bilevel.hypergradient_three_forms",
    source=f"{NOTES}, §1.2, §5",
    statement=r"\nabla F_{\text{implicit}}=\text{direct}+\tfrac{1}{\tau}\sum\bar d_UA_UJ_Q"
              r"=\text{direct}+\sum\bar d_UQ_U\nabla\log\pi_x=\nabla F_{\text{FD}}",
    summary="implicit, covariance (BC-HG) and score (HPGD) hypergradients agree with each "
            "other and with finite differences (lhs: worst discrepancy / its tolerance)",
    instances=lambda: bilevel_instances(max_S=3),
    check=_check_three_forms,
    proof_checks=("softmax_envelope_identity",),
))


# -- bilevel.bchg_estimator_unbiased -----------------------------------------------------------
N_UNBIASED = 3000


def instance_seed(x: np.ndarray) -> int:
    """A sampling seed fixed by the instance (its leader point), so a check is repeatable."""
    return int(np.abs(x).sum() * 1e6) % 2**31


def unbiasedness_evidence(sg: SampledGradient, exact: np.ndarray, seed: int) -> Evidence:
    """max_i |mean_i - exact_i| / se_i against the Bonferroni threshold for len(exact) tests.

    Truncation at gamma^H <= 1e-13 and the exact side's error are far below 1e-8 * scale;
    a zero standard error (all samples equal) is floored at that level.
    """
    floor = 1e-8 * max(1.0, float(np.abs(exact).max()))
    z = np.abs(sg.mean - exact) / np.maximum(sg.stderr, floor)
    return Evidence(float(z.max()), z_threshold(len(exact)), "<=",
                    details={"N": int(sg.samples.shape[0]), "H": sg.H, "seed": seed})


def _check_unbiased(inst: Instance) -> Evidence:
    m = build_model(inst)
    p = bilevel_point(m, inst["x"])
    seed = instance_seed(inst["x"])
    sg = sampled_hypergradient(p, N_UNBIASED, np.random.default_rng(seed))
    return unbiasedness_evidence(sg, p.gradient("bc"), seed)


#: Smallest normalised occupancy (1 - gamma_U) dbar_U(s, a) for the z-test. The z statistic is
#: close to normal only if no rare pair with a large per-sample contribution dominates the
#: sample: with N = 3000 every pair is then visited >= 60 times in expectation (a search
#: without this found |z| = 480 at an occupancy of 1e-5: one visit in 3000 trajectories,
#: a failure of the normal approximation, not a bias).
MIN_OCCUPANCY = 0.02


def _occupancy_not_rare(inst: Instance) -> bool:
    m = build_model(inst)
    p = bilevel_point(m, inst["x"])
    return bool((1 - m.gamma_U) * p.dbar_U.min() >= MIN_OCCUPANCY)


register(Theorem(
    id="bilevel.bchg_estimator_unbiased",
    source=f"{NOTES}, §1.4",
    statement=r"E[\hat g]=\nabla F(x):\ \max_i|\bar g_i-\nabla_iF|/\mathrm{se}_i\le "
              r"z_{1-\alpha/(2n)},\ \alpha=10^{-6}",
    summary="the single-trajectory BC-HG estimator is unbiased (Bonferroni z-test, fixed seed)",
    instances=lambda: bilevel_instances(max_gamma=0.7, max_S=3, min_tau=0.5),
    check=_check_unbiased,
    assumptions=(Assumption("occupancy_not_rare", _occupancy_not_rare,
                            "every (s, a) has normalised leader occupancy >= 0.02 (valid "
                            "normal approximation of the z statistic)"),),
))


# -- bilevel.bchg_sample_bound / response_term_bound (reward-parameterised) --------------------
def _G_F(m: ConfigurableMDP, d: dict) -> float:
    return float(np.linalg.norm(d["J_rF"], axis=2).max())


def _check_sample_bound(inst: Instance) -> Evidence:
    m = build_model(inst)
    p = bilevel_point(m, inst["x"])
    sg = sampled_hypergradient(p, 200, np.random.default_rng(0))
    lhs = float(np.linalg.norm(sg.indirect, axis=1).max())
    rhs = float(np.abs(p.A_U).max()) * _G_F(m, p.data) / (
        m.tau * (1 - m.gamma_U) * (1 - m.gamma_F))
    return Evidence(lhs, rhs, "<=", tol=1e-9 * max(1.0, rhs), details={"N": 200})


register(Theorem(
    id="bilevel.bchg_sample_bound",
    source=f"{NOTES}, §2.6",
    statement=r"\Big\|\tfrac1\tau\sum_t\gamma_U^tA_U(s_t,a_t)\hat G_t\Big\|_2\le"
              r"\frac{\max|A_U|\,G_F}{\tau(1-\gamma_U)(1-\gamma_F)},\ G_F=\max\|\nabla r_F\|_2",
    summary="every sample of the BC-HG indirect part obeys the per-sample sup bound",
    instances=lambda: bilevel_instances(kernel="fixed"),
    check=_check_sample_bound,
))


def _response_bounds(inst: Instance) -> tuple[float, float, float, float]:
    m = build_model(inst)
    p = bilevel_point(m, inst["x"])
    dbar_s = p.dbar_U.sum(axis=1)
    half_range = (p.Q_U.max(axis=1) - p.Q_U.min(axis=1)) / 2
    diam = np.linalg.norm(p.J_Q[:, :, None, :] - p.J_Q[:, None, :, :], axis=3).max(axis=(1, 2))
    mid = float((dbar_s * half_range * diam).sum()) / m.tau
    dr = float(np.ptp(m.at(inst["x"])["leader"].r))
    outer = dr * _G_F(m, p.data) / (m.tau * (1 - m.gamma_U) ** 2 * (1 - m.gamma_F))
    scale = _exact_tol(m, max(outer, 1.0), p.pi.size)
    return float(np.linalg.norm(p.response)), mid, outer, scale


def _check_response(inst: Instance) -> Evidence:
    lhs, mid, _, tol = _response_bounds(inst)
    return Evidence(lhs, mid, "<=", tol=tol)


def _check_response_closed(inst: Instance) -> Evidence:
    _, mid, outer, tol = _response_bounds(inst)
    return Evidence(mid, outer, "<=", tol=tol)


register(Theorem(
    id="bilevel.response_term_bound",
    source=f"{NOTES}, §2.6",
    statement=r"\|\nabla F-\text{direct}\|_2\le\frac1\tau\sum_s\bar d_U(s)\,"
              r"\frac{\mathrm{range}_aQ_U(s,\cdot)}{2}\max_{a,a'}\|J_Q(s,a)-J_Q(s,a')\|_2",
    summary="the response term is bounded by the per-state covariance bound",
    instances=lambda: bilevel_instances(kernel="fixed"),
    check=_check_response,
))

register(Theorem(
    id="bilevel.response_term_bound_closed_form",
    source=f"{NOTES}, §2.6",
    statement=r"\frac1\tau\sum_s\bar d_U(s)\frac{\mathrm{range}\,Q_U}{2}\max\|\Delta J_Q\|"
              r"\le\frac{\Delta r_U\,G_F}{\tau(1-\gamma_U)^2(1-\gamma_F)}",
    summary="the per-state response bound is below the closed-form two-level bound",
    instances=lambda: bilevel_instances(kernel="fixed"),
    check=_check_response_closed,
))


def z_threshold(n: int, alpha: float = ALPHA) -> float:
    """Two-sided Bonferroni z threshold for n components at family-wise level alpha."""
    return float(norm.isf(alpha / (2 * n)))

