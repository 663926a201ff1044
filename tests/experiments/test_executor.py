"""The executor: task-identity seeds, shard merging, and the same bytes on every backend."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from experiments import versions
from experiments.executor import LocalExecutor, make_executor, task_seed
from experiments.figures import figure_run_from_result
from experiments.report import ReportData, write_report
from experiments.runs import merge_shards, plan_checks, run_task, shard_sizes
from theory import get

SHARDED = ("mdp.value_equals_occupancy", "riskpo.mvar_fosd_monotone")  # the latter is a finding
UNSHARDED = ("ccmdp.union_bound",)
FIGURE = "sacpo_pareto_path"  # the cheapest figure in quick mode (about 1.5 s)


def _square(task: dict) -> int:
    return task["i"] ** 2


def test_task_seed_depends_on_the_task_identity_only():
    a = {"id": "x", "examples": 10, "shard": 2}
    assert task_seed(a) == task_seed(dict(reversed(list(a.items()))))  # key order irrelevant
    seeds = {task_seed({**a, "shard": i}) for i in range(50)}
    assert len(seeds) == 50 and all(0 <= s < 2**64 for s in seeds)
    assert task_seed({**a, "examples": 11}) != task_seed(a)


def test_local_executor_returns_results_in_task_order_and_rejects_bad_worker_counts():
    tasks = [{"i": i} for i in range(7)]
    assert LocalExecutor(1).map(_square, tasks) == [i * i for i in range(7)]
    with pytest.raises(ValueError, match="workers"):
        LocalExecutor(0)


def test_dask_backend_without_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ImportError, match=r"boundlab\[dask\]"):
        make_executor("local", 2)
    from experiments.cli import main

    assert main(["check", "ccmdp.union_bound", "--scheduler", "local"]) == 2


@pytest.mark.parametrize(("examples", "size"), [(1, 5), (5, 5), (6, 5), (25, 10), (100000, 5000),
                                                (99999, 7)])
def test_shard_sizes_partition_the_examples_into_near_equal_parts(examples, size):
    sizes = shard_sizes(examples, size)
    assert sum(sizes) == examples and len(sizes) == math.ceil(examples / size)
    assert max(sizes) <= size and max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)


def _shard(i, margin, status="holds", cex=None, error=None, instances=10, violations=0):
    return {"instances": instances, "violations": violations, "min_margin": margin,
            "status": status, "error": error, "counterexample": cex, "shard_seed": 100 + i,
            "tightest_evidence": {"shard": i}, "counterexample_evidence":
                {"from": i} if cex else None}


def test_merge_sums_counts_takes_the_first_minimum_and_the_first_counterexample():
    t = get("ccmdp.union_bound")
    shards = [_shard(0, 0.5), _shard(1, -0.25, "violated", "c1", violations=2),
              _shard(2, -0.25, "violated", "c2", violations=1), _shard(3, None, instances=0)]
    m = merge_shards(t, 40, 7, shards)
    # by hand: 10+10+10+0 instances, 0+2+1+0 violations, min margin -0.25 first at shard 1
    assert (m["instances"], m["violations"], m["min_margin"]) == (30, 3, -0.25)
    assert m["tightest_evidence"] == {"shard": 1} and m["counterexample_evidence"] == {"from": 1}
    assert m["_counterexample_from"] == "c1" and m["status"] == "violated"
    assert m["shard_seeds"] == [100, 101, 102, 103] and m["examples"] == 40 and m["seed"] == 7
    # an error anywhere wins, reported with its shard; reversing the order moves the tie-break
    m = merge_shards(t, 40, 7, [*shards, _shard(4, 0.1, "error", error="boom")])
    assert m["status"] == "error" and m["error"] == "shard 4: boom"
    m = merge_shards(t, 40, 7, shards[::-1])
    assert m["tightest_evidence"] == {"shard": 2} and m["_counterexample_from"] == "c2"


def _sweep(backend, out: Path) -> dict[str, bytes]:
    """A small reproduce-style sweep: sharded and unsharded checks and a quick figure."""
    sharded = plan_checks([get(i) for i in SHARDED], 6, 0, out, shard_size=4)  # 2 shards each
    single = plan_checks([get(i) for i in UNSHARDED], 6, 0, out)
    fig = {"kind": "figure", "name": FIGURE, "quick": True, "seed": 0, "out": str(out)}
    assert sum(t["kind"] == "shard" for t in sharded.tasks) == 4 and len(single.tasks) == 1
    with backend as ex:
        results = ex.map(run_task, [*sharded.tasks, *single.tasks, fig])
    records = sharded.finish(results[:4]) + single.finish(results[4:5])
    assert [r.data["status"] for r in records] == ["holds", "violated", "holds"]
    assert records[0].data["shards"] == 2 and "shards" not in records[2].data
    run = figure_run_from_result(results[5], out)
    write_report(ReportData([r.data for r in records], [], [run],
                            {"quick": True, "seed": 0, "examples": 6, "versions": versions()}),
                 out)
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.endswith(".tmp")}


def _listening_ips() -> set[str]:
    import psutil

    me = psutil.Process()
    ips = set()
    for proc in [me, *me.children(recursive=True)]:
        try:
            # net_connections is psutil >= 6's name for connections
            conns = getattr(proc, "net_connections", proc.connections)(kind="inet")
        except (psutil.Error, OSError):
            continue
        ips |= {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN}
    return ips


def test_local_and_dask_backends_write_the_same_bytes(tmp_path):
    reference = _sweep(LocalExecutor(1), tmp_path / "local1")
    assert {"report.md", "report.html", f"{FIGURE}/data.csv"} <= set(reference)
    assert sum("/shards/" in k for k in reference) == 4 + 2  # 4 shard records, 2 cex files
    assert _sweep(LocalExecutor(2), tmp_path / "local2") == reference
    pytest.importorskip("distributed")  # installed by the 'test' extra, so CI runs this
    from experiments.executor import DaskExecutor

    dask = DaskExecutor("local", workers=2)
    info = dask.client.scheduler_info()
    assert len(info["workers"]) == 2
    addresses = [info["address"], *info["workers"]]
    addresses += [w.get("nanny") for w in info["workers"].values() if w.get("nanny")]
    assert all(a.startswith("tcp://127.0.0.1:") for a in addresses), addresses
    assert _listening_ips() <= {"127.0.0.1"}, _listening_ips()  # no dashboard, no 0.0.0.0
    got = _sweep(dask, tmp_path / "dask2")
    assert got == reference
    # the comparison can fail: one flipped result byte is a different output
    key = next(k for k in got if k.startswith("checks/ccmdp.union_bound/"))
    got[key] = got[key].replace(b'"instances": 6', b'"instances": 7')
    assert got != reference
