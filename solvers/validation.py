"""Validation helpers shared by every model constructor.

Each helper either returns a clean, read-only float64 array or raises
:class:`~solvers.errors.ModelError` whose message names the field, the index
and the offending value, and says what was expected. Nothing here coerces
silently: booleans, strings, complex numbers and objects are rejected, not
cast.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .tolerances import PROB_SUM_TOL

__all__ = [
    "as_discount",
    "as_positive_int",
    "as_real_array",
    "check_finite",
    "check_nonnegative",
    "check_rows_sum_to_one",
    "check_shape",
    "format_index",
]


def format_index(field: str, index: Sequence[int], trailing: int = 0) -> str:
    """Render ``field[i, j, :]`` for an error message."""
    parts = [str(int(i)) for i in index] + [":"] * trailing
    return f"{field}[{', '.join(parts)}]" if parts else field


def as_real_array(value: object, field: str, ndim: int | None = None) -> np.ndarray:
    """Convert ``value`` to a read-only float64 array, rejecting non-real data.

    Raises
    ------
    ModelError
        If ``value`` is not an array of real numbers (bool, complex, string and
        object arrays, and ragged nested lists are rejected), or if it has the
        wrong number of dimensions, or is empty.
    """
    if sp.issparse(value):
        raise ModelError(f"{field} is a sparse matrix, expected a dense array", field=field)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged lists raise ValueError in numpy >= 1.24
        raise ModelError(
            f"{field} cannot be read as an array ({exc}), expected nested lists of numbers",
            field=field,
        ) from None
    if arr.dtype == np.bool_:
        raise ModelError(f"{field} has dtype bool, expected real numbers", field=field)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ModelError(
            f"{field} has dtype {arr.dtype}, expected real numbers (int or float)", field=field
        )
    if ndim is not None and arr.ndim != ndim:
        raise ModelError(
            f"{field} has {arr.ndim} dimension(s) (shape {arr.shape}), expected {ndim}",
            field=field,
        )
    if arr.size == 0:
        raise ModelError(f"{field} is empty (shape {arr.shape}), expected at least one entry",
                         field=field)
    out = np.array(arr, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


def check_shape(arr: np.ndarray, expected: tuple[int, ...], field: str, names: str) -> None:
    """Raise unless ``arr.shape == expected``; ``names`` spells the symbolic shape."""
    if arr.shape != tuple(expected):
        raise ModelError(
            f"{field} has shape {arr.shape}, expected {names} = {tuple(expected)}", field=field
        )


def check_finite(arr: np.ndarray, field: str) -> None:
    """Raise on the first NaN or infinite entry of ``arr``."""
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise ModelError(
            f"{format_index(field, idx)} is {arr[idx]}, expected a finite number", field=field
        )


def check_nonnegative(arr: np.ndarray, field: str) -> None:
    """Raise on the most negative entry of ``arr``."""
    if arr.min() < 0:
        idx = np.unravel_index(int(np.argmin(arr)), arr.shape)
        raise ModelError(
            f"{format_index(field, idx)} = {arr[idx]:.6g}, expected a probability >= 0",
            field=field,
        )


def check_rows_sum_to_one(sums: np.ndarray, field: str, lead_shape: tuple[int, ...]) -> None:
    """Raise naming the worst row when a row of a stochastic array does not sum to 1.

    ``sums`` holds the row sums, flattened in C order over ``lead_shape``.
    """
    err = np.abs(sums - 1.0)
    worst = int(np.argmax(err))
    if err[worst] > PROB_SUM_TOL:
        idx = np.unravel_index(worst, lead_shape) if lead_shape else ()
        raise ModelError(
            f"{format_index(field, idx, trailing=1)} sums to {sums[worst]:.12g}, "
            f"expected 1 within {PROB_SUM_TOL:g}",
            field=field,
        )


def as_discount(value: object, field: str = "gamma") -> float:
    """Validate a discount factor in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ModelError(f"{field} = {value!r} is not a real number, expected a float in [0, 1)",
                         field=field)
    g = float(value)
    if not math.isfinite(g) or not (0.0 <= g < 1.0):
        raise ModelError(f"{field} = {g!r}, expected a float in [0, 1)", field=field)
    return g


def as_positive_int(value: object, field: str) -> int:
    """Validate an integer >= 1 (bools and non-integral floats are rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ModelError(f"{field} = {value!r} is not an integer, expected an integer >= 1",
                         field=field)
    h = int(value)
    if h < 1:
        raise ModelError(f"{field} = {h}, expected an integer >= 1", field=field)
    return h
