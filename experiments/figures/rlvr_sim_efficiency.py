r"""Figure ``rlvr_sim_efficiency``: learning efficiency against the relative budget, simulated.

For a population of tasks whose time to the first correct solution follows the
reasoning-chain law of :mod:`solvers.rlvr_simulation` (:math:`T\mid x\sim\mathrm{NegBin}(k,
\sigma(\theta_x))`, :math:`\log\mu_x` spread around :math:`\bar\mu`), GRPO-style training is
run at budgets :math:`H` chosen so that :math:`\xi_0=H/\bar\mu_0` spans ``xi_min`` to ``xi_max``,
with ``n_seeds`` seeds per budget. The efficiency of a run is
:math:`(J_n-J_0)/\sum_i\mathrm{tokens}_i` (tokens per task, :math:`\min(T,H)` per rollout)
for three exact metrics :math:`J`: accuracy :math:`\bar q`, :math:`\overline{E[R]}/H` and
:math:`\overline{E[R]}` (paper reward :math:`R=(H-T+1)\mathbb 1\{T\le H\}`, undiscounted),
with training on the binary or the paper reward. Plotted: efficiency relative to its
maximum against :math:`\xi_0`, a 95% bootstrap band over seeds, the peak (log-parabolic
interpolation of the seed-mean curve) with its bootstrap interval, the paper's empirical
band [1.5, 2.0] and the idealised peak range 1.1-1.5 (notes §2.4).

``data.csv`` columns: ``shape, reward, metric, H, xi0, xi_end, efficiency, lo, hi``
(``xi_end`` = seed-mean :math:`\xi` after the run, to show the drift);
``peaks.csv``: ``shape, reward, metric, xi_peak, lo, hi, interior``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers.rlvr_simulation import lognormal_population, sweep_budgets

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "METRICS", "efficiency_data", "peak_location"]

CSV_HEADER = ("shape", "reward", "metric", "H", "xi0", "xi_end", "efficiency", "lo", "hi")
PEAK_HEADER = ("shape", "reward", "metric", "xi_peak", "lo", "hi", "interior")
#: Efficiency metrics (see :meth:`solvers.rlvr_simulation.SimulationResult.efficiency`).
METRICS: tuple[str, ...] = ("accuracy", "reward", "reward_raw")
_METRIC_LABEL = {"accuracy": r"$\Delta$accuracy / token", "reward": r"$\Delta E[R]/H$ / token",
                 "reward_raw": r"$\Delta E[R]$ / token"}
PAPER_BAND = (1.5, 2.0)  # empirical optimum of arXiv 2602.01523 (abstract)
IDEALISED_BAND = (1.1, 1.5)  # peak of ac * Var(R)/H^2 for k = 1..8 (notes §2.4 table)


def peak_location(xi: np.ndarray, eff: np.ndarray) -> tuple[float, bool]:
    r"""The :math:`\xi` maximising ``eff``: vertex of the parabola in :math:`\log\xi` through
    the grid maximum and its two neighbours; the grid end (``interior=False``) if the maximum
    is at an end of the grid. ``eff`` has shape (n,) or (n, m) (then one peak per column).
    """
    lx = np.log(np.asarray(xi, dtype=float))
    e = np.asarray(eff, dtype=float)
    i = int(np.argmax(e))
    if i == 0 or i == len(e) - 1:
        return float(xi[i]), False
    x0, x1, x2 = lx[i - 1:i + 2]
    y0, y1, y2 = e[i - 1:i + 2]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2**2 * (y0 - y1) + x1**2 * (y2 - y0) + x0**2 * (y1 - y2)) / denom
    # the grid maximum makes a <= 0; a == 0 (three equal values) keeps the grid point
    vertex = -b / (2 * a) if a < 0 else x1
    return float(np.exp(np.clip(vertex, x0, x2))), True


def efficiency_data(config: Mapping[str, Any], progress: bool = False,
                    ) -> tuple[list[tuple], list[tuple]]:
    """Rows of ``data.csv`` and ``peaks.csv`` for ``config`` (see the module docstring)."""
    seed = int(config["seed"])
    seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(int(config["n_seeds"]))]
    boot_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31,)))
    n_boot = int(config["n_boot"])
    rows: list[tuple] = []
    peaks: list[tuple] = []
    for shape in config["shapes"]:
        pop = lognormal_population(int(config["n_tasks"]), float(config["mean_T"]), int(shape),
                                   float(config["spread"]))
        mu_bar = float(np.mean(pop.mean_T))
        grid = np.geomspace(config["xi_min"], config["xi_max"], int(config["n_budgets"]))
        budgets = sorted({max(1, round(mu_bar * x)) for x in grid})
        for reward in config["rewards"]:
            runs = sweep_budgets(pop, budgets, seeds, G=int(config["G"]),
                                 n_iter=int(config["n_iter"]), lr=float(config["lr"]),
                                 reward=reward, progress=progress)
            xi0 = np.array([r[0].xi[0] for r in runs])
            xi_end = np.array([np.mean([s.xi[-1] for s in r]) for r in runs])
            resample = boot_rng.integers(0, len(seeds), size=(n_boot, len(seeds)))
            for metric in METRICS:
                eff = np.array([[s.efficiency(metric) for s in r] for r in runs])
                if not np.all(np.isfinite(eff)):
                    raise FloatingPointError(f"rlvr_sim_efficiency: non-finite efficiency "
                                             f"for shape {shape}, {reward}, {metric}")
                boot = eff[:, resample].mean(axis=2)  # (n_budgets, n_boot)
                lo, hi = np.percentile(boot, [2.5, 97.5], axis=1)
                mean = eff.mean(axis=1)
                rows += [(int(shape), reward, metric, int(H), float(x0), float(x1), float(m),
                          float(a), float(b))
                         for H, x0, x1, m, a, b in zip(budgets, xi0, xi_end, mean, lo, hi,
                                                       strict=True)]
                xi_peak, interior = peak_location(xi0, mean)
                boot_peaks = [peak_location(xi0, boot[:, j])[0] for j in range(n_boot)]
                p_lo, p_hi = np.percentile(boot_peaks, [2.5, 97.5])
                peaks.append((int(shape), reward, metric, xi_peak, float(p_lo), float(p_hi),
                              interior))
    return rows, peaks


def _plot(rows: list[tuple], peaks: list[tuple], config: Mapping[str, Any],
          out_dir: Path) -> dict[str, Path]:
    """Rows: reward trained on; columns: metric. Curves: shapes, normalised to their maximum."""
    rewards, shapes = list(config["rewards"]), list(config["shapes"])
    with paper_style():
        fig = new_figure(figsize=(7.0, 2.1 * len(rewards)))[0]
        fig.clear()
        axes = fig.subplots(len(rewards), len(METRICS), squeeze=False, sharex=True)
        for i, reward in enumerate(rewards):
            for j, metric in enumerate(METRICS):
                ax = axes[i, j]
                ax.axvspan(*PAPER_BAND, color="0.85", zorder=0, label="paper: [1.5, 2]")
                ax.axvspan(*IDEALISED_BAND, color="#F0E442", alpha=0.35, zorder=0,
                           label="idealised: 1.1-1.5")
                for c, shape in enumerate(shapes):
                    sel = [r for r in rows if r[:3] == (shape, reward, metric)]
                    x = np.array([r[4] for r in sel])
                    top = max(r[6] for r in sel)
                    color = OKABE_ITO[c % len(OKABE_ITO)]
                    ax.plot(x, [r[6] / top for r in sel], color=color, label=f"k = {shape}")
                    ax.fill_between(x, [r[7] / top for r in sel], [r[8] / top for r in sel],
                                    color=color, alpha=0.25, linewidth=0)
                    pk = next(p for p in peaks if p[:3] == (shape, reward, metric))
                    ax.errorbar([pk[3]], [1.03 + 0.04 * c], xerr=[[pk[3] - pk[4]], [pk[5] - pk[3]]],
                                fmt="v", color=color, markersize=3, capsize=1.5, linewidth=0.8)
                ax.set_xscale("log")
                ax.set_ylim(-0.02, 1.05 + 0.04 * len(shapes))
                if i == 0:
                    ax.set_title(_METRIC_LABEL[metric])
                if i == len(rewards) - 1:
                    ax.set_xlabel(r"initial relative budget $\xi_0=H/\bar\mu_0$")
                if j == 0:
                    ax.set_ylabel(f"trained on {reward} reward\nefficiency / max")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels))
        fig.tight_layout(pad=0.3, rect=(0.0, 0.06, 1.0, 1.0))
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Simulate, plot; writes figure.png, figure.pdf, data.csv and peaks.csv into ``out_dir``."""
    out_dir = Path(out_dir)
    rows, peaks = efficiency_data(config, progress=bool(config.get("progress", False)))
    paths = _plot(rows, peaks, config, out_dir)
    paths["csv"] = write_csv(out_dir / "data.csv", CSV_HEADER, rows)
    paths["peaks"] = write_csv(out_dir / "peaks.csv", PEAK_HEADER, peaks)
    return paths


_COMMON = {"mean_T": 256.0, "spread": 0.5, "rewards": ["binary", "paper"], "G": 8,
           "lr": 0.02, "xi_min": 0.1, "xi_max": 10.0}

FIGURE = register_figure(Figure(
    name="rlvr_sim_efficiency",
    caption=(r"Token-level RLVR simulation: learning efficiency (improvement per token spent, "
             r"tokens $=\sum\min(T,H)$) against the initial relative budget $\xi_0=H/\bar\mu_0$, "
             r"for a reasoning-chain policy ($T\mid x\sim$ NegBin$(k,\sigma(\theta_x))$) trained "
             r"by a GRPO-style update on the binary (top) or the paper's reward (bottom); "
             r"columns: accuracy, $E[R]/H$, $E[R]$. Each curve is divided by its maximum; "
             r"bands: 95% bootstrap over seeds; triangles: peak with its bootstrap interval. "
             r"Grey: the paper's empirical optimum [1.5, 2]; yellow: the idealised peak range."),
    config={**_COMMON, "n_tasks": 512, "shapes": [1, 2, 4, 8], "n_iter": 10, "n_budgets": 25,
            "n_seeds": 16, "n_boot": 1000},
    quick_config={**_COMMON, "n_tasks": 64, "shapes": [1, 4], "n_iter": 4, "n_budgets": 9,
                  "n_seeds": 3, "n_boot": 200},
    run=run,
))
