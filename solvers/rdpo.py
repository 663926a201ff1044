r"""Robust DPO (rDPO): the debiased loss, effective proportions, and when a minimiser exists.

Ray Chowdhury, Kini, Natarajan, *Provably Robust DPO*, ICML 2024 (arXiv 2403.00409);
poisoning notes §3.4. Labels flip independently with known rate
:math:`\varepsilon\in[0,\tfrac12)`. With :math:`\ell(u)=-\log\sigma(u)` the per-label
loss at margin :math:`u` (for DPO :math:`u=\tau h`; for a linear reward
:math:`u=r^\top\phi_i`), the robust loss of a label saying :math:`y\succ z` is

.. math::

    \hat\ell_\varepsilon(u)=\frac{(1-\varepsilon)\ell(u)-\varepsilon\,\ell(-u)}{1-2\varepsilon}.

In proportion form it is the Bradley-Terry loss at the **effective proportions**
:math:`\tilde\theta=(\theta-\varepsilon)/(1-2\varepsilon)`, which leave :math:`[0,1]`
for hard labels. The loss stays convex but is bounded below with an attained minimum
iff :math:`\Phi\,\mathrm{diag}(m)\tilde\theta` lies in the relative interior of the
zonotope :math:`\Phi\,\mathrm{diag}(m)[0,1]^N` (exponential-family MLE existence;
Rockafellar, *Convex Analysis*, Thm 6.6 for the image of the open cube).
:func:`rdpo_existence` decides this by an LP with a certificate either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy as sp
from scipy.optimize import linprog
from scipy.special import expit

from .bt_fit import _loss, _newton, as_counts, check_features, check_proportions
from .errors import ModelError
from .tolerances import LP_FEASIBILITY_TOL

__all__ = ["RDPO_DEPTH_TOL", "RDPO_EXACT_MAX_PAIRS", "RDPO_PATH_RIDGES", "RDPO_PATH_TOL",
           "RdpoCertificate", "RdpoExistence", "RdpoMinimisation", "check_flip_rate",
           "effective_proportions", "minimise_rdpo", "rdpo_existence", "rdpo_loss",
           "rdpo_loss_along", "robust_pair_loss"]

#: Depth (LP optimum s*) at or below which Phi diag(m) theta_tilde counts as outside the
#: relative interior. HiGHS solves to LP_FEASIBILITY_TOL = 1e-9 on a scaled LP; 100x that
#: leaves room for unscaling. An interior point of depth <= 1e-7 has a minimiser with
#: margins of order log(1e7) ~ 16, so calling it "no minimiser" is a conservative choice.
RDPO_DEPTH_TOL: float = 100 * LP_FEASIBILITY_TOL
#: ``RdpoExistence.verify(exact=True)`` refuses more pairs (sympy rationals are slow).
RDPO_EXACT_MAX_PAIRS: int = 40


def check_flip_rate(eps: float) -> float:
    """``eps`` as a float in [0, 1/2); ModelError(field="eps") otherwise."""
    e = float(eps)
    if not (np.isfinite(e) and 0.0 <= e < 0.5):
        raise ModelError(f"eps = {eps}, expected a flip rate in [0, 1/2)", field="eps")
    return e


def effective_proportions(theta: np.ndarray, eps: float) -> np.ndarray:
    r""":math:`\tilde\theta=(\theta-\varepsilon\mathbf 1)/(1-2\varepsilon)` (notes §3.4).

    ``theta`` (n_pairs,) in [0, 1]; the result lies in
    :math:`[-\varepsilon/(1-2\varepsilon),(1-\varepsilon)/(1-2\varepsilon)]`.
    """
    e = check_flip_rate(eps)
    theta = np.asarray(theta, dtype=float)
    theta = check_proportions(theta, theta.shape[0] if theta.ndim == 1 else -1)
    return (theta - e) / (1.0 - 2.0 * e)


def robust_pair_loss(u: np.ndarray, eps: float) -> np.ndarray:
    r"""Per-label rDPO loss :math:`\hat\ell_\varepsilon(u)` at margins ``u`` (elementwise).

    .. math:: \hat\ell_\varepsilon(u)=\frac{(1-\varepsilon)\,\mathrm{softplus}(-u)
              -\varepsilon\,\mathrm{softplus}(u)}{1-2\varepsilon}

    (TRL's ``loss_type="robust"`` with ``label_smoothing`` :math:`=\varepsilon`).
    """
    e = check_flip_rate(eps)
    u = np.asarray(u, dtype=float)
    return ((1.0 - e) * np.logaddexp(0.0, -u) - e * np.logaddexp(0.0, u)) / (1.0 - 2.0 * e)


def rdpo_loss(r: np.ndarray, Phi: np.ndarray, theta: np.ndarray, eps: float,
              m: int | np.ndarray = 1) -> float:
    r"""rDPO loss of a linear reward on observed proportions, summed over annotations.

    .. math:: L_\varepsilon(r;\theta)=\sum_i m_i\big[\theta_i\hat\ell_\varepsilon(u_i)
              +(1-\theta_i)\hat\ell_\varepsilon(-u_i)\big],\quad u=\Phi^\top r,

    computed from the per-label formula; it equals :math:`L(r;\tilde\theta)`.
    """
    Phi = check_features(Phi)
    theta = check_proportions(theta, Phi.shape[1])
    counts = as_counts(m, Phi.shape[1])
    u = Phi.T @ np.asarray(r, float)
    return float(np.sum(counts * (theta * robust_pair_loss(u, eps)
                                  + (1.0 - theta) * robust_pair_loss(-u, eps))))


@dataclass(frozen=True)
class RdpoCertificate:
    r"""The re-check of an rDPO existence decision, computed without the LP solver.

    Attributes
    ----------
    ok : bool
        "exists": :math:`p` strictly inside the cube with :math:`\|\Phi M(p-\tilde\theta)\|`
        within ``tolerance``; "no_minimiser": the dual direction has :math:`\ell_1`
        normalisation 1 and slope :math:`c(u)\le` ``tolerance``.
    primal_residual, primal_depth, dual_norm1, slope, gap : float
        :math:`\|\Phi M(p-\tilde\theta)\|_\infty`, :math:`\min_i\min(p_i,1-p_i)`,
        :math:`\|M\Phi^\top u\|_1`, :math:`c(u)`, :math:`|s^\star-\text{dual value}|`.
    tolerance : float
        The LP feasibility tolerance scaled by the data.
    exact_ok : bool or None
        With ``exact=True``: a proof in rational arithmetic (see :meth:`RdpoExistence.verify`);
        None when not requested.
    """

    ok: bool
    primal_residual: float
    primal_depth: float
    dual_norm1: float
    slope: float
    gap: float
    tolerance: float
    exact_ok: bool | None = None


@dataclass(frozen=True)
class RdpoExistence:
    r"""Whether :math:`\min_rL_\varepsilon(r;\theta)` is attained, with a certificate.

    Attributes
    ----------
    status : {"exists", "no_minimiser"}
    depth : float
        LP optimum :math:`s^\star=\max\{s:\Phi Mp=\Phi M\tilde\theta,\ s\le p\le1-s\}`
        (:math:`M=\mathrm{diag}(m)`); the point is in the relative interior iff
        :math:`s^\star>0`.
    dual_value : float
        Optimum of the dual LP (equals ``depth`` by strong duality).
    p : (n_pairs,)
        Primal point: proportions strictly inside (0, 1) with the same
        :math:`\Phi Mp` when the minimiser exists (the fitted :math:`\sigma(\Phi^\top r^\star)`
        is one such point).
    u : (feat_dim,)
        Dual direction with :math:`\|M\Phi^\top u\|_1=1`; when no minimiser exists its
        slope :math:`c(u)=\sum_im_i(v_i)_+-\tilde\theta^\top Mv\le0` (:math:`v=\Phi^\top u`),
        so :math:`L_\varepsilon` strictly decreases along :math:`r+tu` from every r.
    theta_tilde : (n_pairs,)
    """

    status: str
    depth: float
    dual_value: float
    p: np.ndarray
    u: np.ndarray
    theta_tilde: np.ndarray
    Phi: np.ndarray
    counts: np.ndarray

    def slope(self) -> float:
        r"""Asymptotic slope :math:`c(u)=\lim_{t\to\infty}L(tu)/t` along the dual direction."""
        v = self.Phi.T @ self.u
        return float(np.sum(self.counts * np.maximum(v, 0.0))
                     - self.theta_tilde @ (self.counts * v))

    def verify(self, exact: bool = False) -> RdpoCertificate:
        r"""Recompute the certificate without the LP solver.

        Returns an :class:`RdpoCertificate`: the primal residual
        :math:`\|\Phi M(p-\tilde\theta)\|_\infty`, the primal depth
        :math:`\min_i\min(p_i,1-p_i)`, the dual normalisation
        :math:`\|M\Phi^\top u\|_1`, the slope :math:`c(u)`, the gap
        :math:`|s^\star-\text{dual value}|`, and ``ok``: for "exists", :math:`p` is
        strictly inside the cube with a residual within the LP tolerance; for
        "no_minimiser", :math:`c(u)\le` tolerance with the normalisation 1.

        With ``exact=True`` (at most :data:`RDPO_EXACT_MAX_PAIRS` pairs) the check is redone
        in rational arithmetic on the floats as given: for "exists", :math:`p` is corrected
        by the exact minimum-norm :math:`\delta` with :math:`\Phi M(p+\delta)=\Phi M\tilde\theta`
        and ``exact_ok`` says whether :math:`p+\delta\in(0,1)^N` (a proof of membership);
        for "no_minimiser", ``exact_ok`` says whether :math:`v=\Phi^\top u\ne0` and
        :math:`c(u)\le0` exactly, for ``u`` or ``u`` rounded to denominators
        :math:`\le10^6` (a proof that no minimiser exists). Data are taken as the floats
        given, so a boundary instance built from rounded rationals (``theta = 2/3``) may
        not be provable (``exact_ok`` False, no claim either way).
        """
        scale = max(1.0, float(np.abs(self.Phi).max() * self.counts.max()
                               * max(1.0, np.abs(self.theta_tilde).max())))
        resid = float(np.abs(self.Phi @ (self.counts * (self.p - self.theta_tilde))).max())
        depth = float(np.minimum(self.p, 1.0 - self.p).min())
        norm1 = float(np.abs(self.counts * (self.Phi.T @ self.u)).sum())
        slope = self.slope()
        # LP tolerances scaled by the data: HiGHS's feasibility tolerance after unscaling.
        tol = RDPO_DEPTH_TOL * scale * self.Phi.shape[1]
        if self.status == "exists":
            ok = resid <= tol and depth > 0
        else:
            ok = abs(norm1 - 1.0) <= tol and slope <= tol
        return RdpoCertificate(
            ok=bool(ok), primal_residual=resid, primal_depth=depth, dual_norm1=norm1,
            slope=slope, gap=abs(self.depth - self.dual_value), tolerance=tol,
            exact_ok=self._verify_exact() if exact else None)

    def _verify_exact(self) -> bool:
        n = self.Phi.shape[1]
        if n > RDPO_EXACT_MAX_PAIRS:
            raise ModelError(f"verify(exact=True) handles at most {RDPO_EXACT_MAX_PAIRS} pairs, "
                             f"got {n}", field="Phi")
        q = sp.Rational
        A = sp.Matrix(self.Phi.shape[0], n, lambda i, j: q(self.Phi[i, j]) * q(self.counts[j]))
        tt = sp.Matrix([q(x) for x in self.theta_tilde])
        if self.status == "no_minimiser":
            # the float direction, and its rounding to small denominators (a boundary normal
            # of integer data is rational; its float image has slope ~ +1e-17)
            for u in ([q(x) for x in self.u],
                      [q(Fraction(float(x)).limit_denominator(10 ** 6)) for x in self.u]):
                v = A.T * sp.Matrix(u)                         # M Phi^T u
                slope = sum(max(x, 0) for x in v) - (tt.T * v)[0]
                if any(x != 0 for x in v) and slope <= 0:
                    return True
            return False
        p = sp.Matrix([q(x) for x in self.p])
        rows = A.T.columnspace()                            # a basis of the row space
        if not rows:
            return all(0 < x < 1 for x in p)
        B = sp.Matrix.hstack(*rows).T                        # independent rows spanning A's
        delta = B.T * (B * B.T).solve(B * (tt - p))          # min-norm correction, exact
        if A * (p + delta) != A * tt:    # cannot happen: tt - p lies in range(A^T)
            return False
        return all(0 < x < 1 for x in p + delta)


def rdpo_existence(Phi: np.ndarray, theta: np.ndarray, eps: float,
                   m: int | np.ndarray = 1) -> RdpoExistence:
    r"""Decide whether the unregularised rDPO loss has a minimiser (notes §3.4, corrected).

    Primal LP (HiGHS): :math:`\max s` s.t. :math:`\Phi Mp=\Phi M\tilde\theta`,
    :math:`p-s\mathbf 1\ge0`, :math:`p+s\mathbf1\le\mathbf 1`. It is always feasible
    (take :math:`p=\tilde\theta`, :math:`s=\min(\tilde\theta,1-\tilde\theta)`).
    Dual LP: :math:`\min_{u,a,b\ge0}(\mathbf1-\tilde\theta)^\top a+\tilde\theta^\top b`
    s.t. :math:`a-b=M\Phi^\top u`, :math:`\mathbf1^\top(a+b)=1`, whose value is
    :math:`\min_{\|M\Phi^\top u\|_1=1}c(u)`. A minimiser exists iff :math:`s^\star>0`;
    this decides with threshold :data:`RDPO_DEPTH_TOL`.
    """
    Phi = check_features(Phi)
    feat_dim, n = Phi.shape
    counts = as_counts(m, n)
    tt = effective_proportions(check_proportions(theta, n), eps)
    A = Phi * counts                                   # Phi M
    opts = {"primal_feasibility_tolerance": LP_FEASIBILITY_TOL,
            "dual_feasibility_tolerance": LP_FEASIBILITY_TOL}
    # primal: variables (p, s), maximise s
    eye = np.eye(n)
    A_ub = np.block([[-eye, np.ones((n, 1))], [eye, np.ones((n, 1))]])
    b_ub = np.concatenate([np.zeros(n), np.ones(n)])
    A_eq = np.hstack([A, np.zeros((feat_dim, 1))])
    c = np.zeros(n + 1)
    c[-1] = -1.0
    prim = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=A @ tt,
                   bounds=[(None, None)] * (n + 1), method="highs", options=opts)
    if prim.status != 0:
        raise RuntimeError(f"rDPO depth LP returned status {prim.status}: {prim.message}")
    # dual: variables (u, a, b)
    cd = np.concatenate([np.zeros(feat_dim), 1.0 - tt, tt])
    Aeq_d = np.block([[-(A.T), eye, -eye],
                      [np.zeros((1, feat_dim)), np.ones((1, n)), np.ones((1, n))]])
    beq_d = np.concatenate([np.zeros(n), [1.0]])
    dual = linprog(cd, A_eq=Aeq_d, b_eq=beq_d,
                   bounds=[(None, None)] * feat_dim + [(0, None)] * (2 * n),
                   method="highs", options=opts)
    if dual.status != 0:
        raise RuntimeError(f"rDPO dual LP returned status {dual.status}: {dual.message}")
    depth = float(-prim.fun)
    status = "exists" if depth > RDPO_DEPTH_TOL else "no_minimiser"
    return RdpoExistence(status, depth, float(dual.fun), prim.x[:n].copy(),
                         dual.x[:feat_dim].copy(), tt, Phi, counts)


def rdpo_loss_along(res: RdpoExistence, t: np.ndarray) -> np.ndarray:
    r""":math:`L(tu;\tilde\theta)` for the certificate direction u at steps ``t`` (for plots)."""
    return np.array([_loss(float(ti) * res.u, res.Phi, res.theta_tilde, res.counts)
                     for ti in np.atleast_1d(t)])


@dataclass(frozen=True)
class RdpoMinimisation:
    """Outcome of :func:`minimise_rdpo`: ``status`` in {"bounded", "unbounded", "max_iter"}.

    ``r`` holds the ridge fits along :data:`RDPO_PATH_RIDGES`; ``margin_change`` is
    the largest change of a margin :math:`\\phi_i^\top r` between the two fits.
    """

    status: str
    r: np.ndarray
    margin_change: float
    grad_norms: tuple[float, ...]


#: Ridges of the regularisation path in :func:`minimise_rdpo`. At a relative-boundary or
#: outside point the margins of the ridge fit grow like log(1/rho) or 1/rho, i.e. by at
#: least log(1e3) ~ 6.9 between these two; at an interior minimiser r* they move by about
#: rho_1 |Phi^T H^{-1} r*| (H the Hessian at r*). Smaller ridges put |r| ~ 1/rho beyond
#: what Newton can certify to BT_GRAD_TOL in float64 (the ridge term rho r carries the
#: rounding of r).
RDPO_PATH_RIDGES: tuple[float, float] = (1e-4, 1e-7)
#: Largest margin change along the path for "bounded" (a minimiser exists): between the
#: interior drift (~1e-4 |Phi^T H^{-1} r*|, below 1e-2 on the checked instances) and the
#: boundary growth log(1e3).
RDPO_PATH_TOL: float = 1.0


def minimise_rdpo(Phi: np.ndarray, theta: np.ndarray, eps: float, m: int | np.ndarray = 1
                  ) -> RdpoMinimisation:
    r"""Does :math:`L_\varepsilon(\cdot;\theta)` have a minimiser? Answered by a ridge path.

    Minimises :math:`L_\varepsilon(r;\theta)+\tfrac{\rho}{2}\|r\|^2` (always attained,
    unique) by damped Newton for the two ridges :data:`RDPO_PATH_RIDGES`, using only the
    per-label formula (:func:`robust_pair_loss` and its derivative grouped as
    :math:`[a\sigma(u)-b\sigma(-u)]/(1-2\varepsilon)`, Hessian :math:`\sigma'`), no LP.
    As :math:`\rho\to0` the fits converge to a minimiser when one exists and diverge
    otherwise: "bounded" when the margins move by at most :data:`RDPO_PATH_TOL`.
    """
    Phi = check_features(Phi)
    n = Phi.shape[1]
    theta = check_proportions(theta, n)
    counts = as_counts(m, n)
    e = check_flip_rate(eps)
    # Per-label derivative, grouped by sigma(u) and sigma(-u) so that the coefficients
    # (one product each) carry the cancellation, not the sums of O(1) terms:
    # theta lhat'(u) - (1-theta) lhat'(-u) = (a sigma(u) - b sigma(-u)) / (1 - 2 eps).
    a = (1 - theta) * (1 - e) - theta * e
    b = theta * (1 - e) - (1 - theta) * e
    scale = max(1.0, float(counts.sum() * np.linalg.norm(Phi, axis=0).max()))
    eye = np.eye(Phi.shape[0])
    h_norm = float(np.linalg.norm(Phi, 2) ** 2 * counts.max()) / 4 + RDPO_PATH_RIDGES[0]
    fits = []
    for rho in RDPO_PATH_RIDGES:
        def value(r, rho=rho):
            return rdpo_loss(r, Phi, theta, e, counts) + 0.5 * rho * float(r @ r)

        def grad(r, rho=rho):
            u = Phi.T @ r
            return Phi @ (counts * (a * expit(u) - b * expit(-u)) / (1 - 2 * e)) + rho * r

        def hess(r, rho=rho):
            u = Phi.T @ r
            return (Phi * (counts * expit(u) * expit(-u))) @ Phi.T + rho * eye

        fits.append(_newton(value, grad, hess, np.zeros(Phi.shape[0]), rho, scale, h_norm))
    if any(f.status != "optimal" for f in fits):
        return RdpoMinimisation("max_iter", np.array([f.r for f in fits]), np.inf,
                                tuple(f.grad_norm for f in fits))
    change = float(np.abs(Phi.T @ (fits[1].r - fits[0].r)).max())
    return RdpoMinimisation("bounded" if change <= RDPO_PATH_TOL else "unbounded",
                            np.array([f.r for f in fits]), change,
                            tuple(f.grad_norm for f in fits))
