r"""Poisoning benchmark: the l1 program (P1) at n_pairs = 1e5, feat_dim = 64 (issue 6).

Usage::

    python benchmarks/poisoning.py [--quick] [--repeats N] [--out FILE.json]

Instance: ``Phi`` with i.i.d. N(0, 1) entries (seed 0), ``theta_O = 1`` and a random-flip
attack of n_pairs / 10 pairs (``solvers.poisoning_attacks.random_flips``).

Rows

1. ``min_cost_poisoning(norm="l1")`` (default ``method="auto"``: column generation with
   HiGHS dual simplex on the restricted sparse split LPs), wall time (target < 60 s); the
   result must pass ``verify()`` (full-problem primal residual, dual feasibility, gap).
   Also ``method="direct"`` (HiGHS dual simplex on the full LP) for reference.
2. ``projection_lower_bound`` (Theorem 2 dual point; no solver), wall time (target < 1 s),
   and its dual value recomputed by ``dual_objective`` (must agree).
3. The same split LP written in cvxpy (``Phi @ (u - v) == b``, box bounds, solver HiGHS),
   wall time including compilation; ratio cvxpy / HiGHS path (target >= 3; also reported
   for the direct path) and agreement of the optima (relative difference <= 1e-6).

Times are medians of interleaved repeats (``time.perf_counter``). BLAS threads are pinned
to 1 (the 2 cores are shared).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solvers.poisoning import PoisoningInstance, dual_objective, min_cost_poisoning  # noqa: E402
from solvers.poisoning_attacks import random_flips  # noqa: E402
from solvers.poisoning_bounds import projection_lower_bound  # noqa: E402


def build(n_pairs: int, feat_dim: int, seed: int = 0) -> PoisoningInstance:
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((feat_dim, n_pairs))
    theta_O = np.ones(n_pairs)
    return PoisoningInstance(Phi, theta_O, theta_A=random_flips(theta_O, n_pairs // 10, rng))


def solve_cvxpy(inst: PoisoningInstance) -> float:
    import cvxpy as cp

    u, v = cp.Variable(inst.n_pairs), cp.Variable(inst.n_pairs)
    prob = cp.Problem(cp.Minimize(cp.sum(u) + cp.sum(v)),
                      [inst.Phi @ (u - v) == inst.target, u >= 0, v >= 0,
                       u <= 1 - inst.theta_O, v <= inst.theta_O])
    prob.solve(solver="HIGHS")
    if prob.status != "optimal":
        raise RuntimeError(f"cvxpy returned {prob.status}")
    return float(prob.value)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="n_pairs = 1e4")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    n_pairs, feat_dim = (10_000 if args.quick else 100_000), 64
    inst = build(n_pairs, feat_dim)
    t_lp, t_cvx, t_lb, t_direct = [], [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        res = min_cost_poisoning(inst)
        t_lp.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        direct = min_cost_poisoning(inst, method="direct")
        t_direct.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        cvx = solve_cvxpy(inst)
        t_cvx.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        lb = projection_lower_bound(inst)
        t_lb.append(time.perf_counter() - t0)
    check = res.verify()
    g = dual_objective(inst, lb.lam)
    out = {
        "n_pairs": n_pairs, "feat_dim": feat_dim, "repeats": args.repeats,
        "lp_s": statistics.median(t_lp), "cvxpy_s": statistics.median(t_cvx),
        "lb_s": statistics.median(t_lb), "direct_s": statistics.median(t_direct),
        "ratio_cvxpy_over_highs": statistics.median(t_cvx) / statistics.median(t_lp),
        "ratio_cvxpy_over_direct": statistics.median(t_cvx) / statistics.median(t_direct),
        "method_message": res.message, "opt_direct": direct.cost,
        "opt": res.cost, "opt_cvxpy": cvx, "rel_diff": abs(res.cost - cvx) / max(1.0, res.cost),
        "lb": lb.value, "lb_dual_value": g, "baseline": float(np.abs(inst.shift).sum()),
        "verify_ok": check.ok, "gap": check.gap,
        "all_lp_s": t_lp, "all_direct_s": t_direct, "all_cvxpy_s": t_cvx, "all_lb_s": t_lb,
    }
    fails = []
    if not args.quick and out["lp_s"] >= 60:
        fails.append("l1 program >= 60 s")
    if out["lb_s"] >= 1:
        fails.append("LB certificate >= 1 s")
    if out["ratio_cvxpy_over_highs"] < 3:
        fails.append("HiGHS path < 3x faster than cvxpy")
    if (out["rel_diff"] > 1e-6 or not out["verify_ok"] or abs(g - lb.value) > 1e-9 * lb.value
            or abs(direct.cost - res.cost) > 1e-6 * max(1.0, res.cost)):
        fails.append("disagreement")
    print(json.dumps(out, indent=1))
    for f in fails:
        print("FAIL:", f)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 1 if fails else 0


if __name__ == "__main__":
    raise SystemExit(main())
