r"""Figure ``rb_linear_growth`` (F-B3): xi_i and n_i/(k xi_i^2) against iteration i (Theorem 6.4).

:func:`solvers.relative_budget.iterate_budget` with :math:`\kappa_i=1/(k\xi_i^2)`, both the
idealised dynamics :math:`\mu\leftarrow\mu(1-\tfrac12\sqrt{\kappa_i/k})` and the
exact-Gamma one (exact :math:`J=E[(H-T)^+]` and :math:`\sigma_R`). The lower bound
:math:`\xi_i-\xi_0\ge i/(2k)` is checked on every iterate (:class:`ClaimViolated`).

``data.csv`` columns: ``shape, mode, i, xi, n, n_over_k_xi2, xi0_plus_i_over_2k``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from solvers.relative_budget import iterate_budget

from . import Figure, register_figure
from .rb_q_var_ac import ClaimViolated
from .style import OKABE_ITO, new_figure, paper_style, save_figure, write_csv

__all__ = ["FIGURE", "rb_linear_growth_data"]

HEADER = ("shape", "mode", "i", "xi", "n", "n_over_k_xi2", "xi0_plus_i_over_2k")


def rb_linear_growth_data(config: Mapping[str, Any]) -> list[tuple]:
    """One row per shape, mode and iterate."""
    rows: list[tuple] = []
    for k in map(float, config["shapes"]):
        for mode in ("idealised", "exact"):
            tr = iterate_budget(k, float(config["xi0_times_sqrt_shape"]) / k**0.5,
                                int(config["n_iter"]), mode=mode)
            for i, (x, n) in enumerate(zip(tr.xi, tr.n, strict=True)):
                line = float(tr.xi[0] + i / (2 * k))
                if x < line - 1e-9 * (1 + i) * x:  # rounding of i updates of xi
                    raise ClaimViolated(f"xi_{i} = {x!r} < xi_0 + i/(2k) = {line!r} "
                                        f"(shape {k}, {mode})")
                rows.append((k, mode, i, float(x), float(n), float(n / (k * x * x)), line))
    return rows


def run(config: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Compute, check and plot; writes figure.png, figure.pdf and data.csv."""
    rows = rb_linear_growth_data(config)
    with paper_style():
        fig, (ax, ax_n) = new_figure(figsize=(6.8, 2.5), ncols=2)
        for j, k in enumerate(map(float, config["shapes"])):
            c = OKABE_ITO[j % len(OKABE_ITO)]
            for mode, ls in (("idealised", "--"), ("exact", "-")):
                pts = [r for r in rows if r[0] == k and r[1] == mode]
                ax.plot([r[2] for r in pts], [r[3] for r in pts], color=c, linestyle=ls,
                        label=f"k={k:g} {mode}")
                ax_n.plot([r[2] for r in pts], [r[5] for r in pts], color=c, linestyle=ls)
            pts = [r for r in rows if r[0] == k and r[1] == "exact"]
            ax.plot([r[2] for r in pts], [r[6] for r in pts], color=c, linestyle=":",
                    linewidth=0.8)
        ax.set_xlabel("iteration $i$")
        ax.set_ylabel(r"$\xi_i$ (dotted: $\xi_0+i/(2k)$)")
        ax_n.set_xlabel("iteration $i$")
        ax_n.set_ylabel(r"$n_i/(k\xi_i^2)$")
        ax_n.set_yscale("log")
        ax.legend(loc="upper left", ncol=2)
        fig.tight_layout(pad=0.3)
        paths = save_figure(fig, out_dir)
    paths["csv"] = write_csv(Path(out_dir) / "data.csv", HEADER, rows)
    return paths


FIGURE = register_figure(Figure(
    name="rb_linear_growth",
    caption=(r"F-B3 (Theorem 6.4): relative budget $\xi_i$ against iteration with "
             r"$\kappa_i=1/(k\xi_i^2)$ for $T\sim\mathrm{Gamma}(k,p)$; dashed: the idealised "
             r"update $\mu\leftarrow\mu(1-\frac12\sqrt{\kappa_i/k})$, solid: the exact-Gamma "
             r"update with exact $J$ and $\sigma_R$, dotted: $\xi_0+i/(2k)$ (checked as a lower "
             r"bound at every iterate). Right: $n_i/(k\xi_i^2)$ with exact "
             r"$\mathrm{ac}$, $\sigma_R$ (constants 1) levels off: $n_i=\Theta(k\xi_i^2)$."),
    config={"shapes": [1, 2, 4, 8], "xi0_times_sqrt_shape": 1.0, "n_iter": 400},
    quick_config={"shapes": [1, 2, 4, 8], "xi0_times_sqrt_shape": 1.0, "n_iter": 100},
    run=run,
))
