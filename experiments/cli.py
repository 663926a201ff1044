"""The ``boundlab`` command line (DESIGN.md, "Experiments and the CLI").

    boundlab theorems
    boundlab check [ID ...] [--examples N] [--seed S] [--json] [--out DIR] [--shard-size N]
    boundlab figures [NAME ...] [--out DIR] [--quick] [--seed S]
    boundlab solve FILE.json [--json]
    boundlab reproduce [--quick] [--out DIR] [--examples N] [--seed S] [--select GLOB ...]

``check``, ``figures`` and ``reproduce`` also take ``--workers N`` (local
processes; 1, the default, runs in this process) and ``--scheduler ADDRESS``
(a Dask scheduler, or ``local`` for a LocalCluster of ``--workers`` processes
on 127.0.0.1); see :mod:`experiments.executor`.

Exit status: 0 when every theorem's status equals its registration (and every
proof check passes), 1 otherwise, 2 for bad usage or a bad instance file,
130 when interrupted (rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import versions

__all__ = ["main"]

DEFAULT_OUT = "boundlab-out"
QUICK_EXAMPLES = 200
FULL_EXAMPLES = 2000


def _err(msg: str) -> None:
    print(f"boundlab: {msg}", file=sys.stderr)


def _select_theorems(ids: Sequence[str]) -> list:
    from theory import get, registry

    return [get(i) for i in ids] if ids else list(registry())


# -- theorems -----------------------------------------------------------------------
def cmd_theorems(args: argparse.Namespace) -> int:
    from theory import registry

    rows = [(t.id, t.expected, t.source, t.summary) for t in registry()]
    width = max(len(r[0]) for r in rows)
    for tid, expected, source, summary in rows:
        print(f"{tid:<{width}}  {expected:<8}  {summary}")
        print(f"{'':<{width}}            {source}")
    return 0


# -- check --------------------------------------------------------------------------
def _executor(args: argparse.Namespace) -> Any:
    from .executor import make_executor

    return make_executor(args.scheduler, args.workers)


def cmd_check(args: argparse.Namespace) -> int:
    from .runs import plan_checks, run_task

    try:
        theorems = _select_theorems(args.ids)
    except KeyError as exc:
        _err(str(exc.args[0]))
        return 2
    plan = plan_checks(theorems, args.examples, args.seed, args.out, args.shard_size)
    with _executor(args) as ex:
        records = plan.finish(ex.map(run_task, plan.tasks, desc="checking theorems"))
    ok = all(r.as_expected for r in records)
    if args.json:
        keys = ("id", "source", "expected", "instances", "violations", "min_margin",
                "status", "counterexample", "seed", "examples", "error")
        for rec in records:
            line = {k: rec.data.get(k) for k in keys}
            if line["counterexample"]:
                line["counterexample"] = str(Path(args.out) / line["counterexample"])
            if "shards" in rec.data:
                line["shards"] = rec.data["shards"]
            line["cached"] = rec.cached
            print(json.dumps(line, sort_keys=False), flush=True)
        return 0 if ok else 1
    from .report import status_label

    width = max(len(r.data["id"]) for r in records)
    print(f"{'id':<{width}}  {'instances':>9}  {'violations':>10}  {'min margin':>11}  status")
    for r in records:
        d = r.data
        m = "n/a" if d["min_margin"] is None else f"{d['min_margin'] + 0.0:.3g}"
        extra = f"  ({d['error']})" if d.get("error") else ""
        cex = f"  counterexample: {Path(args.out) / d['counterexample']}" \
            if d.get("counterexample") else ""
        print(f"{d['id']:<{width}}  {d['instances']:>9}  {d['violations']:>10}  {m:>11}  "
              f"{status_label(d)}{' (cached)' if r.cached else ''}{extra}{cex}")
    return 0 if ok else 1


# -- figures ------------------------------------------------------------------------
def _figure_tasks(selected: Sequence[Any], out: str, quick: bool, seed: int) -> list[dict]:
    return [{"kind": "figure", "name": f.name, "quick": quick, "seed": seed, "out": out}
            for f in selected]


def _figure_runs(results: Sequence[dict], out: str) -> list:
    from .figures import figure_run_from_result

    runs = []
    for r in results:
        run = figure_run_from_result(r, out)
        print(f"{r['name']}: {'cached' if run.cached else 'written'} -> {run.directory}",
              file=sys.stderr)
        runs.append(run)
    return runs


def cmd_figures(args: argparse.Namespace) -> int:
    from .figures import figures, get_figure
    from .runs import run_task

    try:
        selected = [get_figure(n) for n in args.names] if args.names else list(figures())
    except KeyError as exc:
        _err(str(exc.args[0]))
        return 2
    tasks = _figure_tasks(selected, str(args.out), args.quick, args.seed)
    with _executor(args) as ex:
        runs = _figure_runs(ex.map(run_task, tasks, desc="figures"), str(args.out))
    for run in runs:
        for name in sorted(run.files):
            print(run.files[name])
    return 0


# -- solve --------------------------------------------------------------------------
def cmd_solve(args: argparse.Namespace) -> int:
    from solvers import ModelError

    from .solve import print_solution, solve_file

    path = Path(args.file)
    try:
        out = solve_file(path)
    except (OSError, UnicodeDecodeError) as exc:
        _err(f"cannot read {path}: {exc}")
        return 2
    except json.JSONDecodeError as exc:
        _err(f"{path}: not valid JSON ({exc})")
        return 2
    except (ModelError, KeyError, ValueError) as exc:
        _err(f"{path}: {exc.args[0] if exc.args else exc}")
        return 2
    if out is None:
        _err(f"{path}: instance type is not solvable yet")
        return 2
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        print_solution(out)
    return 0


def _select(names: Sequence[str], patterns: Sequence[str] | None) -> list[str]:
    """``names`` matching any glob in ``patterns`` (all of them when there is no pattern)."""
    if not patterns:
        return list(names)
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def cmd_reproduce(args: argparse.Namespace) -> int:
    import proofs_check
    from theory import registry

    from .figures import figures
    from .report import ReportData, write_report
    from .runs import plan_checks, run_task

    examples = args.examples or (QUICK_EXAMPLES if args.quick else FULL_EXAMPLES)
    out = Path(args.out)
    by_id = {t.id: t for t in registry()}
    by_name = {f.name: f for f in figures() if f.deterministic}  # timing figures: on request
    proof_names = list(proofs_check.checks())
    theorems = [by_id[i] for i in _select(list(by_id), args.select)]
    selected_figures = [by_name[n] for n in _select(list(by_name), args.select)]
    proofs = _select(proof_names, args.select)
    if args.select and not (theorems or selected_figures or proofs):
        _err(f"--select {' '.join(args.select)} matches no theorem, figure or proof check")
        return 2
    plan = plan_checks(theorems, examples, args.seed, out, args.shard_size)
    proof_task = [{"kind": "proofs", "names": None if proofs == proof_names else proofs,
                   "out": str(out)}] if proofs else []
    fig_tasks = _figure_tasks(selected_figures, str(out), args.quick, args.seed)
    with _executor(args) as ex:
        results = ex.map(run_task, plan.tasks + proof_task + fig_tasks, desc="reproduce")
    n_checks, n_proofs = len(plan.tasks), len(proof_task)
    records = plan.finish(results[:n_checks])
    for rec in records:
        print(f"{rec.data['id']}: {rec.data['status']}{' (cached)' if rec.cached else ''}",
              file=sys.stderr)
    runs = _figure_runs(results[n_checks + n_proofs:], str(out))
    data = ReportData(checks=[r.data for r in records],
                      proofs=results[n_checks] if n_proofs else [], figures=runs,
                      settings={"quick": args.quick, "seed": args.seed, "examples": examples,
                                "versions": versions()})
    md, page = write_report(data, out)
    print(f"report: {md} and {page}")
    return 0 if data.ok else 1


# -- parser -------------------------------------------------------------------------
def _add_execution(p: argparse.ArgumentParser) -> None:
    """--workers and --scheduler: where tasks run (results are the same bytes either way)."""
    p.add_argument("--workers", type=int, default=1,
                   help="local worker processes, or LocalCluster workers with --scheduler "
                        "local (default 1: run in this process)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS|local",
                   help="run tasks on a Dask scheduler (needs the 'dask' extra); 'local' "
                        "starts a LocalCluster on 127.0.0.1")


def build_parser() -> argparse.ArgumentParser:
    from .runs import SHARD_SIZE

    p = argparse.ArgumentParser(prog="boundlab", description=(
        "Exact tabular solvers and executable theorems for safe RL and alignment theory."))
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("theorems", help="list theorem ids, sources and statements")

    shard_help = (f"examples per shard: a check with more examples is split into "
                  f"independently seeded shards ({SHARD_SIZE})")
    c = sub.add_parser("check", help="try to falsify theorems with hypothesis")
    c.add_argument("ids", nargs="*", metavar="ID", help="theorem ids (default: all)")
    c.add_argument("--examples", type=int, default=200, help="instances per theorem (200)")
    c.add_argument("--seed", type=int, default=0, help="seed of the search (0)")
    c.add_argument("--json", action="store_true", help="one JSON object per line")
    c.add_argument("--out", default=DEFAULT_OUT, help="where results and counterexamples go")
    c.add_argument("--shard-size", type=int, default=SHARD_SIZE, help=shard_help)
    _add_execution(c)

    f = sub.add_parser("figures", help="regenerate figures")
    f.add_argument("names", nargs="*", metavar="NAME", help="figure names (default: all)")
    f.add_argument("--out", default=DEFAULT_OUT)
    f.add_argument("--quick", action="store_true", help="the smaller quick configuration")
    f.add_argument("--seed", type=int, default=0)
    _add_execution(f)

    s = sub.add_parser("solve", help="solve an instance file (see docs/instances.md)")
    s.add_argument("file", metavar="FILE.json")
    s.add_argument("--json", action="store_true")

    r = sub.add_parser("reproduce", help="check every theorem, regenerate every figure, report")
    r.add_argument("--quick", action="store_true",
                   help=f"{QUICK_EXAMPLES} examples per theorem and quick figures")
    r.add_argument("--out", default=DEFAULT_OUT)
    r.add_argument("--examples", type=int, default=None,
                   help=f"instances per theorem (default {QUICK_EXAMPLES} quick, "
                        f"{FULL_EXAMPLES} full)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--select", action="append", metavar="GLOB",
                   help="only theorem ids, figure names and proof checks matching this glob "
                        "(repeatable; default: everything)")
    r.add_argument("--shard-size", type=int, default=SHARD_SIZE, help=shard_help)
    _add_execution(r)
    return p


_COMMANDS = {"theorems": cmd_theorems, "check": cmd_check, "figures": cmd_figures,
             "solve": cmd_solve, "reproduce": cmd_reproduce}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``boundlab`` console script; returns the exit status."""
    from concurrent.futures.process import BrokenProcessPool

    from .executor import DASK_EXTRA_HINT

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return it, do not raise
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    for name in ("examples", "workers", "shard_size"):
        val = getattr(args, name, None)
        if val is not None and val < 1:
            _err(f"--{name.replace('_', '-')} = {val}, expected a positive integer")
            return 2
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        _err("interrupted; finished tasks are stored, rerun the same command to resume")
        return 130
    except BrokenProcessPool as exc:
        _err(f"a worker process died ({exc}); finished tasks are stored, rerun the same "
             "command to resume")
        return 1
    except ImportError as exc:
        if str(exc) != DASK_EXTRA_HINT:
            raise
        _err(str(exc))
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
