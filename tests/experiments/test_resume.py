"""Resume: a killed worker, Ctrl-C and corrupted records cost only the missing work.

"Recomputed" is measured from the file system, not from a hook in the code:
every store write is an atomic rename, so a record that was recomputed has a
new inode and mtime, and one that was reused keeps both.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from experiments.cli import main

ROOT = Path(__file__).resolve().parents[2]
CHEAP = ("bnpo.variance_closed_form", "cmdp.mixture_equals_stationary",
         "relative_budget.scale_invariance", "boltzmann.covariance_identity",
         "ccmdp.union_bound", "relative_budget.geometric_sum", "riskpo.mvar_fosd_monotone",
         "bnpo.special_cases")
FIGURE = "sacpo_pareto_path"

# A theorem whose check kills its own process the first time it runs anywhere (a
# marker file records the first attempt). It lives in a module of its own so that
# spawned worker processes can import it by name, as they would a plugin.
DIES_ONCE = textwrap.dedent('''
    import os, signal
    from pathlib import Path
    from hypothesis import strategies as st
    from theory import Evidence, Theorem, register

    def _check(inst):
        marker = Path(os.environ["BOUNDLAB_TEST_DIES_ONCE"])
        if not marker.exists():
            marker.write_text("killed once")
            os.kill(os.getpid(), signal.SIGKILL)
        return Evidence(float(inst["x"]), 10.0, "<=")

    THEOREM = register(Theorem(
        id="zz_resume.dies_once", source="test", statement="x <= 10", summary="x <= 10",
        instances=lambda: st.fixed_dictionaries({"x": st.integers(0, 10)}), check=_check))
''')


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every result file (temporary files of killed writers ignored)."""
    return {p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file() and not p.name.endswith(".tmp")}


def _bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(".tmp")}


@pytest.fixture
def plugin_theorem_is_removed_afterwards():
    """The plugin theorem must not leak into later tests' registry (docs list every id)."""
    yield
    from theory.registry import _REGISTRY

    _REGISTRY.pop("zz_resume.dies_once", None)
    sys.modules.pop("resume_dies_once", None)


@pytest.mark.usefixtures("plugin_theorem_is_removed_afterwards")
def test_killed_worker_then_rerun_recomputes_only_missing_tasks(tmp_path, monkeypatch, capsys):
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "resume_dies_once.py").write_text(DIES_ONCE)
    monkeypatch.syspath_prepend(str(tmp_path / "plugin"))  # spawned workers inherit sys.path
    monkeypatch.setenv("BOUNDLAB_TEST_DIES_ONCE", str(tmp_path / "marker"))
    import resume_dies_once  # noqa: F401  (registers the theorem)

    ids = [*CHEAP[:3], "zz_resume.dies_once", *CHEAP[3:6]]
    out = tmp_path / "out"
    args = ["check", *ids, "--examples", "5", "--json", "--out", str(out)]
    assert main([*args, "--workers", "2"]) == 1  # the pool broke: reported, not hidden
    assert "worker process died" in capsys.readouterr().err
    assert (tmp_path / "marker").exists()
    before = _snapshot(out)
    # the dying task ran only after a worker finished an earlier task, which it stored
    assert any(k.startswith("checks/") for k in before)
    assert not any(k.startswith("checks/zz_resume.dies_once/") for k in before)

    assert main([*args, "--workers", "2"]) == 0
    after = _snapshot(out)
    kept = {k for k in before if after.get(k) == before[k]}
    assert kept == set(before)  # nothing that was stored is recomputed
    recomputed = sorted(k.split("/")[1] for k in set(after) - set(before))
    assert "zz_resume.dies_once" in recomputed
    assert len(recomputed) == len(ids) - sum(k.startswith("checks/") for k in before)
    # and the result is what an uninterrupted run writes
    ref = tmp_path / "ref"
    assert main(["check", *ids, "--examples", "5", "--json", "--out", str(ref)]) == 0
    assert _bytes(out) == _bytes(ref)


def _reproduce(out: Path) -> list[str]:
    sel = [x for t in CHEAP for x in ("--select", t)]
    return [sys.executable, "-m", "experiments", "reproduce", "--quick", "--examples", "5",
            *sel, "--select", FIGURE, "--out", str(out)]


def test_sigint_then_rerun_gives_the_report_of_an_uninterrupted_run(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(_reproduce(out), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("checks/*/*.json")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no record appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)  # part-way: one check stored, the figure not yet
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert not (out / "report.md").exists()
    before = _snapshot(out)
    assert 1 <= sum(k.startswith("checks/") for k in before) < len(CHEAP), sorted(before)

    done = subprocess.run(_reproduce(out), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = _snapshot(out)
    # stored work is reused (if this fails, check that no one edited solvers/ or theory/
    # during the test: the code fingerprint is part of every check's config)
    assert all(after.get(k) == v for k, v in before.items()), done.stderr
    assert done.stderr.count("(cached)") == sum(k.startswith("checks/") for k in before)

    ref = tmp_path / "ref"
    argv = _reproduce(ref)[3:]
    assert main(argv) == 0
    for name in ("report.md", "report.html"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    assert _bytes(out) == _bytes(ref)


@pytest.mark.parametrize("damage", ["truncate", "flip_bit"])
def test_damaged_records_are_detected_and_recomputed(tmp_path, damage, capsys):
    out = tmp_path / "out"
    check = ["check", "mdp.value_equals_occupancy", "ccmdp.union_bound", "--examples", "6",
             "--shard-size", "4", "--json", "--out", str(out)]
    assert main(check) == 0
    assert main(["figures", FIGURE, "--quick", "--out", str(out)]) == 0
    original, before = _bytes(out), _snapshot(out)
    merged = next(out.glob("checks/ccmdp.union_bound/*.json"))
    shard = sorted(out.glob("checks/ccmdp.union_bound/shards/*.json"))[0]
    csv = out / FIGURE / "data.csv"
    damaged = [merged, shard, csv]
    for path in damaged:
        data = bytearray(path.read_bytes())
        if damage == "truncate":
            data = data[: len(data) // 2]
        else:  # flip the lowest bit of a digit: still valid JSON / CSV, different number
            i = max(j for j, b in enumerate(data) if chr(b) in "123456789")
            data[i] ^= 1
        path.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(check) == 0 and main(["figures", FIGURE, "--quick", "--out", str(out)]) == 0
    assert "written" in capsys.readouterr().err  # the figure was redone, not served
    after = _snapshot(out)
    redone = {k for k in after if after[k] != before[k]}
    rel = {p.relative_to(out).as_posix() for p in damaged}
    assert rel <= redone
    # only the damaged units were recomputed: the other shard and theorem kept their files
    untouched = {k for k in before if k.startswith("checks/mdp.value_equals_occupancy/")}
    untouched.add(sorted(k for k in before if "union_bound/shards/" in k)[1])
    assert untouched and not (untouched & redone)
    assert _bytes(out) == original  # and they came back identical
