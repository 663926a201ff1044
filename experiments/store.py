r"""The experiment store: canonical config hashes, atomic writes, a checksummed cache.

Every unit of work (one theorem check, one figure, the proof checks) is
described by a *config* dict: everything its output depends on (theorem id,
number of examples, seed, boundlab version, the figure's own config, ...).
:func:`config_hash` maps it to the SHA-256 of its canonical JSON, and the
result is stored on disk under that hash. A rerun looks the hash up first and
skips work already done, so an interrupted ``boundlab reproduce`` loses
nothing. Every file is written atomically (:func:`atomic_write_bytes`: temp
file in the same directory, flush, fsync, ``os.replace``), and every cached
record carries the SHA-256 of its payload; a record that does not parse or
whose checksum does not match is treated as missing and recomputed, never
read as data.

Layout under the store root (see docs/cli.md)::

    checks/<theorem id>/<hash>.json     one theorem check (payload + sha256); a sharded
                                        check's merged record
    checks/<theorem id>/shards/<hash>.json   one shard of a sharded check
    proofs/<hash>.json                  the proof checks
    <figure name>/config.json           the figure's config, hash and file checksums

Every task of :mod:`experiments.executor` (a check, a shard, the proof checks,
a figure) goes through this class, in whichever process runs it, so a result
is either absent or complete and intact. A writer killed mid-write may leave
a hidden ``.<name>.<random>.tmp`` file; it is never read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Store",
    "atomic_write_bytes",
    "atomic_write_text",
    "canonical_json",
    "config_hash",
    "file_sha256",
    "jsonable",
    "sha256_bytes",
]


# -- canonical JSON and hashes ---------------------------------------------------------
def jsonable(obj: Any) -> Any:
    """Plain-JSON copy of ``obj``: numpy scalars and arrays, tuples and paths converted.

    Non-finite floats become ``None`` (JSON has no NaN); mapping keys become strings.
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, Path):
        return obj.as_posix()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a value of type {type(obj).__name__} as JSON")


def canonical_json(obj: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, floats by ``repr``, no NaN.

    Two dicts that compare equal after :func:`jsonable` give the same text.
    """
    return json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def config_hash(config: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical JSON of ``config`` (the cache key).

    Examples
    --------
    >>> config_hash({"b": 1.0, "a": [1, 2]}) == config_hash({"a": [1, 2], "b": 1.0})
    True
    >>> config_hash({"a": 1}) == config_hash({"a": 1.0})
    False
    """
    return sha256_bytes(canonical_json(config).encode("utf-8"))


def file_sha256(path: str | Path) -> str | None:
    """Hex SHA-256 of a file's bytes, or None if it cannot be read."""
    try:
        return sha256_bytes(Path(path).read_bytes())
    except OSError:
        return None


# -- atomic writes ---------------------------------------------------------------------
def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a reader sees the old file or the new one.

    The bytes go to a temporary file in the same directory, which is flushed,
    fsync'ed and moved over ``path`` with :func:`os.replace`; on any error the
    temporary file is removed. Parent directories are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8 (newlines kept as ``\\n``)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable where the platform allows opening a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_json(path: Path) -> Any | None:
    """Parsed JSON of ``path`` or None when missing or unparsable (NaN refused)."""
    def _refuse(token: str) -> Any:
        raise ValueError(token)

    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse)
    except (OSError, ValueError, RecursionError):
        return None


# -- the cache -------------------------------------------------------------------------
class Store:
    """A directory of results keyed by config hash.

    Parameters
    ----------
    root : path
        The output directory of a run (``boundlab reproduce --out``).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # records: one JSON file holding a payload and its checksum
    def write_record(self, path: str | Path, config: Mapping[str, Any],
                     result: Any, files: Mapping[str, Path] | None = None) -> Path:
        """Store ``result`` for ``config`` at ``path`` with the payload's SHA-256.

        ``files`` maps names to files the result refers to (paths relative to
        the store root are recorded); their checksums are stored too, and a
        later :meth:`read_record` fails if any of them changed.
        """
        payload = {
            "config": jsonable(config), "hash": config_hash(config), "result": jsonable(result),
            "files": {k: {"path": self.relative(p), "sha256": file_sha256(p)}
                      for k, p in sorted((files or {}).items())},
        }
        record = {"payload": payload, "sha256": sha256_bytes(canonical_json(payload).encode())}
        text = json.dumps(record, sort_keys=True, indent=1, ensure_ascii=False,
                          allow_nan=False) + "\n"
        return atomic_write_text(path, text)

    def read_record(self, path: str | Path, config: Mapping[str, Any]) -> Any | None:
        """The stored result for ``config``, or None if missing, corrupt or stale.

        A record counts only if it parses, its checksum matches its payload,
        its config hashes to the expected key, and every file it refers to
        still has the recorded checksum.
        """
        record = _read_json(Path(path))
        if not isinstance(record, dict) or not isinstance(record.get("payload"), dict):
            return None
        payload = record["payload"]
        try:
            digest = sha256_bytes(canonical_json(payload).encode())
        except (TypeError, ValueError):
            return None
        key = config_hash(config)
        if record.get("sha256") != digest or payload.get("hash") != key:
            return None
        if config_hash(payload.get("config", {})) != key:
            return None
        files = payload.get("files", {})
        if not isinstance(files, dict):
            return None
        for entry in files.values():
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                return None
            if file_sha256(self.root / entry["path"]) != entry.get("sha256"):
                return None
        return payload.get("result")

    def relative(self, path: str | Path) -> str:
        """``path`` relative to the root (POSIX separators) when inside it, else as given."""
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return p.as_posix()

    # theorem checks
    def check_path(self, theorem_id: str, config: Mapping[str, Any]) -> Path:
        """``checks/<theorem id>/<hash>.json``."""
        return self.root / "checks" / theorem_id / f"{config_hash(config)}.json"

    # directory outputs (figures): config.json is written last and commits the directory
    def directory_is_cached(self, directory: str | Path, config: Mapping[str, Any]) -> bool:
        """True when ``directory/config.json`` records ``config``'s hash and intact files."""
        return self.read_directory_manifest(directory, config) is not None

    def read_directory_manifest(self, directory: str | Path,
                                config: Mapping[str, Any]) -> dict | None:
        """The parsed ``config.json`` when it matches ``config`` and every listed file."""
        directory = Path(directory)
        manifest = _read_json(directory / "config.json")
        if not isinstance(manifest, dict) or manifest.get("hash") != config_hash(config):
            return None
        body = {k: v for k, v in manifest.items() if k != "sha256"}
        try:
            if manifest.get("sha256") != sha256_bytes(canonical_json(body).encode()):
                return None
        except (TypeError, ValueError):
            return None
        files = manifest.get("files")
        if not isinstance(files, dict) or not files:
            return None
        for name, digest in files.items():
            if not isinstance(name, str) or "/" in name or "\\" in name:
                return None
            if file_sha256(directory / name) != digest:
                return None
        return manifest

    def write_directory_manifest(self, directory: str | Path, config: Mapping[str, Any],
                                 files: Mapping[str, Path]) -> Path:
        """Write ``directory/config.json``: the config, its hash, file checksums, a checksum."""
        directory = Path(directory)
        body = {
            "config": jsonable(config), "hash": config_hash(config),
            "files": {Path(p).name: file_sha256(p) for _, p in sorted(files.items())},
        }
        manifest = {**body, "sha256": sha256_bytes(canonical_json(body).encode())}
        text = json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False,
                          allow_nan=False) + "\n"
        return atomic_write_text(directory / "config.json", text)
