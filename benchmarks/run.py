r"""boundlab vs pymdptoolbox: value iteration, policy iteration, policy evaluation.

Usage::

    python benchmarks/run.py [--quick] [--repeats N] [--out FILE.json]

One run measures, on the same models given to both libraries,

(a) ``mdptoolbox.example.forest()`` with S = 3 (dense), S = 1e3 and, without
    --quick, S = 1e4 (sparse);
(b) random sparse MDPs (``solvers.random_mdp``, A = 10, k successors per (s, a))
    with S = 1e3 and 1e4, converted row by row to pymdptoolbox's list of A
    CSR (S, S) matrices;

for policy iteration and value iteration, and

(c) boundlab's exact policy evaluation on sparse A = 10 models with S = 1e5
    and, without --quick, S = 1e4. Above 400 states boundlab solves by
    Jacobi-preconditioned BiCGSTAB, falling back to sparse LU (S <= 2e4) or
    GMRES (above) only if BiCGSTAB does not converge; the method reported is
    the one the result says ran (``PolicyValues.method``), not assumed.

Every time is a median over interleaved repeats measured with
``time.perf_counter``; model construction and format conversion happen outside
the timed region (pymdptoolbox's constructors too: they validate the model and,
for value iteration, compute an iteration bound; their time is reported as
``pymdp setup``). Every row carries a values check against a stated tolerance
and prints ``FAIL`` when it does not hold.

Value iteration: the stopping rules and the "same guarantee"
-------------------------------------------------------------
boundlab ``value_iteration(mdp, tol)`` stops at the first k with
``gamma/(1-gamma) * ||v_k - v_{k-1}||_inf + rho_fl <= tol`` (rho_fl a bound on
float64 rounding, ``solvers.planning.bellman_rounding``), which certifies
``||v_k - V*||_inf <= tol`` (Puterman 1994, Thm 6.3.1).

pymdptoolbox 4.0b3 ``ValueIteration(P, R, gamma, epsilon)`` (mdp.py) sets
``thresh = epsilon * (1 - gamma) / gamma`` and stops at the first n with
``span(V_n - V_{n-1}) < thresh``, ``span(w) = max(w) - min(w)`` (util.getSpan).
So ``epsilon = tol`` puts the same threshold on the update (up to rho_fl),
but in the span seminorm instead of the sup norm. With Delta = V_n - V_{n-1} and pi greedy,
the MacQueen bounds (Puterman Prop. 6.6.5) give
``V_n + g*min(Delta) <= V^pi <= V* <= V_n + g*max(Delta)``, g = gamma/(1-gamma):
the span test certifies an epsilon-optimal *policy*, but the returned V_n is
only within ``g * ||Delta||_inf`` of V*, which the span does not control. No
epsilon repairs that: on ``forest()`` Delta is an exactly constant vector after
three sweeps (span 0), so any epsilon stops there with V far from V*. Hence two
value-iteration rows per model:

- ``VI (same guarantee)``: pymdptoolbox's own ``run()`` loop is made to perform
  exactly the number of sweeps k that boundlab's certified stop needed
  (``thresh = 0`` so the span test never fires, ``max_iter = k``). Both return
  T^k(0) from V_0 = 0 and carry the same certificate ``||V - V*|| <= tol``;
  the ratio measures the implementations. Check: ``|V_b - V_p| <= 2 tol``.
- ``VI (own stop, eps=tol)``: pymdptoolbox as documented with ``epsilon = tol``.
  Its constructor silently replaces the ``max_iter`` argument by a computed
  bound (``_boundIter``, Puterman Thm 6.6.6) whenever gamma < 1, which could
  stop it early, so ``max_iter`` is set to 10**6 on the object after
  construction. Check: ``|V_b - V_p| <= tol + epsilon`` (its documentation
  calls V converged within epsilon); the notes report ``||V_p - V*||``,
  pymdptoolbox's iteration count and the (independently evaluated) optimality
  gap of its policy, which the span rule does bound by epsilon.

Policy iteration: both start from argmax_a r(s, a). pymdptoolbox evaluates
each policy by a dense LAPACK solve (``numpy.linalg.solve`` on the dense
(S, S) matrix I - gamma P_pi); boundlab by ``evaluate`` (dense up to 400
states, else BiCGSTAB warm-started from the previous policy's values, with a
measured residual), and switches an action only when the gain exceeds the
certified error of q. The notes list the methods boundlab's evaluations
reported (recorded in an extra untimed call). Check
``|V_b - V_p| <= boundlab's certified bound + linear_solve_tol`` (the a-priori
error of pymdptoolbox's dense LAPACK solve).

V* for the notes is boundlab's policy-iteration value (certified bound
``value_error_bound``), itself cross-checked against pymdptoolbox's.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import mdptoolbox  # noqa: E402
import mdptoolbox.example  # noqa: E402
import mdptoolbox.mdp  # noqa: E402

from solvers import (  # noqa: E402
    TabularMDP,
    deterministic_policy,
    evaluate,
    policy_iteration,
    random_mdp,
    uniform_policy,
    value_iteration,
)
from solvers.tolerances import BELLMAN_TOL, linear_solve_tol  # noqa: E402

GAMMA = 0.9
A_RANDOM = 10
SEED = 20240601
#: pymdptoolbox iteration cap for its own stopping rule (never reached here).
PYMDP_MAX_ITER = 10**6
#: Certified accuracy of the independent fixed-point evaluation used in the notes.
CHECK_EVAL_TOL = 1e-11
#: Target for the certified error bound of boundlab's large policy evaluations.
PE_TARGET = BELLMAN_TOL
#: A measurement round at most this long is repeated --repeats times (after a
#: discarded warm-up round if it is under WARMUP_BELOW seconds); slower rounds
#: are repeated SLOW_REPEATS times, and rounds over VERY_SLOW once.
FAST_ROUND, WARMUP_BELOW, VERY_SLOW, SLOW_REPEATS = 10.0, 1.0, 60.0, 3


def _fmt_S(S: int) -> str:
    """1000 -> '1e3' (powers of ten from 1e3), other sizes as integers."""
    e = round(math.log10(S)) if S > 0 else 0
    return f"1e{e}" if S >= 1000 and 10**e == S else str(S)


# -- models ------------------------------------------------------------------------
@dataclass
class Instance:
    """One model in both formats: boundlab's TabularMDP and pymdptoolbox's (P, R)."""

    name: str
    mdp: TabularMDP
    P: object  # pymdptoolbox transitions: (A, S, S) array or list of A CSR (S, S)
    R: np.ndarray  # (S, A)
    k: int | None = None  # successors per (s, a) for random models

    @property
    def S(self) -> int:
        return self.mdp.S


def _interleave_rows(P_list: list, S: int, A: int) -> sp.csr_array:
    """pymdptoolbox's A (S, S) matrices -> boundlab's (S*A, S) CSR, row s*A + a."""
    stacked = sp.vstack([sp.csr_array(m, dtype=np.float64) for m in P_list], format="csr")
    order = (np.arange(A)[None, :] * S + np.arange(S)[:, None]).ravel()
    return stacked[order]


def forest_instance(S: int) -> Instance:
    """``mdptoolbox.example.forest(S)``; dense for small S, sparse otherwise."""
    sparse = S > 50
    P, R = mdptoolbox.example.forest(S=S, is_sparse=sparse)
    R = np.asarray(R, dtype=float)
    A = R.shape[1]
    Pb = _interleave_rows(P, S, A) if sparse else np.transpose(P, (1, 0, 2))
    mdp = TabularMDP(Pb, R, np.full(S, 1.0 / S), gamma=GAMMA)
    return Instance(f"forest S={_fmt_S(S)}", mdp, P, R)


def random_instance(S: int, k: int, seed: int = SEED) -> Instance:
    """``random_mdp(seed, S, 10, successors=k)`` and its per-action CSR split."""
    mdp = random_mdp(seed, S, A_RANDOM, gamma=GAMMA, successors=k)
    T = mdp.transition_matrix
    P = [sp.csr_matrix(T[a::A_RANDOM]) for a in range(A_RANDOM)]
    return Instance(f"random S={_fmt_S(S)} k={k}", mdp, P, np.asarray(mdp.r), k=k)


# -- measurement ----------------------------------------------------------------
@dataclass
class Timed:
    """A solver call to time, with an untimed reset of solver state before each call."""

    run: Callable[[], object]
    reset: Callable[[], None] | None = None


@dataclass
class Measured:
    times: dict[str, list[float]] = field(default_factory=dict)
    last: dict[str, object] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])


def measure(solvers: dict[str, Timed], repeats: int) -> Measured:
    """Interleaved timing rounds (one call of every solver per round); see FAST_ROUND."""
    out = Measured({name: [] for name in solvers})

    def one_round() -> float:
        total = 0.0
        for name, t in solvers.items():
            if t.reset is not None:
                t.reset()
            t0 = time.perf_counter()
            out.last[name] = t.run()
            dt = time.perf_counter() - t0
            out.times[name].append(dt)
            total += dt
        return total

    first = one_round()
    if first <= WARMUP_BELOW:
        for name in solvers:
            out.times[name].clear()
        n_more = repeats
    elif first <= FAST_ROUND:
        n_more = repeats - 1
    elif first <= VERY_SLOW:
        n_more = min(repeats, SLOW_REPEATS) - 1
    else:
        n_more = 0
    for _ in range(n_more):
        one_round()
    return out


# -- independent checks ---------------------------------------------------------
def policy_value(mdp: TabularMDP, pi: np.ndarray, tol: float = CHECK_EVAL_TOL) -> np.ndarray:
    """V^pi by the fixed-point iteration v <- r_pi + gamma P_pi v, stopped when
    gamma/(1-gamma)*||dv||_inf <= tol (so ||v - V^pi||_inf <= tol). Independent of
    boundlab's linear solvers; uses only the model's arrays."""
    S, A, g = mdp.S, mdp.A, mdp.gamma
    T = mdp.transition_matrix
    r_pi = np.einsum("sa,sa->s", pi, mdp.r)
    v = np.zeros(S)
    while True:
        v_new = r_pi + g * np.einsum("sa,sa->s", pi, (T @ v).reshape(S, A))
        d = float(np.max(np.abs(v_new - v)))
        v = v_new
        if d * g <= tol * (1.0 - g):
            return v


def evaluation_residual(mdp: TabularMDP, pi: np.ndarray, v: np.ndarray) -> float:
    """||r_pi + gamma P_pi v - v||_inf, recomputed from the model."""
    S, A = mdp.S, mdp.A
    q = mdp.r + mdp.gamma * (mdp.transition_matrix @ v).reshape(S, A)
    return float(np.max(np.abs(np.einsum("sa,sa->s", pi, q) - v)))


# -- benchmark cases ---------------------------------------------------------
def pi_eval_methods(mdp: TabularMDP) -> list[str]:
    """Methods reported by every ``evaluate`` call inside boundlab's policy_iteration.

    One extra, untimed call with ``solvers.planning.evaluate`` wrapped so that
    each returned ``PolicyValues.method`` is recorded.
    """
    import solvers.planning as planning

    methods: list[str] = []
    inner = planning.evaluate

    def recording(*args, **kwargs):
        ev = inner(*args, **kwargs)
        methods.append(ev.method)
        return ev

    planning.evaluate = recording
    try:
        policy_iteration(mdp)
    finally:
        planning.evaluate = inner
    return methods


def _summarise(methods: list[str]) -> str:
    """['bicgstab', 'bicgstab', 'dense'] -> 'bicgstab x2, dense x1'."""
    return ", ".join(f"{m} x{methods.count(m)}" for m in dict.fromkeys(methods))


def _row(inst: Instance, what: str, m: Measured, **kw) -> dict:
    tb, tp = m.median("boundlab"), m.median("pymdptoolbox")
    row = {
        "case": inst.name, "S": inst.S, "A": inst.mdp.A, "k": inst.k, "what": what,
        "n": len(m.times["boundlab"]), "boundlab_s": tb, "pymdptoolbox_s": tp,
        "ratio": tb / tp, "boundlab_times": m.times["boundlab"],
        "pymdptoolbox_times": m.times["pymdptoolbox"],
    }
    row.update(kw)
    row["check"] = "ok" if row["max_abs_diff"] <= row["tolerance"] else "FAIL"
    return row


def bench_instance(inst: Instance, tol: float, repeats: int, log: Callable[[str], None]) -> list:
    mdp, S, g = inst.mdp, inst.S, inst.mdp.gamma
    mdp.transition_matrix  # noqa: B018  build the cached CSR outside the timed region
    rows = []

    # Policy iteration ------------------------------------------------------------
    t0 = time.perf_counter()
    ppi = mdptoolbox.mdp.PolicyIteration(inst.P, inst.R, g, max_iter=PYMDP_MAX_ITER)
    setup_pi = time.perf_counter() - t0
    policy0 = np.array(ppi.policy, copy=True)

    def reset_pi() -> None:
        ppi.policy, ppi.V, ppi.iter = policy0.copy(), np.zeros(S), 0

    def run_ppi() -> tuple:
        ppi.run()
        return np.asarray(ppi.V), ppi.iter

    log(f"  {inst.name}: policy iteration")
    m = measure({"boundlab": Timed(lambda: policy_iteration(mdp)),
                 "pymdptoolbox": Timed(run_ppi, reset_pi)}, repeats)
    b, (vp, it_p) = m.last["boundlab"], m.last["pymdptoolbox"]
    if b.status != "optimal":
        raise RuntimeError(f"boundlab policy_iteration on {inst.name}: {b.message}")
    v_star, star_bound = b.v, b.value_error_bound
    scale = float(np.max(np.abs(mdp.r)))
    methods = pi_eval_methods(mdp)
    rows.append(_row(
        inst, "PI", m, iters_boundlab=b.iterations, iters_pymdptoolbox=it_p,
        max_abs_diff=float(np.max(np.abs(b.v - vp))),
        tolerance=star_bound + linear_solve_tol(S, scale, g),
        pymdptoolbox_setup_s=setup_pi, boundlab_eval_methods=methods,
        notes=f"boundlab bound {star_bound:.1e}; evaluate: {_summarise(methods)}",
    ))

    # Value iteration -----------------------------------------------------------
    t0 = time.perf_counter()
    pvi = mdptoolbox.mdp.ValueIteration(inst.P, inst.R, g, epsilon=tol)
    setup_vi = time.perf_counter() - t0
    own_thresh = pvi.thresh  # = tol * (1 - gamma) / gamma
    k_b = value_iteration(mdp, tol).iterations  # the certified sweep count

    def reset_vi(thresh: float, max_iter: int) -> Callable[[], None]:
        def reset() -> None:
            pvi.V, pvi.iter, pvi.policy = np.zeros(S), 0, None
            pvi.thresh, pvi.max_iter = thresh, max_iter
        return reset

    def run_pvi() -> tuple:
        pvi.run()
        return np.asarray(pvi.V), np.asarray(pvi.policy), pvi.iter

    for what, reset in (("VI (same guarantee)", reset_vi(0.0, k_b)),
                        ("VI (own stop, eps=tol)", reset_vi(own_thresh, PYMDP_MAX_ITER))):
        log(f"  {inst.name}: {what}")
        m = measure({"boundlab": Timed(lambda: value_iteration(mdp, tol)),
                     "pymdptoolbox": Timed(run_pvi, reset)}, repeats)
        b, (vp, act_p, it_p) = m.last["boundlab"], m.last["pymdptoolbox"]
        if b.status != "optimal":
            raise RuntimeError(f"boundlab value_iteration on {inst.name}: {b.message}")
        err_b = float(np.max(np.abs(b.v - v_star)))
        err_p = float(np.max(np.abs(vp - v_star)))
        notes = f"|V_b-V*| {err_b:.1e}, |V_p-V*| {err_p:.1e}"
        extra = {}
        if what.startswith("VI (own"):
            pi_p = deterministic_policy(act_p.astype(np.int64), mdp.A)
            gap = float(np.max(v_star - policy_value(mdp, pi_p)))
            gap_ok = gap <= tol + star_bound + CHECK_EVAL_TOL
            notes += f", pymdp policy gap {gap:.1e} (<= eps: {gap_ok})"
            extra = {"pymdptoolbox_policy_gap": gap, "pymdptoolbox_policy_gap_ok": gap_ok}
            tolerance = 2 * tol  # boundlab's tol + pymdptoolbox's documented epsilon = tol
        else:
            tolerance = 2 * tol  # both certified ||V - V*|| <= tol
            if it_p != b.iterations:
                tolerance = -math.inf  # not the same sweeps: the row cannot be compared
                notes += f", FAIL: pymdptoolbox did {it_p} sweeps, boundlab {b.iterations}"
        rows.append(_row(
            inst, what, m, iters_boundlab=b.iterations, iters_pymdptoolbox=it_p,
            max_abs_diff=float(np.max(np.abs(b.v - vp))), tolerance=tolerance,
            err_boundlab=err_b, err_pymdptoolbox=err_p, pymdptoolbox_setup_s=setup_vi,
            notes=notes, **extra,
        ))
    return rows


def bench_evaluation(S: int, k: int, repeats: int, log: Callable[[str], None]) -> list:
    """boundlab ``evaluate`` on a sparse model: seconds, reported residual and bound."""
    mdp = random_mdp(SEED, S, A_RANDOM, gamma=GAMMA, successors=k)
    mdp.transition_matrix  # noqa: B018
    policies = {
        "uniform": uniform_policy(mdp),
        "greedy-on-r": deterministic_policy(np.argmax(mdp.r, axis=1), mdp.A),
    }
    rows = []
    for pname, pi in policies.items():
        log(f"  evaluate S={_fmt_S(S)} {pname}")
        m = measure({"boundlab": Timed(lambda pi=pi: evaluate(mdp, pi))}, repeats)
        ev = m.last["boundlab"]
        indep = evaluation_residual(mdp, pi, ev.v)
        bound = indep / (1.0 - mdp.gamma)
        rows.append({
            "case": f"random S={_fmt_S(S)} k={k}", "S": S, "A": mdp.A, "k": k,
            "what": f"evaluate ({pname})", "n": len(m.times["boundlab"]),
            "boundlab_s": m.median("boundlab"), "boundlab_times": m.times["boundlab"],
            "method": ev.method, "residual": ev.residual, "error_bound": ev.error_bound,
            "independent_residual": indep, "independent_error_bound": bound,
            "tolerance": PE_TARGET, "check": "ok" if bound <= PE_TARGET else "FAIL",
        })
    return rows


# -- output ----------------------------------------------------------------------
def _fmt_s(x: float) -> str:
    return f"{x:.3g}" if x >= 1e-3 else f"{x:.2e}"


def _fmt_ratio(x: float) -> str:
    """Two decimals, or two significant digits below 0.1 (0.00017, not 0.00)."""
    return f"{x:.2f}" if x >= 0.1 else f"{x:.2g}"


def markdown(rows: list) -> str:
    head = ("| case | solver | n | boundlab s | pymdptoolbox s | ratio b/p | iters b / p "
            "| max abs(V_b - V_p) | tolerance | check | pymdp setup s | notes |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        if "pymdptoolbox_s" not in r:
            continue
        lines.append(
            f"| {r['case']} | {r['what']} | {r['n']} | {_fmt_s(r['boundlab_s'])} "
            f"| {_fmt_s(r['pymdptoolbox_s'])} | **{_fmt_ratio(r['ratio'])}** "
            f"| {r['iters_boundlab']} / {r['iters_pymdptoolbox']} | {r['max_abs_diff']:.1e} "
            f"| {r['tolerance']:.1e} | {r['check']} | {_fmt_s(r['pymdptoolbox_setup_s'])} "
            f"| {r['notes']} |")
    pe = [r for r in rows if "pymdptoolbox_s" not in r]
    if pe:
        lines += ["", "| case | policy | n | boundlab s | method | reported residual "
                  "| reported error bound | independent error bound | target | check |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in pe:
            lines.append(
                f"| {r['case']} | {r['what']} | {r['n']} | {_fmt_s(r['boundlab_s'])} "
                f"| {r['method']} | {r['residual']:.1e} | {r['error_bound']:.1e} "
                f"| {r['independent_error_bound']:.1e} | {r['tolerance']:.0e} | {r['check']} |")
    return "\n".join(lines)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def solvers_revision() -> str:
    """``git describe`` of the checkout, with ``+dirty`` when solvers/ has local edits."""
    import subprocess

    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True,
                              timeout=10).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD") or "unknown"
        return rev + ("+dirty" if git("status", "--porcelain", "--", "solvers") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_json(path: Path, payload: dict) -> None:
    """Atomic write: temp file in the target directory, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=1)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="skip the S = 1e4 models (runs forest 3/1e3, random 1e3, evaluation 1e5)")
    ap.add_argument("--repeats", type=int, default=5,
                    help="timed repeats of fast cases (slow ones: fewer, see FAST_ROUND)")
    ap.add_argument("--out", type=Path, default=None, help="write all numbers as JSON")
    ap.add_argument("--tol", type=float, default=BELLMAN_TOL,
                    help="value-iteration target ||V - V*||_inf (pymdptoolbox epsilon)")
    ap.add_argument("--successors", type=int, default=5, help="k for the random models")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)  # pymdptoolbox's `P >= 0`

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    k = args.successors
    builders: list[Callable[[], Instance]] = [
        lambda: forest_instance(3), lambda: forest_instance(1000),
        lambda: random_instance(1000, k),
    ]
    if not args.quick:
        builders += [lambda: forest_instance(10_000), lambda: random_instance(10_000, k)]
    # Both sizes run BiCGSTAB unless it fails; the fallback differs (sparse LU up to
    # DIRECT_SOLVE_MAX_STATES = 2e4 states, GMRES above). The table reports the
    # method each evaluate call returned.
    pe_sizes = [100_000] if args.quick else [10_000, 100_000]

    started, revision = _dt.datetime.now(), solvers_revision()
    rows: list = []
    for build in builders:
        inst = build()
        log(f"{inst.name}")
        rows += bench_instance(inst, args.tol, args.repeats, log)
    for S in pe_sizes:
        rows += bench_evaluation(S, k, args.repeats, log)

    meta = {
        "date": started.isoformat(timespec="seconds"),
        "wall_s": (_dt.datetime.now() - started).total_seconds(),
        "machine": platform.platform(), "processor": cpu_model(),
        "cpu_count": os.cpu_count(), "loadavg_at_end": os.getloadavg(),
        "boundlab_revision": revision,
        "python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
        "pymdptoolbox": getattr(mdptoolbox, "__version__", "4.0b3"),
        "gamma": GAMMA, "tol": args.tol, "seed": SEED, "successors": k,
        "repeats": args.repeats, "quick": args.quick,
    }
    print(f"boundlab {meta['boundlab_revision']} vs pymdptoolbox {meta['pymdptoolbox']}, "
          f"{meta['date']}, {meta['cpu_count']} x {meta['processor']}, gamma={GAMMA}, "
          f"tol=eps={args.tol:g}; times are medians in seconds\n")
    print(markdown(rows), end="\n\n")
    fails = [r for r in rows if r["check"] != "ok"]
    hard = [r for r in fails if not r["what"].startswith("VI (own")]
    for r in fails:
        if r["what"].startswith("VI (own"):
            why = (f"pymdptoolbox's span stop returned V with ||V_p - V*|| = "
                   f"{r['err_pymdptoolbox']:.2g} > epsilon = {args.tol:g} after "
                   f"{r['iters_pymdptoolbox']} sweeps (boundlab: {r['iters_boundlab']})")
        elif "max_abs_diff" in r:
            why = f"max |V_b - V_p| = {r['max_abs_diff']:.2g} > tolerance {r['tolerance']:.2g}"
        else:
            why = (f"certified error bound {r['independent_error_bound']:.2g} > "
                   f"target {r['tolerance']:.2g}")
        print(f"FAIL: {r['case']} / {r['what']}: {why}")
    if args.out:
        write_json(args.out, {"meta": meta, "rows": rows})
        log(f"wrote {args.out}")
    return 1 if hard else 0


if __name__ == "__main__":
    sys.exit(main())
