r"""Figure ``flip_fig4_surrogate``: exact T-step violation probability against :math:`H_{unsafe}`.

Tabular analogue of Fig. 4 of the flipping paper (Shen et al., NeurIPS 2024,
arXiv 2410.06474) and a picture of its Theorem 5; cmdp_ccmdp notes §3.3,
§3.7, §3.9-A. Theorem 5 says :math:`H_{unsafe}\le\delta\Rightarrow P_T\le\delta`, i.e.
(with the smallest admissible :math:`\delta=H_{unsafe}`) every point should lie on or
below the diagonal :math:`P_T=H_{unsafe}`.

Model (seeded): ``n_safe`` safe states, one unsafe state u and one safe
absorbing sink z; from a safe state the agent reaches u with probability up to
``p_unsafe_max`` and z with probability in [0.05, 0.3], else another safe state
(Dirichlet). Two variants: **non-absorbing** (u leads back to a uniformly chosen safe state with
probability ``u_return``, else to z: with ``u_return = 0`` this is the §3.9-A
counterexample's structure) and **absorbing** (u is a trap).
:math:`\mu_0` is supported on the safe states. Policies: ``n_random`` random
stationary policies (Dirichlet rows) and the ECRL optima
:math:`\max V_r` s.t. :math:`H_{unsafe}\le\delta` (``solve_cmdp`` on the discounted
model with discount :math:`\gamma_u` and cost :math:`P(U|s,a)`, so
:math:`H_{unsafe}=\gamma_uV_c`) for a grid of :math:`\delta` (infeasible levels skipped,
status read first). For every policy and T in the config:

- :math:`P_T=\Pr(\exists1\le t\le T: s_t\in U)` exactly from the flag-augmented
  forward recursion (:func:`solvers.violation_probability` on the horizon-T model);
- :math:`H_{unsafe}=E[\sum_{i\ge1}\gamma_u^i\mathbb 1\{s_i\in U\}]` by a discounted linear
  solve (:func:`theory.ccmdp_chance.h_unsafe_infinite`), independent of the recursion.

Points with :math:`P_T>H_{unsafe}` violate Theorem 5 and are marked. Asserted while
computing (:class:`BoundViolated`): in the absorbing variant, whenever
:math:`\gamma_u^T\ge1-\gamma_u`, no point violates (the corrected statement
``ccmdp.discounted_surrogate_absorbing``); in both variants
:math:`P_T\le\gamma_u^{-T}H_{unsafe}` (``flip.thm5_corrected_general``). Tolerance:
the solve error :func:`solvers.tolerances.linear_solve_tol` (reward in [0, 1])
plus :func:`solvers.ccmdp.violation_error_bound`.

``data.csv`` columns: ``variant, policy_kind, policy, T, h_unsafe, p_T, violates_thm5,
condition_holds, general_bound``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers import TabularMDP, solve_cmdp, violation_probability
from solvers.ccmdp import violation_error_bound
from solvers.tolerances import linear_solve_tol
from theory.ccmdp_chance import h_unsafe_infinite

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "BoundViolated", "surrogate_models", "surrogate_points"]

CSV_HEADER = ("variant", "policy_kind", "policy", "T", "h_unsafe", "p_T", "violates_thm5",
              "condition_holds", "general_bound")
VARIANTS = ("non-absorbing", "absorbing")


class BoundViolated(AssertionError):
    """A corrected form of Theorem 5 failed beyond its tolerance."""


def surrogate_models(seed: int, n_safe: int, A: int, gamma_u: float, p_unsafe_max: float,
                     u_return: float = 0.0) -> tuple[dict[str, TabularMDP], np.ndarray]:
    r"""The two discounted models (discount :math:`\gamma_u`, one cost :math:`P(U|s,a)`) and U.

    States ``0..n_safe-1`` safe, ``n_safe`` = u (unsafe), ``n_safe + 1`` = z (sink).
    Rewards uniform on [0, 1) at safe states, 0 at u and z. In the non-absorbing
    variant u returns to a uniformly chosen safe state with probability ``u_return``
    and otherwise moves to z.
    """
    rng = np.random.default_rng(seed)
    S = n_safe + 2
    u, z = n_safe, n_safe + 1
    P = np.zeros((S, A, S))
    p_u = rng.uniform(0.0, p_unsafe_max, size=(n_safe, A))
    p_z = rng.uniform(0.05, 0.3, size=(n_safe, A))
    P[:n_safe, :, :n_safe] = rng.dirichlet(np.ones(n_safe), size=(n_safe, A)) * (
        1.0 - p_u - p_z)[..., None]
    P[:n_safe, :, u], P[:n_safe, :, z] = p_u, p_z
    P[z, :, z] = 1.0
    r = np.zeros((S, A))
    r[:n_safe] = rng.uniform(0.0, 1.0, size=(n_safe, A))
    mu0 = np.zeros(S)
    mu0[:n_safe] = rng.dirichlet(np.ones(n_safe))
    unsafe = np.zeros(S, bool)
    unsafe[u] = True
    models = {}
    for variant in VARIANTS:
        Pv = P.copy()
        if variant == "absorbing":
            Pv[u, :, u] = 1.0
        else:
            Pv[u, :, z] = 1.0 - u_return
            Pv[u, :, :n_safe] = u_return / n_safe
        cost = Pv[:, :, unsafe].sum(axis=2)[None]
        models[variant] = TabularMDP(Pv, r, mu0, gamma=gamma_u, costs=cost)
    return models, unsafe


def _policies(mdp: TabularMDP, config: Mapping[str, Any], rng: np.random.Generator
              ) -> list[tuple[str, np.ndarray]]:
    """Random Dirichlet policies, then ECRL optima on a grid of delta (feasible ones)."""
    out = []
    for i in range(int(config["n_random"])):
        alpha = 0.2 if i % 2 == 0 else 1.0
        out.append(("random", rng.dirichlet(np.full(mdp.A, alpha), size=mdp.S)))
    gu = mdp.gamma
    # H_unsafe = gamma_u * V_c; levels up to the unconstrained optimum's H_unsafe.
    free = solve_cmdp(mdp, [np.abs(mdp.costs).max() / (1 - gu) + 1.0], method="lp")
    if free.status != "optimal":
        raise RuntimeError(f"flip_fig4_surrogate: unconstrained LP returned {free.status}: "
                           f"{free.message}")
    h_max = gu * float(free.cost_values[0])
    for delta in np.linspace(0.0, h_max, int(config["n_optimal"]) + 1)[1:]:
        res = solve_cmdp(mdp, [delta / gu], method="lp")
        if res.status == "optimal":
            out.append(("ECRL-optimal", res.pi))
    return out


def surrogate_points(config: Mapping[str, Any]) -> list[tuple]:
    r"""Rows of ``data.csv``: one per (variant, policy, T), checked as the module docstring says.

    Parameters
    ----------
    config : mapping
        ``n_safe``, ``A``, ``gamma_u``, ``p_unsafe_max``, ``u_return``, ``Ts`` (windows),
        ``n_random``, ``n_optimal``, ``seed``.
    """
    gu = float(config["gamma_u"])
    models, unsafe = surrogate_models(int(config["seed"]), int(config["n_safe"]),
                                      int(config["A"]), gu, float(config["p_unsafe_max"]),
                                      float(config["u_return"]))
    rng = np.random.default_rng([int(config["seed"]), 1])
    rows = []
    for variant in VARIANTS:
        mdp = models[variant]
        h_tol = gu * linear_solve_tol(mdp.S, 1.0, gu)
        for k, (kind, pi) in enumerate(_policies(mdp, config, rng)):
            h = h_unsafe_infinite(mdp, pi, unsafe, gu)
            for T in (int(t) for t in config["Ts"]):
                fin = TabularMDP(mdp.P, mdp.r, mdp.mu0, horizon=T)
                p_T = violation_probability(fin, pi, unsafe)
                tol = h_tol * gu ** (-T) + violation_error_bound(fin)
                condition = gu**T >= 1.0 - gu
                general = gu ** (-T) * h
                violates = p_T > h + tol
                if variant == "absorbing" and condition and violates:
                    raise BoundViolated(f"flip_fig4_surrogate: absorbing U, T = {T}, gamma_u = "
                                        f"{gu}: P_T = {p_T!r} > H_unsafe = {h!r} although "
                                        "gamma_u^T >= 1 - gamma_u")
                if p_T > general + tol:
                    raise BoundViolated(f"flip_fig4_surrogate: {variant}, T = {T}: P_T = {p_T!r} "
                                        f"> gamma_u^-T H_unsafe = {general!r}")
                rows.append((variant, kind, k, T, h, p_T, int(violates), int(condition),
                             general))
    return rows


def _plot(rows: list[tuple], Ts: list[int], out_dir: Path) -> dict[str, Path]:
    with paper_style():
        fig, axes = new_figure(figsize=(6.8, 2.9), ncols=2)
        for ax, variant in zip(axes, VARIANTS, strict=True):
            sel = [r for r in rows if r[0] == variant and r[4] > 0 and r[5] > 0]
            lo = min(min(r[4] for r in sel), min(r[5] for r in sel)) / 1.5
            hi = max(max(r[4] for r in sel), max(r[5] for r in sel)) * 1.5
            grid = np.array([lo, hi])
            ax.fill_between(grid, grid, hi, color="0.92", linewidth=0)
            ax.plot(grid, grid, color="0.2", linewidth=0.8,
                    label=r"$P_T=H_{unsafe}$ ($\delta=H_{unsafe}$)")
            for T, color in zip(Ts, OKABE_ITO, strict=False):
                for kind, marker, size in (("random", "o", 6), ("ECRL-optimal", "^", 12)):
                    pts = np.array([(r[4], r[5], r[6]) for r in sel if r[3] == T and r[1] == kind])
                    if pts.size == 0:
                        continue
                    ax.scatter(pts[:, 0], pts[:, 1], s=size, marker=marker, color=color,
                               linewidths=0, label=f"T = {T}, {kind}")
                    bad = pts[:, 2] > 0
                    ax.scatter(pts[bad, 0], pts[bad, 1], s=size + 14, marker=marker,
                               facecolors="none", edgecolors="0.1", linewidths=0.4)
            n_bad = sum(r[6] for r in rows if r[0] == variant)
            n_all = sum(1 for r in rows if r[0] == variant)
            ax.set_title(f"{variant} unsafe state: {n_bad}/{n_all} points violate Thm 5")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.tick_params(which="minor", labelbottom=False, labelleft=False)
            ax.set_xlabel(r"$H_{unsafe}=E[\Sigma_{i\geq1}\gamma_u^i 1\{s_i\in U\}]$")
        axes[0].text(1.4 * axes[0].get_xlim()[0], axes[0].get_ylim()[1] / 1.4,
                     "above the diagonal:\nThm 5 violated\n(outlined points)", fontsize=6,
                     va="top")
        axes[0].set_ylabel(r"exact $P_T=\Pr(\exists\, t\leq T: s_t\in U)$")
        axes[1].legend(loc="upper left", fontsize=5.5, ncol=1)
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = surrogate_points(config)
    paths = _plot(rows, [int(t) for t in config["Ts"]], Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="flip_fig4_surrogate",
    caption=(r"Theorem 5 of the flipping paper against exact numbers: for random and "
             r"ECRL-optimal stationary policies on a seeded model with one unsafe state, the "
             r"exact violation probability $P_T$ (flag-augmented chain) against the discounted "
             r"unsafety $H_{unsafe}$ ($\gamma_u=0.95$) for $T\in\{3,10,30\}$. Theorem 5 claims "
             r"every point lies on or below the diagonal; outlined points lie above it. Left: "
             r"the unsafe state is left again (violations, notes §3.9-A). Right: the unsafe "
             r"state is absorbing and $\gamma_u^T\geq1-\gamma_u$ holds for every $T$ shown, and "
             r"no point violates (checked), as the corrected statement says."),
    config={"n_safe": 6, "A": 3, "gamma_u": 0.95, "p_unsafe_max": 0.3, "u_return": 0.2,
            "Ts": [3, 10, 30], "n_random": 60, "n_optimal": 12},
    quick_config={"n_safe": 4, "A": 3, "gamma_u": 0.95, "p_unsafe_max": 0.3,
                  "u_return": 0.2, "Ts": [3, 10, 30], "n_random": 16, "n_optimal": 5},
    run=run,
))
