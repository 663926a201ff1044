"""Stated results of the papers boundlab implements, as executable theorems.

``registry()`` lists every :class:`Theorem`; :func:`check` runs hypothesis
outside pytest to search for counterexamples and tight instances.
"""

from .core import Assumption, Evidence, Instance, Theorem
from .falsify import CheckResult, check, load_counterexample
from .registry import get, register, registry

__all__ = [
    "Assumption",
    "CheckResult",
    "Evidence",
    "Instance",
    "Theorem",
    "check",
    "get",
    "load_counterexample",
    "register",
    "registry",
]
