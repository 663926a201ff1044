r"""Rounding the LP attack to m annotations per pair; the exact integer problem (notes §1.4-1.7).

PCM post-processing (:func:`post_process`): take any attack's poisoned proportions
:math:`\theta_A`, solve (P1) for a vertex :math:`\theta^\star=\theta_O+\zeta^\star`, round to
the grid :math:`\Theta_m=\{0,1/m,\dots,1\}`. A vertex has at most :math:`\mathrm{rank}(\Phi)`
coordinates strictly inside the box and nonzero, the only ones rounding moves, so (notes §1.6)

.. math::

    m\|\theta_{round}-\theta_O\|_1\le m\,OPT_{LP}+\#\{\text{fractional}\}
    \le m\,OPT_{LP}+\mathrm{rank}(\Phi),\qquad
    \|\Phi(\theta_{round}-\theta_A)\|_2\le\sum_{i\ \text{fractional}}\frac{\|\phi_i\|_2}{2m}
    \le\frac{\mathrm{rank}(\Phi)\max_i\|\phi_i\|_2}{m}.

The exact integer problem :math:`\min\ m\|\theta-\theta_O\|_1` over :math:`\theta\in\Theta_m^N`
with :math:`\Phi\theta=\Phi\theta_A` is solved by MILP (HiGHS) or, for tiny instances with
integer features, by brute force in exact integer arithmetic.

References
----------
Kusaka et al., arXiv 2511.09105, the PCM algorithm; poisoning notes §1.6 (rounding facts).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from .errors import ModelError
from .poisoning import PoisoningInstance, PoisoningResult, min_cost_poisoning

__all__ = ["BRUTE_FORCE_MAX_CANDIDATES", "IntegerResult", "PostProcessing",
           "brute_force_integer", "fractional_coordinates", "milp_integer", "post_process",
           "round_to_grid"]

#: Brute force refuses more than this many grid vectors ((m + 1) ** n_pairs).
BRUTE_FORCE_MAX_CANDIDATES: int = 2**16
#: A coordinate within this distance of a face counts as on it (HiGHS vertices sit on
#: faces to ~1e-15; its feasibility tolerance is 1e-9, so 1e-7 separates both cleanly).
FACE_TOL: float = 1e-7


def round_to_grid(theta: np.ndarray, m: int) -> np.ndarray:
    r"""Nearest point of :math:`\Theta_m^N`: :math:`\mathrm{round}(m\theta)/m` (ties to even)."""
    return np.rint(np.asarray(theta, float) * m) / m


def fractional_coordinates(result: PoisoningResult) -> np.ndarray:
    r"""Indices where :math:`\zeta^\star_i` is nonzero and strictly inside the box."""
    z, th = result.zeta, result.instance.theta_O
    on = (np.abs(z) < FACE_TOL) | (np.abs(z + th) < FACE_TOL) | (np.abs(z - (1 - th)) < FACE_TOL)
    return np.flatnonzero(~on)


@dataclass(frozen=True)
class PostProcessing:
    r"""PCM report for one attack.

    Attributes
    ----------
    lp : PoisoningResult
    theta_round : array (n_pairs,)
    baseline_flips : float
        :math:`m\|\theta_A-\theta_O\|_1` (the attack as given).
    lp_flips, rounded_flips : float
        :math:`m\,OPT_{LP}` and :math:`m\|\theta_{round}-\theta_O\|_1`.
    flips_saved : float
        baseline_flips - rounded_flips.
    n_fractional, rank : int
    count_bound : float
        :math:`m\,OPT_{LP}+n_{frac}`.
    residual, residual_bound : float
        :math:`\|\Phi(\theta_{round}-\theta_A)\|_2` and
        :math:`\sum_{i\,frac}\|\phi_i\|_2/(2m)`.
    rank_residual_bound : float
        :math:`\mathrm{rank}(\Phi)\max_i\|\phi_i\|_2/m` (the notes' coarser form).
    """

    lp: PoisoningResult
    theta_round: np.ndarray
    baseline_flips: float
    lp_flips: float
    rounded_flips: float
    flips_saved: float
    n_fractional: int
    rank: int
    count_bound: float
    residual: float
    residual_bound: float
    rank_residual_bound: float


def post_process(instance: PoisoningInstance) -> PostProcessing:
    """PCM: solve (P1) for the attack ``instance.theta_A`` and round the vertex to the m-grid.

    ``theta_O`` must lie on the grid (benign labels are counts of m annotations).
    """
    m = instance.m
    if instance.theta_A is None:
        raise ModelError("post-processing needs an attack's theta_A", field="theta_A")
    if np.any(np.abs(round_to_grid(instance.theta_O, m) - instance.theta_O) > FACE_TOL / m):
        raise ModelError(f"theta_O is not on the grid of m = {m} annotations", field="theta_O")
    lp = min_cost_poisoning(instance)
    if lp.status != "optimal":  # cannot happen for theta_A in [0, 1]^N; read the status anyway
        raise RuntimeError(f"(P1) returned {lp.status}: {lp.message}")
    frac = fractional_coordinates(lp)
    theta_round = lp.theta_star.copy()
    # faces are grid points; snap them exactly, round the fractional coordinates
    theta_round = round_to_grid(theta_round, m)
    norms = np.linalg.norm(instance.Phi, axis=0)
    rank = int(np.linalg.matrix_rank(instance.Phi))
    return PostProcessing(
        lp=lp, theta_round=theta_round,
        baseline_flips=m * float(np.abs(instance.shift).sum()), lp_flips=lp.flips,
        rounded_flips=m * float(np.abs(theta_round - instance.theta_O).sum()),
        flips_saved=m * float(np.abs(instance.shift).sum() - np.abs(theta_round
                                                                      - instance.theta_O).sum()),
        n_fractional=int(frac.size), rank=rank, count_bound=lp.flips + frac.size,
        residual=float(np.linalg.norm(instance.Phi @ (theta_round - instance.theta_A))),
        residual_bound=float(norms[frac].sum() / (2 * m)),
        rank_residual_bound=rank * float(norms.max()) / m)


@dataclass(frozen=True)
class IntegerResult:
    r"""Exact integer attack: ``status``, ``flips`` = :math:`m\|\theta-\theta_O\|_1`, ``theta``."""

    status: str
    flips: float
    theta: np.ndarray | None


def _grid_target(instance: PoisoningInstance) -> np.ndarray:
    """m * Phi theta_A, the integer-attack right-hand side."""
    return instance.m * (instance.Phi @ instance.theta_A)


def milp_integer(instance: PoisoningInstance) -> IntegerResult:
    r"""Exact integer attack by MILP (HiGHS branch and bound).

    .. math:: \min\sum_i(p_i+q_i)\ \ \text{s.t.}\ \ \Phi(p-q)=m\Phi\Delta,\ \
              0\le p_i\le m(1-\theta_{O,i}),\ 0\le q_i\le m\theta_{O,i},\ p,q\in\mathbb Z^N,

    :math:`\theta=\theta_O+(p-q)/m`. The equality is exact only up to HiGHS's feasibility
    tolerance, so use it on integer/rational data where the integer target is attainable.
    """
    n, m = instance.n_pairs, instance.m
    th = instance.theta_O
    A = np.hstack([instance.Phi, -instance.Phi])
    rhs = m * instance.target
    ub = np.concatenate([m * (1 - th), m * th])
    res = milp(np.ones(2 * n), constraints=LinearConstraint(A, rhs, rhs),
               integrality=np.ones(2 * n), bounds=Bounds(np.zeros(2 * n), ub))
    if res.status == 2:
        return IntegerResult("infeasible", float("nan"), None)
    if res.status != 0:
        raise RuntimeError(f"MILP returned status {res.status}: {res.message}")
    k = np.rint(res.x)
    return IntegerResult("optimal", float(k.sum()), th + (k[:n] - k[n:]) / m)


def brute_force_integer(instance: PoisoningInstance) -> IntegerResult:
    r"""Exact integer attack by enumerating :math:`\Theta_m^N` in exact integer arithmetic.

    Requires integer-valued ``Phi`` and ``m * theta_A``, ``m * theta_O`` integral, and at most
    ``BRUTE_FORCE_MAX_CANDIDATES`` grid vectors: then :math:`\Phi(k-m\theta_A)=0` is tested
    exactly in int64.
    """
    n, m = instance.n_pairs, instance.m
    if (m + 1) ** n > BRUTE_FORCE_MAX_CANDIDATES:
        raise ModelError(f"(m + 1) ** n_pairs = {(m + 1) ** n} grid vectors, expected at most "
                         f"{BRUTE_FORCE_MAX_CANDIDATES}", field="n_pairs")
    ints = {}
    for name, arr in (("Phi", instance.Phi), ("theta_O", m * instance.theta_O),
                      ("theta_A", m * instance.theta_A)):
        if not np.array_equal(arr, np.rint(arr)):
            raise ModelError(f"{name} (times m for proportions) is not integer-valued; brute "
                             "force needs exact integer data", field=name)
        ints[name] = np.rint(arr).astype(np.int64)
    K = np.array(list(itertools.product(range(m + 1), repeat=n)), dtype=np.int64)
    ok = np.all((K - ints["theta_A"]) @ ints["Phi"].T == 0, axis=1)
    if not ok.any():
        return IntegerResult("infeasible", float("nan"), None)
    cost = np.abs(K[ok] - ints["theta_O"]).sum(axis=1)
    j = int(np.argmin(cost))
    return IntegerResult("optimal", float(cost[j]), K[ok][j] / m)
