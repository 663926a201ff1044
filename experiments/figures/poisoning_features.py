r"""Figure ``poisoning_features`` (F-A3 and the OPT/LB ratio): more features, dearer attacks.

Left (F-A3): one Gaussian feature matrix with ``max_feat_dim`` rows and ``n_pairs`` columns,
:math:`\theta_O=1` and a random-flip attack; OPT(P1) using the first :math:`n_f` rows for
:math:`n_f=1,\dots,` ``max_feat_dim`` (nested row spaces, so Proposition 4 makes OPT
non-decreasing; checked, :class:`ClaimViolated`), overlaid with the Theorem 6
single-constraint optimum for :math:`a=\Phi_{n_f}^\top r_{n_f}` (greedy knapsack; never above
OPT, checked). Median over seeds. Right: distribution of :math:`OPT/LB_{\text{Thm 2}}` over
seeds and :math:`n_f` for an interior target :math:`\theta_A=\sigma(\Phi^\top r_A)` and for the
random-flip target (the paper reports the LB within about 3-4x of the achieved cost).

``data.csv`` columns: ``kind, seed, feat_dim, opt, knapsack, lb, ratio``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers.poisoning import PoisoningInstance, min_cost_poisoning
from solvers.poisoning_attacks import random_flips
from solvers.poisoning_bounds import knapsack_single_constraint, projection_lower_bound

from . import Figure, register_figure
from .poisoning_cost_vs_pairs import ClaimViolated
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "feature_rows"]

CSV_HEADER = ("kind", "seed", "feat_dim", "opt", "knapsack", "lb", "ratio")
_TOL = 1e-6  # LP values: HiGHS tolerance 1e-9 times n_pairs, 100x margin


def _opt(inst: PoisoningInstance) -> float:
    res = min_cost_poisoning(inst)
    if res.status != "optimal":
        raise RuntimeError(f"(P1) returned {res.status}: {res.message}")
    return res.cost


def feature_rows(config: Mapping[str, Any]) -> list[tuple]:
    """Rows for both targets, every seed and n_f; raises ClaimViolated on a failed claim."""
    F, n = int(config["max_feat_dim"]), int(config["n_pairs"])
    rows = []
    for s in range(int(config["seeds"])):
        rng = np.random.default_rng([int(config["seed"]), s])
        Phi = rng.standard_normal((F, n))
        r = rng.standard_normal(F)
        targets = {"random_flips": random_flips(np.ones(n), max(1, n // 10), rng),
                   "interior": 1 / (1 + np.exp(-(Phi.T @ r)))}
        for kind, theta_A in targets.items():
            prev = -np.inf
            for k in range(1, F + 1):
                inst = PoisoningInstance(Phi[:k], np.ones(n), theta_A=theta_A)
                opt = _opt(inst)
                a = Phi[:k].T @ r[:k]
                kn = knapsack_single_constraint(a, float(a @ inst.shift), -np.ones(n),
                                                np.zeros(n)).cost
                lb = projection_lower_bound(inst).value
                if opt < prev - _TOL or kn > opt + _TOL or lb > opt + _TOL:
                    raise ClaimViolated(f"{kind}, seed {s}, n_f = {k}: OPT {opt} (previous "
                                        f"{prev}), knapsack {kn}, LB {lb}")
                prev = opt
                rows.append((kind, s, k, opt, kn, lb, opt / lb if lb > 0 else None))
    return rows


def _plot(rows: list[tuple], out_dir: Path) -> dict[str, Path]:
    ks = sorted({r[2] for r in rows})
    with paper_style():
        fig, (ax, ax2) = new_figure(figsize=(6.8, 2.6), ncols=2)
        for i, kind in enumerate(("random_flips", "interior")):
            for col, ls, lab in ((3, "-", "OPT (P1)"), (4, ":", "Thm 6 single constraint")):
                med = [float(np.median([r[col] for r in rows if r[0] == kind and r[2] == k]))
                       for k in ks]
                ax.plot(ks, med, color=OKABE_ITO[i], linestyle=ls, marker=".",
                        label=f"{lab}, {kind.replace('_', ' ')}")
            ratios = [r[6] for r in rows if r[0] == kind and r[6] is not None]
            ax2.hist(ratios, bins=20, alpha=0.6, color=OKABE_ITO[i],
                     label=kind.replace("_", " "))
        ax.set_xlabel(r"feature dimension $n_f$ (nested features)")
        ax.set_ylabel(r"minimum cost $\|\zeta\|_1$")
        ax.legend(fontsize=5.5)
        ax2.set_xlabel(r"$OPT/LB_{\mathrm{Thm\,2}}$")
        ax2.set_ylabel("instances")
        ax2.legend(fontsize=6)
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = feature_rows(config)
    paths = _plot(rows, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="poisoning_features",
    caption=(r"Left: minimum poisoning cost against the feature dimension $n_f$ for nested "
             r"Gaussian features ($N$ fixed, $\theta_O=1$), for a random-flip target and an "
             r"interior target $\sigma(\Phi^\top r_A)$: non-decreasing (Proposition 4), with "
             r"the Theorem 6 single-constraint optimum below it (medians over seeds). Right: "
             r"the ratio of the LP optimum to the Theorem 2 lower bound over seeds and $n_f$."),
    config={"max_feat_dim": 16, "n_pairs": 200, "seeds": 10},
    quick_config={"max_feat_dim": 4, "n_pairs": 40, "seeds": 3},
    run=run,
))
