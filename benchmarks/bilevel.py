r"""Bilevel benchmark: exact hypergradient vs central finite differences, and trajectory sampling.

Usage::

    python benchmarks/bilevel.py [--quick] [--repeats N] [--out FILE.json]

Model (issue 5, Performance): ``solvers.random_mdp(SEED, S=500, A=8, successors=10,
gamma=0.9)`` as a fixed sparse kernel; follower reward :math:`r_F=r+\Phi_Fx`, leader reward
:math:`r_U=u_0+\Phi_Ux` with Gaussian features / sqrt(n), n = 64, tau = 1, x ~ 0.3 N(0, I).
``--quick``: S = 100, n = 16.

Rows

1. **exact**: ``bilevel_point(model, x, None)`` (certified soft policy iteration at the
   tightest reachable tolerance, leader and implicit linear solves) plus
   ``gradient("implicit")``; the "bc" and "score" forms are computed from the same point
   (untimed) and must agree with it.
2. **central finite differences**: :math:`(F(x+he_i)-F(x-he_i))/(2h)`, h = 1e-4, i.e. 2n
   certified follower solves (same tolerance), each followed by one sparse leader solve
   :math:`V_U=(I-\gamma_UP_\pi)^{-1}r_{U,\pi}` (no Jacobians, no occupancy: the leanest F).
   Targets: exact at least 20x faster; agreement
   :math:`\|g_{fd}-g\|_\infty/\|g\|_\infty\le10^{-6}` (truncation :math:`h^2F'''/6\approx
   10^{-9}` and rounding :math:`\delta/h\approx10^{-7}` relative for certified F errors
   :math:`\delta\approx10^{-11}`).
3. **sampling**: ``sample_trajectories(point, 10**4, 100, rng)`` (states and actions only)
   and the full BC-HG estimator ``sampled_hypergradient(point, 10**4, rng, H=100)`` with
   its (N, H, n) per-step gradients. Target: 10^4 trajectories of length 100 in under 5 s.

Exact and finite differences are timed in interleaved rounds (>= 3), sampling in its own
rounds; every time is a median of ``time.perf_counter`` intervals. BLAS threads are pinned
to 1 before numpy loads (the 2 cores are shared; see benchmarks/cmdp.py).
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
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from solvers import random_mdp  # noqa: E402
from solvers.configurable_mdp import ConfigurableMDP, FixedKernel, LinearReward  # noqa: E402
from solvers.hypergradient import bilevel_point  # noqa: E402
from solvers.hypergradient_sampling import (  # noqa: E402
    sample_trajectories,
    sampled_hypergradient,
)
from solvers.soft_dp import policy_kernel, precise_tol, soft_policy_iteration  # noqa: E402

SEED = 0
GAMMA, TAU, H_STEP = 0.9, 1.0, 1e-4
N_TRAJ, LENGTH = 10_000, 100


def build(S: int, A: int, n: int, successors: int) -> tuple[ConfigurableMDP, np.ndarray]:
    """The benchmark model and leader point (seeded)."""
    base = random_mdp(SEED, S, A, gamma=GAMMA, successors=successors)
    rng = np.random.default_rng([SEED, S, A, n])
    model = ConfigurableMDP(
        LinearReward(base.r, rng.normal(size=(S, A, n)) / np.sqrt(n)),
        LinearReward(rng.uniform(size=(S, A)), rng.normal(size=(S, A, n)) / np.sqrt(n)),
        FixedKernel(base.P), base.mu0, GAMMA, GAMMA, TAU, n)
    return model, 0.3 * rng.normal(size=n)


def leader_value(model: ConfigurableMDP, x: np.ndarray) -> float:
    r""":math:`\mu_0^\top(I-\gamma_UP_\pi)^{-1}\sum_a\pi r_U` after a certified follower solve."""
    d = model.at(x)
    fol = d["follower"]
    pi = soft_policy_iteration(fol, model.tau, precise_tol(fol, model.tau)).require().pi
    lead = d["leader"]
    M = sp.identity(lead.S, format="csc") - model.gamma_U * policy_kernel(lead, pi).tocsc()
    return float(model.mu0 @ spla.spsolve(M, (pi * lead.r).sum(axis=1)))


def central_difference(model: ConfigurableMDP, x: np.ndarray) -> np.ndarray:
    """(F(x + h e_i) - F(x - h e_i)) / (2h) for every i: 2n follower solves."""
    g = np.empty(model.n)
    for i in range(model.n):
        e = np.zeros(model.n)
        e[i] = H_STEP
        g[i] = (leader_value(model, x + e) - leader_value(model, x - e)) / (2 * H_STEP)
    return g


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="S = 100, n = 16")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.repeats < 3:
        ap.error("--repeats must be at least 3 (medians of interleaved repeats)")
    S, A, n, k = (100, 8, 16, 10) if args.quick else (500, 8, 64, 10)
    model, x = build(S, A, n, k)
    t_exact, t_fd = [], []
    for _ in range(args.repeats):  # interleaved: both see the same load
        dt, point = _timed(partial(bilevel_point, model, x, None))
        dt2, g = _timed(partial(point.gradient, "implicit"))
        t_exact.append(dt + dt2)
        dt, fd = _timed(partial(central_difference, model, x))
        t_fd.append(dt)
    forms = {m: point.gradient(m) for m in ("bc", "score")}
    scale = float(np.abs(g).max())
    rel_fd = float(np.abs(fd - g).max()) / scale
    rel_forms = max(float(np.abs(v - g).max()) / scale for v in forms.values())
    t_sample, t_est = [], []
    for r in range(args.repeats):
        dt, (s, a) = _timed(partial(sample_trajectories, point, N_TRAJ, LENGTH,
                                    np.random.default_rng([SEED, r])))
        t_sample.append(dt)
        dt, est = _timed(partial(sampled_hypergradient, point, N_TRAJ,
                                 np.random.default_rng([SEED, r]), H=LENGTH))
        t_est.append(dt)
    z = float(np.max(np.abs(est.mean - g) / est.stderr))
    out = {
        "S": S, "A": A, "n": n, "successors": k, "gamma": GAMMA, "tau": TAU, "h": H_STEP,
        "repeats": args.repeats, "follower_iterations": point.follower.iterations,
        "follower_error_bound": point.follower.error_bound,
        "exact_s": statistics.median(t_exact), "fd_s": statistics.median(t_fd),
        "ratio_fd_over_exact": statistics.median(t_fd) / statistics.median(t_exact),
        "rel_fd_vs_exact": rel_fd, "rel_bc_score_vs_implicit": rel_forms,
        "grad_norm_inf": scale, "F": point.F,
        "sample_trajectories_s": statistics.median(t_sample),
        "sampled_bchg_s": statistics.median(t_est),
        "sampled_truncation_weight": GAMMA ** LENGTH,
        "sampled_max_abs_z": z, "trajectory_shape": [int(s.shape[0]), int(a.shape[1])],
        "all_exact_s": t_exact, "all_fd_s": t_fd, "all_sample_s": t_sample,
        "all_sampled_bchg_s": t_est,
    }
    fails = []
    if not args.quick and out["ratio_fd_over_exact"] < 20:
        fails.append("exact hypergradient < 20x faster than central finite differences")
    if rel_fd > 1e-6 or rel_forms > 1e-10:
        fails.append("disagreement")
    if out["sample_trajectories_s"] >= 5:
        fails.append("10^4 trajectories of length 100 took >= 5 s")
    print(json.dumps(out, indent=1))
    for f in fails:
        print("FAIL:", f)
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 1 if fails else 0


if __name__ == "__main__":
    raise SystemExit(main())
