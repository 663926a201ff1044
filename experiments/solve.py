r"""``boundlab solve``: solve one instance file and print (or return as JSON) the solution.

One function per instance type computes a JSON-able summary (value, policy,
multipliers, certificate); one printer per type renders it for a terminal.
:func:`solve_file` dispatches on the decoded object; ``experiments.cli`` turns
its exceptions into exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["print_solution", "solve_file"]

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
                                "margin": float(check.farkas_margin),
                                "certified": check.ok, "exact": check.exact,
                                "message": check.message}
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
    check = res.verify(exact=exact).to_json()  # NaN (no gap for l2/linf) becomes None
    out["certificate"] = {"ok": check["ok"], "exact": check["exact"],
                          "primal_residual": check["primal_residual"],
                          "gap": check["exact_gap"] if exact else check["gap"],
                          "message": check["message"]}
    return out


def _solve_theorem_instance(path: Path) -> dict[str, Any]:
    from theory import get, load_counterexample

    tid, inst = load_counterexample(path)
    theorem = get(tid)
    ev = theorem.evaluate(inst)
    return {"type": "theorem_instance", "theorem": tid, "source": theorem.source,
            "expected": theorem.expected, "evidence": ev.to_json()}


def solve_file(path: Path) -> dict[str, Any] | None:
    """The solution summary of the instance in ``path``; ``None`` if its type is not solvable.

    Raises ``OSError``/``UnicodeDecodeError`` (unreadable), ``json.JSONDecodeError``
    (not JSON) and ``ModelError`` (invalid instance), which the CLI reports.
    """
    from solvers import TabularMDP, loads_instance
    from solvers.bilevel_instance import BilevelInstance
    from solvers.instances import CCMDPProblem, CMDPProblem, parse_json
    from solvers.poisoning import PoisoningInstance

    text = path.read_text(encoding="utf-8")
    head = parse_json(text)
    kind = head.get("type") if isinstance(head, dict) else None
    if kind == "theorem_instance":
        return _solve_theorem_instance(path)
    obj = loads_instance(text)
    if isinstance(obj, TabularMDP):
        return _solve_mdp(obj)
    if isinstance(obj, CMDPProblem):
        return _solve_cmdp(obj)
    if isinstance(obj, CCMDPProblem):
        return _solve_ccmdp(obj)
    if isinstance(obj, PoisoningInstance):
        return _solve_poisoning(obj, head.get("cost", "l1"))
    if isinstance(obj, BilevelInstance):
        from .solve_bilevel import solve_bilevel

        return solve_bilevel(obj)
    return None


def print_solution(out: dict[str, Any]) -> None:
    if out["type"] == "bilevel":
        from .solve_bilevel import print_bilevel_summary

        print_bilevel_summary(out)
        return
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
