r"""The ``"bilevel"`` instance type: a configurable MDP and a leader point x as JSON.

A bilevel instance holds a :class:`~solvers.configurable_mdp.ConfigurableMDP` (follower
reward :math:`r_F(s,a;x)`, leader reward :math:`r_U(s,a;x)`, kernel :math:`P_x`,
:math:`\mu_0`, discounts :math:`\gamma_F,\gamma_U\in[0,1)`, temperature :math:`\tau>0`)
and the leader parameters :math:`x\in\mathbb R^n` at which ``boundlab solve`` evaluates
the hyper-objective :math:`F(x)=E[\sum_t\gamma_U^tr_U(s_t,a_t;x)]` (a value, not scaled by
:math:`1-\gamma_U`) and its hypergradient (bilevel notes §1.1-1.3, §5).

JSON fields (docs/instances.md, section ``bilevel``)::

    {"type": "bilevel", "S": 3, "A": 2, "n": 2,           # S, A, n optional, checked
     "gamma_F": 0.9, "gamma_U": 0.8, "tau": 0.5,
     "mu0": [...],                                       # (S,)
     "P": (S, A, S) nested lists | {"csr": {...}},       # fixed kernel, as in "mdp"
     "kernel": {"kind": "softmax", "logits": (S, A, S),  # or: x-dependent kernel
                "Psi": (S, A, S, n), "support": (S, A, S) bools, optional},
     "follower_reward": REWARD, "leader_reward": REWARD,
     "x": [...]}                                         # (n,)

    REWARD = {"kind": "linear", "r0": (S, A), "Phi": (S, A, n)}  # r = r0 + Phi x
           | {"kind": "incentive_table", "base": (S, A), "support": (S, A) bools,
              "scale": 1.0}                              # r = base + scale x_i on marked pairs
           | {"kind": "tanh", "r0": (S, A), "Phi": (S, A, n), "scale": 1.0}

Exactly one of ``P`` and ``kernel``. A leader reward of kind ``linear`` may omit ``Phi``
(then it does not depend on x). Every bad field raises
:class:`~solvers.errors.ModelError` whose ``field`` is the path of the field, e.g.
``"follower_reward.Phi"``; nothing is evaluated or unpickled. The module registers the
type with :func:`solvers.instances.register_instance_type` when imported.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .configurable_mdp import (
    ConfigurableMDP,
    FixedKernel,
    LinearReward,
    SoftmaxKernel,
    TanhReward,
    incentive_table,
)
from .errors import ModelError
from .instances import decode_value, encode_value, register_instance_type
from .validation import as_real_array, check_shape

__all__ = ["BilevelInstance", "decode_bilevel", "encode_bilevel"]

_TOP_FIELDS = frozenset({"type", "description", "S", "A", "n", "gamma_F", "gamma_U", "tau",
                         "mu0", "P", "kernel", "follower_reward", "leader_reward", "x"})
_REWARD_FIELDS = {"linear": ({"r0"}, {"Phi"}), "tanh": ({"r0", "Phi"}, {"scale"}),
                  "incentive_table": ({"base", "support"}, {"scale"})}
_KERNEL_FIELDS = ({"logits", "Psi"}, {"support"})


@dataclass(frozen=True, eq=False, repr=False)
class BilevelInstance:
    """A configurable MDP ``model`` and leader parameters ``x`` (n,) (read-only copy)."""

    model: ConfigurableMDP
    x: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.model, ConfigurableMDP):
            raise ModelError(f"model is {type(self.model).__name__}, expected a "
                             "ConfigurableMDP", field="model")
        x = np.array(self.model._x(as_real_array(self.x, "x", ndim=1)), dtype=float)
        x.setflags(write=False)
        object.__setattr__(self, "x", x)

    def __repr__(self) -> str:
        m = self.model
        S, A = m.r_F.value(self.x).shape
        k = m.kernel
        if isinstance(k, SoftmaxKernel):
            kind = "softmax"
        else:
            kind = "fixed " + ("sparse" if sp.issparse(k.value(self.x)) else "dense")
        return (f"BilevelInstance(S={S}, A={A}, n={m.n}, gamma_F={m.gamma_F}, "
                f"gamma_U={m.gamma_U}, tau={m.tau}, kernel={kind}, x={self.x.tolist()})")


# -- decoding --------------------------------------------------------------------------
def decode_bilevel(spec: dict) -> tuple[ConfigurableMDP, np.ndarray]:
    """Build ``(model, x)`` from a JSON ``spec`` (module docstring for the fields).

    Raises
    ------
    ModelError
        On any missing, unknown or malformed field; ``field`` is its path
        (``"leader_reward.r0"``, ``"kernel.Psi"``, ``"gamma_F"``, ``"x"``, ...).
    """
    _object(spec, "bilevel")
    if spec.get("type", "bilevel") != "bilevel":
        raise ModelError(f"type = {spec.get('type')!r}, expected 'bilevel'", field="type")
    _no_unknown(spec, _TOP_FIELDS, "")
    if "description" in spec and not isinstance(spec["description"], str):
        raise ModelError("description must be a string", field="description")
    r_F = _reward(_need(spec, "follower_reward", ""), "follower_reward", None)
    S, A, n = *r_F[1], r_F[2]
    r_U = _reward(_need(spec, "leader_reward", ""), "leader_reward", n)
    key_U = "leader_reward." + ("base" if "base" in spec["leader_reward"] else "r0")
    if r_U[1] != (S, A):
        raise ModelError(f"leader_reward has (S, A) = {r_U[1]}, but follower_reward has "
                         f"{(S, A)}", field=key_U)
    if r_U[2] != n:
        raise ModelError(f"leader_reward has n = {r_U[2]} leader parameters, but "
                         f"follower_reward has n = {n}", field="leader_reward.Phi")
    for key, actual in (("S", S), ("A", A), ("n", n)):
        if key in spec and (isinstance(spec[key], bool) or spec[key] != actual):
            raise ModelError(f"{key} = {spec[key]!r}, but follower_reward gives {key} = "
                             f"{actual}", field=key)
    kernel = _kernel(spec, S, A, n)
    x = as_real_array(_need(spec, "x", ""), "x", ndim=1)
    if x.shape != (n,):
        raise ModelError(f"x has shape {x.shape}, expected (n,) = ({n},)", field="x")
    try:
        mu0 = as_real_array(_need(spec, "mu0", ""), "mu0", ndim=1)
        model = ConfigurableMDP(r_F[0], r_U[0], kernel, mu0,
                                _need(spec, "gamma_F", ""), _need(spec, "gamma_U", ""),
                                _need(spec, "tau", ""), n)
        model.at(x)  # x finite and every value/Jacobian valid at x
    except ModelError as exc:  # name the JSON field ("P", "mu0", "gamma_F", "x", ...)
        raise ModelError(str(exc), field=_TOP_ALIASES.get(exc.field, exc.field)) from None
    return model, np.array(x)


#: Model-level field names that are spelled differently in the JSON file.
_TOP_ALIASES = {"r_F": "follower_reward", "r_U": "leader_reward", "J_rF": "follower_reward",
                "J_rU": "leader_reward", "logits": "kernel.logits", "Psi": "kernel.Psi"}


def _object(obj: Any, where: str) -> dict:
    if not isinstance(obj, dict):
        raise ModelError(f"{where or 'bilevel'} is {type(obj).__name__}, expected a JSON object",
                         field=where or "bilevel")
    return obj


def _need(obj: dict, key: str, prefix: str) -> Any:
    if key not in obj:
        field = f"{prefix}.{key}" if prefix else key
        raise ModelError(f"{field}: missing, a required field of "
                         f"{prefix or 'a bilevel instance'}", field=field)
    return obj[key]


def _no_unknown(obj: dict, allowed: set | frozenset, prefix: str) -> None:
    extra = sorted(set(obj) - set(allowed))
    if extra:
        name = extra[0] or "''"  # an empty key still needs a visible name
        field = f"{prefix}.{name}" if prefix else name
        raise ModelError(f"{field}: unknown field of {prefix or 'a bilevel instance'}, "
                         f"expected only {sorted(allowed)}", field=field)


def _bool_mask(value: Any, field: str, ndim: int) -> np.ndarray:
    arr = np.asarray(value, dtype=object) if isinstance(value, list) else None
    if arr is None or arr.ndim != ndim or not all(
            v is True or v is False or (isinstance(v, int) and v in (0, 1))
            for v in arr.ravel()):
        raise ModelError(f"{field} must be {ndim}-d nested lists of booleans (or 0/1)",
                         field=field)
    return arr.astype(bool)


def _scale(obj: dict, field: str) -> float:
    s = obj.get("scale", 1.0)
    if isinstance(s, bool) or not isinstance(s, numbers.Real) or not np.isfinite(s):
        raise ModelError(f"{field} = {s!r}, expected a finite real number", field=field)
    return float(s)


def _reward(obj: Any, where: str, n: int | None) -> tuple[Any, tuple[int, int], int]:
    """(parameterisation, (S, A), n) from a reward object; n fills an omitted linear Phi."""
    _object(obj, where)
    kind = _need(obj, "kind", where)
    if kind not in _REWARD_FIELDS:
        raise ModelError(f"{where}.kind = {kind!r}, expected one of {sorted(_REWARD_FIELDS)}",
                         field=f"{where}.kind")
    required, optional = _REWARD_FIELDS[kind]
    if kind == "linear" and n is None:  # the follower reward fixes n: Phi required
        required, optional = {"r0", "Phi"}, set()
    _no_unknown(obj, required | optional | {"kind"}, where)
    for key in sorted(required):
        _need(obj, key, where)
    try:
        if kind == "incentive_table":
            base = as_real_array(obj["base"], "base", ndim=2)
            support = _bool_mask(obj["support"], f"{where}.support", 2)
            r = incentive_table(base, support, _scale(obj, f"{where}.scale"))
        else:
            r0 = as_real_array(obj["r0"], "r0", ndim=2)
            Phi = (as_real_array(obj["Phi"], "Phi", ndim=3) if "Phi" in obj
                   else np.zeros((*r0.shape, n)))
            r = (LinearReward(r0, Phi) if kind == "linear"
                 else TanhReward(r0, Phi, _scale(obj, f"{where}.scale")))
    except ModelError as exc:
        field = exc.field if exc.field and exc.field.startswith(where) else (
            f"{where}.{exc.field}")
        raise ModelError(f"{where}: {exc}", field=field) from None
    return r, r.Phi.shape[:2], r.n


def _kernel(spec: dict, S: int, A: int, n: int) -> FixedKernel | SoftmaxKernel:
    if ("P" in spec) == ("kernel" in spec):
        raise ModelError("bilevel needs exactly one of 'P' (fixed kernel) and 'kernel' "
                         "(softmax kernel)", field="P")
    if "P" in spec:
        P = spec["P"]
        if isinstance(P, dict):
            P = decode_value(P, "P")
            if not sp.issparse(P):
                raise ModelError("P must be nested lists (S, A, S) or {'csr': {...}}",
                                 field="P")
        else:
            P = as_real_array(P, "P", ndim=3)
        return FixedKernel(P)
    obj = _object(spec["kernel"], "kernel")
    if obj.get("kind") != "softmax":
        raise ModelError(f"kernel.kind = {obj.get('kind')!r}, expected 'softmax'",
                         field="kernel.kind")
    required, optional = _KERNEL_FIELDS
    _no_unknown(obj, required | optional | {"kind"}, "kernel")
    for key in sorted(required):
        _need(obj, key, "kernel")
    sup = _bool_mask(obj["support"], "kernel.support", 3) if "support" in obj else None
    try:
        L = as_real_array(obj["logits"], "logits", ndim=3)
        check_shape(L, (S, A, S), "logits", "(S, A, S)")
        Psi = as_real_array(obj["Psi"], "Psi", ndim=4)
        check_shape(Psi, (S, A, S, n), "Psi", "(S, A, S, n)")
        return SoftmaxKernel(L, Psi, sup)
    except ModelError as exc:
        raise ModelError(f"kernel: {exc}", field=f"kernel.{exc.field}") from None


# -- encoding --------------------------------------------------------------------------
def encode_bilevel(model: ConfigurableMDP, x: np.ndarray) -> dict:
    """The JSON spec (with ``"type": "bilevel"``) of ``(model, x)``; inverse of
    :func:`decode_bilevel` (floats as Python floats, so a round trip keeps every bit).

    A :class:`~solvers.configurable_mdp.LinearReward` whose features are one scaled
    one-hot column per marked pair (C order) is written as an ``incentive_table``.
    """
    inst = BilevelInstance(model, x)
    m = inst.model
    out: dict[str, Any] = {"type": "bilevel", "n": m.n, "gamma_F": m.gamma_F,
                           "gamma_U": m.gamma_U, "tau": m.tau,
                           "mu0": np.asarray(m.mu0, dtype=float).tolist(),
                           "follower_reward": _encode_reward(m.r_F, "follower_reward"),
                           "leader_reward": _encode_reward(m.r_U, "leader_reward"),
                           "x": inst.x.tolist()}
    S, A = m.at(inst.x)["follower"].r.shape
    out["S"], out["A"] = S, A
    k = m.kernel
    if isinstance(k, FixedKernel):
        out["P"] = encode_value(sp.csr_array(k.P)) if sp.issparse(k.P) else np.asarray(
            k.P, dtype=float).tolist()
    elif isinstance(k, SoftmaxKernel):
        out["kernel"] = {"kind": "softmax", "logits": k.logits.tolist(), "Psi": k.Psi.tolist()}
        if not k.support.all():
            out["kernel"]["support"] = k.support.tolist()
    else:
        raise ModelError(f"kernel is {type(k).__name__}, expected FixedKernel or "
                         "SoftmaxKernel (the kinds a bilevel file can hold)", field="kernel")
    return out


def _encode_reward(r: Any, where: str) -> dict:
    if isinstance(r, TanhReward):
        return {"kind": "tanh", "r0": r.r0.tolist(), "Phi": r.Phi.tolist(), "scale": r.scale}
    if not isinstance(r, LinearReward):
        raise ModelError(f"{where} is {type(r).__name__}, expected LinearReward or TanhReward "
                         "(the kinds a bilevel file can hold)", field=where)
    table = _as_incentive_table(r)
    if table is not None:
        support, scale = table
        return {"kind": "incentive_table", "base": r.r0.tolist(), "support": support.tolist(),
                "scale": scale}
    out = {"kind": "linear", "r0": r.r0.tolist()}
    if where == "follower_reward" or np.any(r.Phi != 0):
        out["Phi"] = r.Phi.tolist()
    return out


def _as_incentive_table(r: LinearReward) -> tuple[np.ndarray, float] | None:
    """(support, scale) if ``r.Phi`` is exactly what :func:`incentive_table` builds."""
    S, A, n = r.Phi.shape
    flat = r.Phi.reshape(S * A, n)
    nz = flat != 0
    if not (nz.sum(axis=0) == 1).all() or not (nz.sum(axis=1) <= 1).all():
        return None
    rows = np.argmax(nz, axis=0)
    scale = float(flat[rows[0], 0])
    if np.any(np.diff(rows) <= 0) or np.any(flat[rows, np.arange(n)] != scale):
        return None
    support = np.zeros(S * A, bool)
    support[rows] = True
    return support.reshape(S, A), scale


# -- registration --------------------------------------------------------------------
def _encode_instance(inst: BilevelInstance) -> dict:
    out = encode_bilevel(inst.model, inst.x)
    del out["type"]
    return out


def _decode_instance(spec: dict) -> BilevelInstance:
    return BilevelInstance(*decode_bilevel(spec))


register_instance_type("bilevel", BilevelInstance, _encode_instance, _decode_instance)
