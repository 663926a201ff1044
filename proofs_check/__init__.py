"""Symbolic (sympy) proofs of the identities that ``theory/`` relies on.

Stand-alone: nothing here imports ``solvers``, ``theory`` or ``experiments``. Each
registered check is a zero-argument function returning a :class:`ProofCheck`
whose ``residual`` is ``lhs - rhs`` after exact simplification; ``theory``
cites checks by name (``Theorem.proof_checks``). See ``docs/proofs_check.md``.

>>> from proofs_check import run
>>> run("discounted_constant_reward_geometric_series").passed
True
"""

from .core import ProofCheck, identity_check, is_exact_zero, rational_simplify
from .registry import CHECK_MODULES, REGISTRY, Registry, checks, register, run, run_all

__all__ = [
    "CHECK_MODULES",
    "REGISTRY",
    "ProofCheck",
    "Registry",
    "checks",
    "identity_check",
    "is_exact_zero",
    "rational_simplify",
    "register",
    "run",
    "run_all",
]
