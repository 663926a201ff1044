r"""Falsification outside pytest: hypothesis searches for counterexamples and tight instances.

:func:`check` runs a theorem's instance strategy through hypothesis with a
fixed seed (same seed, same instances, same report), calls ``target()`` on
the margin so the search also moves toward the tightest instance, and on a
violation lets hypothesis shrink it to a minimal counterexample, which is
saved as a JSON instance file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings, target
from hypothesis import seed as hyp_seed
from hypothesis.errors import Unsatisfiable

from solvers.errors import ModelError
from solvers.instances import decode_value, encode_value, parse_json

from .core import Evidence, Instance, Theorem

__all__ = ["CheckResult", "check", "counterexample_json", "load_counterexample"]


class _Violation(AssertionError):
    """Raised inside the hypothesis test so that it shrinks the instance."""


@dataclass
class CheckResult:
    """What a falsification run found for one theorem.

    ``instances`` counts every instance checked (a registered counterexample
    first, then generation, targeting and shrinking); ``violations`` counts
    those on which the relation failed.
    ``min_margin`` is the smallest normalised slack seen and
    ``tightest`` its instance. ``status`` is "holds", "violated" or "error".
    """

    theorem: Theorem
    seed: int
    examples: int
    instances: int = 0
    violations: int = 0
    min_margin: float = math.inf
    tightest: Instance | None = None
    tightest_evidence: Evidence | None = None
    counterexample: Instance | None = None
    counterexample_evidence: Evidence | None = None
    counterexample_path: Path | None = None
    error: str | None = None
    status: str = "holds"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def as_expected(self) -> bool:
        """True when the status equals the theorem's expectation."""
        return self.status == self.theorem.expected

    def to_json(self) -> dict[str, Any]:
        """The JSON line of ``boundlab check --json`` (DESIGN.md)."""
        t = self.theorem
        return {
            "id": t.id, "source": t.source, "expected": t.expected,
            "instances": self.instances, "violations": self.violations,
            "min_margin": None if math.isinf(self.min_margin) else self.min_margin,
            "status": self.status,
            "counterexample": str(self.counterexample_path) if self.counterexample_path else None,
            "seed": self.seed, "examples": self.examples, "error": self.error,
        }


@contextlib.contextmanager
def _no_local_constants() -> Iterator[None]:
    """Stop hypothesis from seeding draws with constants scanned from loaded local modules.

    hypothesis (>= 6.131) mixes literals found in every *local* module in
    ``sys.modules`` into its draws, so the instances a seed produces would depend
    on which boundlab modules happen to be imported (sympy-backed proof checks,
    the figures, ...) and on unrelated source edits. Replacing that pool with an
    empty one for the duration of a check makes ``check(theorem, N, seed)`` a
    function of the theorem, N, the seed and the hypothesis version only. If
    hypothesis's internals change, this degrades to a no-op (a test in
    tests/theory/test_falsify.py then fails and says so).
    """
    try:
        from hypothesis.internal.conjecture import providers
        original = providers._get_local_constants
        empty = providers.Constants()
        cache = providers.CONSTANTS_CACHE.cache
    except (ImportError, AttributeError):  # pragma: no cover - hypothesis internals moved
        yield
        return
    cache.clear()
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()


def check(
    theorem: Theorem,
    examples: int = 200,
    seed: int = 0,
    *,
    save_dir: str | Path | None = None,
) -> CheckResult:
    """Try to break ``theorem`` on up to ``examples`` generated instances.

    Parameters
    ----------
    theorem : Theorem
    examples : int
        Hypothesis ``max_examples``.
    seed : int
        Seed of the search; same seed, same instances and results.
    save_dir : path, optional
        Where to write ``<id>.counterexample.json`` on a violation.

    Returns
    -------
    CheckResult
    """
    res = CheckResult(theorem=theorem, seed=seed, examples=examples)
    stored_violates = _replay_stored_counterexample(theorem, res)

    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
              phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink),
              print_blob=False, report_multiple_bugs=False)
    @hyp_seed(seed)
    @given(theorem.instances())
    def _search(instance: Instance) -> None:
        for a in theorem.assumptions:
            assume(a.predicate(instance))
        ev = theorem.check(instance)
        res.instances += 1
        if ev.margin < res.min_margin:
            res.min_margin, res.tightest, res.tightest_evidence = ev.margin, instance, ev
        # hypothesis maximises targets: maximise -margin to seek the tightest instance.
        target(min(-ev.margin, 1e300), label="-margin")
        if not ev.holds:
            res.violations += 1
            res.counterexample, res.counterexample_evidence = instance, ev
            raise _Violation(f"{theorem.id}: {ev.lhs!r} {ev.relation} {ev.rhs!r} fails")

    with _interrupt_watch() as interrupted:
        try:
            with _no_local_constants():
                _search()
        except _Violation:
            res.status = "violated"
        except Unsatisfiable as exc:
            res.status, res.error = "error", f"no instance satisfied the assumptions ({exc})"
        except Exception as exc:  # a crash inside a check is reported, not hidden
            res.status, res.error = "error", f"{type(exc).__name__}: {exc}"
    if interrupted():
        # Ctrl-C during the search: whatever hypothesis made of it (it can surface as an
        # AssertionError from inside its engine) is not a result and must not be stored.
        raise KeyboardInterrupt
    if res.status == "holds" and stored_violates:
        res.status = "violated"  # the registered counterexample still breaks the statement
    if res.status == "violated" and save_dir is not None:
        path = Path(save_dir) / f"{theorem.id}.counterexample.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(path, counterexample_json(theorem, res.counterexample,
                                                     res.counterexample_evidence))
        res.counterexample_path = path
    return res


@contextlib.contextmanager
def _interrupt_watch() -> Iterator[Callable[[], bool]]:
    """Note every SIGINT during the block (then behave as before: KeyboardInterrupt).

    Yields a callable telling whether one arrived. Only the main thread receives
    signals; elsewhere (e.g. a Dask worker thread) this is a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    seen: list[int] = []
    previous = signal.getsignal(signal.SIGINT)

    def _handler(signum: int, frame: object) -> None:
        if previous is signal.SIG_IGN:
            return
        seen.append(signum)
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _handler)
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)


def _atomic_write_text(path: Path, text: str) -> None:
    """Write via a uniquely named temp file in the same directory, fsync, then rename.

    Two runs saving the same theorem's counterexample never share a temp file, and a
    reader sees the old file or the new one, never a partial write.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _replay_stored_counterexample(theorem: Theorem, res: CheckResult) -> bool:
    """Check a theorem's registered counterexample first (counted as one instance).

    A finding is established by its stored counterexample; a short search that
    does not rediscover one must not turn it into "holds". Returns True when
    the stored instance violates the statement.
    """
    path = theorem.counterexample_path()
    if path is None:
        return False
    _, inst = load_counterexample(path)
    ev = theorem.check(inst)
    res.instances += 1
    if ev.margin < res.min_margin:
        res.min_margin, res.tightest, res.tightest_evidence = ev.margin, inst, ev
    if ev.holds:
        return False
    res.violations += 1
    res.counterexample, res.counterexample_evidence = inst, ev
    return True


def counterexample_json(theorem: Theorem, instance: Instance, evidence: Evidence | None) -> str:
    """Canonical JSON of a theorem instance (type "theorem_instance"), same input same bytes."""
    data = {"type": "theorem_instance", "theorem": theorem.id, "source": theorem.source,
            "instance": encode_value(instance),
            "evidence": evidence.to_json() if evidence is not None else None}
    return json.dumps(data, sort_keys=True, indent=1, allow_nan=False) + "\n"


def load_counterexample(path: str | Path) -> tuple[str, Instance]:
    """Read a "theorem_instance" file: (theorem id, decoded instance). No pickle, no eval.

    Any malformed file (not UTF-8 JSON, non-finite numbers, wrong ``type``, a
    missing or non-string ``theorem``, a missing or undecodable ``instance``)
    raises :class:`~solvers.errors.ModelError` naming the field.
    """
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot be read ({exc.strerror})", field="path") from None
    data = parse_json(text)
    if not isinstance(data, dict) or data.get("type") != "theorem_instance":
        raise ModelError(f"{path}: expected an object with type 'theorem_instance'",
                         field="type")
    if not isinstance(data.get("theorem"), str):
        raise ModelError(f"{path}: 'theorem' must be a theorem id (a string)", field="theorem")
    if "instance" not in data:
        raise ModelError(f"{path}: no 'instance'", field="instance")
    try:
        return data["theorem"], decode_value(data["instance"], "instance")
    except RecursionError:
        raise ModelError(f"{path}: instance nested too deeply", field="instance") from None
