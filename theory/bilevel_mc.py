r"""Monte-Carlo rate of the sampled BC-HG hypergradient (bilevel notes §1.4, §6 item 7).

The notes list ``bilevel.mc_rate`` as "RMSE vs N with slope -1/2" (a figure). The
falsifiable content behind the slope is the exact variance law of a mean of N
independent single-trajectory samples of an unbiased estimator,

.. math::
    E\big[(\bar g_{N,i}-\nabla_iF)^2\big]=\frac{\mathrm{Var}(\hat g_i)}{N}
    \qquad(i=1..n),

so :math:`\mathrm{RMSE}=\sqrt{\mathrm{tr}\,\Sigma/N}` (slope exactly -1/2 on log-log axes).
It fails if the estimator is biased (an extra :math:`\|b\|^2`, visible once
:math:`N\|b\|^2` is comparable to :math:`\mathrm{tr}\,\Sigma`) or if the trajectories are not
independent (samples sharing randomness inflate or deflate the variance of the mean).

**The test** (:func:`variance_scaling_test`), per component i: R replicate means of N
samples give :math:`U_i=\frac NR\sum_r(\bar g_{r,i}-\nabla_iF)^2` (exact :math:`\nabla F`
from forward-mode implicit differentiation); an *independent* pool of M samples gives
the variance :math:`\hat\sigma_i^2` and kurtosis :math:`\hat\kappa_i`. Under the law
:math:`T_i=U_i/\hat\sigma_i^2` is approximately :math:`F(\nu_1,\nu_2)` with Satterthwaite
degrees of freedom from the fourth moments (the samples are not normal):
:math:`\mathrm{Var}(N(\bar g-\mu)^2)/\sigma^4=\kappa_N-1`, :math:`\kappa_N=3+(\kappa-3)/N`,
so :math:`\nu_1=2R/(\kappa_N-1)`;
:math:`\mathrm{Var}(\hat\sigma^2)/\sigma^4=\kappa/M-(M-3)/(M(M-1))`, so
:math:`\nu_2=2/(\kappa/M-(M-3)/(M(M-1)))` (both reduce to R and M - 1 for normal data).
The check accepts when every :math:`T_i` lies in the two-sided F interval at level
:math:`\alpha/n` (Bonferroni).

**False-alarm rate.** :math:`\alpha=10^{-6}` per instance, family-wise over the n
components (Bonferroni is valid under any dependence between components): with 25-1000
instances per run the nominal chance of any false alarm is at most :math:`10^{-3}`. The
level is nominal because the F law is an approximation (CLT for the replicate means with
N = 50, Satterthwaite moment matching, a plug-in kurtosis); instances where a rare
state-action pair dominates the sample (the normal approximation's failure mode, see
``theory.bilevel.MIN_OCCUPANCY``) are excluded by an assumption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import f as f_dist

from solvers.hypergradient import bilevel_point
from solvers.hypergradient_sampling import sampled_hypergradient

from .bilevel import MIN_OCCUPANCY, NOTES, bilevel_instances, build_model
from .core import Assumption, Evidence, Instance, Theorem
from .registry import register

__all__ = ["ALPHA", "MC_M", "MC_N", "MC_R", "VarianceScalingTest", "mc_instances",
           "variance_scaling_test"]

#: Family-wise false-alarm rate per instance (see the module docstring).
ALPHA = 1e-6
#: Replicates, samples per replicate, independent pool size for the variance.
MC_R, MC_N, MC_M = 200, 50, 10_000


@dataclass(frozen=True)
class VarianceScalingTest:
    r"""Result of :func:`variance_scaling_test`, arrays of shape (n,): the statistics ``T``,
    acceptance bounds ``lo, hi``, degrees of freedom ``nu1, nu2`` and the plug-in
    ``kurtosis`` of the single samples."""

    T: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    nu1: np.ndarray
    nu2: np.ndarray
    kurtosis: np.ndarray

    @property
    def excess(self) -> float:
        r"""The check's lhs :math:`\max_i\max(T_i/hi_i,\ lo_i/T_i)`; <= 1 when accepted."""
        T = self.T
        ratio = np.where(T >= 1, T / self.hi, self.lo / np.maximum(T, np.finfo(float).tiny))
        return float(ratio.max())

    @property
    def accepted(self) -> bool:
        """True when every component's T lies in its interval."""
        return self.excess <= 1.0


def variance_scaling_test(replicates: np.ndarray, mu: np.ndarray, pool: np.ndarray,
                          alpha: float = ALPHA) -> VarianceScalingTest:
    r"""Test :math:`E(\bar g_N-\mu)^2=\mathrm{Var}(\hat g)/N` per component.

    Parameters
    ----------
    replicates : ndarray (R, N, n)
        R independent batches of N single samples.
    mu : ndarray (n,)
        The exact mean (the exact hypergradient).
    pool : ndarray (M, n)
        Independent single samples for the variance and kurtosis.
    alpha : float
        Family-wise two-sided level (Bonferroni over the n components).
    """
    R, N, n = replicates.shape
    M = pool.shape[0]
    U = N * ((replicates.mean(axis=1) - mu) ** 2).mean(axis=0)
    c = pool - pool.mean(axis=0)
    var = (c ** 2).sum(axis=0) / (M - 1)
    m2 = (c ** 2).mean(axis=0)
    kurt = (c ** 4).mean(axis=0) / np.maximum(m2 ** 2, np.finfo(float).tiny)
    kurt_N = 3 + (kurt - 3) / N
    nu1 = 2 * R / np.maximum(kurt_N - 1, 1e-12)
    nu2 = 2 / np.maximum(kurt / M - (M - 3) / (M * (M - 1)), 1e-300)
    a = alpha / (2 * n)
    lo, hi = f_dist.ppf(a, nu1, nu2), f_dist.isf(a, nu1, nu2)
    T = U / np.maximum(var, np.finfo(float).tiny)
    return VarianceScalingTest(T=T, lo=lo, hi=hi, nu1=nu1, nu2=nu2, kurtosis=kurt)


def mc_instances():
    """bilevel_instances with gamma <= 0.7 (short rollouts), tau >= 0.5, S <= 3."""
    return bilevel_instances(max_gamma=0.7, max_S=3, min_tau=0.5)


def _occupancy_not_rare(inst: Instance) -> bool:
    m = build_model(inst)
    p = bilevel_point(m, inst["x"])
    return bool((1 - m.gamma_U) * p.dbar_U.min() >= MIN_OCCUPANCY)


def _check_mc_rate(inst: Instance) -> Evidence:
    m = build_model(inst)
    p = bilevel_point(m, inst["x"])
    mu = p.gradient("implicit")  # independent of the covariance form the estimator uses
    seed = int(np.abs(inst["x"]).sum() * 1e6) % 2**31  # fixed per instance
    rng = np.random.default_rng([seed, 7])
    reps = sampled_hypergradient(p, MC_R * MC_N, rng).samples.reshape(MC_R, MC_N, m.n)
    pool = sampled_hypergradient(p, MC_M, rng).samples
    scale = max(1.0, float(np.abs(mu).max()))
    # A component no randomness reaches (all samples equal up to rounding) has Var = 0 =
    # Var / N: its means must then equal mu up to the exact side's rounding (1e-8 relative
    # covers the LU solves and the H <= 100 step sums).
    live = pool.var(axis=0) > (1e-12 * scale) ** 2
    dead_err = float(np.abs(reps.mean(axis=1)[:, ~live] - mu[~live]).max(initial=0.0))
    if dead_err > 1e-8 * scale or not live.any():
        return Evidence(dead_err, 0.0, "==", tol=1e-8 * scale,
                        details={"degenerate_components": int((~live).sum())})
    res = variance_scaling_test(reps[..., live], mu[live], pool[:, live])
    return Evidence(res.excess, 1.0, "<=", details={
        "T_min": float(res.T.min()), "T_max": float(res.T.max()),
        "nu1_min": float(res.nu1.min()), "kurtosis_max": float(res.kurtosis.max()),
        "degenerate_components": int((~live).sum()), "R": MC_R, "N": MC_N, "M": MC_M,
        "seed": seed})


register(Theorem(
    id="bilevel.mc_rate",
    source=f"{NOTES}, §1.4 and §6 item 7 (RMSE slope -1/2 as an exact variance law)",
    statement=r"E\big[(\bar g_{N,i}-\nabla_iF)^2\big]=\mathrm{Var}(\hat g_i)/N:\ "
              r"T_i=\frac{N\frac1R\sum_r(\bar g_{r,i}-\nabla_iF)^2}{\hat\sigma_i^2}\in "
              r"F_{\nu_1,\nu_2}\text{-interval at }\alpha/n,\ \alpha=10^{-6}",
    summary="the mean of N single-trajectory BC-HG samples has variance Var/N (RMSE slope "
            "-1/2; F-type test with Satterthwaite dof, fixed seed)",
    instances=mc_instances,
    check=_check_mc_rate,
    assumptions=(Assumption("occupancy_not_rare", _occupancy_not_rare,
                            "every (s, a) has normalised leader occupancy >= 0.02 (valid "
                            "normal approximation of the replicate means)"),),
))
