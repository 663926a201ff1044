r"""Figure ``toy4_learning_curves``: DiscreteToy4 R1/R2 learning curves (bilevel notes §1.8,
§3.1, §7 item 1).

The leader is a softmax table :math:`\pi_x(l|s)=\mathrm{softmax}_l(x_{s,l})`
(:class:`solvers.markov_game.SoftmaxTableLeader`, x of shape (6,)); only its logits at A
matter, :math:`p=\pi_x(a^L=1\mid A)`. Every method starts at :math:`p_0` (0.4 at A, uniform
at S and B; R2's start value 58.0 is the start of the paper's curves) and takes
:math:`x_{k+1}=x_k+\eta\,\mathrm{clip}_c(g_k)` (norm clipping) with

- BC-HG: :math:`g_k` the exact Stackelberg hypergradient (direct + response term, §1.6,
  :func:`solvers.markov_game.stackelberg_point`) or its single-trajectory estimator
  (:func:`~solvers.markov_game_sampling.sampled_stackelberg_hypergradient`, ``samples``
  trajectories of ``H`` steps per iteration, exact critics);
- Naive-PGD: the direct term only (follower frozen), exact or sampled.

**Which objective.** The gradient is that of the infinite-horizon leader value
:math:`J_U(x)=E[\sum_{t\ge0}0.99^tr_U]` (Stackelberg-consistent follower operator, as in
:mod:`theory.markov_game`); the curves report the paper's evaluation, exact (no sampling):
the 150-step target return from S, discounted by 0.99 for R1 and undiscounted for R2
(:func:`solvers.toy4.toy4_profile`). Both objectives have their maximiser within
:math:`3\cdot10^{-4}` in :math:`p` of each other (0.1665 vs 0.1662 for R1, 0.5026 vs 0.5028
for R2), which moves the 150-step value by :math:`<10^{-5}`. Horizontal lines: the optima of
the 150-step profile, found by maximising :func:`~solvers.toy4.toy4_profile` (not typed
in). Right panels: the profile :math:`J(p)` (consistent operator solid, BC-HG's code
operator dashed) with each method's trajectory of :math:`p` overlaid.

``data.csv`` columns: ``curve, R, method, gradient, seed, iteration, p, J, J_U`` where
``curve`` is ``run`` (``method`` bchg/naive, ``gradient`` exact/sampled, ``J`` the 150-step
evaluation, ``J_U`` the infinite-horizon objective the gradient follows), ``profile``
(``method`` = operator) or ``optimum``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from scipy.optimize import minimize_scalar

from solvers.markov_game import OPERATORS, leader_value, stackelberg_point
from solvers.markov_game_sampling import sampled_stackelberg_hypergradient
from solvers.toy4 import TOY4_EPISODE, TOY4_GAMMA, discrete_toy4, toy4_profile

from . import Figure, register_figure
from .style import DPI, OKABE_ITO, paper_style, save_figure, write_csv

__all__ = ["CSV_HEADER", "FIGURE", "Toy4Run", "profile_optimum", "toy4_ascent", "toy4_rows",
           "toy4_x"]

CSV_HEADER = ("curve", "R", "method", "gradient", "seed", "iteration", "p", "J", "J_U")
METHODS = ("bchg", "naive")
_LABEL = {"bchg": "BC-HG", "naive": "Naive-PGD"}
_COLOR = {"bchg": OKABE_ITO[0], "naive": OKABE_ITO[1]}
#: Follower-solve tolerance of the optimum search: the 150-step value moves by < 1e-6.
_XATOL = 1e-5


def toy4_x(p: float) -> np.ndarray:
    """Softmax-table logits (6,) with pi(a^L = 1 | A) = p and uniform leader at S and B."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p = {p!r}, expected 0 < p < 1 (finite logits)")
    x = np.zeros(6)
    x[2:4] = np.log([1.0 - p, p])
    return x


def evaluation(R: int, game, pi_L: np.ndarray, pi_F: np.ndarray) -> float:
    """The paper's evaluation: 150-step target return from S, discounted 0.99 (R1) or not (R2)."""
    return leader_value(game, pi_L, pi_F, horizon=TOY4_EPISODE,
                        gamma=TOY4_GAMMA if R == 1 else 1.0)


@dataclass(frozen=True)
class Toy4Run:
    """One ascent: ``p`` (K+1,), evaluation ``J`` (K+1,), objective ``J_U`` (K+1,)."""

    p: np.ndarray
    J: np.ndarray
    J_U: np.ndarray


def toy4_ascent(R: int, method: str, gradient: str, *, p0: float, step: float, clip: float,
                iterations: int, samples: int = 10, H: int | None = None,
                rng: np.random.Generator | None = None) -> Toy4Run:
    r"""Gradient ascent :math:`x_{k+1}=x_k+\eta\,\mathrm{clip}_c(g_k)` on DiscreteToy4 R.

    ``method`` "bchg" (true hypergradient) or "naive" (direct term); ``gradient`` "exact"
    (linear solves) or "sampled" (mean of ``samples`` single-trajectory estimates of ``H``
    steps, drawn with ``rng``). Records p, the 150-step evaluation and :math:`J_U`
    (:math:`E[\sum_t0.99^tr_U]`, infinite horizon, unscaled) at every iterate.
    """
    if method not in METHODS or gradient not in ("exact", "sampled"):
        raise ValueError(f"method/gradient = {method!r}/{gradient!r}, expected one of "
                         f"{METHODS} / ('exact', 'sampled')")
    game = discrete_toy4(R)
    x = toy4_x(p0)
    ps, Js, JUs = [], [], []
    for k in range(iterations + 1):
        pt = stackelberg_point(game, x)
        ps.append(float(pt.pi_L[1, 1]))
        Js.append(evaluation(R, game, pt.pi_L, pt.pi_F))
        JUs.append(pt.F)
        if k == iterations:
            break
        if gradient == "exact":
            g = pt.gradient("bc") if method == "bchg" else pt.direct
        else:
            g = sampled_stackelberg_hypergradient(game, x, samples, rng, H=H, point=pt,
                                                  method=method).mean
        norm = float(np.linalg.norm(g))
        if norm > clip:
            g = g * (clip / norm)
        x = x + step * g
    return Toy4Run(np.array(ps), np.array(Js), np.array(JUs))


def profile_optimum(R: int, grid: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Maximise :func:`toy4_profile` (consistent operator) between the grid neighbours of the
    grid's best point (bounded Brent, xatol 1e-5); returns (argmax, max)."""
    i = int(np.argmax(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = minimize_scalar(lambda q: -toy4_profile(R, q), bounds=(lo, hi), method="bounded",
                          options={"xatol": _XATOL})
    return float(res.x), float(-res.fun)


def toy4_rows(config: Mapping[str, Any]) -> list[tuple]:
    """Rows of data.csv: the profiles, the optima and every run (see the module docstring)."""
    rows: list[tuple] = []
    grid = np.linspace(0.0, float(config["p_max"]), int(config["grid"]))
    for R in config["R"]:
        for op in OPERATORS:
            vals = np.array([toy4_profile(R, float(q), op) for q in grid])
            rows += [("profile", R, op, "", "", "", float(q), float(v), "")
                     for q, v in zip(grid, vals, strict=True)]
            if op == "consistent":
                p_star, J_star = profile_optimum(R, grid, vals)
                rows.append(("optimum", R, "consistent", "", "", "", p_star, J_star, ""))
        kw = {"p0": float(config["p0"]), "step": float(config["step"]),
              "clip": float(config["clip"]), "iterations": int(config["iterations"])}
        for method in METHODS:
            runs = [("exact", "", toy4_ascent(R, method, "exact", **kw))]
            for seed in range(int(config["seeds"])):
                rng = np.random.default_rng([int(config["seed"]), R, METHODS.index(method),
                                             seed])
                runs.append(("sampled", seed, toy4_ascent(
                    R, method, "sampled", samples=int(config["samples"]), H=int(config["H"]),
                    rng=rng, **kw)))
            for grad, seed, run in runs:
                rows += [("run", R, method, grad, seed, k, float(p), float(j), float(ju))
                         for k, (p, j, ju) in enumerate(zip(run.p, run.J, run.J_U, strict=True))]
    return rows


def _sel(rows: list[tuple], curve: str, R: int, method: str, gradient: str = "") -> list[tuple]:
    return [r for r in rows if r[0] == curve and r[1] == R and r[2] == method
            and (curve != "run" or r[3] == gradient)]


def _plot(rows: list[tuple], config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    Rs = list(config["R"])
    with paper_style():
        fig = MplFigure(figsize=(6.8, 2.3 * len(Rs)), dpi=DPI)
        FigureCanvasAgg(fig)
        axes = np.atleast_2d(fig.subplots(len(Rs), 3, squeeze=False))
        for i, R in enumerate(Rs):
            (_, _, _, _, _, _, p_star, J_star, _), = _sel(rows, "optimum", R, "consistent")
            for j, grad in enumerate(("exact", "sampled")):
                ax = axes[i, j]
                ax.axhline(J_star, color=OKABE_ITO[7], linestyle=":", linewidth=0.8,
                           label=f"optimum {J_star:.2f}")
                for method in METHODS:
                    run = _sel(rows, "run", R, method, grad)
                    seeds = sorted({r[4] for r in run}, key=str)
                    for s in seeds:
                        cur = sorted((r[5], r[7]) for r in run if r[4] == s)
                        ax.plot(*zip(*cur, strict=True), color=_COLOR[method], alpha=0.8,
                                linewidth=0.9, label=_LABEL[method] if s == seeds[0] else None)
                kind = "discounted" if R == 1 else "undiscounted"
                ax.set_title(f"R{R}, {grad} gradient" + (
                    f" ({config['samples']} traj./iter)" if grad == "sampled" else ""),
                    fontsize=7)
                ax.set_xlabel("outer iteration")
                ax.set_ylabel(f"150-step target return ({kind})", fontsize=6)
            ax = axes[i, 2]
            for op, ls in zip(OPERATORS, ("-", "--"), strict=True):
                prof = sorted((r[6], r[7]) for r in _sel(rows, "profile", R, op))
                ax.plot(*zip(*prof, strict=True), color=OKABE_ITO[7], linestyle=ls,
                        linewidth=0.9, label=f"J(p), {op} operator")
            for method in METHODS:
                for grad, mk in (("exact", "o"), ("sampled", ".")):
                    run = [r for r in _sel(rows, "run", R, method, grad) if r[4] in ("", 0)]
                    ax.plot([r[6] for r in run], [r[7] for r in run], mk, color=_COLOR[method],
                            markersize=2.5 if mk == "o" else 2, alpha=0.6,
                            label=f"{_LABEL[method]} ({grad})")
            ax.plot([p_star], [J_star], "*", color=OKABE_ITO[4], markersize=6)
            ax.set_xlabel(r"$p=\pi_x(a^L=1\mid A)$")
            ax.set_title(f"R{R}: profile and iterates of p", fontsize=7)
        axes[0, 0].legend(fontsize=5, loc="lower right")
        axes[0, 2].legend(fontsize=4.5, loc="upper right")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = toy4_rows(config)
    paths = _plot(rows, config, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


# Step 0.02 with clipping at norm 2 for every method: the exact ascent converges without
# oscillating (the curvature of J_U in the logit difference is ~50 near R2's optimum, so the
# unclipped step must stay below 2 / (2 * 50)); clipping bounds the sampled steps, whose
# per-trajectory standard deviation reaches ~600 near R2's cliff (tau = 0.05).
# H = 700 rollout steps: 0.99^700 < 1e-3, a truncation bias far below the sampling noise.
FIGURE = register_figure(Figure(
    name="toy4_learning_curves",
    caption=(r"DiscreteToy4 R1 (top) and R2 (bottom), softmax-table leader: exact 150-step "
             r"target return (R1 discounted by 0.99, R2 undiscounted) against outer iterations "
             r"of gradient ascent on the infinite-horizon leader value $J_U$ "
             r"($\gamma_U=0.99$, Stackelberg-consistent follower operator, $\tau=0.05$), "
             r"with the exact hypergradient (BC-HG) or the direct term only (Naive-PGD), "
             r"computed exactly (left) or by the single-trajectory estimator (middle, one "
             r"curve per seed); dotted, the optimum of the exact profile. Right: the profile "
             r"$J(p)$ (consistent operator solid, BC-HG code operator dashed) with the "
             r"iterates of $p=\pi_x(a^L=1\mid A)$; star, the optimum."),
    config={"R": [1, 2], "p0": 0.4, "step": 0.02, "clip": 2.0, "iterations": 100,
            "seeds": 3, "samples": 10, "H": 700, "grid": 41, "p_max": 0.8},
    quick_config={"R": [1, 2], "p0": 0.4, "step": 0.02, "clip": 2.0, "iterations": 30,
                  "seeds": 1, "samples": 10, "H": 700, "grid": 17, "p_max": 0.8},
    run=run,
))
