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

import numpy as np
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
def _solve_mdp(mdp: Any) -> dict[str, Any]:
    from solvers import policy_iteration, value_iteration

    opt = policy_iteration(mdp)
    out: dict[str, Any] = {"type": "mdp", "S": mdp.S, "A": mdp.A, "K": mdp.K,
                           "gamma": mdp.gamma, "horizon": mdp.horizon,
                           "status": opt.status, "message": opt.message}
    if opt.status != "optimal":
        return out
    cert = opt.verify(exact=mdp.S <= 12)
    vi = value_iteration(mdp)
    out.update({
        "value": opt.value, "actions": opt.actions.tolist(),
        "value_error_bound": opt.value_error_bound,
        "certificate": {"ok": cert.ok, "exact": cert.exact,
                        "bellman_residual": cert.bellman_residual,
                        "policy_exactly_optimal": cert.policy_exactly_optimal,
                        "message": cert.message},
        "value_iteration": {"status": vi.status, "value": vi.value,
                            "agrees": bool(abs(vi.value - opt.value)
                                           <= vi.value_error_bound + opt.value_error_bound)},
    })
    if mdp.K:
        from solvers import evaluate

        out["cost_values"] = evaluate(mdp, opt.pi).cost_values.tolist()
    return out


def _solve_cmdp(problem: Any) -> dict[str, Any]:
    from solvers import solve_cmdp

    mdp = problem.mdp
    res = solve_cmdp(mdp, problem.thresholds)
    out: dict[str, Any] = {"type": "cmdp", "S": mdp.S, "A": mdp.A, "K": mdp.K,
                           "gamma": mdp.gamma, "horizon": mdp.horizon,
                           "thresholds": problem.thresholds.tolist(),
                           "status": res.status, "message": res.message}
    if res.status == "infeasible" and res.infeasibility is not None:
        cert = res.infeasibility
        out["infeasibility"] = {"weights": cert.weights.tolist(),
                                "min_weighted_cost": cert.min_weighted_cost,
                                "weighted_budget": cert.weighted_budget,
                                "margin": cert.margin, "certified": bool(cert.margin > 0)}
        return out
    if res.status != "optimal":
        return out
    check = res.verify(exact=mdp.S * mdp.A <= 24)
    out.update({"value": res.value, "cost_values": res.cost_values.tolist(),
                "multipliers": res.lam.tolist(), "policy": np.round(res.pi, 12).tolist(),
                "certificate": {"ok": check.ok, "exact": check.exact,
                                "message": check.message}})
    return out


def _solve_ccmdp(problem: Any) -> dict[str, Any]:
    from solvers.ccmdp_solve import solve_ccmdp

    mdp = problem.mdp
    res = solve_ccmdp(mdp, problem.unsafe, problem.delta, surrogate=problem.surrogate,
                      gamma_u=problem.gamma_u)
    out: dict[str, Any] = {"type": "ccmdp", "S": mdp.S, "A": mdp.A, "horizon": mdp.horizon,
                           "unsafe": np.flatnonzero(problem.unsafe).tolist(),
                           "delta": problem.delta, "surrogate": problem.surrogate,
                           "gamma_u": problem.gamma_u, "status": res.status,
                           "message": res.message}
    if res.status == "infeasible" and res.infeasibility is not None:
        cert = res.infeasibility
        out["infeasibility"] = {"min_constraint_value": res.min_constraint_value,
                                "margin": cert.margin, "certified": bool(cert.margin > 0)}
        return out
    if res.status != "optimal":
        return out
    lp = res.cmdp.mdp
    check = res.verify(exact=lp.S * lp.A <= 24)
    out.update({"value": res.value, "violation_probability": res.violation_probability,
                "constraint_value": res.constraint_value, "multiplier": res.lam,
                "policy": np.round(res.policy, 12).tolist(),
                "policy_states": "augmented x = f*S + s" if res.surrogate is None else "s",
                "certificate": {"ok": check.ok, "exact": check.exact,
                                "message": check.message}})
    return out


def _solve_poisoning(problem: Any, cost: str) -> dict[str, Any]:
    from solvers.poisoning import min_cost_poisoning
    from solvers.poisoning_bounds import projection_lower_bound, segment_upper_bound
    from solvers.poisoning_rounding import fractional_coordinates

    res = min_cost_poisoning(problem, cost)
    out: dict[str, Any] = {"type": "poisoning", "feat_dim": problem.feat_dim,
                           "n_pairs": problem.n_pairs, "m": problem.m, "cost": cost,
                           "status": res.status, "message": res.message,
                           "no_saving_possible": res.no_saving_possible}
    if res.status == "infeasible":
        check = res.verify(exact=problem.n_pairs <= 60)
        out["infeasibility"] = {"farkas": res.farkas.tolist(),
                                "margin": float(check["farkas_margin"]),
                                "certified": bool(check["ok"]), "exact": check["exact"]}
        return out
    lb = projection_lower_bound(problem, cost)
    ub = segment_upper_bound(problem, cost) if problem.theta_A is not None else None
    z = res.zeta
    out.update({"opt": res.cost, "flips": res.flips,
                "baseline_flips": problem.m * float(np.abs(problem.shift).sum())
                if problem.theta_A is not None else None,
                "zeta": {"nonzero": int(np.sum(np.abs(z) > 1e-9)),
                         "fractional": int(fractional_coordinates(res).size)
                         if cost == "l1" else None,
                         "l1": float(np.abs(z).sum()), "min": float(z.min()),
                         "max": float(z.max()), "values": np.round(z, 12).tolist()},
                "lower_bound": lb.value, "upper_bound": None if ub is None else ub.value,
                "upper_bound_best_on_segment": None if ub is None else ub.best,
                "duals": {k: np.asarray(v).tolist() for k, v in res.duals.items()}})
    exact = cost == "l1" and problem.n_pairs <= 60
    check = res.verify(exact=exact)
    gap = check.get("exact_gap", check.get("gap"))
    out["certificate"] = {"ok": bool(check["ok"]), "exact": bool(check["exact"]),
                          "primal_residual": check["primal_residual"],
                          "gap": None if gap is None else float(gap)}
    return out


def _solve_theorem_instance(path: Path) -> dict[str, Any]:
    from theory import get, load_counterexample

    tid, inst = load_counterexample(path)
    theorem = get(tid)
    ev = theorem.evaluate(inst)
    return {"type": "theorem_instance", "theorem": tid, "source": theorem.source,
            "expected": theorem.expected, "evidence": ev.to_json()}


def cmd_solve(args: argparse.Namespace) -> int:
    from solvers import ModelError, TabularMDP, loads_instance
    from solvers.instances import CCMDPProblem, CMDPProblem
    from solvers.poisoning import PoisoningInstance

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
        head = json.loads(text)
        kind = head.get("type") if isinstance(head, dict) else None
        if kind == "theorem_instance":
            out = _solve_theorem_instance(path)
        else:
            obj = loads_instance(text)
            if isinstance(obj, TabularMDP):
                out = _solve_mdp(obj)
            elif isinstance(obj, CMDPProblem):
                out = _solve_cmdp(obj)
            elif isinstance(obj, CCMDPProblem):
                out = _solve_ccmdp(obj)
            elif isinstance(obj, PoisoningInstance):
                out = _solve_poisoning(obj, head.get("cost", "l1"))
            else:
                _err(f"{path}: instance type {kind!r} is not solvable yet")
                return 2
    except (OSError, UnicodeDecodeError) as exc:
        _err(f"cannot read {path}: {exc}")
        return 2
    except json.JSONDecodeError as exc:
        _err(f"{path}: not valid JSON ({exc})")
        return 2
    except (ModelError, KeyError, ValueError) as exc:
        _err(f"{path}: {exc.args[0] if exc.args else exc}")
        return 2
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        _print_solution(out)
    return 0


def _print_solution(out: dict[str, Any]) -> None:
    if out["type"] == "cmdp":
        _print_cmdp(out)
        return
    if out["type"] == "ccmdp":
        _print_ccmdp(out)
        return
    if out["type"] == "poisoning":
        _print_poisoning(out)
        return
    if out["type"] == "theorem_instance":
        ev = out["evidence"]
        print(f"theorem {out['theorem']} ({out['source']}), registered as {out['expected']}")
        print(f"  lhs = {ev['lhs']!r} {ev['relation']} rhs = {ev['rhs']!r}")
        print(f"  slack = {ev['slack']:.6g}, tol = {ev['tol']:.3g}, holds: {ev['holds']}")
        return
    kind = f"horizon {out['horizon']}" if out["horizon"] else f"gamma {out['gamma']}"
    print(f"MDP: S = {out['S']}, A = {out['A']}, K = {out['K']}, {kind}")
    print(f"status: {out['status']} ({out['message']})")
    if out["status"] != "optimal":
        return
    print(f"value: {out['value']!r}  (certified within {out['value_error_bound']:.3g})")
    print(f"policy (action per state{' per time' if out['horizon'] else ''}): {out['actions']}")
    if "cost_values" in out:
        print(f"cost values: {out['cost_values']}")
    c = out["certificate"]
    print(f"certificate: {'ok' if c['ok'] else 'FAILED'} "
          f"({'exact rational' if c['exact'] else 'float'}): {c['message']}")
    vi = out["value_iteration"]
    print(f"value iteration cross-check: {vi['status']}, value {vi['value']!r}, "
          f"{'agrees' if vi['agrees'] else 'DISAGREES'}")


def _print_cmdp(out: dict[str, Any]) -> None:
    kind = f"horizon {out['horizon']}" if out["horizon"] else f"gamma {out['gamma']}"
    print(f"CMDP: S = {out['S']}, A = {out['A']}, K = {out['K']}, {kind}, "
          f"budgets {out['thresholds']}")
    print(f"status: {out['status']} ({out['message']})")
    if "infeasibility" in out:
        c = out["infeasibility"]
        print(f"infeasible: no policy meets the budgets. Certificate: weights {c['weights']}, "
              f"min over policies of the weighted cost = {c['min_weighted_cost']:.6g} > "
              f"weighted budget {c['weighted_budget']:.6g} "
              f"({'certified' if c['certified'] else 'NOT certified'})")
        return
    if out["status"] != "optimal":
        return
    print(f"value: {out['value']!r}")
    print(f"cost values: {out['cost_values']}  multipliers: {out['multipliers']}")
    print(f"policy (rows pi[s, :]): {out['policy']}")
    c = out["certificate"]
    print(f"certificate: {'ok' if c['ok'] else 'FAILED'} "
          f"({'exact rational' if c['exact'] else 'float'}): {c['message']}")


def _print_ccmdp(out: dict[str, Any]) -> None:
    what = ("exact joint chance constraint" if out["surrogate"] is None else
            f"surrogate {out['surrogate']}"
            + (f" (gamma_u = {out['gamma_u']})" if out["gamma_u"] is not None else ""))
    print(f"CCMDP: S = {out['S']}, A = {out['A']}, horizon {out['horizon']}, unsafe states "
          f"{out['unsafe']}, delta = {out['delta']}, {what}")
    print(f"status: {out['status']} ({out['message']})")
    if "infeasibility" in out:
        c = out["infeasibility"]
        print(f"infeasible: even the safest policy has constraint value "
              f"{c['min_constraint_value']:.6g} > delta = {out['delta']} "
              f"({'certified' if c['certified'] else 'NOT certified'}, margin {c['margin']:.3g})")
        return
    if out["status"] != "optimal":
        return
    print(f"value: {out['value']!r}  (E[sum_t r_t], t < H)")
    print(f"exact violation probability: {out['violation_probability']!r}  "
          f"(constraint value {out['constraint_value']!r}, multiplier {out['multiplier']!r})")
    print(f"policy pi[t, {out['policy_states']}, :]: {out['policy']}")
    c = out["certificate"]
    print(f"certificate: {'ok' if c['ok'] else 'FAILED'} "
          f"({'exact rational' if c['exact'] else 'float'}): {c['message']}")


def _print_poisoning(out: dict[str, Any]) -> None:
    print(f"poisoning (P1): feat_dim = {out['feat_dim']}, n_pairs = {out['n_pairs']}, "
          f"m = {out['m']}, cost {out['cost']}")
    print(f"status: {out['status']} ({out['message']})")
    if "infeasibility" in out:
        c = out["infeasibility"]
        print(f"infeasible: no proportion vector in [0, 1]^N reaches the target. Farkas vector "
              f"{c['farkas']}, separation margin {c['margin']:.6g} "
              f"({'certified' if c['certified'] else 'NOT certified'}"
              f"{', exact' if c['exact'] else ''})")
        return
    if out["status"] != "optimal":
        return
    z = out["zeta"]
    print(f"OPT = {out['opt']!r}  (|zeta|, proportion units); flips = m |zeta|_1 = "
          f"{out['flips']!r}" + (f" vs the attack's {out['baseline_flips']!r}"
                                 if out["baseline_flips"] is not None else ""))
    print(f"zeta: {z['nonzero']} nonzero"
          + (f", {z['fractional']} fractional" if z["fractional"] is not None else "")
          + f", range [{z['min']:.6g}, {z['max']:.6g}]")
    ub = "n/a" if out["upper_bound"] is None else f"{out['upper_bound']!r}"
    print(f"bounds: LB (Thm 2) = {out['lower_bound']!r} <= OPT <= UB (Thm 3) = {ub}")
    if out["no_saving_possible"]:
        print("rank(Phi) = n_pairs: the projector is the identity, no saving is possible")
    print(f"duals: {out['duals']}")
    c = out["certificate"]
    print(f"certificate: {'ok' if c['ok'] else 'FAILED'} "
          f"({'exact rational' if c['exact'] else 'float'}), primal residual "
          f"{c['primal_residual']:.3g}" + (f", gap {c['gap']:.3g}" if c["gap"] is not None
                                            else ""))


# -- reproduce ----------------------------------------------------------------------
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
