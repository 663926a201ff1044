"""Instance-file values: the type registry and the codec of arrays, sparse matrices and models.

A value inside an instance file is encoded as

- a model: its own JSON object with a ``"type"`` field, decoded by the function registered
  for that type with :func:`register_instance_type`;
- a numpy array: ``{"ndarray": nested lists, "dtype": "float64" | "int64" | "bool"}``;
- a scipy.sparse CSR matrix: ``{"csr": {"shape", "indptr", "indices", "data"}}``;
- numbers, strings, booleans, null, lists and objects as themselves.

Decoding never casts between kinds (no bool as a number, no float truncated to an int) and
raises :class:`~solvers.errors.ModelError` naming the field. The file level (strict JSON
parsing, loading, canonical dumping) is :mod:`solvers.instances`, which re-exports these
names; the model types are registered in :mod:`solvers.instances_problems`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .validation import reject_bool_leaves

__all__ = ["decode_value", "encode_value", "field_of", "instance_types",
           "register_instance_type"]


@dataclass(frozen=True)
class _InstanceType:
    name: str
    cls: type
    encode: Callable[[Any], dict]
    decode: Callable[[dict], Any]


_TYPES: dict[str, _InstanceType] = {}


def register_instance_type(
    name: str, cls: type, encode: Callable[[Any], dict], decode: Callable[[dict], Any]
) -> None:
    """Register a model family: ``encode(obj)`` gives a JSON-able dict (without "type")."""
    _TYPES[name] = _InstanceType(name, cls, encode, decode)


def instance_types() -> tuple[str, ...]:
    """Names of the registered instance types."""
    return tuple(sorted(_TYPES))


# -- generic values ----------------------------------------------------------------
def encode_value(value: Any) -> Any:
    """Encode ``value`` (model, array, sparse matrix, scalar, list, dict) as JSON-able data."""
    for t in _TYPES.values():
        if isinstance(value, t.cls):
            return {"type": t.name, **t.encode(value)}
    if sp.issparse(value):
        m = sp.csr_array(value)
        return {"csr": {"shape": list(m.shape), "indptr": m.indptr.tolist(),
                        "indices": m.indices.tolist(), "data": m.data.tolist()}}
    if isinstance(value, np.ndarray):
        kind = "int64" if np.issubdtype(value.dtype, np.integer) else "float64"
        if value.dtype == np.bool_:
            kind = "bool"
        return {"ndarray": value.tolist(), "dtype": kind}
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot encode a value of type {type(value).__name__} in an instance file")


def field_of(obj: dict, key: str, where: str) -> Any:
    """``obj[key]``; ModelError naming ``where`` (not an object) or ``key`` (missing)."""
    if not isinstance(obj, dict):
        raise ModelError(f"{where} is {type(obj).__name__}, expected a JSON object", field=where)
    if key not in obj:
        raise ModelError(f"{where} has no field '{key}'", field=key)
    return obj[key]


def decode_value(data: Any, where: str = "instance") -> Any:
    """Inverse of :func:`encode_value`; raises ModelError naming the field on bad data."""
    if isinstance(data, dict):
        if "type" in data:
            name = data["type"]
            if not isinstance(name, str) or name not in _TYPES:
                raise ModelError(f"{where}.type = {name!r}, expected one of {instance_types()}",
                                 field="type")
            return _TYPES[name].decode(data)
        if "ndarray" in data:
            dtype = data.get("dtype", "float64")
            if dtype not in ("float64", "int64", "bool"):
                raise ModelError(f"{where}.dtype = {dtype!r}, expected float64, int64 or bool",
                                 field="dtype")
            return _strict_array(data["ndarray"], dtype, f"{where}.ndarray")
        if "csr" in data:
            return _decode_csr(data["csr"], where)
        return {k: decode_value(v, f"{where}.{k}") for k, v in data.items()}
    if isinstance(data, list):
        return [decode_value(v, f"{where}[{i}]") for i, v in enumerate(data)]
    return data


#: JSON kinds accepted for each declared dtype: no bool as a number, no float as an int.
_KINDS = {"float64": "iuf", "int64": "iu", "bool": "b"}


def _strict_array(value: Any, dtype: str, where: str) -> np.ndarray:
    """A regular array of ``dtype`` from nested lists, without casting between kinds.

    Integers are accepted as floats (exact below 2**53, as JSON readers do); floats are
    not truncated to integers, bools and strings are not numbers, ragged lists are refused.
    """
    if not isinstance(value, list):
        raise ModelError(f"{where} is {type(value).__name__}, expected nested lists of {dtype}",
                         field=where)
    if dtype != "bool":
        reject_bool_leaves(value, where)
    try:
        raw = np.array(value)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ModelError(f"{where} is not a regular array of {dtype} ({exc})",
                         field=where) from None
    if raw.size and raw.dtype.kind not in _KINDS[dtype]:
        raise ModelError(f"{where} holds {raw.dtype} data, expected {dtype} (no implicit "
                         "conversion)", field=where)
    try:
        return raw.astype(dtype)
    except OverflowError as exc:  # pragma: no cover - object arrays are rejected above
        raise ModelError(f"{where} does not fit {dtype} ({exc})", field=where) from None


def _decode_csr(d: Any, where: str) -> sp.csr_array:
    parts = {k: field_of(d, k, f"{where}.csr") for k in ("shape", "indptr", "indices", "data")}
    try:
        if not isinstance(parts["shape"], list) or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in parts["shape"]):
            raise ValueError(f"shape {parts['shape']!r:.60} is not a list of integers")
        shape = tuple(parts["shape"])
        indptr = _strict_array(parts["indptr"], "int64", f"{where}.csr.indptr")
        indices = _strict_array(parts["indices"], "int64", f"{where}.csr.indices")
        data = _strict_array(parts["data"], "float64", f"{where}.csr.data")
        if len(shape) != 2 or min(shape) < 0:
            raise ValueError(f"shape {shape} is not 2-d")
        if indptr.shape != (shape[0] + 1,) or indices.shape != data.shape:
            raise ValueError("indptr/indices/data lengths disagree with the shape")
        if indices.size and (indices.min() < 0 or indices.max() >= shape[1]):
            raise ValueError("column index out of range")
        if indptr[0] != 0 or indptr[-1] != data.size or np.any(np.diff(indptr) < 0):
            raise ValueError("indptr is not a non-decreasing pointer array")
        return sp.csr_array((data, indices, indptr), shape=shape)
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{where}.csr is not a valid CSR matrix ({exc})", field=where) from None
