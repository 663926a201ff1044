r"""KL-regularised constrained contextual bandit (SACPO's problem (9); cmdp_ccmdp notes §4.1).

Prompts are states :math:`s` with distribution :math:`\mu_0`, responses are actions
:math:`a`; a CMDP with :math:`\gamma=0`, :math:`H=1`, so values are one-step
expectations :math:`E_{s\sim\mu_0,a\sim\pi}[f(s,a)]` (the discounted sum
:math:`E[\sum_t\gamma^tf]` with :math:`\gamma=0`, not rescaled). The problem is

.. math::

    \max_\pi\ R(\pi)=E_{\mu_0,\pi}[r]-\beta\,E_{\mu_0}D_{KL}(\pi(\cdot|s)\|\pi_{ref}(\cdot|s))
    \quad\text{s.t.}\quad G(\pi)=E_{\mu_0,\pi}[g]\ge b .

``beta`` is the KL weight: the paper's :math:`\beta` (Wachi et al., arXiv 2404.11049) and
the notes' :math:`\tau` (the name ``tau`` is kept for the soft-follower temperature).
For any :math:`f` the maximiser of :math:`E f-\beta KL` is the Gibbs policy
:math:`\pi^\star_f=\pi_{ref}e^{f/\beta}/Z_f` (SACPO Lemma 4), and the dual function is
the closed form

.. math:: D(\lambda)=E_{\mu_0}[\beta\log Z_{r+\lambda g}(s)]-\lambda b,\qquad
          D'(\lambda)=G(\pi^\star_{r+\lambda g})-b,

convex, so :math:`\lambda^\star` is the root of the nondecreasing map
:math:`\lambda\mapsto G(\pi_\lambda)-b` (or 0). It comes from bisection on a
bracket whose end signs are recorded (:class:`KLBanditResult.bracket`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import ModelError
from .tolerances import EPS
from .validation import (
    as_real_array,
    as_real_scalar,
    check_finite,
    check_nonnegative,
    check_rows_sum_to_one,
    check_shape,
)

__all__ = [
    "KL_BISECTION_MAX_ITER",
    "KLBandit",
    "KLBanditResult",
    "best_achievable_safety",
    "dual_derivative",
    "dual_value",
    "expected",
    "gibbs_policy",
    "kl_divergence",
    "log_partition",
    "regularised_value",
    "solve_kl_bandit",
]

#: Bisection steps on lam; each halves the bracket, so 200 reach the float spacing of any
#: lam < 1e30 (2^-200 * 1e30 < eps); the loop stops earlier once the bracket stops shrinking.
KL_BISECTION_MAX_ITER: int = 200


def _real(value: object, name: str) -> float:
    return as_real_scalar(value, name)


@dataclass(frozen=True)
class KLBandit:
    r"""A validated KL-regularised constrained contextual bandit.

    Parameters
    ----------
    mu0 : (S,) array
        Prompt distribution.
    pi_ref : (S, A) array
        Reference policy; rows sum to 1. Zeros are allowed: no policy with finite KL
        puts mass there.
    r, g : (S, A) arrays
        Reward and safety (constraint :math:`E[g]\ge b`).
    beta : float > 0
        KL weight (paper's :math:`\beta`, notes' :math:`\tau`).
    b : float
        Safety threshold.

    Raises
    ------
    ModelError
        Naming the field: wrong shapes, non-finite entries, negative probabilities,
        rows not summing to 1 within ``PROB_SUM_TOL``, ``beta <= 0``.
    """

    mu0: np.ndarray
    pi_ref: np.ndarray
    r: np.ndarray
    g: np.ndarray
    beta: float
    b: float
    support: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pi_ref = as_real_array(self.pi_ref, "pi_ref", ndim=2)
        S, A = pi_ref.shape
        mu0 = as_real_array(self.mu0, "mu0", ndim=1)
        check_shape(mu0, (S,), "mu0", "(S,)")
        for name, arr in (("mu0", mu0), ("pi_ref", pi_ref)):
            check_finite(arr, name)
            check_nonnegative(arr, name)
        check_rows_sum_to_one(pi_ref.sum(axis=1), "pi_ref", (S,))
        check_rows_sum_to_one(np.array([mu0.sum()]), "mu0", ())
        arrays = {}
        for name in ("r", "g"):
            arr = as_real_array(getattr(self, name), name, ndim=2)
            check_shape(arr, (S, A), name, "(S, A)")
            check_finite(arr, name)
            arrays[name] = arr
        beta = _real(self.beta, "beta")
        if beta <= 0:
            raise ModelError(f"beta = {beta!r}, expected a KL weight > 0", field="beta")
        b = _real(self.b, "b")
        support = pi_ref > 0
        support.setflags(write=False)
        for name, value in (("mu0", mu0), ("pi_ref", pi_ref), ("r", arrays["r"]),
                            ("g", arrays["g"]), ("beta", beta), ("b", b), ("support", support)):
            object.__setattr__(self, name, value)

    @property
    def S(self) -> int:
        """Number of prompts (states)."""
        return int(self.pi_ref.shape[0])

    @property
    def A(self) -> int:
        """Number of responses (actions)."""
        return int(self.pi_ref.shape[1])


# -- the Gibbs family -----------------------------------------------------------------------
def log_partition(pi_ref: np.ndarray, f: np.ndarray, beta: float) -> np.ndarray:
    r""":math:`\log Z_f(s)=\log\sum_{a:\pi_{ref}>0}\pi_{ref}(a|s)e^{f(s,a)/\beta}`, shape (S,).

    Stable log-sum-exp over the support of ``pi_ref`` (SACPO Lemma 4 / notes §4.1).
    """
    support = pi_ref > 0
    logits = np.where(support, np.log(np.where(support, pi_ref, 1.0)) + f / beta, -np.inf)
    m = logits.max(axis=1)
    return m + np.log(np.sum(np.where(support, np.exp(logits - m[:, None]), 0.0), axis=1))


def gibbs_policy(pi_ref: np.ndarray, f: np.ndarray, beta: float) -> np.ndarray:
    r"""Gibbs policy :math:`\pi^\star_f=\pi_{ref}e^{f/\beta}/Z_f`, shape (S, A).

    The maximiser of :math:`E_{\mu_0,\pi}[f]-\beta E_{\mu_0}KL(\pi\|\pi_{ref})` (SACPO
    Lemma 4). Computed as a softmax of :math:`\log\pi_{ref}+f/\beta` over the support of
    ``pi_ref`` (zero elsewhere), so it never overflows.
    """
    support = pi_ref > 0
    logits = np.where(support, np.log(np.where(support, pi_ref, 1.0)) + f / beta, -np.inf)
    m = logits.max(axis=1, keepdims=True)
    w = np.where(support, np.exp(logits - m), 0.0)
    return w / w.sum(axis=1, keepdims=True)


def kl_divergence(pi: np.ndarray, pi_ref: np.ndarray) -> np.ndarray:
    r""":math:`D_{KL}(\pi(\cdot|s)\|\pi_{ref}(\cdot|s))` per state, shape (S,); ``inf`` if
    :math:`\pi` has mass where :math:`\pi_{ref}=0` (convention :math:`0\log0=0`)."""
    pos = pi > 0
    bad = (pos & (pi_ref <= 0)).any(axis=1)
    ok = pos & (pi_ref > 0)
    terms = np.where(ok, pi * (np.log(np.where(ok, pi, 1.0)) - np.log(np.where(ok, pi_ref, 1.0))),
                     0.0)
    out = terms.sum(axis=1)
    return np.where(bad, np.inf, out)


def expected(mu0: np.ndarray, pi: np.ndarray, f: np.ndarray) -> float:
    r""":math:`E_{s\sim\mu_0,a\sim\pi}[f(s,a)]` (the :math:`\gamma=0` value, not rescaled)."""
    return float(mu0 @ np.sum(pi * f, axis=1))


def regularised_value(problem: KLBandit, pi: np.ndarray, f: np.ndarray | None = None) -> float:
    r""":math:`J_f(\pi)=E_{\mu_0,\pi}[f]-\beta E_{\mu_0}KL(\pi\|\pi_{ref})`; ``f=r`` gives R(pi).

    ``-inf`` when :math:`\pi` leaves the support of :math:`\pi_{ref}` on a prompt of
    positive mass.
    """
    f = problem.r if f is None else f
    kl = kl_divergence(pi, problem.pi_ref)
    w = problem.mu0 > 0
    if np.isinf(kl[w]).any():
        return -math.inf
    return expected(problem.mu0, pi, f) - problem.beta * float(problem.mu0[w] @ kl[w])


def dual_value(problem: KLBandit, lam: float) -> float:
    r""":math:`D(\lambda)=E_{\mu_0}[\beta\log Z_{r+\lambda g}(s)]-\lambda b` (notes §4.1)."""
    lz = log_partition(problem.pi_ref, problem.r + lam * problem.g, problem.beta)
    return float(problem.beta * (problem.mu0 @ lz) - lam * problem.b)


def dual_derivative(problem: KLBandit, lam: float) -> float:
    r""":math:`D'(\lambda)=G(\pi^\star_{r+\lambda g})-b`, nondecreasing in :math:`\lambda`."""
    pi = gibbs_policy(problem.pi_ref, problem.r + lam * problem.g, problem.beta)
    return expected(problem.mu0, pi, problem.g) - problem.b


def best_achievable_safety(problem: KLBandit) -> float:
    r""":math:`\sup_{\pi:KL<\infty}G(\pi)=E_{\mu_0}\max_{a:\pi_{ref}(a|s)>0}g(s,a)`.

    Zeros of the reference policy limit what is reachable; this is also
    :math:`\lim_{\lambda\to\infty}G(\pi_\lambda)`.
    """
    gm = np.where(problem.support, problem.g, -np.inf).max(axis=1)
    return float(problem.mu0 @ gm)


# -- the solver -----------------------------------------------------------------------------
@dataclass(frozen=True)
class KLBanditResult:
    r"""Solution of :class:`KLBandit` (values are one-step expectations, :math:`\gamma=0`).

    Attributes
    ----------
    status : {"optimal", "infeasible"}
    message : str
    best_achievable_G : float
        :math:`E_{\mu_0}\max_{a\in\mathrm{supp}\,\pi_{ref}}g`, reported in both statuses.
    lam : float or None
        :math:`\lambda^\star\ge0` (``inf`` when :math:`b` equals the best achievable
        :math:`G`: Slater fails and no finite multiplier exists).
    policy : (S, A) array or None
    value, G, reward, kl : float or None
        :math:`R(\pi^\star)`, :math:`G(\pi^\star)`, :math:`E[r]`, :math:`E_{\mu_0}KL`.
    dual : float or None
        :math:`D(\lambda^\star)` from the closed form (None when lam is inf).
    bracket : (float, float) or None
        Final bisection bracket :math:`[\lambda_{lo},\lambda_{hi}]` with
        :math:`D'(\lambda_{lo})<0\le D'(\lambda_{hi})` (lam = lam_hi, the feasible side).
    iterations : int
    """

    status: str
    message: str
    best_achievable_G: float
    lam: float | None = None
    policy: np.ndarray | None = None
    value: float | None = None
    G: float | None = None
    reward: float | None = None
    kl: float | None = None
    dual: float | None = None
    bracket: tuple[float, float] | None = None
    iterations: int = 0
    problem: KLBandit | None = field(default=None, repr=False)

    def certificate(self) -> dict[str, float]:
        r"""Residuals recomputed from the problem, independently of the bisection.

        ``primal_infeasibility`` :math:`[b-G]_+`, ``complementary_slackness``
        :math:`|\lambda(G-b)|`, ``duality_gap`` :math:`D(\lambda)-R(\pi)` (weak duality makes
        it :math:`\ge0` up to rounding) and ``stationarity``
        :math:`\max|\pi-\pi^\star_{r+\lambda g}|`.
        """
        if self.status != "optimal" or self.problem is None:
            raise ValueError(f"no certificate for status {self.status!r}: {self.message}")
        p = self.problem
        G = expected(p.mu0, self.policy, p.g)
        R = regularised_value(p, self.policy)
        out = {"primal_infeasibility": max(0.0, p.b - G)}
        if math.isinf(self.lam):
            out.update(complementary_slackness=0.0, duality_gap=0.0, stationarity=0.0)
            return out
        gibbs = gibbs_policy(p.pi_ref, p.r + self.lam * p.g, p.beta)
        out.update(complementary_slackness=abs(self.lam * (G - p.b)),
                   duality_gap=dual_value(p, self.lam) - R,
                   stationarity=float(np.abs(self.policy - gibbs).max()))
        return out

    def verify(self, rtol: float = 1e-9) -> bool:
        """True when every certificate residual is below ``rtol`` times the problem's scale."""
        p = self.problem
        scale = max(1.0, float(np.abs(p.r).max()), (1 + (self.lam if math.isfinite(self.lam)
                                                         else 0.0)) * float(np.abs(p.g).max()),
                    abs(p.b))
        c = self.certificate()
        return all(abs(v) <= rtol * scale for v in c.values())


def solve_kl_bandit(problem: KLBandit) -> KLBanditResult:
    r"""Solve :math:`\max_\pi R(\pi)` s.t. :math:`G(\pi)\ge b` exactly via the closed-form dual.

    :math:`\lambda^\star=0` when :math:`G(\pi^\star_r)\ge b`; otherwise bisection on
    :math:`D'(\lambda)=G(\pi_\lambda)-b` over a bracket found by doubling (it exists since
    :math:`G(\pi_\lambda)\uparrow E_{\mu_0}\max_{supp}g>b`). The returned multiplier is the
    bracket's upper end, so the policy is feasible as evaluated. Status "infeasible" when
    :math:`b` exceeds the best achievable :math:`G` (reported). When :math:`b` equals it
    (within rounding), the optimum is the Gibbs policy of :math:`r` restricted to the
    :math:`g`-maximal support responses and ``lam = inf``.

    Returns
    -------
    KLBanditResult
        Values are one-step expectations (:math:`\gamma=0`), not rescaled.
    """
    gmax = best_achievable_safety(problem)
    gscale = max(1.0, float(np.abs(problem.g).max()))
    edge = 4 * problem.S * problem.A * EPS * gscale  # rounding of one evaluation of G
    if problem.b > gmax + edge:
        return KLBanditResult("infeasible", f"b = {problem.b!r} exceeds the best achievable "
                              f"E[g] = {gmax!r} (max of g over the support of pi_ref)", gmax)
    if problem.b >= gmax - edge:
        return _boundary_solution(problem, gmax)
    phi0 = dual_derivative(problem, 0.0)
    if phi0 >= 0:
        return _result(problem, 0.0, gmax, (0.0, 0.0), 0, "constraint inactive: lam* = 0")
    lo, hi, it = 0.0, 1.0, 0
    while dual_derivative(problem, hi) < 0:
        lo, hi, it = hi, 2 * hi, it + 1
        if not math.isfinite(hi):  # pragma: no cover - b < gmax guarantees a finite root
            raise RuntimeError("no finite bracket for lam*; b is numerically at the boundary")
    for _ in range(KL_BISECTION_MAX_ITER):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        if dual_derivative(problem, mid) < 0:
            lo = mid
        else:
            hi = mid
        it += 1
    return _result(problem, hi, gmax, (lo, hi), it, "bisection converged to float spacing")


def _result(problem: KLBandit, lam: float, gmax: float, bracket: tuple[float, float],
            it: int, msg: str) -> KLBanditResult:
    pi = gibbs_policy(problem.pi_ref, problem.r + lam * problem.g, problem.beta)
    kl = float(problem.mu0 @ kl_divergence(pi, problem.pi_ref))
    reward = expected(problem.mu0, pi, problem.r)
    return KLBanditResult("optimal", msg, gmax, lam=lam, policy=pi,
                          value=reward - problem.beta * kl, G=expected(problem.mu0, pi, problem.g),
                          reward=reward, kl=kl, dual=dual_value(problem, lam), bracket=bracket,
                          iterations=it, problem=problem)


def _boundary_solution(problem: KLBandit, gmax: float) -> KLBanditResult:
    gm = np.where(problem.support, problem.g, -np.inf).max(axis=1, keepdims=True)
    mask = problem.support & (problem.g >= gm)
    ref = np.where(mask, problem.pi_ref, 0.0)
    pi = gibbs_policy(ref / ref.sum(axis=1, keepdims=True), problem.r, problem.beta)
    kl = float(problem.mu0 @ kl_divergence(pi, problem.pi_ref))
    reward = expected(problem.mu0, pi, problem.r)
    return KLBanditResult("optimal", "b equals the best achievable E[g]: Slater fails, the "
                          "optimum lives on the g-maximal responses and no finite lam* exists",
                          gmax, lam=math.inf, policy=pi, value=reward - problem.beta * kl,
                          G=expected(problem.mu0, pi, problem.g), reward=reward, kl=kl,
                          problem=problem)
