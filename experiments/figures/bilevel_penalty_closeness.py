r"""Figure ``bilevel_penalty_closeness``: the Kwon et al. penalty approaches F at rate sigma.

One seeded random configurable MDP of the notes' §4 design (one discount
:math:`\gamma=\gamma_F=\gamma_U`;
:func:`~experiments.figures.bilevel_estimator_diagnostics.notes_model`).
For :math:`\sigma` on a log grid, with :math:`W(x,\sigma)` the soft-optimal value of
:math:`r_F+\sigma r_U` (bilevel notes §2.5; values :math:`E[\sum_t\gamma^t(\cdot)]`, not
scaled by :math:`1-\gamma`),

.. math::
    \psi_\sigma(x)=\frac{W(x,\sigma)-W(x,0)}{\sigma},\qquad
    |\psi_\sigma-F|=\tfrac\sigma2\partial^2_\sigma W+O(\sigma^2),\qquad
    \|\nabla\psi_\sigma-\nabla F\|=O(\sigma),

the figure plots both errors on log-log axes, with least-squares slopes (expected 1)
printed and stored in ``fit.json``; the notes' §4 values (a different random instance)
are drawn in grey for comparison. :math:`F` and :math:`\nabla F` come from the
untilted follower's linear solves (covariance form), :math:`\psi_\sigma` and its
gradient from two tilted soft solves (:func:`solvers.penalty.penalty`): independent
computations.

Checked while the data are computed (:class:`PenaltyBroken` otherwise): :math:`\psi_\sigma\ge
F` and :math:`\psi_\sigma` nondecreasing in :math:`\sigma` (W convex in :math:`\sigma`), up to the
certified error of the soft solves.

``data.csv`` columns: ``sigma, psi, F, value_error, gradient_error, error_bound``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from solvers.hypergradient import bilevel_point, objective_error_bound
from solvers.penalty import penalty

from ..store import atomic_write_text
from . import Figure, register_figure
from .bilevel_estimator_diagnostics import notes_model
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["CSV_HEADER", "FIGURE", "NOTES_SECTION4", "PenaltyBroken", "loglog_slope",
           "penalty_closeness_data"]

CSV_HEADER = ("sigma", "psi", "F", "value_error", "gradient_error", "error_bound")

#: The notes' §4 measurements (another random instance): sigma -> (|psi - F|, ||grad err||).
NOTES_SECTION4 = {0.1: (1.35e-1, 1.7e-1), 0.03: (4.2e-2, 5.4e-2), 0.01: (1.4e-2, 1.8e-2),
                  0.003: (4.3e-3, 5.4e-3)}


class PenaltyBroken(AssertionError):
    """psi_sigma fell below F or decreased in sigma beyond the numerical error."""


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    r"""Least-squares slope of :math:`\log y` against :math:`\log x`."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def penalty_closeness_data(config: Mapping[str, Any]) -> list[tuple]:
    """Rows of ``data.csv`` for every sigma of the config; raises PenaltyBroken."""
    m, x = notes_model(config, gamma_F=float(config["gamma"]), gamma_U=float(config["gamma"]))
    p = bilevel_point(m, x, None)
    g = p.gradient("bc")
    rows = []
    prev = None
    for s in sorted(float(v) for v in config["sigmas"]):
        pen = penalty(m, x, s)
        err = pen.error_bound + objective_error_bound(p)
        if pen.value < p.F - err or (prev is not None and pen.value < prev[0] - err - prev[1]):
            raise PenaltyBroken(f"sigma = {s}: psi = {pen.value!r}, F = {p.F!r}, previous psi "
                                f"{prev!r} (error bound {err!r})")
        prev = (pen.value, err)
        rows.append((s, pen.value, p.F, abs(pen.value - p.F),
                     float(np.linalg.norm(pen.grad - g)), err))
    return rows


def _fit(rows: list[tuple]) -> dict[str, Any]:
    s = [r[0] for r in rows]
    return {"value_slope": loglog_slope(s, [r[3] for r in rows]),
            "gradient_slope": loglog_slope(s, [r[4] for r in rows]),
            "notes_section4": {str(k): list(v) for k, v in NOTES_SECTION4.items()},
            "notes_value_slope": loglog_slope(list(NOTES_SECTION4),
                                              [v[0] for v in NOTES_SECTION4.values()]),
            "notes_gradient_slope": loglog_slope(list(NOTES_SECTION4),
                                                 [v[1] for v in NOTES_SECTION4.values()])}


def _plot(rows: list[tuple], fit: dict, out_dir: Path) -> dict[str, Path]:
    s = np.array([r[0] for r in rows])
    ns = np.array(list(NOTES_SECTION4))
    nv = np.array(list(NOTES_SECTION4.values()))
    with paper_style():
        fig, ax = new_figure()
        ax.loglog(s, [r[3] for r in rows], "o-", markersize=3, color=OKABE_ITO[0],
                  label=rf"$|\psi_\sigma-F|$ (slope {fit['value_slope']:.3f})")
        ax.loglog(s, [r[4] for r in rows], "s-", markersize=3, color=OKABE_ITO[1],
                  label=rf"$\|\nabla\psi_\sigma-\nabla F\|$ (slope {fit['gradient_slope']:.3f})")
        ax.loglog(ns, nv[:, 0], "x", color="0.5", markersize=4, label=r"notes §4, value")
        ax.loglog(ns, nv[:, 1], "+", color="0.5", markersize=5, label=r"notes §4, gradient")
        ax.set_xlabel(r"penalty parameter $\sigma$")
        ax.set_ylabel("error")
        ax.legend(loc="upper left")
        fig.tight_layout(pad=0.3)
        return save_figure(fig, out_dir)


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check, fit and plot; writes figure.png/.pdf, data.csv and fit.json."""
    rows = penalty_closeness_data(config)
    fit = _fit(rows)
    print(f"bilevel_penalty_closeness: fitted log-log slopes: value {fit['value_slope']:.4f}, "
          f"gradient {fit['gradient_slope']:.4f} (expected 1)")
    paths = _plot(rows, fit, Path(out_dir))
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", CSV_HEADER, rows)
    paths["fit"] = atomic_write_text(Path(out_dir) / "fit.json",
                                     json.dumps(fit, indent=1, sort_keys=True) + "\n")
    return paths


FIGURE = register_figure(Figure(
    name="bilevel_penalty_closeness",
    caption=(r"Penalty view of the soft-follower hypergradient (Kwon et al.): on a random "
             r"configurable MDP ($S=5$, $A=3$, $n=4$, $\tau=0.5$, $\gamma=0.9$), "
             r"$|\psi_\sigma-F|$ and $\|\nabla\psi_\sigma-\nabla F\|$ against $\sigma$, log-log, "
             r"with fitted slopes (expected 1); grey: the notes' §4 values on another instance."),
    config={"S": 5, "A": 3, "n": 4, "tau": 0.5, "gamma": 0.9, "alpha": 1.0,
            "sigmas": [float(v) for v in np.logspace(-3, -1, 9)]},
    quick_config={"S": 5, "A": 3, "n": 4, "tau": 0.5, "gamma": 0.9, "alpha": 1.0,
                  "sigmas": [float(v) for v in np.logspace(-3, -1, 5)]},
    run=run,
))
