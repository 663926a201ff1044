"""JSON instance files: encode and decode models without pickle or eval.

An instance file is a JSON object with a ``"type"`` field. This module knows
``"mdp"``; later model families register their own type with
:func:`register_instance_type`. Values inside an instance are encoded as:

- a model: its own JSON object with a ``"type"`` field;
- a numpy array: ``{"ndarray": nested lists, "dtype": "float64" | "int64"}``;
- a scipy.sparse CSR matrix: ``{"csr": {"shape", "indptr", "indices", "data"}}``;
- numbers, strings, booleans, null, lists and objects as themselves.

Floats are written with ``repr`` (shortest round-trip form), so a load gives
back the identical bits. NaN and infinities are refused on load. See
docs/instances.md for the format with examples.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .mdp import TabularMDP
from .validation import (
    as_real_array,
    as_real_scalar,
    check_finite,
    check_shape,
    describe,
    reject_bool_leaves,
)

__all__ = [
    "CCMDPProblem",
    "CMDPProblem",
    "decode_value",
    "dumps_instance",
    "encode_value",
    "instance_types",
    "load_instance",
    "loads_instance",
    "register_instance_type",
]


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


def _field(obj: dict, key: str, where: str) -> Any:
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
    parts = {k: _field(d, k, f"{where}.csr") for k in ("shape", "indptr", "indices", "data")}
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


# -- the "mdp" type ------------------------------------------------------------------
def _encode_mdp(m: TabularMDP) -> dict:
    out: dict[str, Any] = {"S": m.S, "A": m.A}
    if m.finite_horizon:
        out["horizon"] = m.horizon
    else:
        out["gamma"] = m.gamma
    out["P"] = encode_value(m.P) if m.is_sparse else m.P.tolist()
    out["r"] = m.r.tolist()
    out["mu0"] = m.mu0.tolist()
    if m.K:
        out["costs"] = m.costs.tolist()
    return out


def _decode_mdp(d: dict) -> TabularMDP:
    P = _field(d, "P", "mdp")
    if isinstance(P, dict):
        P = decode_value(P, "mdp.P")
    if "gamma" in d and "horizon" in d:
        raise ModelError("mdp has both 'gamma' and 'horizon', expected exactly one", field="gamma")
    mdp = TabularMDP(
        P, _field(d, "r", "mdp"), _field(d, "mu0", "mdp"),
        gamma=d.get("gamma"), horizon=d.get("horizon"), costs=d.get("costs"),
    )
    for name, actual in (("S", mdp.S), ("A", mdp.A)):
        if name in d and (isinstance(d[name], bool) or d[name] != actual):
            raise ModelError(f"mdp.{name} = {d[name]!r} but r has shape {mdp.r.shape}, "
                             f"expected {name} = {actual}", field=name)
    return mdp


register_instance_type("mdp", TabularMDP, _encode_mdp, _decode_mdp)


# -- the "cmdp" type -------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CMDPProblem:
    r"""A constrained MDP instance: a model with K >= 1 costs and budgets b (K,).

    The constraint is :math:`E[\sum_t\gamma^tc_k]\le b_k` (values not scaled by 1-gamma).
    """

    mdp: TabularMDP
    thresholds: np.ndarray

    def __post_init__(self) -> None:
        _require_mdp(self.mdp)
        if self.mdp.K == 0:
            raise ModelError("cmdp has no costs, expected costs (K, S, A) with K >= 1",
                             field="costs")
        b = as_real_array(self.thresholds, "thresholds", ndim=1)
        check_shape(b, (self.mdp.K,), "thresholds", "(K,)")
        check_finite(b, "thresholds")
        object.__setattr__(self, "thresholds", b)


def _require_mdp(mdp: object) -> None:
    if not isinstance(mdp, TabularMDP):
        raise ModelError(f"mdp is {type(mdp).__name__}, expected a TabularMDP", field="mdp")


def _encode_cmdp(c: CMDPProblem) -> dict:
    return {**_encode_mdp(c.mdp), "thresholds": c.thresholds.tolist()}


def _decode_cmdp(d: dict) -> CMDPProblem:
    return CMDPProblem(_decode_mdp(d), _field(d, "thresholds", "cmdp"))


register_instance_type("cmdp", CMDPProblem, _encode_cmdp, _decode_cmdp)


# -- the "ccmdp" type ------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CCMDPProblem:
    r"""A chance-constrained MDP instance: a finite-horizon model, an unsafe set and a level.

    The constraint is :math:`\Pr(\exists t\le H: s_t\in U)\le\delta` (exact), or the
    ``surrogate`` "boole" / "h_unsafe" (with ``gamma_u``) of :func:`solvers.ccmdp_solve.
    solve_ccmdp`. In the file, ``unsafe`` is the list of unsafe state indices.
    """

    mdp: TabularMDP
    unsafe: np.ndarray
    delta: float
    surrogate: str | None = None
    gamma_u: float | None = None

    def __post_init__(self) -> None:
        from .ccmdp import require_finite_horizon, validate_delta, validate_unsafe
        from .ccmdp_solve import _check_surrogate

        require_finite_horizon(self.mdp)
        object.__setattr__(self, "unsafe", validate_unsafe(self.mdp, self.unsafe))
        object.__setattr__(self, "delta", validate_delta(self.delta))
        if self.surrogate is not None and not isinstance(self.surrogate, str):
            raise ModelError(f"surrogate = {describe(self.surrogate)}, expected None (exact) "
                             "or a surrogate name", field="surrogate")
        if self.gamma_u is not None:
            as_real_scalar(self.gamma_u, "gamma_u", "a float in (0, 1)")
        object.__setattr__(self, "gamma_u", _check_surrogate(self.surrogate, self.gamma_u))


def _encode_ccmdp(c: CCMDPProblem) -> dict:
    out = {**_encode_mdp(c.mdp), "unsafe": np.flatnonzero(c.unsafe).tolist(), "delta": c.delta}
    if c.surrogate is not None:
        out["surrogate"] = c.surrogate
    if c.gamma_u is not None:
        out["gamma_u"] = c.gamma_u
    return out


def _decode_ccmdp(d: dict) -> CCMDPProblem:
    if "unsafe" not in d:
        raise ModelError("an instance of type 'ccmdp' has no field 'unsafe', expected the list "
                         "of unsafe state indices", field="unsafe")
    unsafe = d["unsafe"]
    if not isinstance(unsafe, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in unsafe):
        raise ModelError(f"ccmdp.unsafe = {unsafe!r}, expected a list of state indices",
                         field="unsafe")
    return CCMDPProblem(_decode_mdp(d), np.array(unsafe, dtype=np.int64),
                        _field(d, "delta", "ccmdp"), d.get("surrogate"), d.get("gamma_u"))


register_instance_type("ccmdp", CCMDPProblem, _encode_ccmdp, _decode_ccmdp)


# -- the "poisoning" type --------------------------------------------------------------
def _encode_poisoning(p: Any) -> dict:
    out: dict[str, Any] = {"Phi": p.Phi.tolist(), "theta_O": p.theta_O.tolist(), "m": p.m}
    if p.r_A is not None:
        out["r_A"] = p.r_A.tolist()
    elif p.target_moment is not None:
        out["target_moment"] = p.target_moment.tolist()
    else:
        out["theta_A"] = p.theta_A.tolist()
    return out


def _decode_poisoning(d: dict) -> Any:
    """Poisoning notes §5: Phi (feat_dim x n_pairs), theta_O, one of theta_A / r_A /
    target_moment, m; "cost" (l1 | l2 | linf) is read by the solver; "counts" must be null
    (equal counts m per pair)."""
    from .poisoning import PoisoningInstance

    if d.get("counts") is not None:
        raise ModelError("poisoning.counts must be null (m annotations for every pair)",
                         field="counts")
    if d.get("cost", "l1") not in ("l1", "l2", "linf"):
        raise ModelError(f"poisoning.cost = {d.get('cost')!r}, expected 'l1', 'l2' or 'linf'",
                         field="cost")
    m = d.get("m", 1)
    if isinstance(m, bool) or not isinstance(m, int):
        raise ModelError(f"poisoning.m = {m!r}, expected an integer >= 1", field="m")
    return PoisoningInstance(_field(d, "Phi", "poisoning"), _field(d, "theta_O", "poisoning"),
                             theta_A=d.get("theta_A"), r_A=d.get("r_A"),
                             target_moment=d.get("target_moment"), m=m)


def _register_poisoning() -> None:
    from .poisoning import PoisoningInstance

    register_instance_type("poisoning", PoisoningInstance, _encode_poisoning, _decode_poisoning)


_register_poisoning()


# -- files -------------------------------------------------------------------------
def _reject_constant(token: str) -> float:
    raise ModelError(f"instance JSON contains {token}, expected finite numbers only",
                     field="json")


def _finite_float(token: str) -> float:
    x = float(token)
    if not math.isfinite(x):  # e.g. 1e999, which Python's json reads as inf
        raise ModelError(f"instance JSON contains {token[:40]}, which overflows a float; "
                         "expected finite numbers only", field="json")
    return x


def parse_json(text: str | bytes) -> Any:
    """Parse JSON text strictly: plain data only, NaN, Infinity and 1e999 refused.

    Every failure (not text, invalid JSON or UTF-8, nesting too deep) is a
    :class:`ModelError` with ``field="json"``. Shared by the instance and
    counterexample loaders.
    """
    if not isinstance(text, (str, bytes, bytearray)):
        raise ModelError(f"instance text is {type(text).__name__}, expected str or bytes",
                         field="json")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise ModelError(f"instance file is not valid JSON ({exc})", field="json") from None
    except UnicodeDecodeError as exc:
        raise ModelError(f"instance file is not UTF-8 text ({exc})", field="json") from None
    except RecursionError:
        raise ModelError("instance JSON is nested too deeply", field="json") from None


def loads_instance(text: str | bytes) -> Any:
    """Parse instance JSON text (no pickle, no eval; NaN, Infinity and 1e999 refused)."""
    data = parse_json(text)
    if not isinstance(data, dict) or "type" not in data:
        raise ModelError("instance file must be a JSON object with a 'type' field",
                         field="type")
    try:
        return decode_value(data)
    except RecursionError:
        raise ModelError("instance JSON is nested too deeply", field="json") from None


def load_instance(path: str | Path) -> Any:
    """Load an instance file (see :func:`loads_instance`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path} is not UTF-8 text ({exc})", field="json") from None
    return loads_instance(text)


def dumps_instance(obj: Any) -> str:
    """Canonical JSON for ``obj`` (sorted keys, repr floats): same object, same bytes."""
    data = encode_value(obj)
    if isinstance(data, dict) and "type" not in data:
        raise TypeError("the top level of an instance file needs a 'type' field")

    def _check(x: Any) -> None:
        if isinstance(x, float) and not math.isfinite(x):
            raise ValueError("instance files cannot hold NaN or infinity")

    _walk(data, _check)
    return json.dumps(data, sort_keys=True, indent=1) + "\n"


def _walk(x: Any, f: Callable[[Any], None]) -> None:
    if isinstance(x, dict):
        for v in x.values():
            _walk(v, f)
    elif isinstance(x, list):
        for v in x:
            _walk(v, f)
    else:
        f(x)


def _register_bilevel() -> None:
    from . import bilevel_instance  # noqa: F401  (registers "bilevel" when imported)


_register_bilevel()
