"""The ``boundlab`` command line (DESIGN.md, "Experiments and the CLI").

    boundlab theorems
    boundlab check [ID ...] [--examples N] [--seed S] [--json] [--out DIR]
    boundlab figures [NAME ...] [--out DIR] [--quick] [--seed S]
    boundlab solve FILE.json [--json]
    boundlab reproduce [--quick] [--out DIR] [--examples N] [--seed S]

Exit status: 0 when every theorem's status equals its registration (and every
proof check passes), 1 otherwise, 2 for bad usage or a bad instance file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import versions

__all__ = ["main"]

DEFAULT_OUT = "boundlab-out"
QUICK_EXAMPLES = 200
FULL_EXAMPLES = 2000


def _progress(items: Sequence[Any], desc: str) -> Any:
    """A tqdm bar on stderr (hidden when stderr is not a terminal)."""
    return tqdm(items, desc=desc, file=sys.stderr, disable=None, leave=False, unit="item")


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
def cmd_check(args: argparse.Namespace) -> int:
    from .runs import run_check

    try:
        theorems = _select_theorems(args.ids)
    except KeyError as exc:
        _err(str(exc.args[0]))
        return 2
    ok = True
    records = []
    for t in _progress(theorems, "checking theorems"):
        rec = run_check(t, args.examples, args.seed, args.out)
        ok &= rec.as_expected
        records.append(rec)
        if args.json:
            keys = ("id", "source", "expected", "instances", "violations", "min_margin",
                    "status", "counterexample", "seed", "examples", "error")
            line = {k: rec.data.get(k) for k in keys}
            if line["counterexample"]:
                line["counterexample"] = str(Path(args.out) / line["counterexample"])
            line["cached"] = rec.cached
            print(json.dumps(line, sort_keys=False), flush=True)
    if not args.json:
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
def _run_figures(names: Sequence[str], out: str, quick: bool, seed: int) -> list:
    from .figures import figures, get_figure, run_figure

    selected = [get_figure(n) for n in names] if names else list(figures())
    runs = []
    for fig in _progress(selected, "figures"):
        run = run_figure(fig, out, quick=quick, seed=seed)
        print(f"{fig.name}: {'cached' if run.cached else 'written'} -> {run.directory}",
              file=sys.stderr)
        runs.append(run)
    return runs


def cmd_figures(args: argparse.Namespace) -> int:
    try:
        runs = _run_figures(args.names, args.out, args.quick, args.seed)
    except KeyError as exc:
        _err(str(exc.args[0]))
        return 2
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


def cmd_reproduce(args: argparse.Namespace) -> int:
    from theory import registry

    from .report import ReportData, write_report
    from .runs import run_check, run_proof_checks

    examples = args.examples or (QUICK_EXAMPLES if args.quick else FULL_EXAMPLES)
    out = Path(args.out)
    checks = []
    for t in _progress(list(registry()), "checking theorems"):
        rec = run_check(t, examples, args.seed, out)
        print(f"{t.id}: {rec.data['status']}{' (cached)' if rec.cached else ''}",
              file=sys.stderr)
        checks.append(rec.data)
    proofs = run_proof_checks(out)
    runs = _run_figures([], str(out), args.quick, args.seed)
    data = ReportData(checks=checks, proofs=proofs, figures=runs,
                      settings={"quick": args.quick, "seed": args.seed, "examples": examples,
                                "versions": versions()})
    md, page = write_report(data, out)
    print(f"report: {md} and {page}")
    return 0 if data.ok else 1


# -- parser -------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="boundlab", description=(
        "Exact tabular solvers and executable theorems for safe RL and alignment theory."))
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("theorems", help="list theorem ids, sources and statements")

    c = sub.add_parser("check", help="try to falsify theorems with hypothesis")
    c.add_argument("ids", nargs="*", metavar="ID", help="theorem ids (default: all)")
    c.add_argument("--examples", type=int, default=200, help="instances per theorem (200)")
    c.add_argument("--seed", type=int, default=0, help="seed of the search (0)")
    c.add_argument("--json", action="store_true", help="one JSON object per line")
    c.add_argument("--out", default=DEFAULT_OUT, help="where results and counterexamples go")

    f = sub.add_parser("figures", help="regenerate figures")
    f.add_argument("names", nargs="*", metavar="NAME", help="figure names (default: all)")
    f.add_argument("--out", default=DEFAULT_OUT)
    f.add_argument("--quick", action="store_true", help="the smaller quick configuration")
    f.add_argument("--seed", type=int, default=0)

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
    return p


_COMMANDS = {"theorems": cmd_theorems, "check": cmd_check, "figures": cmd_figures,
             "solve": cmd_solve, "reproduce": cmd_reproduce}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``boundlab`` console script; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return it, do not raise
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    for name in ("examples",):
        val = getattr(args, name, None)
        if val is not None and val < 1:
            _err(f"--{name} = {val}, expected a positive integer")
            return 2
    return _COMMANDS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
