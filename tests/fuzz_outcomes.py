"""Shared machinery of the fuzz tests: classify one call's outcome, report the counts.

The only allowed outcomes of feeding junk to a loader or constructor are a valid
object or a :class:`~solvers.errors.ModelError` whose message names its field;
anything else (another exception type, a ModelError without the field, a hang)
is "disallowed". Counts are printed, stored as JSON under the test's tmp_path and
emitted as a :class:`FuzzSummary` warning, so pytest's warnings summary shows them
in every CI log without ``-s``.
"""

from __future__ import annotations

import json
import reprlib
import signal
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from solvers.errors import ModelError

#: A constructor call or a load of a file of at most a few hundred entries takes
#: milliseconds; one that runs past this is a hang (e.g. a loop over a huge count
#: taken from the input).
HANG_SECONDS = 10

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 60, 60


class FuzzSummary(UserWarning):
    """Outcome counts of one fuzz test, shown in pytest's warnings summary."""


class _Hang(Exception):
    pass


def _on_alarm(signum: int, frame: object) -> None:
    raise _Hang


def outcome(build: Callable[[], Any]) -> tuple[str, Any]:
    """Run ``build``: ("valid", obj), ("ModelError", exc) or ("disallowed", description)."""
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(HANG_SECONDS)
    try:
        obj = build()
    except _Hang:
        return "disallowed", f"hang: no result within {HANG_SECONDS} s"
    except ModelError as exc:
        if not exc.field or exc.field.lower() not in str(exc).lower():
            return "disallowed", f"ModelError without its field named: field={exc.field!r}: {exc}"
        return "ModelError", exc
    except Exception as exc:  # every other exception type is the finding
        return "disallowed", f"{type(exc).__name__}: {_REPR.repr(str(exc))}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return "valid", obj


def report(name: str, counts: dict[str, Counter], tmp_path: Path) -> None:
    """Print, store as JSON and warn the per-target counts."""
    data = {k: dict(v) for k, v in sorted(counts.items())}
    (tmp_path / f"{name}.json").write_text(json.dumps(data, indent=1, sort_keys=True))
    total = sum(sum(v.values()) for v in counts.values())
    line = f"{name}: {total} inputs; " + "; ".join(
        f"{k} valid={v['valid']} ModelError={v['ModelError']} disallowed={v['disallowed']}"
        for k, v in sorted(counts.items()))
    print(line)
    warnings.warn(line, FuzzSummary, stacklevel=2)
