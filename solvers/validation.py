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
import reprlib
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .tolerances import PROB_SUM_TOL

__all__ = [
    "as_bool_mask",
    "as_discount",
    "as_game_kernel",
    "as_game_rewards",
    "as_positive_int",
    "as_real_array",
    "as_real_scalar",
    "check_finite",
    "check_nonnegative",
    "check_rows_sum_to_one",
    "check_shape",
    "describe",
    "format_index",
    "reject_bool_leaves",
    "require_methods",
]

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist = 3, 40, 60, 6


def describe(value: object) -> str:
    """A bounded ``repr`` for error messages.

    Plain ``repr`` of a list nested thousands deep raises RecursionError and that of a
    huge array is megabytes long; this one is at most a line.
    """
    try:
        return _REPR.repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        return f"<{type(value).__name__}>"


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
    reject_bool_leaves(value, field)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, RecursionError) as exc:  # ragged lists: ValueError
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


def reject_bool_leaves(value: object, field: str) -> None:
    """Raise if nested lists/tuples hold a bool: numpy would cast ``[0.5, True]`` to floats.

    Arrays are not walked (their dtype says whether they hold bools); the walk is
    iterative, so deep nesting cannot overflow the stack.
    """
    stack = [value]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, (bool, np.bool_)):
            raise ModelError(f"{field} holds the bool {x!r} among numbers, expected real numbers "
                             "(a bool is not cast to 0/1)", field=field)


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


def as_real_scalar(value: object, field: str, expected: str = "a finite real number") -> float:
    """A finite real number as a float; bools, strings, arrays and NaN/inf are rejected.

    ``expected`` completes the message ("expected ...") with the field's range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ModelError(f"{field} = {describe(value)} is not a real number, expected "
                         f"{expected}", field=field)
    try:
        x = float(value)
    except OverflowError:  # an int beyond the float range
        raise ModelError(f"{field} = {describe(value)} overflows a float, expected {expected}",
                         field=field) from None
    if not math.isfinite(x):
        raise ModelError(f"{field} = {x!r}, expected {expected}", field=field)
    return x


def as_discount(value: object, field: str = "gamma") -> float:
    """Validate a discount factor in [0, 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ModelError(f"{field} = {describe(value)} is not a real number, expected a float "
                         "in [0, 1)", field=field)
    g = float(value)
    if not math.isfinite(g) or not (0.0 <= g < 1.0):
        raise ModelError(f"{field} = {g!r}, expected a float in [0, 1)", field=field)
    return g


def as_positive_int(value: object, field: str) -> int:
    """Validate an integer >= 1 (bools and non-integral floats are rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ModelError(f"{field} = {describe(value)} is not an integer, expected an integer "
                         ">= 1", field=field)
    h = int(value)
    if h < 1:
        raise ModelError(f"{field} = {h}, expected an integer >= 1", field=field)
    return h


def as_bool_mask(value: object, field: str, shape: tuple[int, ...], names: str) -> np.ndarray:
    """A read-only boolean array of the given shape; numbers and strings are not truth values.

    Raises
    ------
    ModelError
        If ``value`` is not a regular array of dtype bool (0/1 integers, floats and strings
        are rejected rather than cast) or its shape is not ``shape`` (spelled ``names``).
    """
    if sp.issparse(value):
        raise ModelError(f"{field} is a sparse matrix, expected a dense bool array", field=field)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ModelError(f"{field} cannot be read as an array ({exc}), expected bools",
                         field=field) from None
    if arr.dtype != np.bool_:
        raise ModelError(f"{field} has dtype {arr.dtype}, expected a bool mask {names}",
                         field=field)
    check_shape(arr, shape, field, names)
    out = arr.copy()
    out.setflags(write=False)
    return out


def require_methods(obj: object, field: str, methods: Sequence[str]) -> None:
    """Raise unless ``obj`` has every callable in ``methods`` (a parameterisation object)."""
    missing = [m for m in methods if not callable(getattr(obj, m, None))]
    if missing:
        raise ModelError(f"{field} is {type(obj).__name__} without method(s) "
                         f"{', '.join(missing)}, expected an object with "
                         f"{', '.join(m + '(x)' for m in methods)}", field=field)


def as_game_kernel(P: object, names: str = "(S, A1, A2, S)") -> np.ndarray:
    """A two-player joint kernel P(s' | s, a1, a2) of shape (S, A1, A2, S), validated."""
    P = as_real_array(P, "P", ndim=4)
    S, A1, A2, _ = P.shape
    check_shape(P, (S, A1, A2, S), "P", names)
    check_finite(P, "P")
    check_nonnegative(P, "P")
    check_rows_sum_to_one(P.sum(axis=3).ravel(), "P", (S, A1, A2))
    return P


def as_game_rewards(values: dict[str, object], lead_shape: tuple[int, ...],
                    names: str) -> dict[str, np.ndarray]:
    """Reward arrays of one shape ``lead_shape`` (e.g. (S, A1, A2)), each finite, by field."""
    out = {}
    for field, value in values.items():
        r = as_real_array(value, field, ndim=len(lead_shape))
        check_shape(r, lead_shape, field, names)
        check_finite(r, field)
        out[field] = r
    return out
