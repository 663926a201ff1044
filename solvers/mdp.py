r"""The tabular Markov decision process, validated on construction.

A :class:`TabularMDP` is :math:`(S, A, P, r, \mu_0, \gamma \text{ or } H, c)`:

- ``P[s, a, s'] = Pr(s_{t+1} = s' | s_t = s, a_t = a)``, dense ``(S, A, S)`` or
  ``scipy.sparse`` ``(S*A, S)`` with row ``s*A + a``;
- ``r[s, a]`` the reward and ``costs[k, s, a]`` the constraint costs;
- ``mu0[s]`` the initial distribution;
- either a discount ``gamma`` in [0, 1) (infinite horizon) or a horizon
  ``H >= 1`` (finite horizon, undiscounted: ``gamma == 1``).

Values are expected discounted sums :math:`E[\sum_t \gamma^t r_t]` (not
multiplied by :math:`1-\gamma`); finite-horizon values are
:math:`E[\sum_{t<H} r_t]`.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .validation import (
    as_discount,
    as_positive_int,
    as_real_array,
    check_finite,
    check_nonnegative,
    check_rows_sum_to_one,
    check_shape,
    describe,
)

__all__ = ["TabularMDP"]


@dataclass(frozen=True, eq=False, repr=False)
class TabularMDP:
    """A finite MDP, discounted or finite-horizon, with optional constraint costs.

    Parameters
    ----------
    P : ndarray (S, A, S) or scipy.sparse (S*A, S)
        Transition kernel; every row is a probability vector (within 1e-9).
    r : ndarray (S, A)
        Reward ``r[s, a]``; any finite reals.
    mu0 : ndarray (S,)
        Initial state distribution.
    gamma : float, optional
        Discount in [0, 1). Give exactly one of ``gamma`` and ``horizon``.
    horizon : int, optional
        Horizon H >= 1 of a finite-horizon model (then ``gamma == 1``).
    costs : ndarray (K, S, A), optional
        Constraint costs; ``None`` means K = 0.

    Raises
    ------
    ModelError
        Naming the field, the index and the offending value.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = TabularMDP(P, r=np.array([[0.0, 0.0], [1.0, 1.0]]), mu0=np.array([1.0, 0.0]),
    ...                  gamma=0.5)
    >>> mdp.S, mdp.A, mdp.K, mdp.gamma
    (2, 2, 0, 0.5)
    """

    P: np.ndarray | sp.csr_array
    r: np.ndarray
    mu0: np.ndarray
    _: KW_ONLY
    gamma: float | None = None
    horizon: int | None = None
    costs: np.ndarray | None = None

    def __post_init__(self) -> None:
        r = as_real_array(self.r, "r", ndim=2)
        check_finite(r, "r")
        S, A = r.shape
        mu0 = as_real_array(self.mu0, "mu0", ndim=1)
        check_shape(mu0, (S,), "mu0", "(S,)")
        check_finite(mu0, "mu0")
        check_nonnegative(mu0, "mu0")
        check_rows_sum_to_one(np.array([mu0.sum()]), "mu0", ())
        P = _validate_kernel(self.P, S, A)
        if self.costs is None:
            costs = np.zeros((0, S, A))
            costs.setflags(write=False)
        else:
            costs = as_real_array(self.costs, "costs", ndim=3)
            check_shape(costs, (costs.shape[0], S, A), "costs", "(K, S, A)")
            check_finite(costs, "costs")
        if self.horizon is None:
            if self.gamma is None:
                raise ModelError(
                    "neither gamma nor horizon is set, expected a discount gamma in [0, 1) "
                    "or a horizon >= 1",
                    field="gamma",
                )
            gamma, horizon = as_discount(self.gamma), None
        else:
            horizon = as_positive_int(self.horizon, "horizon")
            if self.gamma is not None and (
                isinstance(self.gamma, (bool, np.bool_))
                or not isinstance(self.gamma, (int, float))
                or float(self.gamma) != 1.0
            ):
                raise ModelError(
                    f"gamma = {describe(self.gamma)} with horizon = {horizon}: a finite-horizon "
                    "model is undiscounted, expected gamma unset (or 1)",
                    field="gamma",
                )
            gamma = 1.0
        for name, value in (("P", P), ("r", r), ("mu0", mu0), ("costs", costs),
                            ("gamma", gamma), ("horizon", horizon)):
            object.__setattr__(self, name, value)

    # -- shape ---------------------------------------------------------------
    @property
    def S(self) -> int:
        """Number of states."""
        return int(self.r.shape[0])

    @property
    def A(self) -> int:
        """Number of actions."""
        return int(self.r.shape[1])

    @property
    def K(self) -> int:
        """Number of constraint costs."""
        return int(self.costs.shape[0])

    @property
    def H(self) -> int | None:
        """Horizon of a finite-horizon model, ``None`` when discounted."""
        return self.horizon

    @property
    def c(self) -> np.ndarray:
        """Constraint costs (K, S, A); the DESIGN.md name for ``costs``."""
        return self.costs

    @property
    def finite_horizon(self) -> bool:
        """True for a finite-horizon model."""
        return self.horizon is not None

    @property
    def is_sparse(self) -> bool:
        """True when P is stored as a scipy.sparse (S*A, S) matrix."""
        return sp.issparse(self.P)

    # -- derived operators ------------------------------------------------------
    @cached_property
    def transition_matrix(self) -> sp.csr_array:
        """P as a CSR matrix of shape (S*A, S), row ``s*A + a``."""
        if self.is_sparse:
            return self.P
        m = sp.csr_array(self.P.reshape(self.S * self.A, self.S))
        m.data.setflags(write=False)
        return m

    def dense_P(self) -> np.ndarray:
        """P as a dense (S, A, S) array (allocates for a sparse model)."""
        if self.is_sparse:
            return self.P.toarray().reshape(self.S, self.A, self.S)
        return self.P

    def __repr__(self) -> str:
        kind = f"horizon={self.horizon}" if self.finite_horizon else f"gamma={self.gamma:g}"
        store = "sparse" if self.is_sparse else "dense"
        return f"TabularMDP(S={self.S}, A={self.A}, K={self.K}, {kind}, P={store})"


def _validate_kernel(P: object, S: int, A: int) -> np.ndarray | sp.csr_array:
    """Validate P against (S, A); return a read-only dense array or a CSR matrix."""
    if sp.issparse(P):
        if P.dtype == np.bool_ or not (
            np.issubdtype(P.dtype, np.integer) or np.issubdtype(P.dtype, np.floating)
        ):
            raise ModelError(f"P has dtype {P.dtype}, expected real numbers", field="P")
        if P.shape != (S * A, S):
            raise ModelError(
                f"P (sparse) has shape {P.shape}, expected (S*A, S) = {(S * A, S)}", field="P"
            )
        m = sp.csr_array(P, dtype=np.float64, copy=True)
        m.sum_duplicates()
        m.sort_indices()
        if m.nnz:
            data = m.data
            if not np.isfinite(data).all():
                k = int(np.flatnonzero(~np.isfinite(data))[0])
                row = int(np.searchsorted(m.indptr, k, side="right") - 1)
                raise ModelError(
                    f"P[{row // A}, {row % A}, {int(m.indices[k])}] is {data[k]}, "
                    "expected a finite number",
                    field="P",
                )
            if data.min() < 0:
                k = int(np.argmin(data))
                row = int(np.searchsorted(m.indptr, k, side="right") - 1)
                raise ModelError(
                    f"P[{row // A}, {row % A}, {int(m.indices[k])}] = {data[k]:.6g}, "
                    "expected a probability >= 0",
                    field="P",
                )
        sums = np.asarray(m.sum(axis=1)).ravel()
        check_rows_sum_to_one(sums, "P", (S, A))
        m.data.setflags(write=False)
        return m
    arr = as_real_array(P, "P", ndim=3)
    check_shape(arr, (S, A, S), "P", "(S, A, S)")
    check_finite(arr, "P")
    check_nonnegative(arr, "P")
    check_rows_sum_to_one(arr.sum(axis=2).ravel(), "P", (S, A))
    return arr
