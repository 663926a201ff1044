r"""The label-flip poisoning instance: features, benign and target proportions, validated
(poisoning notes §1.1).

:math:`N` (``n_pairs``) comparisons have features :math:`\Phi\in\mathbb R^{n_f\times N}`
(``feat_dim`` x ``n_pairs``, column :math:`\phi_i` = chosen minus rejected), benign
proportions :math:`\theta_O\in[0,1]^N` and a target given as proportions
:math:`\theta_A\in[0,1]^N`, as a reward :math:`r_A` (:math:`\theta_A=\sigma(\Phi^\top r_A)`)
or as the moment :math:`b=\Phi\Delta` directly; ``shift`` is :math:`\Delta=\theta_A-\theta_O`.
The solver is :func:`solvers.poisoning.min_cost_poisoning`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ModelError
from .validation import describe, reject_bool_leaves

__all__ = ["PoisoningInstance", "sigmoid"]


def sigmoid(t: np.ndarray) -> np.ndarray:
    r"""Logistic function :math:`\sigma(t)=1/(1+e^{-t})`, evaluated without overflow."""
    t = np.asarray(t, dtype=float)
    return np.where(t >= 0, 1.0 / (1.0 + np.exp(-np.abs(t))),
                    np.exp(-np.abs(t)) / (1.0 + np.exp(-np.abs(t))))


def _array(x: Any, name: str, ndim: int) -> np.ndarray:
    reject_bool_leaves(x, name)
    try:
        a = np.asarray(x)
    except (ValueError, TypeError, RecursionError) as exc:  # ragged or too deep
        raise ModelError(f"{name} cannot be read as an array ({exc}), expected real numbers",
                         field=name) from None
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer)
                                   or np.issubdtype(a.dtype, np.floating)):
        raise ModelError(f"{name} has dtype {a.dtype}, expected real numbers", field=name)
    if a.ndim != ndim:
        raise ModelError(f"{name} has shape {a.shape}, expected {ndim} dimension(s)", field=name)
    a = a.astype(float)
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        idx = tuple(int(i) for i in bad[0])
        raise ModelError(f"{name}[{', '.join(map(str, idx))}] = {a[idx]}, expected finite "
                         "numbers", field=name)
    return a


def _proportions(x: Any, name: str, n_pairs: int) -> np.ndarray:
    a = _array(x, name, 1)
    if a.shape != (n_pairs,):
        raise ModelError(f"{name} has shape {a.shape}, expected (n_pairs,) = ({n_pairs},)",
                         field=name)
    out = np.flatnonzero((a < 0) | (a > 1))
    if out.size:
        i = int(out[0])
        raise ModelError(f"{name}[{i}] = {a[i]}, expected a proportion in [0, 1]", field=name)
    return a


@dataclass(frozen=True, eq=False)
class PoisoningInstance:
    r"""A label-flip poisoning instance (notes §1.1).

    Parameters
    ----------
    Phi : array (feat_dim, n_pairs)
        Comparison features, column :math:`\phi_i=\phi(x_i,y_i)-\phi(x_i,z_i)`.
    theta_O : array (n_pairs,)
        Benign preference proportions in [0, 1].
    theta_A : array (n_pairs,), optional
        Target proportions in [0, 1] (e.g. another attack's poisoned labels).
    r_A : array (feat_dim,), optional
        Target reward; then :math:`\theta_A=\sigma(\Phi^\top r_A)` (give exactly one of the two).
    m : int
        Annotations per pair (the grid :math:`\Theta_m=\{0,1/m,\dots,1\}`); flips = m |zeta|_1.
    target_moment : array (feat_dim,), optional
        The target :math:`b=\Phi\Delta` given directly (e.g. a gradient-matching target that
        need not be reachable; then (P1) may be infeasible and ``theta_A`` is None).
    """

    Phi: np.ndarray
    theta_O: np.ndarray
    theta_A: np.ndarray | None = None
    r_A: np.ndarray | None = None
    m: int = 1
    target_moment: np.ndarray | None = None

    def __post_init__(self) -> None:
        Phi = _array(self.Phi, "Phi", 2)
        feat_dim, n_pairs = Phi.shape
        if feat_dim < 1 or n_pairs < 1:
            raise ModelError(f"Phi has shape {Phi.shape}, expected (feat_dim >= 1, n_pairs >= 1)",
                             field="Phi")
        theta_O = _proportions(self.theta_O, "theta_O", n_pairs)
        given = [k for k in ("theta_A", "r_A", "target_moment") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ModelError(f"got {given or 'none'}, expected exactly one of theta_A, r_A, "
                             "target_moment", field="theta_A")
        r_A = tm = theta_A = None
        if self.target_moment is not None:
            tm = _array(self.target_moment, "target_moment", 1)
            if tm.shape != (feat_dim,):
                raise ModelError(f"target_moment has shape {tm.shape}, expected (feat_dim,) = "
                                 f"({feat_dim},)", field="target_moment")
        elif self.r_A is not None:
            r_A = _array(self.r_A, "r_A", 1)
            if r_A.shape != (feat_dim,):
                raise ModelError(f"r_A has shape {r_A.shape}, expected (feat_dim,) = "
                                 f"({feat_dim},)", field="r_A")
            with np.errstate(over="ignore", invalid="ignore"):
                logits = Phi.T @ r_A
            if np.isnan(logits).any():  # inf - inf: Phi and r_A too large for float64
                i = int(np.flatnonzero(np.isnan(logits))[0])
                raise ModelError(f"Phi[:, {i}] @ r_A is not a number (overflow), expected "
                                 "Phi and r_A small enough that Phi^T r_A is finite or "
                                 "+-inf", field="r_A")
            theta_A = sigmoid(logits)
        else:
            theta_A = _proportions(self.theta_A, "theta_A", n_pairs)
        if isinstance(self.m, bool) or not isinstance(self.m, (int, np.integer)) or self.m < 1:
            raise ModelError(f"m = {describe(self.m)}, expected an integer >= 1 (annotations "
                             "per pair)", field="m")
        for name, val in (("Phi", Phi), ("theta_O", theta_O), ("theta_A", theta_A),
                          ("r_A", r_A), ("target_moment", tm)):
            if val is not None:
                val.setflags(write=False)
            object.__setattr__(self, name, val)
        object.__setattr__(self, "m", int(self.m))

    @property
    def feat_dim(self) -> int:
        """Number of features :math:`n_f`."""
        return self.Phi.shape[0]

    @property
    def n_pairs(self) -> int:
        """Number of comparison pairs :math:`N`."""
        return self.Phi.shape[1]

    @property
    def shift(self) -> np.ndarray:
        r""":math:`\Delta=\theta_A-\theta_O` (n_pairs,); :math:`\Phi^\dagger b` if target_moment."""
        if self.theta_A is None:
            return np.linalg.pinv(self.Phi) @ self.target_moment
        return self.theta_A - self.theta_O

    @property
    def target(self) -> np.ndarray:
        r"""Right-hand side :math:`b=\Phi\Delta` (feat_dim,)."""
        if self.theta_A is None:
            return self.target_moment
        return self.Phi @ self.shift
