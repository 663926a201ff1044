r"""Configurable MDPs: rewards and kernel depending on leader parameters x (bilevel notes §1.1).

A :class:`ConfigurableMDP` holds a follower reward :math:`r_F(s,a;x)`, a leader reward
:math:`r_U(s,a;x)`, a kernel :math:`P_x(s'|s,a)`, an initial distribution
:math:`\mu_0`, discounts :math:`\gamma_F,\gamma_U\in[0,1)` and the follower's
temperature :math:`\tau>0`. Each parameterisation supplies its value and its
Jacobian in x:

- :class:`LinearReward`: :math:`r=r_0+\Phi x`, Jacobian :math:`\Phi` (S, A, n);
  :func:`incentive_table` is the leader-incentive special case (one-hot features);
- :class:`TanhReward`: :math:`r=r_0+c\tanh(\Phi x)`, a nonlinear reward;
- :class:`FixedKernel`: :math:`P` independent of x (dense or CSR);
- :class:`SoftmaxKernel`: :math:`P_x(s'|s,a)\propto\exp(L(s,a,s')+\Psi(s,a,s')\cdot x)` on a
  support mask, Jacobian :math:`P(\Psi-\sum_{s''}P\Psi)` and score
  :math:`\nabla_x\log P=\Psi-\sum_{s''}P\Psi`.

Jacobian shapes are validated at every evaluation (``ModelError`` naming the field).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .mdp import TabularMDP
from .soft_dp import as_temperature
from .validation import (
    as_bool_mask,
    as_discount,
    as_real_array,
    as_real_scalar,
    check_finite,
    check_shape,
    describe,
    require_methods,
)

__all__ = ["ConfigurableMDP", "FixedKernel", "LinearReward", "SoftmaxKernel", "TanhReward",
           "incentive_table"]


@dataclass(frozen=True, eq=False)
class LinearReward:
    r"""Reward :math:`r(s,a;x)=r_0(s,a)+\sum_i\Phi(s,a,i)x_i`; ``r0`` (S, A), ``Phi`` (S, A, n)."""

    r0: np.ndarray
    Phi: np.ndarray

    def __post_init__(self) -> None:
        r0 = as_real_array(self.r0, "r0", ndim=2)
        Phi = as_real_array(self.Phi, "Phi", ndim=3)
        check_shape(Phi, (*r0.shape, Phi.shape[2]), "Phi", "(S, A, n)")
        check_finite(r0, "r0")
        check_finite(Phi, "Phi")
        object.__setattr__(self, "r0", r0)
        object.__setattr__(self, "Phi", Phi)

    @property
    def n(self) -> int:
        """Number of leader parameters."""
        return int(self.Phi.shape[2])

    def value(self, x: np.ndarray) -> np.ndarray:
        """r(x), shape (S, A)."""
        return self.r0 + self.Phi @ x

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """dr/dx, shape (S, A, n)."""
        return self.Phi


def incentive_table(base: np.ndarray, support: np.ndarray, scale: float = 1.0) -> LinearReward:
    r"""Leader incentives on chosen pairs.

    :math:`r(s,a)=\text{base}(s,a)+\text{scale}\cdot x_{i(s,a)}` on marked pairs.

    ``support`` (S, A) bool marks the incentivised pairs; x has one entry per marked
    pair in C order (n = support.sum()).
    """
    base = as_real_array(base, "base", ndim=2)
    check_finite(base, "base")
    support = as_bool_mask(support, "support", base.shape, "(S, A)")
    scale = as_real_scalar(scale, "scale")
    idx = np.flatnonzero(support.ravel())
    if idx.size == 0:
        raise ModelError("support marks no (s, a) pair, expected at least one", field="support")
    Phi = np.zeros((base.size, idx.size))
    Phi[idx, np.arange(idx.size)] = scale
    return LinearReward(base, Phi.reshape((*base.shape, idx.size)))


@dataclass(frozen=True, eq=False)
class TanhReward:
    r"""Reward :math:`r=r_0+c\,\tanh(\Phi x)` with Jacobian :math:`c(1-\tanh^2(\Phi x))\Phi`."""

    r0: np.ndarray
    Phi: np.ndarray
    scale: float = 1.0

    def __post_init__(self) -> None:
        LinearReward.__post_init__(self)  # same shape validation
        object.__setattr__(self, "scale", as_real_scalar(self.scale, "scale"))

    n = LinearReward.n

    def value(self, x: np.ndarray) -> np.ndarray:
        """r(x), shape (S, A)."""
        return self.r0 + self.scale * np.tanh(self.Phi @ x)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """dr/dx, shape (S, A, n)."""
        t = np.tanh(self.Phi @ x)
        return self.scale * (1.0 - t * t)[..., None] * self.Phi


@dataclass(frozen=True, eq=False)
class FixedKernel:
    """A kernel independent of x: dense (S, A, S) or CSR (S*A, S) (validated by TabularMDP)."""

    P: np.ndarray | sp.csr_array

    def value(self, x: np.ndarray) -> np.ndarray | sp.csr_array:
        """P (independent of x)."""
        return self.P

    def jacobian(self, x: np.ndarray) -> None:
        """None: dP/dx = 0."""
        return None

    def score(self, x: np.ndarray) -> None:
        """None: grad log P = 0."""
        return None


@dataclass(frozen=True, eq=False)
class SoftmaxKernel:
    r"""Softmax kernel :math:`P_x(s'|s,a)=\mathrm{softmax}_{s'}(L+\Psi x)` on ``support``.

    ``logits`` (S, A, S), ``Psi`` (S, A, S, n), ``support`` (S, A, S) bool (default all);
    every (s, a) row needs a supported successor.
    """

    logits: np.ndarray
    Psi: np.ndarray
    support: np.ndarray | None = None

    def __post_init__(self) -> None:
        L = as_real_array(self.logits, "logits", ndim=3)
        Psi = as_real_array(self.Psi, "Psi", ndim=4)
        check_shape(Psi, (*L.shape, Psi.shape[3]), "Psi", "(S, A, S, n)")
        check_finite(L, "logits")
        check_finite(Psi, "Psi")
        sup = (np.ones(L.shape, bool) if self.support is None
               else as_bool_mask(self.support, "support", L.shape, "(S, A, S)"))
        empty = ~sup.any(axis=2)
        if empty.any():
            s, a = np.argwhere(empty)[0]
            raise ModelError(f"support[{s}, {a}, :] is empty, expected a successor",
                             field="support")
        for k, v in (("logits", L), ("Psi", Psi), ("support", sup)):
            object.__setattr__(self, k, v)

    @property
    def n(self) -> int:
        """Number of leader parameters."""
        return int(self.Psi.shape[3])

    def value(self, x: np.ndarray) -> np.ndarray:
        """P_x, shape (S, A, S)."""
        z = np.where(self.support, self.logits + self.Psi @ x, -np.inf)
        z = np.exp(z - z.max(axis=2, keepdims=True))
        return z / z.sum(axis=2, keepdims=True)

    def score(self, x: np.ndarray) -> np.ndarray:
        r""":math:`\nabla_x\log P_x(s'|s,a)=\Psi-\sum_{s''}P\Psi`, (S, A, S, n), 0 off support."""
        P = self.value(x)
        mean = np.einsum("ijk,ijkn->ijn", P, self.Psi)
        return np.where(self.support[..., None], self.Psi - mean[:, :, None, :], 0.0)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """dP/dx, shape (S, A, S, n)."""
        return self.value(x)[..., None] * self.score(x)


@dataclass(frozen=True, eq=False)
class ConfigurableMDP:
    r"""Bilevel model: follower reward, leader reward, kernel, all functions of x (notes §1.1).

    Parameters
    ----------
    r_F, r_U : reward parameterisation (``value(x)`` (S, A), ``jacobian(x)`` (S, A, n))
    kernel : FixedKernel or SoftmaxKernel
    mu0 : ndarray (S,)
    gamma_F, gamma_U : float in [0, 1)
    tau : float > 0
        Follower temperature.
    n : int
        Number of leader parameters; every Jacobian must have last axis n.
    """

    r_F: object
    r_U: object
    kernel: object
    mu0: np.ndarray
    gamma_F: float
    gamma_U: float
    tau: float
    n: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "gamma_F", as_discount(self.gamma_F, "gamma_F"))
        object.__setattr__(self, "gamma_U", as_discount(self.gamma_U, "gamma_U"))
        tau = as_real_scalar(self.tau, "tau", "a finite temperature tau > 0")
        object.__setattr__(self, "tau", as_temperature(tau))
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 1:
            raise ModelError(f"n = {describe(self.n)}, expected an integer >= 1", field="n")
        object.__setattr__(self, "n", int(self.n))
        for name in ("r_F", "r_U", "kernel"):
            part = getattr(self, name)
            require_methods(part, name, ("value", "jacobian"))
            n_part = getattr(part, "n", None)
            if isinstance(n_part, (int, np.integer)) and n_part != self.n:
                raise ModelError(f"n = {self.n} but {name} has {n_part} leader parameters, "
                                 f"expected n = {n_part}", field="n")
        try:
            x0 = np.zeros(self.n)
        except (ValueError, MemoryError):
            raise ModelError(f"n = {self.n} leader parameters cannot be allocated, expected a "
                             "small positive integer", field="n") from None
        self.at(x0)  # validates shapes of values and Jacobians

    def _x(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if x.shape != (self.n,) or not np.isfinite(x).all():
            raise ModelError(f"x has shape {x.shape} (or non-finite entries), expected finite "
                             f"(n,) = ({self.n},)", field="x")
        return x

    def at(self, x: np.ndarray) -> dict:
        r"""Everything at x, shapes validated: ``follower`` and ``leader`` TabularMDPs
        (same kernel, discounts gamma_F / gamma_U), ``J_rF``, ``J_rU`` (S, A, n),
        ``J_P`` (S, A, S, n) or None, ``score_P`` (S, A, S, n) or None."""
        x = self._x(x)
        P = self.kernel.value(x)
        rF, rU = self.r_F.value(x), self.r_U.value(x)
        follower = _mdp(P, rF, self.mu0, self.gamma_F, "r_F")
        S, A = follower.S, follower.A
        leader = TabularMDP(follower.P, rU, follower.mu0, gamma=self.gamma_U)
        out = {"x": x, "follower": follower, "leader": leader,
               "J_rF": _jac(self.r_F.jacobian(x), (S, A, self.n), "J_rF", "(S, A, n)"),
               "J_rU": _jac(self.r_U.jacobian(x), (S, A, self.n), "J_rU", "(S, A, n)"),
               "J_P": None, "score_P": None}
        JP = self.kernel.jacobian(x)
        if JP is not None:
            out["J_P"] = _jac(JP, (S, A, S, self.n), "J_P", "(S, A, S, n)")
            out["score_P"] = _jac(self.kernel.score(x), (S, A, S, self.n), "score_P",
                                  "(S, A, S, n)")
        return out


def _mdp(P, r, mu0, gamma, name) -> TabularMDP:
    try:
        return TabularMDP(P, r, mu0, gamma=gamma)
    except ModelError as exc:
        raise ModelError(f"{name}/kernel at x: {exc}", field=exc.field) from None


def _jac(J, shape: tuple[int, ...], field: str, names: str) -> np.ndarray:
    J = np.asarray(J, dtype=float)
    check_shape(J, shape, field, names)
    check_finite(J, field)
    return J
