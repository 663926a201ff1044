"""The theorem registry: every stated result boundlab checks, by id."""

from __future__ import annotations

import importlib

from .core import Theorem

__all__ = ["THEOREM_MODULES", "get", "register", "registry"]

_REGISTRY: dict[str, Theorem] = {}

#: Modules that register theorems when imported; one per paper or area.
THEOREM_MODULES: tuple[str, ...] = (
    "theory.mdp_classical",
    "theory.ccmdp_chance",
    "theory.cmdp_classical",
    "theory.flip_per_step",
    "theory.flip_paper",
    "theory.flip_envelope",
    "theory.cmdp_mixtures",
    "theory.flip_hoeffding",
    "theory.relative_budget",
    "theory.relative_budget_dynamics",
    "theory.rlvr_estimators",
    "theory.riskpo",
    "theory.sacpo",
    "theory.sacpo_bounds",
    "theory.prefine",
    "theory.safemil",
    "theory.osil",
    "theory.rdpo",
    "theory.bt_fit",
    "theory.bilevel",
    "theory.bilevel_trajectory",
    "theory.bilevel_penalty",
    "theory.bilevel_mc",
    "theory.markov_game",
    "theory.poisoning",
)


def register(theorem: Theorem) -> Theorem:
    """Add ``theorem`` to the registry; ids are unique."""
    existing = _REGISTRY.get(theorem.id)
    if existing is not None and existing is not theorem:
        raise ValueError(f"theorem id {theorem.id!r} is registered twice")
    _REGISTRY[theorem.id] = theorem
    return theorem


def registry() -> tuple[Theorem, ...]:
    """All registered theorems, sorted by id."""
    for mod in THEOREM_MODULES:
        importlib.import_module(mod)
    return tuple(_REGISTRY[k] for k in sorted(_REGISTRY))


def get(theorem_id: str) -> Theorem:
    """The theorem with this id; ``KeyError`` lists close ids."""
    registry()
    try:
        return _REGISTRY[theorem_id]
    except KeyError:
        close = [k for k in _REGISTRY if theorem_id.split(".")[0] in k]
        raise KeyError(f"no theorem {theorem_id!r}; known ids include {close or sorted(_REGISTRY)}"
                       ) from None
