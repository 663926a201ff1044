r"""Figure ``markov_game_naive_bias``: how wrong Naive-PGD's direction is (bilevel notes §1.6,
§6 item 10).

On random small Stackelberg games (S 2..4 states, L 2..3 leader and F 2..3 follower actions,
Dirichlet(1) kernels, standard normal rewards, :math:`\gamma_F,\gamma_U\sim U[0,0.9]`,
softmax-table leader at logits :math:`x\sim N(0,0.5^2)`), the cosine between the
direct-only (frozen-follower) gradient and the exact hypergradient (consistent operator)

.. math::
    \cos=\frac{\langle g_{\text{direct}},\nabla J_U\rangle}{\|g_{\text{direct}}\|\,
    \|\nabla J_U\|},\qquad \nabla J_U=g_{\text{direct}}+\frac1\tau\sum_t\gamma_U^t
    E[B\,\nabla_xQ_F],

for each follower temperature :math:`\tau` of a grid (the same game, only :math:`\tau`
changed). :math:`J_U=E[\sum_t\gamma_U^tr_U]`, not scaled by :math:`1-\gamma_U`. The response
term carries a :math:`1/\tau` but also the follower's covariance, which vanishes as the
follower becomes deterministic, so the dependence on :math:`\tau` is not monotone (quick
run: the smallest cosine is ~0.94 at :math:`\tau=0.05`, ~0.39 at 0.2, ~1.0 at 5). Left:
histogram over games at every :math:`\tau`; right: median and 10/90 % quantiles against
:math:`\tau`. ``data.csv`` columns: ``game, S, L, F, gamma_F, gamma_U, tau, cos,
norm_direct, norm_true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure

from solvers.markov_game import StackelbergGame, stackelberg_point

from . import Figure, register_figure
from .style import DPI, OKABE_ITO, paper_style, save_figure, write_csv

__all__ = ["CSV_HEADER", "FIGURE", "bias_rows", "cosine", "random_game"]

CSV_HEADER = ("game", "S", "L", "F", "gamma_F", "gamma_U", "tau", "cos", "norm_direct",
              "norm_true")
#: Gradients shorter than this (relative to the reward scale 1) have no direction; such a
#: (game, tau) pair is skipped rather than given an arbitrary cosine.
MIN_NORM = 1e-10


def random_game(rng: np.random.Generator, tau: float) -> tuple[StackelbergGame, np.ndarray]:
    """A random game (see the module docstring) at temperature ``tau`` and leader logits x."""
    S, L, F = int(rng.integers(2, 5)), int(rng.integers(2, 4)), int(rng.integers(2, 4))
    game = StackelbergGame(rng.dirichlet(np.ones(S), size=(S, L, F)),
                           rng.normal(size=(S, L, F)), rng.normal(size=(S, L, F)),
                           rng.dirichlet(np.ones(S)), float(rng.uniform(0, 0.9)),
                           float(rng.uniform(0, 0.9)), tau)
    return game, rng.normal(size=S * L) * 0.5


def with_tau(game: StackelbergGame, tau: float) -> StackelbergGame:
    """The same game at another follower temperature."""
    return StackelbergGame(game.P, game.r_F, game.r_U, game.mu0, game.gamma_F, game.gamma_U,
                           tau)


def cosine(game: StackelbergGame, x: np.ndarray) -> tuple[float, float, float]:
    """(cos(direct, true), ||direct||, ||true||) at x; cos is NaN if a norm < MIN_NORM."""
    pt = stackelberg_point(game, x)
    d, g = pt.direct, pt.gradient("bc")
    nd, ng = float(np.linalg.norm(d)), float(np.linalg.norm(g))
    if min(nd, ng) < MIN_NORM:
        return float("nan"), nd, ng
    return float(np.clip(d @ g / (nd * ng), -1.0, 1.0)), nd, ng


def bias_rows(config: Mapping[str, Any]) -> list[tuple]:
    """Rows of data.csv, one per (game, tau); games drawn from ``config["seed"]``."""
    rng = np.random.default_rng([int(config["seed"]), 10])
    rows: list[tuple] = []
    for i in range(int(config["games"])):
        base, x = random_game(rng, 1.0)
        S, L, F = base.shape
        for tau in config["taus"]:
            c, nd, ng = cosine(with_tau(base, float(tau)), x)
            if np.isfinite(c):
                rows.append((i, S, L, F, base.gamma_F, base.gamma_U, float(tau), c, nd, ng))
    return rows


def _plot(rows: list[tuple], config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    taus = [float(t) for t in config["taus"]]
    with paper_style():
        fig = MplFigure(figsize=(6.8, 2.4), dpi=DPI)
        FigureCanvasAgg(fig)
        ax1, ax2 = fig.subplots(1, 2)
        bins = np.linspace(-1, 1, 41)
        for k, tau in enumerate(taus):
            cos = [r[7] for r in rows if r[6] == tau]
            ax1.hist(cos, bins=bins, histtype="step", color=OKABE_ITO[k % 8],
                     label=rf"$\tau$={tau:g}")
        ax1.set_xlabel(r"cos(direct-only gradient, $\nabla J_U$)")
        ax1.set_ylabel("games")
        ax1.legend(fontsize=5, loc="upper left")
        q = np.array([np.quantile([r[7] for r in rows if r[6] == t], [0.1, 0.5, 0.9])
                      for t in taus])
        ax2.fill_between(taus, q[:, 0], q[:, 2], color=OKABE_ITO[0], alpha=0.25,
                         label="10-90 % of games")
        ax2.plot(taus, q[:, 1], "o-", color=OKABE_ITO[0], markersize=3, label="median")
        ax2.set_xscale("log")
        ax2.set_xlabel(r"follower temperature $\tau$")
        ax2.set_ylabel("cosine")
        ax2.set_ylim(-1.05, 1.05)
        ax2.legend(fontsize=5.5, loc="lower right")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = bias_rows(config)
    paths = _plot(rows, config, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="markov_game_naive_bias",
    caption=(r"Naive-PGD's bias on random Stackelberg games (S 2-4, leader and follower "
             r"actions 2-3, softmax-table leader): cosine between the direct-only gradient "
             r"and the exact hypergradient of the leader value $J_U$ (consistent operator), "
             r"per follower temperature $\tau$ (same games); left, histograms; right, median "
             r"and 10-90 % quantiles against $\tau$."),
    config={"games": 300, "taus": [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]},
    quick_config={"games": 40, "taus": [0.05, 0.2, 1.0, 5.0]},
    run=run,
))
