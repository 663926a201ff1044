r"""Figure ``prefine_residual``: trajectory-DPO residual against transition stochasticity.

One seeded finite-horizon model (:func:`solvers.random_mdp` rewards and a random
deterministic next-state table) is blended with a random stochastic kernel,
:math:`P_\eta=(1-\eta)P_{det}+\eta P_{rand}`, for :math:`\eta\in[0,1]`. For each
:math:`\eta` and KL coefficient :math:`\beta` (the notes' :math:`\tau`), over *all*
trajectories (exact enumeration), the figure shows the residual of the naive identity
:math:`\beta\sum_t\log(\pi^\star/\pi_{ref})=R(\omega)-V^\star_0(s_0)`: its maximum and
its root mean square under :math:`\pi^\star`; and the policy error
:math:`\max|\hat\pi-\pi^\star|` of population DPO (Bradley-Terry labels from returns,
pairs sharing :math:`s_0`). Values are undiscounted finite-horizon sums.

Checked while the data are computed (:class:`IdentityBroken` otherwise): the residual
equals the closed-form martingale term on every trajectory, and at :math:`\eta=0` both
the residual and the DPO policy error vanish (up to the tolerances in the code).

``data.csv`` columns: ``eta, beta, max_abs_residual, rms_residual_star, closure_error,
start_state_bias, dpo_policy_error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers import TabularMDP, random_mdp
from solvers.tolerances import EPS
from solvers.trajectory_dpo import identity_residual, population_dpo

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["CSV_HEADER", "FIGURE", "IdentityBroken", "blended_model", "prefine_residual_data"]

CSV_HEADER = ("eta", "beta", "max_abs_residual", "rms_residual_star", "closure_error",
              "start_state_bias", "dpo_policy_error")

#: Population DPO at eta = 0 must match pi* to this (see theory.prefine.POP_DPO_TOL).
DPO_TOL = 1e-6


class IdentityBroken(AssertionError):
    """An identity the figure relies on failed on its data."""


def blended_model(config: Mapping[str, Any], eta: float) -> TabularMDP:
    r"""The model with kernel :math:`(1-\eta)P_{det}+\eta P_{rand}` (same seed, same model)."""
    S, A, H, seed = int(config["S"]), int(config["A"]), int(config["H"]), int(config["seed"])
    base = random_mdp(seed, S, A, horizon=H, reward_range=(-1.0, 1.0))
    nxt = np.random.default_rng(seed + 1).integers(0, S, size=(S, A))
    P = (1 - eta) * np.eye(S)[nxt] + eta * base.dense_P()
    P /= P.sum(axis=2, keepdims=True)  # rows sum to 1 up to one rounding
    return TabularMDP(P, base.r, base.mu0, horizon=H)


def prefine_residual_data(config: Mapping[str, Any]) -> list[tuple]:
    """Rows of ``data.csv`` for every (eta, beta) of the config; raises IdentityBroken."""
    rows = []
    for beta in config["betas"]:
        for eta in np.linspace(0.0, 1.0, int(config["n_eta"])):
            mdp = blended_model(config, float(eta))
            ref = np.full((mdp.S, mdp.A), 1.0 / mdp.A)
            res = identity_residual(mdp, ref, float(beta))
            # Rounding of H log-ratio terms of size <= 2 H max|r| + beta log A each.
            tol = 64 * mdp.horizon * EPS * (2 * mdp.horizon + float(beta) * (1 + np.log(mdp.A)))
            if res.closure_error > tol:
                raise IdentityBroken(f"eta = {eta}: residual differs from the martingale term "
                                     f"by {res.closure_error!r} > {tol!r}")
            fit = population_dpo(mdp, ref, float(beta))
            if fit.status != "optimal":
                raise RuntimeError(f"population_dpo at eta = {eta}: {fit.message}")
            mask = np.broadcast_to(fit.reachable[:, :, None], fit.pi.shape)
            err = float(np.max(np.where(mask, np.abs(fit.pi - res.optimum.pi), 0.0)))
            if eta == 0.0 and (res.max_abs_residual > tol or err > DPO_TOL):
                raise IdentityBroken(f"deterministic model: residual {res.max_abs_residual!r},"
                                     f" DPO policy error {err!r}")
            rows.append((float(eta), float(beta), res.max_abs_residual, res.rms_residual_star,
                         res.closure_error, res.start_state_bias, err))
    return rows


def _plot(rows: list[tuple], out_dir: Path) -> dict[str, Path]:
    betas = sorted({r[1] for r in rows})
    with paper_style():
        fig, (ax, ax2) = new_figure(figsize=(6.8, 2.6), ncols=2)
        for i, beta in enumerate(betas):
            sel = [r for r in rows if r[1] == beta]
            eta = [r[0] for r in sel]
            c = OKABE_ITO[i % len(OKABE_ITO)]
            ax.plot(eta, [r[2] for r in sel], color=c, label=rf"max, $\beta={beta:g}$")
            ax.plot(eta, [r[3] for r in sel], color=c, linestyle="--",
                    label=rf"RMS under $\pi^\star$, $\beta={beta:g}$")
            ax2.plot(eta, [r[6] for r in sel], color=c, marker="o", markersize=2.5,
                     label=rf"$\beta={beta:g}$")
        ax.set_xlabel(r"transition stochasticity $\eta$")
        ax.set_ylabel(r"$|\beta\sum_t\log\frac{\pi^\star}{\pi_{ref}}-(R-V^\star_0(s_0))|$")
        ax.legend(loc="center right")
        ax2.set_xlabel(r"transition stochasticity $\eta$")
        ax2.set_ylabel(r"population DPO: $\max|\hat\pi-\pi^\star|$")
        ax2.legend(loc="upper left")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = prefine_residual_data(config)
    paths = _plot(rows, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="prefine_residual",
    caption=(r"Trajectory DPO under stochastic transitions: on a seeded model with kernel "
             r"$(1-\eta)P_{det}+\eta P_{rand}$, the residual of "
             r"$\beta\sum_t\log(\pi^\star/\pi_{ref})=R(\omega)-V^\star_0(s_0)$ over all "
             r"trajectories (left: maximum, solid; RMS under $\pi^\star$, dashed) and the "
             r"policy error of population DPO with Bradley-Terry labels from returns (right). "
             r"Both vanish at $\eta=0$ (deterministic), and the residual equals the "
             r"closed-form martingale term on every trajectory."),
    config={"S": 3, "A": 2, "H": 3, "betas": [0.25, 1.0], "n_eta": 11},
    quick_config={"S": 3, "A": 2, "H": 3, "betas": [0.25, 1.0], "n_eta": 5},
    run=run,
))
