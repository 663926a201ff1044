r"""Leader optimisation: projected gradient ascent on a box (bilevel notes §1, §7).

.. math::
    x_{k+1}=\Pi_{[\ell,u]}\big(x_k+\eta\,\mathrm{clip}_c(g_k)\big),\qquad
    g_k\approx\nabla F(x_k),\qquad \mathrm{clip}_c(g)=g\min(1,c/\|g\|_2),

with :math:`g_k` the exact covariance hypergradient (``gradient="exact"``), the sampled
BC-HG / HPGD-style / naive estimator (``"bchg"``, ``"hpgd"``, ``"naive"``) or the
frozen-follower direct term computed exactly (``"direct"``, Naive-PGD without sampling
noise). :math:`F(x_k)` (leader value :math:`E[\sum_t\gamma_U^tr_U]`, unscaled) is recorded
exactly at every iterate, with its certified error bound. The box may be unbounded
(infinite bounds); ``clip=None`` means no clipping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .configurable_mdp import ConfigurableMDP
from .errors import ModelError
from .hypergradient import bilevel_point, objective_error_bound
from .hypergradient_sampling import SAMPLED_METHODS, sampled_hypergradient
from .soft_dp import SOFT_TOL

__all__ = ["LEADER_GRADIENTS", "LeaderTrajectory", "projected_gradient_ascent"]

LEADER_GRADIENTS = ("exact", "direct", *SAMPLED_METHODS)


@dataclass(frozen=True)
class LeaderTrajectory:
    """Iterates ``x`` (K+1, n), exact ``F`` (K+1,) with certified error bounds ``F_err``
    (K+1,) (:func:`~solvers.hypergradient.objective_error_bound`), the gradients ``grads``
    (K, n) before clipping and their norms ``grad_norm`` (K,).

    ``status`` is "stationary" when the projected step fell below ``xtol``, else
    "iteration_limit"; ``message`` says which.
    """

    status: str
    message: str
    x: np.ndarray
    F: np.ndarray
    grads: np.ndarray
    gradient: str
    F_err: np.ndarray
    grad_norm: np.ndarray

    @property
    def best(self) -> tuple[np.ndarray, float]:
        """The iterate with the largest exact F, and that F."""
        k = int(np.argmax(self.F))
        return self.x[k], float(self.F[k])


def _box(bounds: tuple[np.ndarray, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = (np.broadcast_to(np.asarray(b, float), (n,)).copy() for b in bounds)
    if np.isnan(lo).any() or np.isnan(hi).any() or not (lo <= hi).all() or (
            lo == np.inf).any() or (hi == -np.inf).any():
        raise ModelError(f"bounds = ({lo}, {hi}), expected lo <= hi of shape ({n},) with lo < "
                         "+inf and hi > -inf (infinite bounds leave a side open)",
                         field="bounds")
    return lo, hi


def projected_gradient_ascent(model: ConfigurableMDP, x0: np.ndarray,
                              bounds: tuple[np.ndarray, np.ndarray], *, step: float,
                              iterations: int, gradient: str = "exact",
                              samples: int = 100, rng: np.random.Generator | None = None,
                              xtol: float = 0.0, tol: float = SOFT_TOL, H: int | None = None,
                              clip: float | None = None) -> LeaderTrajectory:
    r"""Projected gradient ascent on :math:`F` over the box ``bounds = (lo, hi)``.

    Parameters
    ----------
    model : ConfigurableMDP
    x0 : ndarray (n,)
        Start (projected onto the box first).
    bounds : (lo, hi)
        Arrays (n,) or scalars; ``-inf`` / ``inf`` leave a side open
        (``(-np.inf, np.inf)``: plain gradient ascent).
    step : float > 0
        Step size :math:`\eta`.
    iterations : int >= 1
    gradient : one of LEADER_GRADIENTS
    samples : int
        Trajectories per step for the sampled estimators.
    rng : numpy.random.Generator
        Required for the sampled estimators.
    xtol : float
        Stop when :math:`\|x_{k+1}-x_k\|_\infty\le` xtol.
    H : int >= 1 or None
        Rollout length of the sampled estimators. None: :math:`\gamma^H\le10^{-13}`
        (:func:`~solvers.hypergradient_sampling.default_horizon`, ~3000 steps at
        :math:`\gamma=0.99`), negligible truncation bias; a shorter H (an episode cut)
        is cheaper but biased towards the H-step objective. Ignored by exact gradients.
    clip : float > 0 or None
        Norm clipping :math:`g\leftarrow g\min(1,c/\|g\|_2)` before the step (applied to
        every gradient kind); None: no clipping. ``grads`` records the unclipped g.
    """
    if gradient not in LEADER_GRADIENTS:
        raise ModelError(f"gradient = {gradient!r}, expected one of {LEADER_GRADIENTS}",
                         field="gradient")
    if not (np.isfinite(step) and step > 0):
        raise ModelError(f"step = {step!r}, expected a finite step > 0", field="step")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ModelError(f"iterations = {iterations!r}, expected an integer >= 1",
                         field="iterations")
    if H is not None and (isinstance(H, bool) or not isinstance(H, (int, np.integer)) or H < 1):
        raise ModelError(f"H = {H!r}, expected an integer >= 1 or None", field="H")
    if clip is not None and not (np.isfinite(clip) and clip > 0):
        raise ModelError(f"clip = {clip!r}, expected a finite norm > 0 or None", field="clip")
    if gradient in SAMPLED_METHODS and not isinstance(rng, np.random.Generator):
        raise ModelError("sampled gradients need rng = numpy.random.Generator", field="rng")
    lo, hi = _box(bounds, model.n)
    x = np.clip(model._x(x0), lo, hi)
    xs, Fs, errs, gs, norms = [x], [], [], [], []
    status, message = "iteration_limit", f"stopped after {iterations} iterations"
    for k in range(iterations):
        p = bilevel_point(model, x, tol)
        Fs.append(p.F)
        errs.append(objective_error_bound(p))
        if gradient == "exact":
            g = p.gradient("bc")
        elif gradient == "direct":
            g = p.direct
        else:
            g = sampled_hypergradient(p, samples, rng, method=gradient, H=H).mean
        gs.append(g)
        norm = float(np.linalg.norm(g))
        norms.append(norm)
        if clip is not None and norm > clip:
            g = g * (clip / norm)
        x_new = np.clip(x + step * g, lo, hi)
        moved = float(np.abs(x_new - x).max())
        x = x_new
        xs.append(x)
        if moved <= xtol:
            status, message = "stationary", (f"projected step {moved:.3g} <= xtol = {xtol:g} "
                                             f"after {k + 1} iterations")
            break
    p = bilevel_point(model, x, tol)
    Fs.append(p.F)
    errs.append(objective_error_bound(p))
    return LeaderTrajectory(status=status, message=message, x=np.array(xs), F=np.array(Fs),
                            grads=np.array(gs), gradient=gradient, F_err=np.array(errs),
                            grad_norm=np.array(norms))
