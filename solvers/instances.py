"""JSON instance files: encode and decode models without pickle or eval.

An instance file is a JSON object with a ``"type"`` field. The registered types are
"mdp", "cmdp", "ccmdp", "poisoning" (:mod:`solvers.instances_problems`) and "bilevel"
(:mod:`solvers.bilevel_instance`); later model families register their own type with
:func:`register_instance_type`. Values inside an instance are encoded as
(:mod:`solvers.instances_codec`):

- a model: its own JSON object with a ``"type"`` field;
- a numpy array: ``{"ndarray": nested lists, "dtype": "float64" | "int64"}``;
- a scipy.sparse CSR matrix: ``{"csr": {"shape", "indptr", "indices", "data"}}``;
- numbers, strings, booleans, null, lists and objects as themselves.

Floats are written with ``repr`` (shortest round-trip form), so a load gives
back the identical bits. NaN and infinities are refused on load. See
docs/instances.md for the format with examples.

This module is the file level (strict parsing, loading, canonical dumping) and re-exports
the codec and the problem classes, so ``from solvers.instances import CMDPProblem`` and
friends keep working.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ModelError
from .instances_codec import (
    decode_value,
    encode_value,
    instance_types,
    register_instance_type,
)
from .instances_problems import CCMDPProblem, CMDPProblem

__all__ = [
    "CCMDPProblem",
    "CMDPProblem",
    "decode_value",
    "dumps_instance",
    "encode_value",
    "instance_types",
    "load_instance",
    "loads_instance",
    "parse_json",
    "register_instance_type",
]


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


# last: solvers.bilevel_instance imports from this module, so it must be complete by now
_register_bilevel()
