r"""Figure ``bilevel_trajectory_identity``: trajectory covariance identity vs kernel noise.

Finite horizon H, undiscounted, soft-optimal follower with reward :math:`r_x=r_0+\Phi x`
at temperature :math:`\tau` and a statistic :math:`G(\omega)=\sum_tg(s_t,a_t)` (bilevel
notes §2.3). Exactly (enumeration of every trajectory, complex-step derivative of
:math:`E[G]`; :func:`theory.bilevel_trajectory.trajectory_sides`),

.. math::
    \nabla_xE[G]=\tfrac1\tau E_{s_0}\mathrm{Cov}_\omega\big(G,\nabla_x(R_x+D_x)\mid s_0\big),
    \qquad D_x=\sum_t\big(E_{s'}V_{x,t+1}(s')-V_{x,t+1}(s_{t+1})\big),

for every kernel, while the naive Boltzmann-trajectory form with :math:`\nabla_xR_x` alone
holds only for deterministic kernels (:math:`D=0`). The figure plots, for kernels drawn
row-wise from Dirichlet(:math:`\alpha`) over a grid of concentrations :math:`\alpha` (and
exactly deterministic kernels, one-hot rows), the error
:math:`\max_i|\nabla_iE[G]-\text{form}_i|` of both forms against the kernel's
stochasticity, measured by the mean normalised row entropy
:math:`\bar h=\frac{1}{SA}\sum_{s,a}H(P(\cdot|s,a))/\log S` (0: deterministic).

Checked while the data are computed (:class:`IdentityBroken` otherwise): the corrected
form is exact to ``EXACT_TOL`` on every kernel and the naive form on every
deterministic kernel.

``data.csv`` columns: ``alpha, seed, mean_row_entropy, naive_error, corrected_error``
(``alpha`` is 0 for the deterministic kernels).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers import TabularMDP
from theory.bilevel_trajectory import trajectory_sides

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["CSV_HEADER", "EXACT_TOL", "FIGURE", "IdentityBroken", "trajectory_identity_data",
           "trajectory_instance"]

CSV_HEADER = ("alpha", "seed", "mean_row_entropy", "naive_error", "corrected_error")

#: Both sides are sums over <= S^(H+1) A^H = 648 trajectories (S = 3, A = 2, H = 3) of
#: products of <= 2H + 1 rounded factors, divided by tau >= 0.25, with |G| <= H max|g| ~ 10:
#: relative rounding ~ 1e3 * eps, so 1e-10 absolute is ~ 50x above the worst case.
EXACT_TOL = 1e-10

#: Floor for plotting exact zeros on the log axis.
_PLOT_FLOOR = 1e-17


class IdentityBroken(AssertionError):
    """An identity the figure relies on failed on its data."""


def trajectory_instance(config: Mapping[str, Any], alpha: float, seed: int) -> dict:
    r"""Instance for :func:`theory.bilevel_trajectory.trajectory_sides`.

    Rows of P are Dirichlet(:math:`\alpha`) draws, or one-hot (deterministic) when
    ``alpha == 0``; rewards, features, statistic and x are N(0, 1) draws from
    ``default_rng([config seed, seed])`` (the same for every alpha).
    """
    S, A, H, n = (int(config[k]) for k in ("S", "A", "H", "n"))
    rng = np.random.default_rng([int(config["seed"]), int(seed)])
    r0, Phi, g = rng.normal(size=(S, A)), rng.normal(size=(S, A, n)), rng.normal(size=(S, A))
    mu0, x = rng.dirichlet(np.ones(S)), rng.normal(size=n)
    krng = np.random.default_rng([int(config["seed"]), int(seed), 1])
    if alpha == 0:
        P = np.eye(S)[krng.integers(0, S, size=(S, A))]
    else:
        P = krng.dirichlet(np.full(S, float(alpha)), size=(S, A))
        P /= P.sum(axis=2, keepdims=True)  # rows sum to 1 up to one rounding
    return {"mdp": TabularMDP(P, r0, mu0, horizon=H), "Phi": Phi, "g": g,
            "tau": float(config["tau"]), "x": x}


def mean_row_entropy(P: np.ndarray) -> float:
    r""":math:`\frac{1}{SA}\sum_{s,a}-\sum_{s'}P\log P/\log S` (0 deterministic, 1 uniform)."""
    logs = np.log(np.where(P > 0, P, 1.0))
    h = float(-(P * logs).sum(axis=2).mean() / np.log(P.shape[2]))
    return max(0.0, h)  # 0.0, not -0.0, for deterministic kernels


def trajectory_identity_data(config: Mapping[str, Any]) -> list[tuple]:
    """Rows of ``data.csv`` for each alpha (0 = deterministic) and seed; raises IdentityBroken."""
    rows = []
    for alpha in [0.0, *map(float, config["alphas"])]:
        for seed in range(int(config["seeds"])):
            inst = trajectory_instance(config, alpha, seed)
            sides = trajectory_sides(inst)
            naive = float(np.abs(sides["lhs"] - sides["naive"]).max())
            corr = float(np.abs(sides["lhs"] - sides["corrected"]).max())
            if corr > EXACT_TOL or (alpha == 0 and naive > EXACT_TOL):
                raise IdentityBroken(f"alpha = {alpha}, seed = {seed}: naive error {naive!r}, "
                                     f"corrected error {corr!r} (tolerance {EXACT_TOL})")
            rows.append((alpha, seed, mean_row_entropy(inst["mdp"].dense_P()), naive, corr))
    return rows


def _plot(rows: list[tuple], out_dir: Path) -> dict[str, Path]:
    with paper_style():
        fig, ax = new_figure()
        h = np.array([r[2] for r in rows])
        for col, label, c, mk in ((3, r"naive: $\mathrm{Cov}(G,\nabla R)/\tau$", OKABE_ITO[1],
                                   "o"),
                                  (4, r"corrected: $\mathrm{Cov}(G,\nabla(R+D))/\tau$",
                                   OKABE_ITO[0], "s")):
            err = np.maximum([r[col] for r in rows], _PLOT_FLOOR)
            ax.scatter(h, err, s=7, marker=mk, color=c, label=label, linewidths=0)
        ax.set_yscale("log")
        ax.set_xlabel(r"kernel stochasticity: mean row entropy / $\log S$")
        ax.set_ylabel(r"$\max_i|\nabla_iE[G]-\mathrm{form}_i|$")
        ax.legend(loc="center right")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = trajectory_identity_data(config)
    paths = _plot(rows, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="bilevel_trajectory_identity",
    caption=(r"Trajectory-level Boltzmann covariance identity for a soft-optimal follower "
             r"(finite horizon, exact enumeration): error of the naive form "
             r"$\mathrm{Cov}(G,\nabla_xR)/\tau$ and of the corrected form with the martingale "
             r"term, $\mathrm{Cov}(G,\nabla_x(R+D))/\tau$, against the kernel's mean row "
             r"entropy (Dirichlet($\alpha$) kernels; deterministic kernels at 0). The naive "
             r"form is exact only for deterministic kernels; the corrected form is exact "
             r"(rounding level, shown at $10^{-17}$ when exactly 0) for every kernel."),
    config={"S": 3, "A": 2, "H": 3, "n": 2, "tau": 0.5,
            "alphas": [0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0], "seeds": 12},
    quick_config={"S": 3, "A": 2, "H": 3, "n": 2, "tau": 0.5,
                  "alphas": [0.03, 0.3, 3.0, 30.0], "seeds": 4},
    run=run,
))
