r"""The model types of instance files: "mdp", "cmdp", "ccmdp" and "poisoning".

Each type has an encoder (model -> JSON-able dict without ``"type"``) and a decoder (dict ->
validated model, :class:`~solvers.errors.ModelError` naming the field otherwise),
registered with :func:`solvers.instances_codec.register_instance_type` when this module is
imported (:mod:`solvers.instances` imports it). :class:`CMDPProblem` and
:class:`CCMDPProblem` bundle a model with its constraint data; the poisoning instance is
:class:`solvers.poisoning_instance.PoisoningInstance`. The JSON fields are documented in
docs/instances.md. Values are :math:`E[\sum_t\gamma^t\cdot]`, not scaled by
:math:`1-\gamma`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ModelError
from .instances_codec import decode_value, encode_value, field_of, register_instance_type
from .mdp import TabularMDP
from .poisoning_instance import PoisoningInstance
from .validation import as_real_array, as_real_scalar, check_finite, check_shape, describe

__all__ = ["CCMDPProblem", "CMDPProblem"]


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
    P = field_of(d, "P", "mdp")
    if isinstance(P, dict):
        P = decode_value(P, "mdp.P")
    if "gamma" in d and "horizon" in d:
        raise ModelError("mdp has both 'gamma' and 'horizon', expected exactly one", field="gamma")
    mdp = TabularMDP(
        P, field_of(d, "r", "mdp"), field_of(d, "mu0", "mdp"),
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
    return CMDPProblem(_decode_mdp(d), field_of(d, "thresholds", "cmdp"))


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
                        field_of(d, "delta", "ccmdp"), d.get("surrogate"), d.get("gamma_u"))


register_instance_type("ccmdp", CCMDPProblem, _encode_ccmdp, _decode_ccmdp)


# -- the "poisoning" type --------------------------------------------------------------
def _encode_poisoning(p: PoisoningInstance) -> dict:
    out: dict[str, Any] = {"Phi": p.Phi.tolist(), "theta_O": p.theta_O.tolist(), "m": p.m}
    if p.r_A is not None:
        out["r_A"] = p.r_A.tolist()
    elif p.target_moment is not None:
        out["target_moment"] = p.target_moment.tolist()
    else:
        out["theta_A"] = p.theta_A.tolist()
    return out


def _decode_poisoning(d: dict) -> PoisoningInstance:
    """Poisoning notes §5: Phi (feat_dim x n_pairs), theta_O, one of theta_A / r_A /
    target_moment, m; "cost" (l1 | l2 | linf) is read by the solver; "counts" must be null
    (equal counts m per pair)."""
    if d.get("counts") is not None:
        raise ModelError("poisoning.counts must be null (m annotations for every pair)",
                         field="counts")
    if d.get("cost", "l1") not in ("l1", "l2", "linf"):
        raise ModelError(f"poisoning.cost = {d.get('cost')!r}, expected 'l1', 'l2' or 'linf'",
                         field="cost")
    m = d.get("m", 1)
    if isinstance(m, bool) or not isinstance(m, int):
        raise ModelError(f"poisoning.m = {m!r}, expected an integer >= 1", field="m")
    return PoisoningInstance(field_of(d, "Phi", "poisoning"), field_of(d, "theta_O", "poisoning"),
                             theta_A=d.get("theta_A"), r_A=d.get("r_A"),
                             target_moment=d.get("target_moment"), m=m)


register_instance_type("poisoning", PoisoningInstance, _encode_poisoning, _decode_poisoning)
