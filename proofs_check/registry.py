"""The proof-check registry: name -> zero-argument function returning a ProofCheck."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from .core import ProofCheck

__all__ = ["CHECK_MODULES", "Registry", "checks", "register", "run", "run_all"]

CheckFn = Callable[[], ProofCheck]

#: Modules that register proof checks when imported; one per concept.
CHECK_MODULES: tuple[str, ...] = (
    "proofs_check.series",
    "proofs_check.mdp_identities",
    "proofs_check.chance_constraints",
    "proofs_check.relative_budget",
    "proofs_check.rlvr_estimators",
    "proofs_check.sacpo_identities",
    "proofs_check.dpo_identities",
    "proofs_check.rdpo_identities",
    "proofs_check.boltzmann",
    "proofs_check.poisoning_identities",
)


class Registry:
    """Named proof checks; names are unique and listed in sorted order.

    Parameters
    ----------
    modules : iterable of str
        Modules imported (once) before the registry is first queried, so that
        their ``@register`` decorators have run.
    """

    def __init__(self, modules: Iterable[str] = ()) -> None:
        self._modules = tuple(modules)
        self._loaded = False
        self._checks: dict[str, CheckFn] = {}

    def register(self, name: str) -> Callable[[CheckFn], CheckFn]:
        """Decorator adding a zero-argument check function under ``name``.

        Raises ``ValueError`` if ``name`` is empty or already taken by another function.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"proof-check name = {name!r}, expected a non-empty str")

        def decorate(fn: CheckFn) -> CheckFn:
            existing = self._checks.get(name)
            if existing is not None and existing is not fn:
                raise ValueError(f"proof check {name!r} is registered twice "
                                 f"({existing.__module__}.{existing.__qualname__} and "
                                 f"{fn.__module__}.{fn.__qualname__})")
            self._checks[name] = fn
            return fn

        return decorate

    def _load(self) -> None:
        if not self._loaded:
            for mod in self._modules:
                importlib.import_module(mod)
            self._loaded = True

    def checks(self) -> tuple[str, ...]:
        """All registered names, sorted."""
        self._load()
        return tuple(sorted(self._checks))

    def get(self, name: str) -> CheckFn:
        """The check function registered as ``name``; ``KeyError`` lists the known names."""
        self._load()
        try:
            return self._checks[name]
        except KeyError:
            raise KeyError(f"no proof check {name!r}; known checks: "
                           f"{', '.join(self.checks()) or '(none)'}") from None

    def run(self, name: str) -> ProofCheck:
        """Run the check ``name`` and return its ProofCheck (whose name must match)."""
        result = self.get(name)()
        if not isinstance(result, ProofCheck) or result.name != name:
            raise TypeError(f"proof check {name!r} returned {type(result).__name__} "
                            f"named {getattr(result, 'name', None)!r}, expected a ProofCheck "
                            f"named {name!r}")
        return result

    def run_all(self) -> list[ProofCheck]:
        """Run every registered check, in name order."""
        return [self.run(name) for name in self.checks()]


#: The registry ``theory/`` cites names from.
REGISTRY = Registry(CHECK_MODULES)
register = REGISTRY.register
checks = REGISTRY.checks
run = REGISTRY.run
run_all = REGISTRY.run_all
