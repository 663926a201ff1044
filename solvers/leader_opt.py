r"""Leader optimisation: projected gradient ascent on a box (bilevel notes §1, §7).

.. math::
    x_{k+1}=\Pi_{[\ell,u]}\big(x_k+\eta\,g_k\big),\qquad g_k\approx\nabla F(x_k),

with :math:`g_k` the exact covariance hypergradient (``gradient="exact"``), the sampled
BC-HG / HPGD-style / naive estimator (``"bchg"``, ``"hpgd"``, ``"naive"``) or the
frozen-follower direct term computed exactly (``"direct"``, Naive-PGD without sampling
noise). :math:`F(x_k)` (leader value :math:`E[\sum_t\gamma_U^tr_U]`, unscaled) is recorded
exactly at every iterate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .configurable_mdp import ConfigurableMDP
from .errors import ModelError
from .hypergradient import bilevel_point
from .hypergradient_sampling import SAMPLED_METHODS, sampled_hypergradient
from .soft_dp import SOFT_TOL

__all__ = ["LEADER_GRADIENTS", "LeaderTrajectory", "projected_gradient_ascent"]

LEADER_GRADIENTS = ("exact", "direct", *SAMPLED_METHODS)


@dataclass(frozen=True)
class LeaderTrajectory:
    """Iterates ``x`` (K+1, n), exact ``F`` (K+1,) and the gradients used ``grads`` (K, n).

    ``status`` is "stationary" when the projected step fell below ``xtol``, else
    "iteration_limit"; ``message`` says which.
    """

    status: str
    message: str
    x: np.ndarray
    F: np.ndarray
    grads: np.ndarray
    gradient: str

    @property
    def best(self) -> tuple[np.ndarray, float]:
        """The iterate with the largest exact F, and that F."""
        k = int(np.argmax(self.F))
        return self.x[k], float(self.F[k])


def _box(bounds: tuple[np.ndarray, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = (np.broadcast_to(np.asarray(b, float), (n,)).copy() for b in bounds)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all() and (lo <= hi).all()):
        raise ModelError(f"bounds = ({lo}, {hi}), expected finite lo <= hi of shape ({n},)",
                         field="bounds")
    return lo, hi


def projected_gradient_ascent(model: ConfigurableMDP, x0: np.ndarray,
                              bounds: tuple[np.ndarray, np.ndarray], *, step: float,
                              iterations: int, gradient: str = "exact",
                              samples: int = 100, rng: np.random.Generator | None = None,
                              xtol: float = 0.0, tol: float = SOFT_TOL) -> LeaderTrajectory:
    r"""Projected gradient ascent on :math:`F` over the box ``bounds = (lo, hi)``.

    Parameters
    ----------
    model : ConfigurableMDP
    x0 : ndarray (n,)
        Start (projected onto the box first).
    bounds : (lo, hi)
        Arrays (n,) or scalars.
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
    """
    if gradient not in LEADER_GRADIENTS:
        raise ModelError(f"gradient = {gradient!r}, expected one of {LEADER_GRADIENTS}",
                         field="gradient")
    if not (np.isfinite(step) and step > 0):
        raise ModelError(f"step = {step!r}, expected a finite step > 0", field="step")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ModelError(f"iterations = {iterations!r}, expected an integer >= 1",
                         field="iterations")
    if gradient in SAMPLED_METHODS and not isinstance(rng, np.random.Generator):
        raise ModelError("sampled gradients need rng = numpy.random.Generator", field="rng")
    lo, hi = _box(bounds, model.n)
    x = np.clip(model._x(x0), lo, hi)
    xs, Fs, gs = [x], [], []
    status, message = "iteration_limit", f"stopped after {iterations} iterations"
    for k in range(iterations):
        p = bilevel_point(model, x, tol)
        Fs.append(p.F)
        if gradient == "exact":
            g = p.gradient("bc")
        elif gradient == "direct":
            g = p.direct
        else:
            g = sampled_hypergradient(p, samples, rng, method=gradient).mean
        gs.append(g)
        x_new = np.clip(x + step * g, lo, hi)
        moved = float(np.abs(x_new - x).max())
        x = x_new
        xs.append(x)
        if moved <= xtol:
            status, message = "stationary", (f"projected step {moved:.3g} <= xtol = {xtol:g} "
                                             f"after {k + 1} iterations")
            break
    Fs.append(bilevel_point(model, x, tol).F)
    return LeaderTrajectory(status=status, message=message, x=np.array(xs), F=np.array(Fs),
                            grads=np.array(gs), gradient=gradient)
