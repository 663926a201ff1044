r"""Figure ``poisoning_rounding`` (F-A4, F-A5): rounding PCM to m annotations.

Gaussian features (feat_dim x n_pairs), :math:`\theta_O=1`, random-flip attack. Left (F-A4):
for each m, PCM's l1 vertex is rounded to :math:`\Theta_m`; plotted against m (medians over
seeds): the extra flips :math:`m\|\theta_{round}-\theta_O\|_1-m\,OPT_{LP}` with its bound
:math:`\mathrm{rank}(\Phi)`, and the effect lost to rounding, the relative residual
:math:`\|\Phi(\theta_{round}-\theta_A)\|_2/\|\Phi\Delta\|_2`, with its bound
:math:`\mathrm{rank}(\Phi)\max_i\|\phi_i\|_2/(m\|\Phi\Delta\|_2)` (notes §1.6; both bounds
checked on every instance, :class:`ClaimViolated`). Right (F-A5): histogram of the number of
fractional coordinates of the LP vertex, which never exceeds :math:`\mathrm{rank}(\Phi)`.

The refit Bradley-Terry parameter deviation of F-A4 is not plotted (the BT fit lives in
``solvers/bt_fit.py``, another issue's module).

``data.csv`` columns: ``m, seed, extra_flips, rank, residual_rel, residual_bound_rel,
n_fractional``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers.poisoning import PoisoningInstance
from solvers.poisoning_attacks import random_flips
from solvers.poisoning_rounding import post_process

from . import Figure, register_figure
from .poisoning_cost_vs_pairs import ClaimViolated
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "rounding_rows"]

CSV_HEADER = ("m", "seed", "extra_flips", "rank", "residual_rel", "residual_bound_rel",
              "n_fractional")
_TOL = 1e-6  # LP values: HiGHS tolerance 1e-9 times n_pairs, 100x margin


def rounding_rows(config: Mapping[str, Any]) -> list[tuple]:
    """One row per (m, seed); raises ClaimViolated if a rounding bound fails."""
    fd, n = int(config["feat_dim"]), int(config["n_pairs"])
    rows = []
    for s in range(int(config["seeds"])):
        rng = np.random.default_rng([int(config["seed"]), s])
        Phi = rng.standard_normal((fd, n))
        theta_A = random_flips(np.ones(n), max(1, round(float(config["flip_frac"]) * n)), rng)
        scale = float(np.linalg.norm(Phi @ (theta_A - 1)))
        for m in config["ms"]:
            pp = post_process(PoisoningInstance(Phi, np.ones(n), theta_A=theta_A, m=int(m)))
            extra = pp.rounded_flips - pp.lp_flips
            if extra > pp.rank + _TOL or pp.residual > pp.rank_residual_bound + _TOL:
                raise ClaimViolated(f"rounding bound fails at m = {m}, seed {s}: extra {extra} "
                                    f"(rank {pp.rank}), residual {pp.residual} > "
                                    f"{pp.rank_residual_bound}")
            if pp.n_fractional > pp.rank:
                raise ClaimViolated(f"{pp.n_fractional} fractional coordinates > rank {pp.rank}")
            rows.append((int(m), s, extra, pp.rank, pp.residual / scale,
                         pp.rank_residual_bound / scale, pp.n_fractional))
    return rows


def _plot(rows: list[tuple], out_dir: Path) -> dict[str, Path]:
    ms = sorted({r[0] for r in rows})

    def med(col: int) -> list[float]:
        return [float(np.median([r[col] for r in rows if r[0] == m])) for m in ms]

    with paper_style():
        fig, (ax, ax2) = new_figure(figsize=(6.8, 2.6), ncols=2)
        ax.plot(ms, med(4), color=OKABE_ITO[0], marker=".", label="relative residual")
        ax.plot(ms, med(5), color=OKABE_ITO[0], linestyle=":", label="its bound")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("annotations per pair m (log)")
        ax.set_ylabel(r"$\|\Phi(\theta_{round}-\theta_A)\|/\|\Phi\Delta\|$")
        axr = ax.twinx()
        axr.plot(ms, med(2), color=OKABE_ITO[1], marker="x", label="extra flips")
        axr.axhline(float(rows[0][3]), color=OKABE_ITO[1], linestyle=":", linewidth=0.8,
                    label=r"rank$(\Phi)$ bound")
        axr.set_ylabel("extra flips from rounding")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = axr.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=6, loc="center left")
        frac = [r[6] for r in rows if r[0] == ms[0]]
        rank = rows[0][3]
        ax2.hist(frac, bins=np.arange(-0.5, rank + 1.5), color=OKABE_ITO[2])
        ax2.axvline(rank, color="0.3", linestyle="--", linewidth=0.8)
        ax2.set_xlabel(f"fractional coords. of the LP vertex (rank {rank})")
        ax2.set_ylabel("instances")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = rounding_rows(config)
    paths = _plot(rows, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="poisoning_rounding",
    caption=(r"Rounding PCM's LP vertex to $m$ annotations per pair (Gaussian features, "
             r"$\theta_O=1$, random flips of 10\% of the pairs). Left: the effect lost to "
             r"rounding, $\|\Phi(\theta_{round}-\theta_A)\|_2/\|\Phi\Delta\|_2$, with its bound "
             r"$\mathrm{rank}(\Phi)\max_i\|\phi_i\|_2/(m\|\Phi\Delta\|_2)$, and the extra flips "
             r"with their bound $\mathrm{rank}(\Phi)$ (medians over seeds). Right: number of "
             r"fractional coordinates of the LP vertex, at most $\mathrm{rank}(\Phi)$."),
    config={"feat_dim": 16, "n_pairs": 320, "ms": [1, 2, 3, 5, 10, 20, 50], "seeds": 40,
            "flip_frac": 0.1},
    quick_config={"feat_dim": 4, "n_pairs": 60, "ms": [1, 5, 20], "seeds": 6,
                  "flip_frac": 0.1},
    run=run,
))
