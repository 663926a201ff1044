r"""Executable theorems: a statement, its assumptions, an instance generator and a check.

A :class:`Theorem` turns a published result into something hypothesis can try
to break: ``check(instance)`` computes both sides of the stated relation
*independently* and returns :class:`Evidence`. A result known to be false is
registered with ``expected="violated"`` and its stored counterexample; the
report lists it as a finding, not a failure (compare scikit-learn's
``parametrize_with_checks`` with declared known failures).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hypothesis.strategies import SearchStrategy

__all__ = ["COUNTEREXAMPLE_DIR", "Assumption", "Evidence", "Instance", "Relation", "Theorem"]

Relation = Literal["<=", "==", ">="]
#: An instance is a mapping of named objects (models, arrays, numbers).
Instance = dict[str, Any]

#: Stored counterexamples of theorems registered as violated (package data).
COUNTEREXAMPLE_DIR = Path(__file__).with_name("counterexamples")


@dataclass(frozen=True)
class Evidence:
    r"""Both sides of a stated relation on one instance.

    Attributes
    ----------
    lhs, rhs : float
        The two sides, each from its own computation.
    relation : {"<=", "==", ">="}
        The stated relation ``lhs REL rhs``.
    tol : float
        Absolute numerical tolerance, justified where the check computes it.
    details : mapping
        Whatever explains the numbers (intermediate quantities, sizes).

    Notes
    -----
    ``slack`` is ``rhs - lhs`` for ``<=``, ``lhs - rhs`` for ``>=`` and
    ``-|lhs - rhs|`` for ``==``; the relation holds when ``slack >= -tol``.
    ``margin = slack / max(1, |lhs|, |rhs|)`` is the normalised slack that
    the tightness search minimises.
    """

    lhs: float
    rhs: float
    relation: Relation
    tol: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.relation not in ("<=", "==", ">="):
            raise ValueError(f"relation = {self.relation!r}, expected '<=', '==' or '>='")
        object.__setattr__(self, "lhs", float(self.lhs))
        object.__setattr__(self, "rhs", float(self.rhs))

    @property
    def slack(self) -> float:
        """rhs - lhs (<=), lhs - rhs (>=), -|lhs - rhs| (==)."""
        if self.relation == "<=":
            return self.rhs - self.lhs
        if self.relation == ">=":
            return self.lhs - self.rhs
        return -abs(self.lhs - self.rhs)

    @property
    def margin(self) -> float:
        """Slack normalised by max(1, |lhs|, |rhs|); NaN sides give -inf.

        An infinite slack (one side infinite, the other finite) gives the limit of
        the normalised slack, +1 or -1, so the margin is never NaN; two infinite
        sides give NaN slack for ``inf <= inf`` and hence -inf (not holding).
        """
        s = self.slack
        if math.isnan(s):
            return -math.inf
        if math.isinf(s):
            return math.copysign(1.0, s)
        return s / max(1.0, abs(self.lhs), abs(self.rhs))

    @property
    def holds(self) -> bool:
        """True when ``slack >= -tol`` (a NaN side never holds)."""
        s = self.slack
        return not math.isnan(s) and s >= -self.tol

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON summary (details are included when they are JSON numbers or strings)."""
        det = {k: v for k, v in self.details.items()
               if isinstance(v, (int, float, str, bool)) or v is None}
        return {"lhs": self.lhs, "rhs": self.rhs, "relation": self.relation, "tol": self.tol,
                "slack": self.slack, "margin": self.margin, "holds": self.holds,
                "details": det}


@dataclass(frozen=True)
class Assumption:
    """A named predicate an instance must satisfy for the theorem to apply."""

    name: str
    predicate: Callable[[Instance], bool]
    description: str = ""


@dataclass(frozen=True)
class Theorem:
    r"""A stated result as an executable object.

    Attributes
    ----------
    id : str
        Dotted identifier, e.g. ``"mdp.performance_difference"``.
    source : str
        Paper or book, arXiv id, theorem or equation number.
    statement : str
        The statement in LaTeX.
    summary : str
        One line for ``boundlab theorems``.
    instances : callable returning a hypothesis SearchStrategy of instances
        A factory (so strategies are built lazily, after registration).
    check : callable(instance) -> Evidence
    assumptions : tuple of Assumption
    expected : {"holds", "violated"}
    counterexample : str or None
        File name under ``theory/counterexamples/`` for a violated result.
    corrected : str or None
        Id of the corrected statement registered next to a violated one.
    proof_checks : tuple of str
        Names of proofs_check entries that derive identities used here.
    tight : bool or None
        Whether the bound is known to be attained (PEPit's convention).
    """

    id: str
    source: str
    statement: str
    summary: str
    instances: Callable[[], SearchStrategy]
    check: Callable[[Instance], Evidence]
    assumptions: tuple[Assumption, ...] = ()
    expected: Literal["holds", "violated"] = "holds"
    counterexample: str | None = None
    corrected: str | None = None
    proof_checks: tuple[str, ...] = ()
    tight: bool | None = None

    def __post_init__(self) -> None:
        if self.expected not in ("holds", "violated"):
            raise ValueError(f"{self.id}: expected = {self.expected!r}, "
                             "expected 'holds' or 'violated'")
        if self.expected == "violated" and not self.counterexample:
            raise ValueError(f"{self.id}: a theorem expected to be violated needs a stored "
                             "counterexample")

    def failed_assumptions(self, instance: Instance) -> list[str]:
        """Names of the assumptions ``instance`` does not satisfy."""
        return [a.name for a in self.assumptions if not a.predicate(instance)]

    def evaluate(self, instance: Instance) -> Evidence:
        """Check the assumptions, then run the check; raises ValueError if one fails."""
        failed = self.failed_assumptions(instance)
        if failed:
            raise ValueError(f"{self.id}: instance violates assumption(s) {failed}")
        return self.check(instance)

    def counterexample_path(self) -> Path | None:
        """Path of the stored counterexample, if any."""
        return COUNTEREXAMPLE_DIR / self.counterexample if self.counterexample else None
