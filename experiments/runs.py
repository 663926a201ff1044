"""Cached theorem checks and proof checks: the units of work of ``boundlab reproduce``.

A theorem check's config holds the theorem id, the number of examples, the
seed, the library versions and a fingerprint of the code of ``solvers/`` and
``theory/`` (so an edited check is never served from a stale cache). Its
result is stored under ``checks/<id>/<hash>.json`` by :class:`~experiments.store.Store`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from theory import Theorem, check

from . import versions
from .store import Store

__all__ = ["CheckRecord", "check_config", "code_fingerprint", "run_check", "run_proof_checks"]


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


def check_config(theorem: Theorem, examples: int, seed: int) -> dict[str, Any]:
    """The cache key of one theorem check."""
    v = versions()
    return {"kind": "check", "id": theorem.id, "examples": examples, "seed": seed,
            "code": code_fingerprint(), "hypothesis": v["hypothesis"], "numpy": v["numpy"],
            "scipy": v["scipy"], "boundlab": v["boundlab"]}


@dataclass(frozen=True)
class CheckRecord:
    """The JSON-able outcome of one theorem check, as stored and reported."""

    data: dict[str, Any]
    cached: bool

    @property
    def as_expected(self) -> bool:
        return self.data["status"] == self.data["expected"]


def run_check(theorem: Theorem, examples: int, seed: int, out_dir: str | Path) -> CheckRecord:
    """Check ``theorem`` unless ``out_dir`` already holds the result for this config.

    Counterexamples go to ``out_dir/counterexamples/`` (paths recorded relative
    to ``out_dir``, so the record is the same wherever the directory lives).
    """
    store = Store(out_dir)
    config = check_config(theorem, examples, seed)
    path = store.check_path(theorem.id, config)
    cached = store.read_record(path, config)
    if cached is not None:
        return CheckRecord(cached, cached=True)
    res = check(theorem, examples=examples, seed=seed,
                save_dir=Path(out_dir) / "counterexamples")
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
    store.write_record(path, config, data, files=files)
    return CheckRecord(store.read_record(path, config) or data, cached=False)


def run_proof_checks(out_dir: str | Path, names: Iterable[str] | None = None) -> list[dict]:
    """Run the sympy proof checks (cached under ``proofs/<hash>.json``)."""
    import proofs_check

    selected = sorted(names) if names is not None else list(proofs_check.checks())
    config = {"kind": "proofs", "checks": selected, "code": _proofs_fingerprint(),
              "sympy": _sympy_version()}
    store = Store(out_dir)
    from .store import config_hash

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
