r"""The result of a symbolic proof check, and the one way identity checks are built.

A :class:`ProofCheck` records an identity :math:`\mathrm{lhs}=\mathrm{rhs}` used in
``theory/``, the *residual* :math:`\mathrm{lhs}-\mathrm{rhs}` after exact symbolic
simplification, and whether that residual is exactly zero. :func:`identity_check`
is the single constructor used by every registered check (and by the tests' wrong
identities), so a check that passes and a check that fails go through the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

__all__ = ["ProofCheck", "identity_check", "is_exact_zero", "rational_simplify"]

#: A residual: one sympy expression, or a column of them for a vector identity.
Residual = sp.Basic
#: What ``identity_check`` accepts on either side: an expression or a sequence of them.
Side = sp.Basic | int | Sequence[Any]


@dataclass(frozen=True)
class ProofCheck:
    r"""A symbolic check of one identity, with its simplified residual.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"performance_difference_two_state"``; ``theory/``
        cites checks by this name (``Theorem.proof_checks``).
    statement : str
        The identity in LaTeX.
    residual : sympy.Basic
        :math:`\mathrm{lhs}-\mathrm{rhs}` after simplification, kept as a sympy
        object: an expression, or an ``ImmutableMatrix`` column when the check
        bundles several identities (one entry per identity, in the order the
        statement lists them).
    passed : bool
        For an identity check (``details["relation"] == "=="``, the default) this is
        True exactly when every entry of ``residual`` *is* the sympy integer 0:
        structural zero after simplification, not "probably zero" and not a
        floating-point test. The constructor rejects an identity check whose
        ``passed`` disagrees with its residual. A future inequality check must set
        ``details["relation"]`` to ``"<="`` or ``">="`` and document in its
        docstring what ``passed`` certifies.
    details : dict
        Optional extras (sides of the identity, assumptions, symbols); not part of
        equality, hashing or :meth:`to_json`.
    """

    name: str
    statement: str
    residual: Residual
    passed: bool
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"ProofCheck.name = {self.name!r}, expected a non-empty str")
        residual = self.residual
        if isinstance(residual, sp.MatrixBase) and not isinstance(residual, sp.ImmutableMatrix):
            residual = sp.ImmutableMatrix(residual)  # frozen means hashable, too
        if not isinstance(residual, sp.Basic):
            residual = sp.sympify(residual)
        object.__setattr__(self, "residual", residual)
        if not isinstance(self.passed, bool):
            raise ValueError(f"{self.name}: passed = {self.passed!r}, expected a bool")
        relation = self.details.get("relation", "==")
        if relation not in ("==", "<=", ">="):
            raise ValueError(f"{self.name}: details['relation'] = {relation!r}, "
                             "expected '==', '<=' or '>='")
        if relation == "==" and self.passed != is_exact_zero(residual):
            raise ValueError(f"{self.name}: passed = {self.passed} but the residual is "
                             f"{self.residual_str!r}; an identity passes iff its residual is 0")

    @property
    def residual_str(self) -> str:
        """The residual on one line: ``"0"`` for a passing scalar, ``"[0, 0]"`` for a vector."""
        if isinstance(self.residual, sp.MatrixBase):
            return sp.sstr(list(self.residual))
        return sp.sstr(self.residual)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON summary: ``{"name", "statement", "residual", "passed"}``.

        The residual is its string form (:attr:`residual_str`); ``details`` are left out.
        """
        return {"name": self.name, "statement": self.statement,
                "residual": self.residual_str, "passed": self.passed}


def is_exact_zero(residual: sp.Basic) -> bool:
    """True iff ``residual`` is the integer 0, or a matrix all of whose entries are.

    Structural: an unsimplified zero such as ``x - x*1`` counts (sympy evaluates it
    to 0 on construction) but ``sin(x)**2 + cos(x)**2 - 1`` does not; simplify first.
    """
    if isinstance(residual, sp.MatrixBase):
        return all(entry == sp.S.Zero for entry in residual)
    return residual == sp.S.Zero


def rational_simplify(expr: sp.Expr) -> sp.Expr:
    r"""Canonical form of a rational function: ``cancel(together(expr))``.

    Writes ``expr`` as one fraction :math:`p/q` with :math:`p, q` coprime
    polynomials, expanded. For a rational function this is a decision procedure:
    the result is 0 iff ``expr`` is identically 0 (as a rational function).
    """
    return sp.cancel(sp.together(expr))


def _column(side: Side) -> sp.Basic:
    if isinstance(side, sp.MatrixBase):
        return sp.ImmutableMatrix(side)
    if isinstance(side, Sequence) and not isinstance(side, str):
        return sp.ImmutableMatrix([sp.sympify(x) for x in side])
    return sp.sympify(side)


def identity_check(
    name: str,
    statement: str,
    lhs: Side,
    rhs: Side,
    *,
    assume: sp.Basic | None = None,
    simplify: Callable[[sp.Expr], sp.Expr] = rational_simplify,
    details: Mapping[str, Any] | None = None,
) -> ProofCheck:
    r"""Check :math:`\mathrm{lhs}=\mathrm{rhs}` symbolically and return the evidence.

    The residual is ``simplify(refine(lhs - rhs, assume))``, entry by entry when the
    sides are sequences (one entry per identity); the check passes iff every entry
    is exactly 0 (:func:`is_exact_zero`).

    Parameters
    ----------
    name, statement : str
        Registry name and the identity in LaTeX.
    lhs, rhs : sympy expression or sequence of them
        The two sides; sequences must have equal length.
    assume : sympy Boolean, optional
        Assumptions used to resolve ``Piecewise`` branches (e.g. ``Q.lt(gamma, 1)``
        for a geometric series), applied with ``sympy.refine`` before simplifying.
    simplify : callable, default :func:`rational_simplify`
        Exact simplifier; must map an identically-zero expression to 0.
    details : mapping, optional
        Extra entries for :attr:`ProofCheck.details`.

    Returns
    -------
    ProofCheck
        With ``details`` holding ``relation`` ("=="), ``lhs``, ``rhs`` and
        ``assumptions`` (as a string) plus whatever was passed in.
    """
    left, right = _column(lhs), _column(rhs)
    shapes = (getattr(left, "shape", "scalar"), getattr(right, "shape", "scalar"))
    if shapes[0] != shapes[1]:
        raise ValueError(f"{name}: lhs has shape {shapes[0]} but rhs has shape {shapes[1]}; "
                         "expected two expressions or two sequences of equal length")

    def reduce(expr: sp.Expr) -> sp.Expr:
        return simplify(sp.refine(expr, assume) if assume is not None else expr)

    diff = left - right
    residual = diff.applyfunc(reduce) if isinstance(diff, sp.MatrixBase) else reduce(diff)
    info: dict[str, Any] = {"relation": "==", "lhs": left, "rhs": right,
                            "assumptions": "" if assume is None else sp.sstr(assume)}
    info.update(details or {})
    return ProofCheck(name=name, statement=statement, residual=residual,
                      passed=is_exact_zero(residual), details=info)
