r"""Figure ``bilevel_mc_rate``: RMSE of the sampled BC-HG hypergradient against N.

On one seeded random configurable MDP of the notes' §4 design
(:func:`~experiments.figures.bilevel_estimator_diagnostics.notes_model`; values
:math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`), R independent replicates of
``N_max`` single-trajectory BC-HG samples (exact critics, bilevel notes §1.4) are drawn;
for each N of the grid (dividing ``N_max``) the means of the :math:`RN_{max}/N` disjoint
blocks of N consecutive samples give

.. math::
    \mathrm{RMSE}(N)=\Big(\frac{N}{RN_{max}}\sum_b\|\bar g_{b,N}-\nabla F\|_2^2\Big)^{1/2},
    \qquad\text{predicted: }\sqrt{\mathrm{tr}\,\hat\Sigma/N},

with :math:`\nabla F` from forward-mode implicit differentiation and :math:`\hat\Sigma` the
covariance of an *independent* pool of ``M`` samples. The least-squares slope of
:math:`\log\mathrm{RMSE}` against :math:`\log N` is printed and stored in ``fit.json``
(expected -1/2: the estimator is unbiased and the trajectories independent; the
theorem ``bilevel.mc_rate`` tests the underlying variance law per component).
Every point uses the same R N_max samples, so the points are positively correlated;
the slope is still consistent, and the largest N (R blocks) is the noisiest.

``data.csv`` columns: ``N, rmse, predicted_rmse, ratio`` (ratio
:math:`=N\,\mathrm{MSE}/\mathrm{tr}\hat\Sigma`, 1 in expectation).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers.hypergradient import bilevel_point
from solvers.hypergradient_sampling import sampled_hypergradient

from ..store import atomic_write_text
from . import Figure, register_figure
from .bilevel_estimator_diagnostics import notes_model
from .bilevel_penalty_closeness import loglog_slope
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["CSV_HEADER", "FIGURE", "mc_rate_data"]

CSV_HEADER = ("N", "rmse", "predicted_rmse", "ratio")


def mc_rate_data(config: Mapping[str, Any]) -> tuple[list[tuple], dict[str, Any]]:
    """Rows of ``data.csv`` and the fit (slope, intercept, trace of the covariance)."""
    m, x = notes_model(config, 0)
    p = bilevel_point(m, x)
    mu = p.gradient("implicit")
    R, Nmax, M = int(config["R"]), int(config["N_max"]), int(config["M"])
    rng = np.random.default_rng([int(config["seed"]), 5])
    reps = sampled_hypergradient(p, R * Nmax, rng).samples.reshape(R, Nmax, m.n)
    pool = sampled_hypergradient(p, M, rng).samples
    tr = float(pool.var(axis=0, ddof=1).sum())
    flat = reps.reshape(R * Nmax, m.n)
    rows = []
    for N in sorted(int(v) for v in config["Ns"]):
        if N < 1 or Nmax % N:
            raise ValueError(f"N = {N} must divide N_max = {Nmax}")
        # all R * N_max / N disjoint blocks of N consecutive samples (each replicate is
        # split), so small N are estimated from many blocks, not just R
        means = flat.reshape(R * Nmax // N, N, m.n).mean(axis=1)
        mse = float(((means - mu) ** 2).sum(axis=1).mean())
        rows.append((N, float(np.sqrt(mse)), float(np.sqrt(tr / N)), N * mse / tr))
    Ns, rmse = [r[0] for r in rows], [r[1] for r in rows]
    slope = loglog_slope(Ns, rmse)
    intercept = float(np.mean(np.log(rmse)) - slope * np.mean(np.log(Ns)))
    fit = {"slope": slope, "intercept_log": intercept, "trace_cov": tr, "R": R, "M": M,
           "N_max": Nmax, "grad_norm": float(np.linalg.norm(mu))}
    return rows, fit


def _plot(rows: list[tuple], fit: dict, out_dir: Path) -> dict[str, Path]:
    N = np.array([r[0] for r in rows], float)
    with paper_style():
        fig, ax = new_figure()
        ax.loglog(N, [r[1] for r in rows], "o", markersize=3.5, color=OKABE_ITO[0],
                  label=f"BC-HG, {fit['R'] * fit['N_max']} samples in blocks of N")
        ax.loglog(N, np.exp(fit["intercept_log"]) * N ** fit["slope"], "-", color=OKABE_ITO[0],
                  label=f"fit: slope {fit['slope']:.3f}")
        ax.loglog(N, [r[2] for r in rows], "--", color="k",
                  label=r"$\sqrt{\mathrm{tr}\,\hat\Sigma/N}$ (slope $-1/2$)")
        ax.set_xlabel("trajectories N")
        ax.set_ylabel(r"RMSE $\|\bar g_N-\nabla F\|$")
        ax.legend(loc="upper right")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, fit and plot; writes figure.png/.pdf, data.csv and fit.json."""
    rows, fit = mc_rate_data(config)
    print(f"bilevel_mc_rate: fitted log-log slope of RMSE vs N: {fit['slope']:.4f} "
          f"(expected -0.5)")
    paths = _plot(rows, fit, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    paths["fit"] = atomic_write_text(Path(out_dir) / "fit.json",
                                     json.dumps(fit, indent=1, sort_keys=True) + "\n")
    return paths


_BASE = {"S": 5, "A": 3, "n": 4, "alpha": 1.0, "tau": 0.5, "gamma_F": 0.9, "gamma_U": 0.8}

FIGURE = register_figure(Figure(
    name="bilevel_mc_rate",
    caption=(r"Monte-Carlo rate of the single-trajectory BC-HG hypergradient on a random "
             r"configurable MDP ($S=5$, $A=3$, $n=4$, $\tau=0.5$, $\gamma_F=0.9$, "
             r"$\gamma_U=0.8$): RMSE of the mean of N samples against the exact hypergradient, "
             r"over disjoint blocks of N, log-log, with the fitted slope and the prediction "
             r"$\sqrt{\mathrm{tr}\,\Sigma/N}$ from an independent variance estimate."),
    config={**_BASE, "R": 100, "N_max": 3000, "M": 20000,
            "Ns": [1, 3, 10, 30, 100, 300, 1000, 3000]},
    quick_config={**_BASE, "R": 20, "N_max": 300, "M": 2000,
                  "Ns": [1, 3, 10, 30, 100, 300]},
    run=run,
))
