r"""Figure ``safemil_bag_size``: probability of the correct score order against bag size.

For each :math:`\alpha` (fraction of preferred trajectories in :math:`D^U`) and bag size
:math:`n_{bag}` (the paper's K), :math:`\Pr(\mathrm{Score}(\mathcal B_n)>
\mathrm{Score}(\mathcal B_u))` is computed exactly (distribution of both bag sums) for

- homogeneous non-preferred costs (all :math:`C_N`), where SafeMIL's Theorem 1 says it is
  :math:`1-(1-\alpha)^{n_{bag}}`; the figure checks equality in rational arithmetic;
- heterogeneous non-preferred costs (same preferred costs), where it is not;

with a Monte Carlo estimate of the heterogeneous case (95 % normal intervals), checked
against the exact value within 5 standard errors plus 1/N. Mirrors the paper's
bag-size ablation (notes §6.2).

``data.csv`` columns: ``alpha, n_bag, closed_form, exact_homogeneous,
exact_heterogeneous, mc_heterogeneous, mc_std_error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from solvers.safemil import (
    CostDistribution,
    bag_hit_probability,
    score_order_mc,
    score_order_probability,
)

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["CSV_HEADER", "FIGURE", "OrderCheckFailed", "safemil_bag_size_data"]

CSV_HEADER = ("alpha", "n_bag", "closed_form", "exact_homogeneous", "exact_heterogeneous",
              "mc_heterogeneous", "mc_std_error")


class OrderCheckFailed(AssertionError):
    """The exact homogeneous probability differs from the closed form, or MC from exact."""


def safemil_bag_size_data(config: Mapping[str, Any]) -> list[tuple]:
    """Rows for every (alpha, n_bag) of the config; raises OrderCheckFailed."""
    pref = CostDistribution.of(config["costs_pref"], field="costs_pref")
    homo = CostDistribution.of([config["cost_nonpref"]], field="cost_nonpref")
    hetero = CostDistribution.of(config["costs_nonpref_hetero"], field="costs_nonpref_hetero")
    n_mc = int(config["n_mc"])
    rng = np.random.default_rng(int(config["seed"]))
    rows = []
    for alpha_str in config["alphas"]:
        alpha = Fraction(alpha_str)
        for n in config["bag_sizes"]:
            closed = bag_hit_probability(alpha, int(n))
            exact_h = score_order_probability(homo, pref, alpha, int(n)).greater
            if exact_h != closed:
                raise OrderCheckFailed(f"alpha = {alpha}, n_bag = {n}: exact {exact_h} != "
                                       f"closed form {closed}")
            exact_het = float(score_order_probability(hetero, pref, float(alpha), int(n)).greater)
            mc = score_order_mc(hetero, pref, alpha, int(n), n_mc, rng)
            # CLT: |mc - p| <= 5 sqrt(p(1-p)/N) except w.p. ~6e-7; +1/N for p near 0 or 1.
            bound = 5 * np.sqrt(exact_het * (1 - exact_het) / n_mc) + 1.0 / n_mc
            if abs(mc.estimate - exact_het) > bound:
                raise OrderCheckFailed(f"alpha = {alpha}, n_bag = {n}: MC {mc.estimate} vs "
                                       f"exact {exact_het} (allowed {bound})")
            rows.append((float(alpha), int(n), float(closed), float(exact_h), exact_het,
                         mc.estimate, mc.std_error))
    return rows


def _plot(rows: list[tuple], out_dir: Path) -> dict[str, Path]:
    alphas = sorted({r[0] for r in rows})
    with paper_style():
        fig, ax = new_figure(figsize=(3.4, 2.6))
        for i, alpha in enumerate(alphas):
            sel = [r for r in rows if r[0] == alpha]
            n = np.array([r[1] for r in sel])
            c = OKABE_ITO[i % len(OKABE_ITO)]
            ax.plot(n, [r[2] for r in sel], color=c, label=rf"$1-(1-\alpha)^{{n}}$, "
                    rf"$\alpha={alpha:g}$")
            first = i == 0  # style entries once in the legend
            ax.plot(n, [r[3] for r in sel], color=c, linestyle="none", marker="o",
                    markersize=3, label="exact, homogeneous" if first else None)
            ax.plot(n, [r[4] for r in sel], color=c, linestyle="--",
                    label="exact, heterogeneous" if first else None)
            ax.errorbar(n, [r[5] for r in sel], yerr=[1.96 * r[6] for r in sel], color=c,
                        linestyle="none", marker="x", markersize=3, capsize=1.5,
                        label="Monte Carlo, heterogeneous" if first else None)
        ax.set_xscale("log", base=2)
        ax.set_xlabel(r"bag size $n_{bag}$")
        ax.set_ylabel(r"$\Pr(\mathrm{Score}_n>\mathrm{Score}_u)$")
        ax.legend(loc="lower right", fontsize=5.5)
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = safemil_bag_size_data(config)
    paths = _plot(rows, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


_COMMON = {"alphas": ["1/20", "1/5"], "cost_nonpref": 10, "costs_nonpref_hetero": [8, 10, 12],
           "costs_pref": [2, 5]}

FIGURE = register_figure(Figure(
    name="safemil_bag_size",
    caption=(r"SafeMIL's score order against bag size: $\Pr(\mathrm{Score}(\mathcal B_n)>"
             r"\mathrm{Score}(\mathcal B_u))$ equals $1-(1-\alpha)^{n_{bag}}$ (line) exactly "
             r"with homogeneous non-preferred costs (dots, checked in rational arithmetic), "
             r"but not with heterogeneous ones (dashed: exact; crosses: Monte Carlo with 95 % "
             r"intervals)."),
    config={**_COMMON, "bag_sizes": [1, 2, 4, 8, 16, 32, 64], "n_mc": 100_000},
    quick_config={**_COMMON, "bag_sizes": [1, 2, 4, 8, 16], "n_mc": 20_000},
    run=run,
))
