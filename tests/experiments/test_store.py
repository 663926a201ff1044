"""The experiment store: canonical hashes, atomic writes, checksummed records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from experiments.store import Store, atomic_write_text, canonical_json, config_hash


def test_config_hash_is_canonical_and_type_sensitive():
    assert config_hash({"b": 1.0, "a": [1, 2]}) == config_hash({"a": [1, 2], "b": 1.0})
    assert config_hash({"a": 1}) != config_hash({"a": 1.0})
    assert config_hash({"x": np.float64(0.1)}) == config_hash({"x": 0.1})
    assert canonical_json({"x": 0.1}) == '{"x":0.1}'


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "hello")
    atomic_write_text(target, "world")
    assert target.read_text() == "world"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    import experiments.store as store_module

    target = tmp_path / "out.json"
    atomic_write_text(target, "old")

    def crash(src, dst):
        raise OSError("disk full")  # as if the process died at the rename

    monkeypatch.setattr(store_module.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_records_round_trip_and_reject_tampering(tmp_path):
    store = Store(tmp_path)
    config = {"kind": "check", "id": "x", "seed": 0}
    path = tmp_path / "rec.json"
    store.write_record(path, config, {"violations": 0})
    assert store.read_record(path, config) == {"violations": 0}
    assert store.read_record(path, {**config, "seed": 1}) is None  # other config
    path.write_text(path.read_text().replace('"violations": 0', '"violations": 3'))
    assert store.read_record(path, config) is None  # checksum mismatch
    path.write_text(path.read_text()[:20])
    assert store.read_record(path, config) is None  # truncated
    assert store.read_record(tmp_path / "missing.json", config) is None


def test_record_is_stale_when_a_referenced_file_changes(tmp_path):
    store = Store(tmp_path)
    data = tmp_path / "cex.json"
    data.write_text("{}")
    config = {"kind": "check", "id": "y"}
    path = tmp_path / "rec.json"
    store.write_record(path, config, {"ok": True}, files={"counterexample": data})
    assert json.loads(path.read_text())["payload"]["files"]["counterexample"]["path"] == "cex.json"
    assert store.read_record(path, config) == {"ok": True}
    data.write_text('{"changed": 1}')
    assert store.read_record(path, config) is None
