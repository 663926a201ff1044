r"""Figure ``g2d_pair_yield``: informative (correct, incorrect) pairs of a group against p.

For a group of G rollouts with success probability p (G2D, arXiv 2605.21266; notes
§3.1): left, the probability :math:`1-p^G-(1-p)^G` that the group yields at least
one pair; right (log scale), the expected number of cross pairs
:math:`G(G-1)p(1-p)`, maximal (:math:`G(G-1)/4`) at :math:`p=1/2`. Seeded Monte
Carlo estimates (``mc_groups`` groups per point) are drawn as dots and checked
against the closed forms within 5 binomial / sample standard errors
(:class:`MonteCarloMismatch` otherwise); values are per group, not discounted.

``data.csv`` columns: ``G, p, pair_probability, expected_pairs, mc_pair_probability,
mc_expected_pairs`` (the Monte Carlo columns are empty off the Monte Carlo grid).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers.g2d import cross_pair_probability, expected_cross_pairs

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "MonteCarloMismatch", "pair_yield_data"]

CSV_HEADER = ("G", "p", "pair_probability", "expected_pairs", "mc_pair_probability",
              "mc_expected_pairs")

#: Standard errors allowed between a Monte Carlo mean and the closed form: with ~60
#: comparisons per figure, a 5-sigma normal deviation has probability ~6e-5 overall.
MC_SIGMAS = 5.0


class MonteCarloMismatch(AssertionError):
    """A Monte Carlo estimate is further from the closed form than its CLT allowance."""


def pair_yield_data(config: Mapping[str, Any]) -> list[tuple]:
    """Rows of ``CSV_HEADER``: closed forms on a fine p grid, Monte Carlo on a coarse one.

    Parameters
    ----------
    config : mapping
        ``group_sizes``, ``n_p`` (fine grid points), ``mc_p`` (list of p for Monte Carlo),
        ``mc_groups`` (groups per Monte Carlo point) and ``seed``.
    """
    rng = np.random.default_rng(int(config["seed"]))
    n_mc = int(config["mc_groups"])
    rows: list[tuple] = []
    for G in config["group_sizes"]:
        G = int(G)
        for p in np.linspace(0.0, 1.0, int(config["n_p"])):
            p = float(p)
            rows.append((G, p, cross_pair_probability(p, G), expected_cross_pairs(p, G),
                         None, None))
        for p in config["mc_p"]:
            p = float(p)
            j = rng.binomial(1, p, size=(n_mc, G)).sum(axis=1)
            pairs = j * (G - j)
            prob, mean = float(np.mean(pairs > 0)), float(np.mean(pairs))
            exact_prob, exact_mean = cross_pair_probability(p, G), expected_cross_pairs(p, G)
            se_prob = math.sqrt(exact_prob * (1 - exact_prob) / n_mc)
            se_mean = float(np.std(pairs)) / math.sqrt(n_mc)
            # a point-mass case (p in {0, 1}) has zero spread: then demand equality
            if abs(prob - exact_prob) > MC_SIGMAS * se_prob + 1e-12 or \
                    abs(mean - exact_mean) > MC_SIGMAS * se_mean + 1e-12:
                raise MonteCarloMismatch(
                    f"G = {G}, p = {p}: Monte Carlo ({prob}, {mean}) vs closed form "
                    f"({exact_prob}, {exact_mean}), standard errors ({se_prob}, {se_mean})")
            rows.append((G, p, exact_prob, exact_mean, prob, mean))
    return rows


def _plot(rows: list[tuple], config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    with paper_style():
        fig, (ax_p, ax_m) = new_figure(figsize=(6.8, 2.6), ncols=2)
        for i, G in enumerate(int(g) for g in config["group_sizes"]):
            color = OKABE_ITO[i % len(OKABE_ITO)]
            fine = [r for r in rows if r[0] == G and r[4] is None]
            mc = [r for r in rows if r[0] == G and r[4] is not None]
            p = np.array([r[1] for r in fine])
            inner = [r for r in fine if 0 < r[1] < 1]  # log axis: the ends are exactly 0
            ax_p.plot(p, [r[2] for r in fine], color=color, label=rf"$G={G}$")
            ax_m.plot([r[1] for r in inner], [r[3] for r in inner], color=color)
            ax_p.plot([r[1] for r in mc], [r[4] for r in mc], "o", color=color, markersize=2.5)
            mc_in = [r for r in mc if r[5] > 0]
            ax_m.plot([r[1] for r in mc_in], [r[5] for r in mc_in], "o", color=color,
                      markersize=2.5)
        ax_p.set_xlabel(r"success probability $p$")
        ax_p.set_ylabel(r"$\Pr[\geq 1$ pair$]=1-p^G-(1-p)^G$")
        ax_m.set_xlabel(r"success probability $p$")
        ax_m.set_yscale("log")
        ax_m.set_ylabel(r"$E[j(G-j)]=G(G-1)p(1-p)$")
        ax_p.legend(loc="lower center")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = pair_yield_data(config)
    paths = _plot(rows, config, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="g2d_pair_yield",
    caption=(r"G2D: a group of $G$ rollouts with success probability $p$ yields a "
             r"(correct, incorrect) preference pair with probability $1-p^G-(1-p)^G$ (left) "
             r"and $G(G-1)p(1-p)$ such pairs on average (right, log scale); both vanish as "
             r"$p\to0$ or $1$ (overconfident policies give uninformative pairs). Dots: seeded "
             r"Monte Carlo, checked within 5 standard errors."),
    config={"group_sizes": [2, 4, 8, 16], "n_p": 201,
            "mc_p": [0.0, 0.05, 0.2, 0.5, 0.8, 0.95, 1.0], "mc_groups": 20000},
    quick_config={"group_sizes": [2, 4, 8, 16], "n_p": 51, "mc_p": [0.05, 0.5, 0.95],
                  "mc_groups": 2000},
    run=run,
))
