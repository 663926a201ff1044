r"""Figure ``sacpo_pareto_path``: :math:`(E r, G)` along the multiplier path of SACPO.

On one seeded random KL-regularised bandit (:mod:`solvers.kl_bandit`), for a grid of
multipliers :math:`\lambda`, the joint optimum :math:`\pi^\star_{r+\lambda g}`, the
stepwise SACPO policy (align to :math:`r` with weight :math:`\beta`, realign to :math:`g`
with weight :math:`\beta/\lambda`), and the P-SACPO merge path
:math:`\mathrm{softmax}(q\theta_{r+\bar\lambda g}+(1-q)\theta_r)`, :math:`q\in[0,1]`, plotted
at :math:`\lambda=q\bar\lambda`. The figure asserts while computing that stepwise = joint and
merge = joint (:class:`PathMismatch` otherwise) and marks :math:`\lambda^\star` for the
budget :math:`b`. Values are one-step expectations (:math:`\gamma=0`), not rescaled.

``data.csv`` columns: ``path, lam, q, reward, safety`` (``q`` empty except on the merge path).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers.kl_bandit import (
    KLBandit,
    best_achievable_safety,
    dual_derivative,
    expected,
    gibbs_policy,
    solve_kl_bandit,
)
from solvers.sacpo import psacpo_merge, stepwise_sacpo

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "PathMismatch", "pareto_data"]

CSV_HEADER = ("path", "lam", "q", "reward", "safety")
#: Stepwise and merged policies agree with the joint Gibbs policy to ~1e-15 (a few roundings
#: of exponents |f/beta| <= ~1e2); 1e-9 flags any real discrepancy.
MATCH_TOL = 1e-9


class PathMismatch(AssertionError):
    """Stepwise or merged policies differ from the joint optimum."""


def random_bandit(config: Mapping[str, Any]) -> KLBandit:
    """Seeded bandit: Dirichlet(1) pi_ref and mu0, Gaussian r and g; b halfway up."""
    rng = np.random.default_rng(int(config["seed"]))
    S, A = int(config["S"]), int(config["A"])
    pi_ref, mu0 = rng.dirichlet(np.ones(A), S), rng.dirichlet(np.ones(S))
    r, g = rng.normal(size=(S, A)), rng.normal(size=(S, A))
    p = KLBandit(mu0, pi_ref, r, g, float(config["beta"]), 0.0)
    lo, hi = dual_derivative(p, 0.0), best_achievable_safety(p)
    return KLBandit(mu0, pi_ref, r, g, p.beta, lo + float(config["budget_frac"]) * (hi - lo))


def pareto_data(config: Mapping[str, Any]) -> tuple[list[tuple], float]:
    """Rows of ``data.csv`` and :math:`\\lambda^\\star`."""
    p = random_bandit(config)
    sol = solve_kl_bandit(p)
    if sol.status != "optimal":
        raise RuntimeError(f"sacpo_pareto_path: solver status {sol.status}: {sol.message}")
    lam_bar = float(config["lam_max"])
    rows: list[tuple] = []
    for lam in np.linspace(0.0, lam_bar, int(config["n_lam"])):
        joint = gibbs_policy(p.pi_ref, p.r + lam * p.g, p.beta)
        step = stepwise_sacpo(p.pi_ref, p.r, p.g, p.beta, float(lam))
        if np.abs(step - joint).max() > MATCH_TOL:
            raise PathMismatch(f"stepwise != joint at lam = {lam}")
        for name, pi in (("joint", joint), ("stepwise", step)):
            rows.append((name, float(lam), None, expected(p.mu0, pi, p.r),
                         expected(p.mu0, pi, p.g)))
    for q in np.linspace(0.0, 1.0, int(config["n_q"])):
        merged = psacpo_merge(p.pi_ref, p.r, p.g, p.beta, lam_bar, float(q))
        joint = gibbs_policy(p.pi_ref, p.r + q * lam_bar * p.g, p.beta)
        if np.abs(merged - joint).max() > MATCH_TOL:
            raise PathMismatch(f"merge != joint at q = {q}")
        rows.append(("merge", float(q * lam_bar), float(q), expected(p.mu0, merged, p.r),
                     expected(p.mu0, merged, p.g)))
    rows.append(("optimum", sol.lam, None, sol.reward, sol.G))
    return rows, sol.lam


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv."""
    rows, lam_star = pareto_data(config)
    b = random_bandit(config).b
    with paper_style():
        fig, ax = new_figure()
        for i, (name, style) in enumerate((("joint", "-"), ("stepwise", "none"),
                                           ("merge", "none"))):
            pts = np.array([(r[3], r[4]) for r in rows if r[0] == name])
            marker = {"joint": None, "stepwise": "o", "merge": "x"}[name]
            ax.plot(pts[:, 1], pts[:, 0], linestyle=style, marker=marker, markersize=3,
                    color=OKABE_ITO[i], label={"joint": r"joint $\pi^\star_{r+\lambda g}$",
                                               "stepwise": "SACPO stepwise",
                                               "merge": r"P-SACPO merge ($\lambda=q\bar\lambda$)"
                                               }[name], markerfacecolor="none")
        opt = rows[-1]
        ax.plot([opt[4]], [opt[3]], marker="*", color="k", markersize=8,
                label=rf"$\lambda^\star={lam_star:.3g}$")
        ax.axvline(b, color="0.4", linewidth=0.6, linestyle="--")
        ax.set_xlabel(r"safety $G(\pi)=E[g]$")
        ax.set_ylabel(r"reward $E[r]$")
        ax.legend(loc="lower left")
        fig.tight_layout(pad=0.3)
        paths = save_figure(fig, out_dir)
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="sacpo_pareto_path",
    caption=(r"SACPO on a seeded random KL-regularised bandit: $(G,E[r])$ of the joint optimum "
             r"$\pi^\star_{r+\lambda g}$ over $\lambda$ (line), SACPO's stepwise realignment "
             r"(circles, equal to the joint optimum) and the P-SACPO logit merge with weight $q$ "
             r"(crosses, equal to $\pi^\star_{r+q\bar\lambda g}$); the star is the optimum for "
             r"the budget $b$ (dashed)."),
    config={"S": 5, "A": 6, "beta": 0.5, "budget_frac": 0.5, "lam_max": 6.0, "n_lam": 41,
            "n_q": 11},
    quick_config={"S": 3, "A": 4, "beta": 0.5, "budget_frac": 0.5, "lam_max": 6.0,
                  "n_lam": 13, "n_q": 5},
    run=run,
))
