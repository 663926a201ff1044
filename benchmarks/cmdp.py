r"""CMDP benchmark: ``solve_cmdp(method="flip")`` vs ``method="lp"`` vs HiGHS called directly.

Usage::

    python benchmarks/cmdp.py [--quick] [--repeats N] [--out FILE.json]

Model (issue 3, Performance): ``solvers.random_mdp(seed, S, A=10, K=1, successors=5,
gamma=0.95)``; the budget is the midpoint between the cost of the unconstrained optimal
policy (policy iteration on r, then ``evaluate``) and the minimum cost (policy iteration
on -c), so the constraint binds and lam* > 0.

Rows

1. S = 2000 (``--quick``: 500): median wall time of ``solve_cmdp(method="flip")`` and
   ``solve_cmdp(method="lp")`` over interleaved repeats, their ratio (target: flip at
   least 30x faster) and the relative difference of the optima (target <= 1e-9); both
   results must pass ``verify()``.
2. The same model: the LP path (``method="lp"``: matrices, HiGHS dual simplex, policy and
   duals) against ``scipy.optimize.linprog(method="highs-ds")`` on the same matrices built
   once outside the timed region, same options (target ratio <= 1.5).
3. S = 100000 (``--quick``: 10000): wall time of ``method="flip"`` (target < 60 s) and the
   peak resident memory of a fresh subprocess that builds the model, computes the budget
   and solves (``resource.getrusage(RUSAGE_SELF).ru_maxrss``; target < 4 GiB).

BLAS threads: the 2 cores of the benchmark machine are shared; multithreaded OpenBLAS
spinning against other processes made each BiCGSTAB dot product ~50x slower (16 s vs 2 s
for flip at S = 2e4). The script therefore pins OPENBLAS/OMP/MKL threads to 1 before
numpy is imported (HiGHS's simplex is single-threaded anyway). Times are medians of
interleaved repeats with ``time.perf_counter``. To measure the unpinned case, set the
variables yourself (``OPENBLAS_NUM_THREADS=2 python benchmarks/cmdp.py``: the script only
fills in unset ones); the BLAS setting in force is printed and stored in ``--out`` (with
the thread pools threadpoolctl reports, when it is installed).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from solvers import TabularMDP, evaluate, policy_iteration, random_mdp  # noqa: E402
from solvers.cmdp import _lp_matrices, solve_cmdp  # noqa: E402
from solvers.tolerances import LP_FEASIBILITY_TOL  # noqa: E402

SEED = 0


def model_and_budget(S: int) -> tuple[TabularMDP, np.ndarray]:
    """The benchmark model and the midpoint budget (computed without the code under test)."""
    m = random_mdp(SEED, S=S, A=10, K=1, successors=5, gamma=0.95)
    top = evaluate(m, policy_iteration(TabularMDP(m.P, m.r, m.mu0, gamma=m.gamma)).pi)
    cmin = -policy_iteration(TabularMDP(m.P, -m.costs[0], m.mu0, gamma=m.gamma)).value
    return m, np.array([0.5 * (float(top.cost_values[0]) + cmin)])


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def highs_direct(mdp: TabularMDP, b: np.ndarray):
    """A callable running linprog on prebuilt occupancy-LP matrices (LP path's options)."""
    A_eq, b_eq, obj, A_ub = _lp_matrices(mdp)
    opts = {"primal_feasibility_tolerance": LP_FEASIBILITY_TOL,
            "dual_feasibility_tolerance": LP_FEASIBILITY_TOL}

    def run():
        return linprog(-obj, A_ub=A_ub, b_ub=b, A_eq=A_eq, b_eq=b_eq, bounds=(0, None),
                       method="highs-ds", options=opts)
    return run


def small_rows(S: int, repeats: int) -> dict:
    m, b = model_and_budget(S)
    direct = highs_direct(m, b)
    t_flip, t_lp, t_direct = [], [], []
    for _ in range(repeats):  # interleaved: all three see the same load
        dt, flip = _timed(lambda: solve_cmdp(m, b, method="flip"))
        t_flip.append(dt)
        dt, lp = _timed(lambda: solve_cmdp(m, b, method="lp"))
        t_lp.append(dt)
        dt, raw = _timed(direct)
        t_direct.append(dt)
    assert flip.status == lp.status == "optimal" and raw.status == 0
    rel = abs(flip.value - lp.value) / abs(lp.value)
    return {
        "S": S, "repeats": repeats, "budget": float(b[0]),
        "flip_s": statistics.median(t_flip), "lp_s": statistics.median(t_lp),
        "highs_direct_s": statistics.median(t_direct),
        "flip_value": flip.value, "lp_value": lp.value, "highs_value": float(-raw.fun),
        "rel_diff": rel, "lam_flip": float(flip.lam[0]), "lam_lp": float(lp.lam[0]),
        "flip_verify": bool(flip.verify().ok), "lp_verify": bool(lp.verify().ok),
        "flip_message": flip.message,
    }


def large_child(S: int) -> None:
    """Run in a fresh process: model, budget, flip; print JSON with time and peak RSS.

    The peak RSS is read right after the solve. The solution is then checked here with
    sparse operations (dual feasibility max(r - lam c + gamma P v - v), the duality gap
    |value - (mu0 v + lam b)|, and ``evaluate`` of the returned policy against the reported
    value and cost). ``CMDPResult.verify()`` is sparse too now (it multiplies by the CSR
    kernel only; 1.3 s and a 124 MiB traced peak at S = 1e5, A = 10), but it is not timed
    here.
    """
    m, b = model_and_budget(S)
    dt, res = _timed(lambda: solve_cmdp(m, b, method="flip"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    lam, v = float(res.lam[0]), res.v
    rc = (m.r - lam * m.costs[0] + m.gamma * (m.transition_matrix @ v).reshape(S, m.A)
          - v[:, None])
    ev = evaluate(m, res.pi)
    print(json.dumps({
        "S": S, "flip_s": dt, "status": res.status, "value": res.value, "lam": lam,
        "cost": float(res.cost_values[0]), "budget": float(b[0]),
        "randomised_states": int(((res.pi > 0).sum(axis=1) > 1).sum()),
        "dual_infeasibility": max(float(rc.max()), 0.0),
        "duality_gap": abs(res.value - (float(m.mu0 @ v) + lam * float(b[0]))),
        "eval_mismatch": max(abs(ev.value - res.value),
                             abs(float(ev.cost_values[0] - res.cost_values[0]))),
        "peak_rss_mib": peak, "message": res.message,
    }))


def large_row(S: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child-large", str(S)], check=True,
                         capture_output=True, text=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def blas_threads() -> dict:
    """The BLAS/OpenMP thread variables in force and, with threadpoolctl, the live pools."""
    info: dict = {v: os.environ.get(v) for v in
                  ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # optional: the variables above are what the script controls
        info["pools"] = None
    else:
        info["pools"] = [{"api": p.get("internal_api"), "threads": p.get("num_threads")}
                         for p in threadpool_info()]
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--child-large", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_large is not None:
        large_child(args.child_large)
        return
    blas = blas_threads()
    print(f"BLAS threads: {json.dumps(blas)}", flush=True)
    S_small, S_large = (500, 10_000) if args.quick else (2000, 100_000)
    repeats = args.repeats or (1 if args.quick else 3)
    large = large_row(S_large)
    print(f"S={S_large}: {json.dumps(large)}", flush=True)
    small = small_rows(S_small, repeats)
    print(f"S={S_small}: {json.dumps(small)}", flush=True)
    ok = "ok" if small["rel_diff"] <= 1e-9 else "FAIL"
    ratio = small["lp_s"] / small["flip_s"]
    path_ratio = small["lp_s"] / small["highs_direct_s"]

    def met(cond: bool) -> str:  # the speed targets are stated for S = 2000 and 1e5
        return "n/a (--quick)" if args.quick else ("yes" if cond else "no")

    print("| row | measured | target | met |\n|---|---|---|---|")
    print(f"| S={S_small}: flip vs lp time | flip {small['flip_s']:.3g} s, lp "
          f"{small['lp_s']:.3g} s: lp/flip = {ratio:.1f}x | >= 30x | "
          f"{met(ratio >= 30)} |")
    print(f"| S={S_small}: optimum agreement | rel diff {small['rel_diff']:.2g} (flip "
          f"{small['flip_value']!r}, lp {small['lp_value']!r}) | <= 1e-9 | {ok} |")
    print(f"| S={S_small}: LP path vs HiGHS direct | path {small['lp_s']:.3g} s, direct "
          f"{small['highs_direct_s']:.3g} s: {path_ratio:.2f}x | <= 1.5x | "
          f"{met(path_ratio <= 1.5)} |")
    print(f"| S={S_large}: flip wall time | {large['flip_s']:.3g} s | < 60 s | "
          f"{met(large['flip_s'] < 60)} |")
    print(f"| S={S_large}: peak memory (whole process) | {large['peak_rss_mib']:.0f} MiB | "
          f"< 4096 MiB | {met(large['peak_rss_mib'] < 4096)} |")
    print(f"\nS={S_large}: dual infeasibility {large['dual_infeasibility']:.2g}, duality gap "
          f"{large['duality_gap']:.2g}, evaluate mismatch {large['eval_mismatch']:.2g}, "
          f"randomised states {large['randomised_states']}, cost - b "
          f"{large['cost'] - large['budget']:.2g}")
    if args.out:
        args.out.write_text(json.dumps({"small": small, "large": large, "blas": blas},
                                       indent=2))


if __name__ == "__main__":
    main()
