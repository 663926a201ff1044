r"""Figure ``bilevel_estimator_diagnostics``: bias and variance of sampled hypergradients.

Random configurable MDPs of the bilevel notes' §4 design (:func:`notes_model`: Dirichlet
kernel, :math:`r_F=r_0+\tanh(\Phi_Fx)`, :math:`r_U=u+\Phi_Ux`). Values are
:math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`.

(a) **Bias.** On each of ``n_instances`` instances, the mean of N single-trajectory
BC-HG samples (:func:`solvers.hypergradient_sampling.sampled_hypergradient`, exact
critics, §1.4) is compared with the exact hypergradient from forward-mode implicit
differentiation (``BilevelPoint.gradient("implicit")``, not the covariance form):
:math:`z_i=(\bar g_i-\nabla_iF)/\mathrm{se}_i`. Unbiased means the histogram of z
looks standard normal (N(0, 1) overlaid). The naive (direct-term-only) estimator from
the same trajectories is biased; its z-scores are stored for contrast.

(b) **Variance.** Trace of the covariance of the per-trajectory *response term*
(the part multiplied by :math:`1/\tau`), four unbiased variants (notes §4 table):

- ``bchg``: :math:`\frac1\tau\sum_t\gamma_U^tA_U(s_t,a_t)\hat G_t` (BC-HG);
- ``hpgd``: :math:`\frac1\tau\sum_t\gamma_U^tA_U(s_t,a_t)(\hat G_t-\nabla V_F(s_t))`, the
  HPGD-style advantage gradient with the exact (oracle) baseline
  :math:`\nabla V_F(s)=\sum_a\pi J_Q(s,a)`;
- ``q_for_a``: :math:`\frac1\tau\sum_t\gamma_U^tQ_U(s_t,a_t)(\hat G_t-\nabla V_F(s_t))`
  (Q instead of A; still unbiased thanks to the baseline);
- ``oracle``: :math:`\frac1\tau\sum_t\gamma_U^tA_U(s_t,a_t)J_Q(s_t,a_t)` (exact
  :math:`\nabla Q_F`),

as functions of :math:`\tau` (discounts fixed) and of the effective horizon
:math:`1/(1-\gamma)` (:math:`\gamma_F=\gamma_U=\gamma`, :math:`\tau` fixed), log scale.

``data.csv`` (long format) columns: ``panel, instance, component, tau, gamma_F, gamma_U,
method, value``; panel ``z`` (value: z-score; method ``bchg`` or ``naive``), panels
``var_tau`` and ``var_horizon`` (value: trace of the sample covariance, ddof = 1;
component -1).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import NullFormatter

from solvers.configurable_mdp import ConfigurableMDP
from solvers.hypergradient import BilevelPoint, bilevel_point
from solvers.hypergradient_sampling import (
    default_horizon,
    sample_trajectories,
    sampled_hypergradient,
)
from theory.bilevel import build_model

from . import Figure, register_figure
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["CSV_HEADER", "FIGURE", "VARIANTS", "estimator_diagnostics_data", "notes_model",
           "response_variants"]

CSV_HEADER = ("panel", "instance", "component", "tau", "gamma_F", "gamma_U", "method", "value")
VARIANTS = ("bchg", "hpgd", "q_for_a", "oracle")
_LABELS = {"bchg": r"BC-HG $A_U\hat G$", "hpgd": r"HPGD-style $A_U(\hat G-\nabla V_F)$",
           "q_for_a": r"$Q_U(\hat G-\nabla V_F)$ (Q for A)",
           "oracle": r"$A_U\nabla Q_F$ (exact $\nabla Q_F$)"}


def notes_model(config: Mapping[str, Any], instance: int = 0, *, tau: float | None = None,
                gamma_F: float | None = None,
                gamma_U: float | None = None) -> tuple[ConfigurableMDP, np.ndarray]:
    r"""The §4 random configurable MDP number ``instance`` and its leader parameters x.

    ``config``: ``S, A, n, alpha`` (Dirichlet concentration of the kernel rows), ``seed``
    and defaults ``tau, gamma_F, gamma_U`` (overridden by the keywords). The arrays
    depend only on ``(seed, instance)``, so a sweep over tau or gamma changes nothing else.
    :math:`r_F=r_0+\tanh(\Phi_Fx)`, :math:`r_U=u+\Phi_Ux`, entries N(0, 1), x ~ N(0, 1/4).
    """
    S, A, n = int(config["S"]), int(config["A"]), int(config["n"])
    rng = np.random.default_rng([int(config["seed"]), int(instance)])
    inst = {"rF0": rng.normal(size=(S, A)), "PhiF": rng.normal(size=(S, A, n)),
            "rU0": rng.normal(size=(S, A)), "PhiU": rng.normal(size=(S, A, n)), "tanh": True,
            "mu0": rng.dirichlet(np.ones(S)), "x": 0.5 * rng.normal(size=n),
            "P": rng.dirichlet(np.full(S, float(config["alpha"])), size=(S, A)),
            "logits": None, "Psi": None,
            "tau": float(config["tau"] if tau is None else tau),
            "gamma_F": float(config["gamma_F"] if gamma_F is None else gamma_F),
            "gamma_U": float(config["gamma_U"] if gamma_U is None else gamma_U)}
    inst["P"] /= inst["P"].sum(axis=2, keepdims=True)
    return build_model(inst), inst["x"]


def response_variants(point: BilevelPoint, N: int, rng: np.random.Generator,
                      H: int | None = None, chunk: int = 2_000_000) -> dict[str, np.ndarray]:
    r"""Per-trajectory response-term samples (N, n) of the four :data:`VARIANTS`.

    :math:`\hat G_t=\sum_k\gamma_F^k[\nabla r_F+\gamma_F\nabla\log P\,V_F]_{t+k}` over the
    truncated trajectory (H steps, default :func:`default_horizon` of the larger discount);
    every variant has mean equal to the exact response term ``point.response`` (up to the
    truncation weight :math:`\gamma^H\le10^{-13}`). Trajectories are drawn in batches of
    ``max(1, chunk // (H n))`` (the batching of
    :func:`~solvers.hypergradient_sampling.sampled_hypergradient`, so the same generator
    state gives the same trajectories as that function).
    """
    m = point.model
    H = default_horizon(max(m.gamma_U, m.gamma_F)) if H is None else int(H)
    size = max(1, chunk // (H * m.n))
    parts, done = [], 0
    while done < N:
        b = min(size, N - done)
        parts.append(_variants_batch(point, *sample_trajectories(point, b, H, rng)))
        done += b
    return {k: np.concatenate([p[k] for p in parts]) for k in VARIANTS}


def _variants_batch(point: BilevelPoint, s: np.ndarray, a: np.ndarray) -> dict[str, np.ndarray]:
    m, d = point.model, point.data
    N, H = a.shape
    st, s1 = s[:, :-1], s[:, 1:]
    y = d["J_rF"][st, a]
    if d["score_P"] is not None:
        y = y + m.gamma_F * d["score_P"][st, a, s1] * point.V_F[s1][..., None]
    G = np.empty_like(y)
    acc = np.zeros((N, m.n))
    for t in range(H - 1, -1, -1):
        acc = y[:, t] + m.gamma_F * acc
        G[:, t] = acc
    w = m.gamma_U ** np.arange(H) / m.tau
    dVF = np.einsum("sa,san->sn", point.pi, point.J_Q)[st]
    A_w, Q_w = point.A_U[st, a] * w, point.Q_U[st, a] * w
    return {"bchg": np.einsum("bt,btn->bn", A_w, G),
            "hpgd": np.einsum("bt,btn->bn", A_w, G - dVF),
            "q_for_a": np.einsum("bt,btn->bn", Q_w, G - dVF),
            "oracle": np.einsum("bt,btn->bn", A_w, point.J_Q[st, a])}


def _trace_var(samples: np.ndarray) -> float:
    return float(samples.var(axis=0, ddof=1).sum())


def estimator_diagnostics_data(config: Mapping[str, Any]) -> list[tuple]:
    """Rows of ``data.csv``: z-scores (panel a) and variance traces (panel b)."""
    rows: list[tuple] = []
    seed = int(config["seed"])
    gF, gU = float(config["gamma_F"]), float(config["gamma_U"])
    for i in range(int(config["n_instances"])):
        m, x = notes_model(config, i)
        p = bilevel_point(m, x)
        exact = p.gradient("implicit")
        sg = sampled_hypergradient(p, int(config["N_z"]), np.random.default_rng([seed, i, 2]))
        N = sg.samples.shape[0]
        for method, smp in (("bchg", sg.samples), ("naive", sg.direct)):
            z = (smp.mean(axis=0) - exact) / (smp.std(axis=0, ddof=1) / np.sqrt(N))
            rows += [("z", i, k, m.tau, gF, gU, method, float(z[k])) for k in range(m.n)]
    sweeps = [("var_tau", {"tau": float(t)}) for t in config["taus"]]
    sweeps += [("var_horizon", {"gamma_F": float(g), "gamma_U": float(g)})
               for g in config["gammas"]]
    for j, (panel, kw) in enumerate(sweeps):
        m, x = notes_model(config, 0, **kw)
        p = bilevel_point(m, x)
        var = response_variants(p, int(config["N_var"]), np.random.default_rng([seed, j, 3]))
        rows += [(panel, 0, -1, m.tau, m.gamma_F, m.gamma_U, k, _trace_var(v))
                 for k, v in var.items()]
    return rows


def _plot(rows: list[tuple], out_dir: Path) -> dict[str, Path]:
    with paper_style():
        fig, axes = new_figure(figsize=(7.0, 2.5), ncols=3)
        z = np.array([r[7] for r in rows if r[0] == "z" and r[6] == "bchg"])
        lim = max(4.0, float(np.abs(z).max()))
        axes[0].hist(z, bins=np.linspace(-lim, lim, 25), density=True, color=OKABE_ITO[0],
                     alpha=0.7, label=f"BC-HG, {z.size} z-scores")
        u = np.linspace(-lim, lim, 200)
        axes[0].plot(u, np.exp(-u * u / 2) / np.sqrt(2 * np.pi), color="k", label="N(0, 1)")
        axes[0].set_xlabel(r"$z=(\bar g_i-\nabla_iF)/\mathrm{se}_i$")
        axes[0].set_ylabel("density")
        axes[0].legend(loc="upper left")
        for ax, panel, xfun, xlabel in (
                (axes[1], "var_tau", lambda r: r[3], r"follower temperature $\tau$"),
                (axes[2], "var_horizon", lambda r: 1 / (1 - r[4]),
                 r"effective horizon $1/(1-\gamma)$")):
            for c, method in zip(OKABE_ITO[:len(VARIANTS)], VARIANTS, strict=True):
                sel = [r for r in rows if r[0] == panel and r[6] == method]
                ax.loglog([xfun(r) for r in sel], [r[7] for r in sel], "o-", markersize=3,
                          color=c, label=_LABELS[method])
            xs = sorted({xfun(r) for r in rows if r[0] == panel})
            ax.set_xticks(xs, [f"{v:.3g}" for v in xs])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(xlabel)
            ax.set_ylabel("trace Var (response term)")
        axes[1].legend(loc="upper right", fontsize=5.5)
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute and plot; writes figure.png, figure.pdf and data.csv into ``out_dir``."""
    rows = estimator_diagnostics_data(config)
    paths = _plot(rows, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    return paths


_BASE = {"S": 5, "A": 3, "n": 4, "alpha": 1.0, "tau": 0.5, "gamma_F": 0.9, "gamma_U": 0.8}

FIGURE = register_figure(Figure(
    name="bilevel_estimator_diagnostics",
    caption=(r"Sampled hypergradients on random configurable MDPs ($S=5$, $A=3$, $n=4$, "
             r"Dirichlet kernels, $\gamma_F=0.9$, $\gamma_U=0.8$). Left: z-scores of the mean "
             r"of $N$ single-trajectory BC-HG samples against the exact (implicit) "
             r"hypergradient, with the N(0, 1) density: no bias. Middle and right: trace of "
             r"the variance of the response-term sample for BC-HG, the HPGD-style estimator "
             r"with an oracle $\nabla V_F$ baseline, $Q_U$ in place of $A_U$, and the exact "
             r"$\nabla Q_F$, against $\tau$ and against the effective horizon "
             r"$1/(1-\gamma)$ ($\gamma_F=\gamma_U=\gamma$, $\tau=0.5$)."),
    config={**_BASE, "n_instances": 60, "N_z": 3000, "N_var": 5000,
            "taus": [0.1, 0.2, 0.5, 1.0, 2.0, 5.0], "gammas": [0.5, 0.75, 0.9, 0.95, 0.98]},
    quick_config={**_BASE, "n_instances": 16, "N_z": 500, "N_var": 1000,
                  "taus": [0.1, 0.5, 2.0], "gammas": [0.5, 0.75, 0.9]},
    run=run,
))
