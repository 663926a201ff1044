r"""Bradley-Terry loss in proportion form, a ridge reward fit and a log-linear DPO fit.

Poisoning notes §1.1-1.2 (arXiv 2511.09105). With comparison features
:math:`\phi_i=\phi(x_i,y_i)-\phi(x_i,z_i)` as the columns of ``Phi`` (feat_dim, n_pairs),
proportions :math:`\theta_i` (fraction of the :math:`m_i` labels saying
:math:`y_i\succ z_i`) and margins :math:`u=\Phi^\top r`,

.. math::

    L(r;\theta)=-\sum_i m_i\big[\theta_i\log\sigma(u_i)+(1-\theta_i)\log\sigma(-u_i)\big]
               =\sum_i m_i\,\mathrm{softplus}(u_i)-\sum_i m_i\theta_iu_i .

It is linear in :math:`\theta`, so two datasets with the same
:math:`\Phi\,\mathrm{diag}(m)\theta` have *identical* losses. :func:`same_effect_fit`
checks the consequence the poisoning LP relies on by fitting both datasets.

The fits minimise :math:`F(r)=L(r;\theta)+\tfrac{\rho}{2}\|r\|_2^2` by damped Newton.
:math:`F` is :math:`\rho`-strongly convex, so at the returned point
:math:`\|r-r^\star\|_2\le\|\nabla F(r)\|_2/\rho` and
:math:`F(r)-F^\star\le\|\nabla F(r)\|_2^2/(2\rho)`: that is the certificate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .errors import ModelError
from .tolerances import EPS

__all__ = ["BT_GRAD_TOL", "RewardFit", "SameEffect", "as_counts", "bt_gradient", "bt_hessian",
           "bt_loss", "check_features", "check_proportions", "dpo_pair_features", "fit_dpo",
           "fit_reward", "log_linear_policy", "same_effect_fit"]

#: Newton stops when ||grad F||_2 <= BT_GRAD_TOL * max(1, sum(m) * max ||phi_i||): the
#: gradient is a sum of n_pairs terms of size m_i ||phi_i||, each rounded to ~EPS relative,
#: so 1e-10 of that scale is reachable in float64 yet far below any statistical effect.
BT_GRAD_TOL: float = 1e-10
_MAX_NEWTON: int = 100
_ARMIJO: float = 1e-4


# -- validation -------------------------------------------------------------------------
def check_features(Phi: np.ndarray) -> np.ndarray:
    """``Phi`` as a finite float array of shape (feat_dim, n_pairs); ModelError otherwise."""
    Phi = np.asarray(Phi, dtype=float)
    if Phi.ndim != 2 or Phi.shape[0] < 1 or Phi.shape[1] < 1:
        raise ModelError(f"Phi has shape {Phi.shape}, expected (feat_dim, n_pairs) with both "
                         ">= 1", field="Phi")
    bad = np.argwhere(~np.isfinite(Phi))
    if bad.size:
        i, j = bad[0]
        raise ModelError(f"Phi[{i}, {j}] = {Phi[i, j]}, expected a finite feature",
                         field="Phi")
    return Phi


def check_proportions(theta: np.ndarray, n_pairs: int, name: str = "theta") -> np.ndarray:
    """Proportions as a float array (n_pairs,) in [0, 1]; ModelError naming ``name`` otherwise."""
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (n_pairs,):
        raise ModelError(f"{name} has shape {theta.shape}, expected ({n_pairs},)", field=name)
    bad = np.flatnonzero(~(np.isfinite(theta) & (theta >= 0) & (theta <= 1)))
    if bad.size:
        i = bad[0]
        raise ModelError(f"{name}[{i}] = {theta[i]}, expected a proportion in [0, 1]",
                         field=name)
    return theta


def as_counts(m: int | np.ndarray, n_pairs: int) -> np.ndarray:
    """Annotations per pair as a positive float array (n_pairs,) (a scalar is broadcast)."""
    counts = np.broadcast_to(np.asarray(m, dtype=float), (n_pairs,)).copy() \
        if np.ndim(m) == 0 else np.asarray(m, dtype=float)
    if counts.shape != (n_pairs,):
        raise ModelError(f"m has shape {counts.shape}, expected a scalar or ({n_pairs},)",
                         field="m")
    bad = np.flatnonzero(~(np.isfinite(counts) & (counts > 0)))
    if bad.size:
        raise ModelError(f"m[{bad[0]}] = {counts[bad[0]]}, expected a positive count", field="m")
    return counts


# -- the loss ---------------------------------------------------------------------------
def _loss(r: np.ndarray, Phi: np.ndarray, theta: np.ndarray, counts: np.ndarray) -> float:
    """L(r; theta) for any real theta (rDPO's effective proportions leave [0, 1])."""
    u = Phi.T @ r
    return float(np.sum(counts * (np.logaddexp(0.0, u) - theta * u)))


def _grad(r: np.ndarray, Phi: np.ndarray, theta: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return Phi @ (counts * (expit(Phi.T @ r) - theta))


def _hess(r: np.ndarray, Phi: np.ndarray, counts: np.ndarray) -> np.ndarray:
    p = expit(Phi.T @ r)
    return (Phi * (counts * p * (1.0 - p))) @ Phi.T


def bt_loss(r: np.ndarray, Phi: np.ndarray, theta: np.ndarray, m: int | np.ndarray = 1, *,
            check_range: bool = True) -> float:
    r"""Bradley-Terry negative log-likelihood in proportion form (notes §1.1, paper eq. 2).

    .. math:: L(r;\theta)=\sum_i m_i\big[\mathrm{softplus}(u_i)-\theta_iu_i\big],
              \quad u=\Phi^\top r,

    equal to :math:`-\sum_i m_i[\theta_i\log\sigma(u_i)+(1-\theta_i)\log\sigma(-u_i)]`.
    The only Bradley-Terry loss of the package (the poisoning identities use it too).

    Parameters
    ----------
    r : (feat_dim,) reward weights
    Phi : (feat_dim, n_pairs) comparison features (chosen minus rejected)
    theta : (n_pairs,) proportions in [0, 1]
    m : int or (n_pairs,) annotations per pair
    check_range : bool, keyword-only
        ``False`` accepts any finite real ``theta`` (the formula is linear in theta): an LP's
        :math:`\theta^\star=\theta_O+\zeta^\star` may leave [0, 1] by round-off, rDPO's
        effective proportions leave it by design. Shape and finiteness are checked either way.
    """
    Phi = check_features(Phi)
    n = Phi.shape[1]
    theta = check_proportions(theta, n) if check_range else np.asarray(theta, dtype=float)
    if theta.shape != (n,) or not np.all(np.isfinite(theta)):
        raise ModelError(f"theta has shape {theta.shape} or non-finite entries, expected "
                         f"finite numbers of shape ({n},)", field="theta")
    return _loss(np.asarray(r, float), Phi, theta, as_counts(m, n))


def bt_gradient(r: np.ndarray, Phi: np.ndarray, theta: np.ndarray, m: int | np.ndarray = 1
                ) -> np.ndarray:
    r"""Gradient (feat_dim,): :math:`\nabla_rL=-\Phi\,\mathrm{diag}(m)(\theta-\sigma(\Phi^\top r))`.
    """
    Phi = check_features(Phi)
    return _grad(np.asarray(r, float), Phi, check_proportions(theta, Phi.shape[1]),
                 as_counts(m, Phi.shape[1]))


def bt_hessian(r: np.ndarray, Phi: np.ndarray, m: int | np.ndarray = 1) -> np.ndarray:
    r""":math:`\nabla^2_rL=\Phi\,\mathrm{diag}(m\,\sigma(u)(1-\sigma(u)))\Phi^\top`; independent of
    :math:`\theta`. Shape (feat_dim, feat_dim)."""
    Phi = check_features(Phi)
    return _hess(np.asarray(r, float), Phi, as_counts(m, Phi.shape[1]))


# -- the ridge fit ----------------------------------------------------------------------
@dataclass(frozen=True)
class RewardFit:
    r"""A ridge-regularised Bradley-Terry (or DPO) fit and its certificate.

    Attributes
    ----------
    status : {"optimal", "max_iter"}
    r : (feat_dim,) fitted weights (reward weights, or policy weights ``w`` for DPO)
    objective : float
        :math:`F(r)=L(r;\theta)+\tfrac{\rho}{2}\|r\|^2` (DPO: with :math:`r=\tau w`).
    grad_norm : float
        :math:`\|\nabla F(r)\|_2` recomputed after the last step.
    strong_convexity : float
        A global lower bound on the Hessian of F (:math:`\rho`).
    iterations : int
    """

    status: str
    r: np.ndarray
    objective: float
    grad_norm: float
    strong_convexity: float
    iterations: int

    @property
    def distance_bound(self) -> float:
        r""":math:`\|r-r^\star\|_2\le\|\nabla F(r)\|_2/\rho` (strong convexity)."""
        return self.grad_norm / self.strong_convexity

    @property
    def gap_bound(self) -> float:
        r""":math:`F(r)-F^\star\le\|\nabla F(r)\|_2^2/(2\rho)`."""
        return self.grad_norm ** 2 / (2.0 * self.strong_convexity)


def _newton(value, grad, hess, x0: np.ndarray, rho: float, scale: float,
            x_scale: float = 0.0) -> RewardFit:
    """Damped Newton with Armijo backtracking on a rho-strongly convex function.

    Stops when ``||grad|| <= BT_GRAD_TOL * max(scale, x_scale * ||x||)``; ``x_scale``
    (a bound on the Hessian norm) accounts for the rounding of a large iterate x, which
    perturbs the computed gradient by about EPS ||H|| ||x||.
    """
    x = x0.astype(float).copy()
    fx, g = value(x), grad(x)
    it = 0

    def gtol(x: np.ndarray) -> float:
        return BT_GRAD_TOL * max(scale, x_scale * float(np.linalg.norm(x)))

    while np.linalg.norm(g) > gtol(x) and it < _MAX_NEWTON:
        step = np.linalg.solve(hess(x), -g)
        t, slope = 1.0, float(g @ step)
        # A predicted decrease below the rounding of F cannot be seen by Armijo: take the
        # full Newton step (the gradient, computed accurately, still decides convergence).
        noise = 64 * EPS * max(1.0, abs(fx))
        while -slope > noise:
            x_new = x + t * step
            f_new = value(x_new)
            if f_new <= fx + _ARMIJO * t * slope or t < 1e-12:
                break
            t *= 0.5
        x_new = x + t * step
        x, fx, g = x_new, value(x_new), grad(x_new)
        it += 1
    gn = float(np.linalg.norm(g))
    status = "optimal" if gn <= gtol(x) else "max_iter"
    return RewardFit(status, x, float(fx), gn, rho, it)


def _check_ridge(ridge: float) -> float:
    if not (np.isfinite(ridge) and ridge > 0):
        raise ModelError(f"ridge = {ridge}, expected a positive number (it makes the fit "
                         "unique and certifiable)", field="ridge")
    return float(ridge)


def fit_reward(Phi: np.ndarray, theta: np.ndarray, m: int | np.ndarray = 1,
               ridge: float = 1e-2) -> RewardFit:
    r"""Ridge-regularised Bradley-Terry MLE of a linear reward (notes §1.1).

    .. math:: r^\star=\arg\min_r\ L(r;\theta)+\tfrac{\rho}{2}\|r\|_2^2,\qquad\rho=\text{ridge}.

    Solved by damped Newton (Hessian :math:`\nabla^2L+\rho I\succeq\rho I`). Read
    ``status`` before using ``r``; ``distance_bound`` certifies :math:`\|r-r^\star\|`.

    Parameters
    ----------
    Phi : (feat_dim, n_pairs)
    theta : (n_pairs,) proportions in [0, 1]
    m : int or (n_pairs,) annotations per pair
    ridge : float > 0

    Returns
    -------
    RewardFit
    """
    Phi = check_features(Phi)
    theta = check_proportions(theta, Phi.shape[1])
    counts = as_counts(m, Phi.shape[1])
    rho = _check_ridge(ridge)
    eye = np.eye(Phi.shape[0])
    scale = _grad_scale(Phi, counts)
    return _newton(lambda r: _loss(r, Phi, theta, counts) + 0.5 * rho * float(r @ r),
                   lambda r: _grad(r, Phi, theta, counts) + rho * r,
                   lambda r: _hess(r, Phi, counts) + rho * eye,
                   np.zeros(Phi.shape[0]), rho, scale)


def _grad_scale(Phi: np.ndarray, counts: np.ndarray) -> float:
    return max(1.0, float(np.sum(counts) * np.linalg.norm(Phi, axis=0).max()))


# -- log-linear DPO ---------------------------------------------------------------------
def log_linear_policy(w: np.ndarray, feats: np.ndarray, log_ref: np.ndarray) -> np.ndarray:
    r"""Log-probabilities of :math:`\pi_w(y|x)\propto\pi_{ref}(y|x)\exp(w^\top\phi(x,y))`.

    ``feats`` (n_ctx, n_resp, feat_dim), ``log_ref`` (n_ctx, n_resp); returns
    (n_ctx, n_resp) log-probabilities (each row log-sums to 0). A tabular policy is the
    special case of one-hot features.
    """
    logits = np.asarray(log_ref, float) + np.asarray(feats, float) @ np.asarray(w, float)
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def dpo_pair_features(feats: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    r""":math:`\Phi` (feat_dim, n_pairs) with columns :math:`\phi(x,y)-\phi(x,z)` for rows
    ``(x, y, z)`` of ``pairs`` (n_pairs, 3) (context, first response, second response)."""
    feats = np.asarray(feats, float)
    pairs = np.asarray(pairs, dtype=int)
    if pairs.ndim != 2 or pairs.shape[1] != 3:
        raise ModelError(f"pairs has shape {pairs.shape}, expected (n_pairs, 3)", field="pairs")
    if feats.ndim != 3:
        raise ModelError(f"feats has shape {feats.shape}, expected (n_ctx, n_resp, feat_dim)",
                         field="feats")
    hi = np.array([feats.shape[0], feats.shape[1], feats.shape[1]])
    bad = np.argwhere((pairs < 0) | (pairs >= hi))
    if bad.size:
        i, j = bad[0]
        raise ModelError(f"pairs[{i}, {j}] = {pairs[i, j]} is out of range [0, {hi[j]})",
                         field="pairs")
    x, y, z = pairs.T
    return check_features((feats[x, y] - feats[x, z]).T)


def fit_dpo(feats: np.ndarray, log_ref: np.ndarray, pairs: np.ndarray, theta: np.ndarray,
            m: int | np.ndarray = 1, tau: float = 1.0, ridge: float = 1e-2) -> RewardFit:
    r"""Ridge-regularised DPO for the log-linear policy :math:`\pi_w` (notes §1.1, [derived]).

    .. math::

        w^\star=\arg\min_w\ -\sum_i m_i\big[\theta_i\log\sigma(\tau h_i)
        +(1-\theta_i)\log\sigma(-\tau h_i)\big]+\tfrac{\rho}{2}\|w\|_2^2,\qquad
        h_i=\log\frac{\pi_w(y_i|x_i)}{\pi_{ref}(y_i|x_i)}-\log\frac{\pi_w(z_i|x_i)}
        {\pi_{ref}(z_i|x_i)},

    with :math:`h` computed from the normalised policy :func:`log_linear_policy`
    (the partition function cancels, :math:`h_i=w^\top\phi_i`). The objective is
    :math:`\rho`-strongly convex in :math:`w`; ``RewardFit.r`` holds :math:`w`.
    Substituting :math:`r=\tau w` shows :math:`\tau w^\star` is the reward fit with
    ridge :math:`\rho/\tau^2`.
    """
    Phi = dpo_pair_features(feats, pairs)
    n_pairs = Phi.shape[1]
    theta = check_proportions(theta, n_pairs)
    counts = as_counts(m, n_pairs)
    rho = _check_ridge(ridge)
    if not (np.isfinite(tau) and tau > 0):
        raise ModelError(f"tau = {tau}, expected a positive KL coefficient", field="tau")
    log_ref = np.asarray(log_ref, float)
    if log_ref.shape != np.shape(feats)[:2] or not np.all(np.isfinite(log_ref)):
        raise ModelError(f"log_ref has shape {log_ref.shape} or non-finite entries, expected "
                         f"finite values of shape {np.shape(feats)[:2]}", field="log_ref")
    x, y, z = np.asarray(pairs, int).T

    def value(w: np.ndarray) -> float:
        lr = log_linear_policy(w, feats, log_ref) - log_ref
        h = tau * (lr[x, y] - lr[x, z])
        return float(np.sum(counts * (np.logaddexp(0.0, h) - theta * h))) + 0.5 * rho * (w @ w)

    eye = np.eye(Phi.shape[0])
    scale = tau * _grad_scale(Phi, counts)
    return _newton(value,
                   lambda w: tau * _grad(tau * w, Phi, theta, counts) + rho * w,
                   lambda w: tau ** 2 * _hess(tau * w, Phi, counts) + rho * eye,
                   np.zeros(Phi.shape[0]), rho, scale)


# -- "the same effect", by fitting both datasets ---------------------------------------
@dataclass(frozen=True)
class SameEffect:
    r"""Two reward fits on proportions :math:`\theta,\theta'` and how far apart they are.

    Attributes
    ----------
    fit, fit_prime : RewardFit
    premise : float
        :math:`\|\Phi\,\mathrm{diag}(m)(\theta-\theta')\|_2` as computed (0 in exact
        arithmetic when the loss identity applies).
    premise_tol : float
        Rounding bound of ``premise`` for an exactly-null difference:
        :math:`64\,\varepsilon_{mach}N\max|\Phi|\max m`.
    distance : float
        :math:`\|r-r'\|_2` between the two fitted rewards.
    distance_bound : float
        Certified :math:`(g+g'+\text{premise})/\rho` for *any* two datasets: with
        :math:`\nabla F(\cdot;\theta')=\nabla F(\cdot;\theta)+\Phi\,\mathrm{diag}(m)
        (\theta-\theta')`, strong convexity puts the optima within premise/:math:`\rho`
        and each fit within :math:`g/\rho` of its optimum.
    same_tol : float
        :math:`(g+g'+\text{premise\_tol})/\rho`: the distance allowed when the premise holds.
    """

    fit: RewardFit
    fit_prime: RewardFit
    premise: float
    premise_tol: float
    distance: float
    distance_bound: float
    same_tol: float

    @property
    def same(self) -> bool:
        """Both fits optimal, the premise holds to rounding, and ``distance <= same_tol``."""
        ok = self.fit.status == self.fit_prime.status == "optimal"
        return ok and self.premise <= self.premise_tol and self.distance <= self.same_tol


def same_effect_fit(Phi: np.ndarray, theta: np.ndarray, theta_prime: np.ndarray,
                    m: int | np.ndarray = 1, ridge: float = 1e-2) -> SameEffect:
    r"""Fit the ridge BT reward on both datasets and certify how close the fits are.

    Notes §1.2: :math:`\Phi\,\mathrm{diag}(m)\theta=\Phi\,\mathrm{diag}(m)\theta'\Rightarrow
    L(\cdot;\theta)\equiv L(\cdot;\theta')`, hence the same fitted reward. This runs two
    separate Newton solves and reports ``distance`` :math:`\|r-r'\|_2` next to the
    certified bounds; ``same`` says whether the premise holds and the fits coincide to
    solver accuracy.
    """
    Phi = check_features(Phi)
    n_pairs = Phi.shape[1]
    theta = check_proportions(theta, n_pairs)
    theta_prime = check_proportions(theta_prime, n_pairs, "theta_prime")
    counts = as_counts(m, n_pairs)
    a = fit_reward(Phi, theta, counts, ridge)
    b = fit_reward(Phi, theta_prime, counts, ridge)
    premise = float(np.linalg.norm(Phi @ (counts * (theta - theta_prime))))
    premise_tol = 64 * EPS * n_pairs * max(1.0, float(np.abs(Phi).max())) * float(counts.max())
    distance = float(np.linalg.norm(a.r - b.r))
    rounding = 8 * EPS * max(1.0, float(np.linalg.norm(a.r)))   # of the computed norm
    return SameEffect(a, b, premise, premise_tol, distance,
                      (a.grad_norm + b.grad_norm + premise) / ridge + rounding,
                      (a.grad_norm + b.grad_norm + premise_tol) / ridge + rounding)
