"""Theorem checks, their shards, proof checks and figures as cached, executor-run tasks.

A theorem check's config holds the theorem id, the number of examples, the
seed, the library versions and a fingerprint of the code of ``solvers/`` and
``theory/`` (so an edited check is never served from a stale cache). Its
result is stored under ``checks/<id>/<hash>.json`` by :class:`~experiments.store.Store`.

A large check (more than ``shard_size`` examples) is split into
``n = ceil(examples / shard_size)`` shards: shard ``i`` runs
``examples // n + (i < examples % n)`` examples with its own seed
``task_seed({"id", "examples", "seed", "shard": i})`` (derived from the
task's identity, never from a worker), and is stored on its own under
``checks/<id>/shards/<hash>.json``. :func:`merge_shards` combines them in
shard order: instances and violations are summed, the margin is the minimum
(ties go to the lowest shard index), the counterexample is the first shard's
that has one, and the status is "error" if any shard errored, else
"violated" if any shard found a violation, else "holds". So the merged
record does not depend on which worker ran which shard, or when.

Every task is a JSON-able dict run by :func:`run_task` on any
:class:`~experiments.executor.Executor`; tasks write their own records
atomically, so a killed run keeps every finished task.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from theory import Theorem, check

from . import versions
from .executor import task_seed
from .store import Store, atomic_write_bytes, config_hash

__all__ = [
    "SHARD_SIZE",
    "CheckPlan",
    "CheckRecord",
    "check_config",
    "code_fingerprint",
    "merge_shards",
    "plan_checks",
    "run_check",
    "run_proof_checks",
    "run_task",
    "shard_sizes",
]

#: Examples per shard above which ``boundlab check`` splits a theorem's check.
SHARD_SIZE = 5000

#: hypothesis patches process-wide state during a check and matplotlib is not
#: thread-safe: tasks sharing a worker process (Dask threads) run one at a time.
_TASK_LOCK = threading.Lock()


@cache
def code_fingerprint() -> str:
    """SHA-256 over the source files of solvers/ and theory/ (and theory's counterexamples)."""
    import solvers
    import theory

    h = hashlib.sha256()
    for pkg in (solvers, theory):
        root = Path(pkg.__file__).parent
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
                h.update(path.relative_to(root.parent).as_posix().encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def check_config(theorem: Theorem, examples: int, seed: int,
                 code: str | None = None) -> dict[str, Any]:
    """The cache key of one (unsharded) theorem check.

    ``code`` is the :func:`code_fingerprint` to record (default: this process's);
    tasks carry the planning process's, so a worker never keys a result by a
    fingerprint of its own taken at another moment.
    """
    v = versions()
    return {"kind": "check", "id": theorem.id, "examples": examples, "seed": seed,
            "code": code or code_fingerprint(), "hypothesis": v["hypothesis"], "numpy": v["numpy"],
            "scipy": v["scipy"], "boundlab": v["boundlab"]}


def shard_sizes(examples: int, shard_size: int = SHARD_SIZE) -> list[int]:
    """Examples per shard: ``n = ceil(examples / shard_size)`` near-equal parts summing to
    ``examples`` (the first ``examples % n`` shards get one more)."""
    if examples < 1 or shard_size < 1:
        raise ValueError(f"examples = {examples}, shard_size = {shard_size}: expected >= 1")
    n = math.ceil(examples / shard_size)
    return [examples // n + (i < examples % n) for i in range(n)]


def shard_seed(theorem_id: str, examples: int, seed: int, shard: int) -> int:
    """The seed of shard ``shard``: :func:`~experiments.executor.task_seed` of its identity."""
    return task_seed({"kind": "check-shard", "id": theorem_id, "examples": examples,
                      "seed": seed, "shard": shard})


def merged_config(theorem: Theorem, examples: int, seed: int, shard_size: int,
                  code: str | None = None) -> dict:
    """Cache key of a check: :func:`check_config`, plus the shard size when it is sharded."""
    config = check_config(theorem, examples, seed, code)
    if len(shard_sizes(examples, shard_size)) > 1:
        config["shard_size"] = shard_size
    return config


def _shard_config(theorem: Theorem, examples: int, seed: int, shard: int,
                  sizes: Sequence[int], code: str | None = None) -> dict[str, Any]:
    return {**check_config(theorem, examples, seed, code), "kind": "check-shard", "shard": shard,
            "shards": len(sizes), "shard_examples": sizes[shard],
            "shard_seed": shard_seed(theorem.id, examples, seed, shard)}


@dataclass(frozen=True)
class CheckRecord:
    """The JSON-able outcome of one theorem check, as stored and reported."""

    data: dict[str, Any]
    cached: bool

    @property
    def as_expected(self) -> bool:
        return self.data["status"] == self.data["expected"]


def _check_and_store(theorem: Theorem, examples: int, seed: int, store: Store, path: Path,
                     config: dict, save_dir: Path, extra: dict | None = None) -> dict:
    res = check(theorem, examples=examples, seed=seed, save_dir=save_dir)
    data = res.to_json()
    files = {}
    if res.counterexample_path is not None:
        data["counterexample"] = store.relative(res.counterexample_path)
        files["counterexample"] = res.counterexample_path
    data["summary"] = theorem.summary
    data["corrected"] = theorem.corrected
    data["tightest_evidence"] = (res.tightest_evidence.to_json()
                                 if res.tightest_evidence is not None else None)
    data["counterexample_evidence"] = (res.counterexample_evidence.to_json()
                                       if res.counterexample_evidence is not None else None)
    data.update(extra or {})
    store.write_record(path, config, data, files=files)
    return store.read_record(path, config) or data


def run_check(theorem: Theorem, examples: int, seed: int, out_dir: str | Path,
              code: str | None = None) -> CheckRecord:
    """Check ``theorem`` (unsharded) unless ``out_dir`` already holds the result for this config.

    Counterexamples go to ``out_dir/counterexamples/`` (paths recorded relative
    to ``out_dir``, so the record is the same wherever the directory lives).
    """
    store = Store(out_dir)
    config = check_config(theorem, examples, seed, code)
    path = store.check_path(theorem.id, config)
    cached = store.read_record(path, config)
    if cached is not None:
        return CheckRecord(cached, cached=True)
    data = _check_and_store(theorem, examples, seed, store, path, config,
                            Path(out_dir) / "counterexamples")
    return CheckRecord(data, cached=False)


def run_shard(theorem: Theorem, examples: int, seed: int, shard: int, shard_size: int,
              out_dir: str | Path, code: str | None = None) -> dict:
    """Run (or read from the store) shard ``shard`` of a sharded check; its stored record."""
    store = Store(out_dir)
    sizes = shard_sizes(examples, shard_size)
    config = _shard_config(theorem, examples, seed, shard, sizes, code)
    key = config_hash(config)
    path = store.root / "checks" / theorem.id / "shards" / f"{key}.json"
    cached = store.read_record(path, config)
    if cached is not None:
        return cached
    save_dir = store.root / "counterexamples" / "shards" / theorem.id / key[:16]
    return _check_and_store(theorem, sizes[shard], config["shard_seed"], store, path, config,
                            save_dir, {"shard": shard, "shards": len(sizes),
                                       "shard_seed": config["shard_seed"]})


def merge_shards(theorem: Theorem, examples: int, seed: int,
                 shards: Sequence[dict]) -> dict[str, Any]:
    """Combine shard records in shard order (see the module docstring for the rules)."""
    margins = [(d["min_margin"], i) for i, d in enumerate(shards) if d["min_margin"] is not None]
    tight = min(margins) if margins else None  # ties: the lowest shard index
    errors = [(i, d["error"]) for i, d in enumerate(shards) if d["status"] == "error"]
    cex = next((d for d in shards if d.get("counterexample")), None)
    status = ("error" if errors else
              "violated" if any(d["status"] == "violated" for d in shards) else "holds")
    return {
        "id": theorem.id, "source": theorem.source, "expected": theorem.expected,
        "instances": sum(d["instances"] for d in shards),
        "violations": sum(d["violations"] for d in shards),
        "min_margin": None if tight is None else tight[0], "status": status,
        "counterexample": None, "seed": seed, "examples": examples,
        "error": f"shard {errors[0][0]}: {errors[0][1]}" if errors else None,
        "summary": theorem.summary, "corrected": theorem.corrected,
        "tightest_evidence": None if tight is None else shards[tight[1]]["tightest_evidence"],
        "counterexample_evidence": None if cex is None else cex["counterexample_evidence"],
        "shards": len(shards), "shard_seeds": [d["shard_seed"] for d in shards],
        "_counterexample_from": None if cex is None else cex["counterexample"],
    }


def _store_merged(theorem: Theorem, config: dict, store: Store, data: dict) -> dict:
    """Write the merged record; the first counterexample is copied to its usual place."""
    source = data.pop("_counterexample_from")
    files = {}
    if source is not None:
        target = store.root / "counterexamples" / f"{theorem.id}.counterexample.json"
        atomic_write_bytes(target, (store.root / source).read_bytes())
        data["counterexample"] = store.relative(target)
        files["counterexample"] = target
    path = store.check_path(theorem.id, config)
    store.write_record(path, config, data, files=files)
    return store.read_record(path, config) or data


# -- tasks ---------------------------------------------------------------------------------
def _theorem(tid: str, module: str | None) -> Theorem:
    """The registered theorem ``tid``; imports ``module`` (where it was defined) if needed."""
    from theory import get

    try:
        return get(tid)
    except KeyError:
        if not module:
            raise
        importlib.import_module(module)
        return get(tid)


def run_task(task: dict[str, Any]) -> Any:
    """Run one task (any process, any backend); results are JSON-able and written to the store.

    Kinds: ``check`` -> ``{"data", "cached"}``; ``shard`` -> the shard record;
    ``proofs`` -> the proof-check results; ``figure`` -> ``{"name", "files", "hash",
    "cached"}`` (file names inside ``out/<name>/``).
    """
    kind, out = task["kind"], task["out"]
    with _TASK_LOCK:
        if kind == "check":
            rec = run_check(_theorem(task["id"], task["module"]), task["examples"],
                            task["seed"], out, task["code"])
            return {"data": rec.data, "cached": rec.cached}
        if kind == "shard":
            return run_shard(_theorem(task["id"], task["module"]), task["examples"],
                             task["seed"], task["shard"], task["shard_size"], out,
                             task["code"])
        if kind == "proofs":
            return run_proof_checks(out, task["names"])
        if kind == "figure":
            from .figures import get_figure, run_figure

            return run_figure(get_figure(task["name"]), out, quick=task["quick"],
                              seed=task["seed"]).to_result()
    raise ValueError(f"task kind = {kind!r}, expected check, shard, proofs or figure")


@dataclass
class CheckPlan:
    """Tasks that compute the missing checks, and how to turn their results into records."""

    tasks: list[dict[str, Any]]
    finish: Callable[[Sequence[Any]], list[CheckRecord]]


def plan_checks(theorems: Iterable[Theorem], examples: int, seed: int, out_dir: str | Path,
                shard_size: int = SHARD_SIZE) -> CheckPlan:
    """Plan checks of ``theorems``: cached ones are read now, the rest become tasks.

    ``finish(results)`` takes the results of ``tasks`` (in order), merges
    shards, writes merged records and returns one :class:`CheckRecord` per
    theorem in the given order.
    """
    store, out = Store(out_dir), str(Path(out_dir))
    theorems, code = list(theorems), code_fingerprint()
    tasks: list[dict[str, Any]] = []
    slots: list[tuple[Theorem, dict, Any, slice | None]] = []
    for t in theorems:
        config = merged_config(t, examples, seed, shard_size, code)
        cached = store.read_record(store.check_path(t.id, config), config)
        n = len(shard_sizes(examples, shard_size))
        start = len(tasks)
        if cached is None:
            base = {"id": t.id, "module": getattr(t.check, "__module__", None),
                    "examples": examples, "seed": seed, "out": out, "code": code}
            if n == 1:
                tasks.append({"kind": "check", **base})
            else:
                tasks += [{"kind": "shard", **base, "shard": i, "shard_size": shard_size}
                          for i in range(n)]
        slots.append((t, config, cached, None if cached is not None
                      else slice(start, len(tasks))))

    def finish(results: Sequence[Any]) -> list[CheckRecord]:
        records = []
        for t, config, cached, where in slots:
            if where is None:
                records.append(CheckRecord(cached, cached=True))
                continue
            got = list(results[where])
            if "shard_size" not in config:
                records.append(CheckRecord(got[0]["data"], cached=got[0]["cached"]))
            else:
                merged = merge_shards(t, examples, seed, got)
                records.append(CheckRecord(_store_merged(t, config, store, merged),
                                           cached=False))
        return records

    return CheckPlan(tasks, finish)


def run_proof_checks(out_dir: str | Path, names: Iterable[str] | None = None) -> list[dict]:
    """Run the sympy proof checks (cached under ``proofs/<hash>.json``)."""
    import proofs_check

    selected = sorted(names) if names is not None else list(proofs_check.checks())
    config = {"kind": "proofs", "checks": selected, "code": _proofs_fingerprint(),
              "sympy": _sympy_version()}
    store = Store(out_dir)
    path = Path(out_dir) / "proofs" / f"{config_hash(config)}.json"
    cached = store.read_record(path, config)
    if cached is not None:
        return cached
    results = [proofs_check.run(n).to_json() for n in selected]
    store.write_record(path, config, results)
    return results


def _proofs_fingerprint() -> str:
    import proofs_check

    h = hashlib.sha256()
    root = Path(proofs_check.__file__).parent
    for path in sorted(root.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _sympy_version() -> str:
    import sympy

    return sympy.__version__
