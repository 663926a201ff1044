r"""Figure ``flip_thm8_hoeffding``: how often an infeasible policy passes the S-CPOS sample test.

Flipping paper (Shen et al., NeurIPS 2024, arXiv 2410.06474), Theorem 8; notes
§3.3, §3.7 ("Theorem 8 check"), :mod:`theory.flip_hoeffding` for the
derivation. On a seeded random tabular model with an unsafe set U, a state s
and the uniform policy, the one-step unsafety :math:`q=\sum_a\pi(a|s)P(U|s,a)`
is computed exactly; the levels are set so that the policy is infeasible,
:math:`\delta_s=\rho\,q/(1-\gamma_u)` with :math:`\rho<1`, and
:math:`\tilde\delta_s=\tilde\rho\,\delta_s`. Against the number of samples N:

- the exact pass probability :math:`F_{N,q}(\lfloor N\tilde\delta_s(1-\gamma_u)\rfloor)`
  (binomial CDF in rational arithmetic);
- a Monte Carlo estimate: ``reps`` seeded runs of the test, each simulating N
  successors of s through the model (action, then successor), with a 95 %
  Clopper-Pearson band;
- Theorem 8's bound :math:`\exp\{-2N(\delta_s-\tilde\delta_s)^2(1-\gamma_u)^2\}` and the
  sharper Hoeffding bound :math:`e^{-2Nt^2}`, :math:`t=q-\tilde\delta_s(1-\gamma_u)`.

Asserted while computing (:class:`BoundViolated`): exact <= sharper bound <=
Theorem 8's bound (tolerance as in :func:`theory.flip_hoeffding.hoeffding_evidence`),
and the exact probability lies inside the Monte Carlo Clopper-Pearson interval
at level :math:`1-10^{-6}` (a false alarm has probability below :math:`10^{-6}`
per N). Only the Hoeffding step is illustrated: Theorem 8's conclusion
"feasible for CCRL" relies on Theorem 5, which is false (notes §3.9-A).

``data.csv`` columns: ``N, k_star, exact, mc_rate, mc_low, mc_high, bound_true_q,
bound_thm8, reps, q, delta_s, delta_tilde, gamma_u``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest

from solvers import random_mdp, uniform_policy
from solvers.sample_test import (
    hoeffding_pass_bound,
    pass_count_threshold,
    pass_probability,
    sample_successors_unsafe,
)
from theory.flip_hoeffding import hoeffding_evidence

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "BoundViolated", "hoeffding_figure_data"]

CSV_HEADER = ("N", "k_star", "exact", "mc_rate", "mc_low", "mc_high", "bound_true_q",
              "bound_thm8", "reps", "q", "delta_s", "delta_tilde", "gamma_u")

#: Confidence of the Monte Carlo interval that is *asserted* to contain the exact value.
_ASSERT_CONFIDENCE = 1 - 1e-6
#: Confidence of the plotted band.
_PLOT_CONFIDENCE = 0.95


class BoundViolated(AssertionError):
    """A fact the figure illustrates failed (bound below the exact value, or MC disagrees)."""


def hoeffding_figure_data(config: Mapping[str, Any]) -> list[tuple]:
    r"""Rows of ``data.csv`` (one per N), computed and checked.

    Parameters
    ----------
    config : mapping
        ``S``, ``A`` (model size), ``state`` (the state s), ``n_unsafe`` (the last
        n_unsafe states form U), ``gamma_u``, ``rho`` (:math:`\delta_s=\rho q/(1-\gamma_u)`,
        < 1), ``rho_tilde`` (:math:`\tilde\delta_s/\delta_s`), ``Ns`` (sample sizes),
        ``reps`` (Monte Carlo runs per N), ``seed``.
    """
    seed = int(config["seed"])
    mdp = random_mdp(seed, int(config["S"]), int(config["A"]), gamma=0.9)
    unsafe = np.zeros(mdp.S, bool)
    unsafe[mdp.S - int(config["n_unsafe"]):] = True
    s = int(config["state"])
    pi = uniform_policy(mdp)
    q = float(pi[s] @ mdp.dense_P()[s][:, unsafe].sum(axis=1))
    gu = float(config["gamma_u"])
    ds = float(config["rho"]) * q / (1.0 - gu)
    dt = float(config["rho_tilde"]) * ds
    if not q / (1.0 - gu) > ds > dt >= 0:
        raise ValueError(f"config gives q/(1-gamma_u) = {q / (1 - gu)!r}, delta_s = {ds!r}, "
                         f"delta_tilde = {dt!r}; expected q/(1-gamma_u) > delta_s > delta_tilde")
    rng = np.random.default_rng(seed)
    reps = int(config["reps"])
    rows = []
    for N in (int(n) for n in config["Ns"]):
        exact = float(pass_probability(N, q, dt, gu))
        ev = hoeffding_evidence({"N": N, "q": q, "delta_s": ds, "delta_tilde": dt,
                                 "gamma_u": gu})
        sharp = float(ev.details["hoeffding_at_true_q"])
        bound = hoeffding_pass_bound(N, ds, dt, gu)
        if not ev.holds or exact > sharp * (1 + 1e-12) or sharp > bound * (1 + 1e-12):
            raise BoundViolated(f"flip_thm8_hoeffding: N = {N}: exact {exact!r}, sharper bound "
                                f"{sharp!r}, Theorem 8 bound {bound!r} out of order")
        k_star = pass_count_threshold(N, dt, gu)
        counts = sample_successors_unsafe(mdp, pi, s, unsafe, N * reps, rng).reshape(reps, N)
        passes = int((counts.sum(axis=1) <= k_star).sum())
        test = binomtest(passes, reps)
        wide = test.proportion_ci(_ASSERT_CONFIDENCE, method="exact")
        if not wide.low <= exact <= wide.high:
            raise BoundViolated(f"flip_thm8_hoeffding: N = {N}: exact pass probability {exact!r} "
                                f"outside the Monte Carlo interval [{wide.low!r}, {wide.high!r}] "
                                f"({passes}/{reps} passes)")
        band = test.proportion_ci(_PLOT_CONFIDENCE, method="exact")
        rows.append((N, k_star, exact, passes / reps, float(band.low), float(band.high), sharp,
                     bound, reps, q, ds, dt, gu))
    return rows


def _plot(rows: list[tuple], out_dir: Path) -> dict[str, Path]:
    N = np.array([r[0] for r in rows], float)
    exact, mc, lo, hi = (np.array([r[i] for r in rows]) for i in (2, 3, 4, 5))
    sharp, bound = np.array([r[6] for r in rows]), np.array([r[7] for r in rows])
    reps = rows[0][8]
    floor = 0.3 / reps  # below one Monte Carlo pass: where the log axis is cut
    with paper_style():
        fig, ax = new_figure(figsize=(3.4, 2.7))
        ax.plot(N, bound, color=OKABE_ITO[1], linestyle="--",
                label=r"Thm 8: $e^{-2N(\delta_s-\tilde\delta_s)^2(1-\gamma_u)^2}$")
        ax.plot(N, sharp, color=OKABE_ITO[4], linestyle=":", label=r"Hoeffding at true $q$")
        ax.plot(N, np.maximum(exact, floor * 1e-3), color=OKABE_ITO[0], marker="o",
                markersize=2.5, label="exact (binomial CDF)")
        ax.fill_between(N, np.maximum(lo, floor), np.maximum(hi, floor), color=OKABE_ITO[2],
                        alpha=0.25, linewidth=0, label="Monte Carlo 95% band")
        pos = mc > 0
        ax.plot(N[pos], mc[pos], color=OKABE_ITO[2], marker="x", linestyle="none",
                markersize=3.5, label=f"Monte Carlo ({reps} runs)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(floor, 1.5)
        ax.set_xlabel(r"samples $N$")
        ax.set_ylabel("P(infeasible policy passes)")
        ax.legend(loc="lower left")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = hoeffding_figure_data(config)
    paths = _plot(rows, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="flip_thm8_hoeffding",
    caption=(r"Theorem 8 of the flipping paper, Hoeffding step: probability that a policy "
             r"violating the one-step constraint $q/(1-\gamma_u)\le\delta_s$ passes the S-CPOS "
             r"sample test $\frac{1}{(1-\gamma_u)N}\sum_i 1\{s^{+,(i)}\in U\}\le\tilde\delta_s$, "
             r"against the number of samples $N$ (seeded random model, uniform policy): exact "
             r"binomial CDF, Monte Carlo simulation of the chain with a 95% Clopper-Pearson "
             r"band, the printed bound and the sharper Hoeffding bound at the true $q$. The "
             r"exact value is checked to lie below both bounds and inside the Monte Carlo "
             r"interval. Theorem 8's conclusion (feasibility for CCRL) additionally relies on "
             r"Theorem 5, which is false (notes §3.9-A)."),
    config={"S": 6, "A": 3, "state": 0, "n_unsafe": 2, "gamma_u": 0.9, "rho": 0.9,
            "rho_tilde": 0.85, "reps": 4000,
            "Ns": [1, 2, 5, 10, 20, 30, 50, 80, 120, 200, 300, 500, 800, 1200]},
    quick_config={"S": 6, "A": 3, "state": 0, "n_unsafe": 2, "gamma_u": 0.9, "rho": 0.9,
                  "rho_tilde": 0.85, "reps": 1000, "Ns": [1, 3, 10, 30, 100, 200, 400]},
    run=run,
))
