r"""Figure ``bilevel_scaling``: wall time per hypergradient against the leader dimension n.

One fixed sparse random configurable MDP (:func:`solvers.random_mdp` with ``successors``
per (s, a), fixed kernel), follower reward :math:`r_F=r_0+\Phi_Fx` and leader reward
:math:`r_U=u_0+\Phi_Ux` with Gaussian features scaled by :math:`1/\sqrt{n_{max}}`; the
model for dimension n uses the first n feature columns, so the family is nested. For each n,
medians over interleaved repeats (``time.perf_counter``) of

- **exact**: :func:`solvers.hypergradient.bilevel_point` (certified soft policy iteration,
  leader and implicit linear solves) and ``gradient("implicit")``;
- **finite differences**: central differences :math:`(F(x+he_i)-F(x-he_i))/(2h)`, i.e.
  2n certified follower solves, each followed by one leader evaluation
  :math:`V_U=(I-\gamma_UP_\pi)^{-1}r_{U,\pi}` (:func:`leader_value`; no Jacobians);
- **sampled**: the BC-HG estimator :func:`solvers.hypergradient_sampling.
  sampled_hypergradient` from ``N`` trajectories of :func:`default_horizon` steps, given
  the exact critics (the follower solve is *not* included: an agent would learn critics).

Values are :math:`E[\sum_t\gamma^tr_t]` (not scaled by :math:`1-\gamma`). While the data
are computed, the finite-difference gradient must agree with the exact one to
``fd_rel_tol`` relative and the sampled mean must be within ``z_max`` standard errors of it
in every component (:class:`GradientsDisagree` otherwise). Timings depend on the machine
and its load, so two runs give different ``data.csv`` bytes (unlike the other figures).

``data.csv`` columns: ``n, method, repeats, median_s, min_s, max_s, agreement`` where
``agreement`` is 0 for exact, the relative sup-norm error for finite differences and the
largest |z| for the sampled estimator.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from solvers import random_mdp
from solvers.configurable_mdp import ConfigurableMDP, FixedKernel, LinearReward
from solvers.hypergradient import bilevel_point
from solvers.hypergradient_sampling import sampled_hypergradient
from solvers.soft_dp import policy_kernel, precise_tol, soft_policy_iteration

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "GradientsDisagree", "central_difference", "leader_value",
           "scaling_model", "scaling_rows"]

CSV_HEADER = ("n", "method", "repeats", "median_s", "min_s", "max_s", "agreement")
METHODS = ("exact", "finite_difference", "sampled")


class GradientsDisagree(AssertionError):
    """Finite differences or the sampled estimator disagree with the exact hypergradient."""


def scaling_model(S: int, A: int, n: int, n_max: int, successors: int, seed: int,
                  gamma: float, tau: float) -> tuple[ConfigurableMDP, np.ndarray]:
    """The nested family: the first n of ``n_max`` feature columns; returns (model, x)."""
    base = random_mdp(seed, S, A, gamma=gamma, successors=successors)
    rng = np.random.default_rng([seed, S, A, n_max])
    Phi_F = rng.normal(size=(S, A, n_max)) / np.sqrt(n_max)
    Phi_U = rng.normal(size=(S, A, n_max)) / np.sqrt(n_max)
    u0 = rng.uniform(size=(S, A))
    x = 0.3 * rng.normal(size=n_max)
    model = ConfigurableMDP(LinearReward(base.r, Phi_F[..., :n]),
                            LinearReward(u0, Phi_U[..., :n]), FixedKernel(base.P), base.mu0,
                            gamma, gamma, tau, n)
    return model, x[:n].copy()


def leader_value(model: ConfigurableMDP, x: np.ndarray, tol: float | None = None) -> float:
    r""":math:`F(x)=\mu_0^\top(I-\gamma_UP_\pi)^{-1}\sum_a\pi r_U` after a certified follower
    solve (soft policy iteration; ``tol`` None: the tightest reachable, as the exact path)."""
    d = model.at(x)
    fol = d["follower"]
    if tol is None:
        tol = precise_tol(fol, model.tau)
    pi = soft_policy_iteration(fol, model.tau, tol).require().pi
    lead = d["leader"]
    M = sp.identity(lead.S, format="csc") - model.gamma_U * policy_kernel(lead, pi).tocsc()
    V = spla.spsolve(M, (pi * lead.r).sum(axis=1))
    return float(model.mu0 @ V)


def central_difference(model: ConfigurableMDP, x: np.ndarray, h: float) -> np.ndarray:
    r"""Central differences :math:`(F(x+he_i)-F(x-he_i))/(2h)`, 2n follower solves."""
    g = np.empty(model.n)
    for i in range(model.n):
        e = np.zeros(model.n)
        e[i] = h
        g[i] = (leader_value(model, x + e) - leader_value(model, x - e)) / (2 * h)
    return g


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def scaling_rows(config: Mapping[str, Any]) -> list[tuple]:
    """One row per (n, method); raises GradientsDisagree (see the module docstring)."""
    S, A, k = int(config["S"]), int(config["A"]), int(config["successors"])
    ns = [int(n) for n in config["ns"]]
    seed, reps, N = int(config["seed"]), int(config["repeats"]), int(config["N"])
    rows = []
    for n in ns:
        model, x = scaling_model(S, A, n, max(ns), k, seed, float(config["gamma"]),
                                 float(config["tau"]))
        times: dict[str, list[float]] = {m: [] for m in METHODS}
        h = float(config["h"])
        for r in range(reps):  # interleaved: every method sees the same load
            dt, point = _timed(partial(bilevel_point, model, x, None))
            dt2, g = _timed(partial(point.gradient, "implicit"))
            times["exact"].append(dt + dt2)
            dt, fd = _timed(partial(central_difference, model, x, h))
            times["finite_difference"].append(dt)
            rng = np.random.default_rng([seed, n, r])
            dt, smp = _timed(partial(sampled_hypergradient, point, N, rng))
            times["sampled"].append(dt)
        scale = float(np.abs(g).max())
        fd_rel = float(np.abs(fd - g).max()) / scale
        z = float(np.max(np.abs(smp.mean - g) / smp.stderr))
        if fd_rel > float(config["fd_rel_tol"]):
            raise GradientsDisagree(f"n = {n}: finite differences off by {fd_rel:.3g} relative"
                                    f" > {config['fd_rel_tol']}")
        if z > float(config["z_max"]):
            raise GradientsDisagree(f"n = {n}: sampled mean {z:.2f} standard errors from the "
                                    f"exact gradient > {config['z_max']}")
        for m, agree in (("exact", 0.0), ("finite_difference", fd_rel), ("sampled", z)):
            t = times[m]
            rows.append((n, m, reps, statistics.median(t), min(t), max(t), agree))
    return rows


def _plot(rows: list[tuple], out_dir: Path) -> dict[str, Path]:
    labels = {"exact": "exact (implicit differentiation)",
              "finite_difference": "central finite differences (2n solves)",
              "sampled": "sampled BC-HG (fixed N, critics given)"}
    with paper_style():
        fig, ax = new_figure(figsize=(3.4, 2.8))
        for i, m in enumerate(METHODS):
            sel = [r for r in rows if r[1] == m]
            ns = np.array([r[0] for r in sel], float)
            med = np.array([r[3] for r in sel])
            ax.plot(ns, med, marker="o", markersize=3, color=OKABE_ITO[i], label=labels[m])
            ax.fill_between(ns, [r[4] for r in sel], [r[5] for r in sel], color=OKABE_ITO[i],
                            alpha=0.2, linewidth=0)
        fd = [r for r in rows if r[1] == "finite_difference"]
        n0, t0 = fd[0][0], fd[0][3]
        ns = np.array([r[0] for r in fd], float)
        ax.plot(ns, t0 * ns / n0, color="0.5", linestyle=":", linewidth=0.8, label="slope 1")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("leader dimension n")
        ax.set_ylabel("wall time per hypergradient (s)")
        ax.legend(fontsize=6)
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Time, check agreement, plot; writes figure.png, figure.pdf and data.csv."""
    rows = scaling_rows(config)
    paths = _plot(rows, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="bilevel_scaling",
    caption=(r"Wall time per hypergradient against the leader dimension $n$ on one sparse "
             r"random configurable MDP (fixed kernel, linear reward features): exact implicit "
             r"differentiation (one certified soft solve and linear solves with $n$ right-hand "
             r"sides), central finite differences ($2n$ certified soft solves; grows like "
             r"$n$, dotted line) and the sampled BC-HG estimator from a fixed number of "
             r"trajectories given exact critics (cost linear in $n$ through the per-step "
             r"gradients). Medians over interleaved repeats; bands span min to max. Finite "
             r"differences agree with the exact gradient to 1e-6 relative and the sampled mean "
             r"is within the stated number of standard errors at every $n$ (checked while the "
             r"data are computed). Timings depend on machine load."),
    config={"S": 300, "A": 8, "successors": 10, "ns": [1, 2, 4, 8, 16, 32, 64], "gamma": 0.8,
            "tau": 1.0, "N": 2000, "repeats": 3, "h": 1e-4, "fd_rel_tol": 1e-6,
            "z_max": 5.0},
    quick_config={"S": 60, "A": 4, "successors": 10, "ns": [1, 4, 16], "gamma": 0.8,
                  "tau": 1.0, "N": 300, "repeats": 3, "h": 1e-4, "fd_rel_tol": 1e-6,
                  "z_max": 5.0},
    run=run,
    deterministic=False,  # timings: made by `boundlab figures bilevel_scaling`, not reproduce
))
