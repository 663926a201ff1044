r"""Paper style and byte-reproducible output for figures.

Every figure is drawn on a :class:`matplotlib.figure.Figure` with the Agg
canvas (no pyplot state, no interactive backend) inside :func:`paper_style`,
which starts from matplotlib's defaults (a user's ``matplotlibrc`` cannot
change the bytes) and sets a fixed size, fonts and dpi. :func:`save_figure`
strips every time- or version-dependent metadata field, so the same data give
the same ``figure.png`` and ``figure.pdf`` bytes on every run.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib.style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..store import atomic_write_bytes, atomic_write_text

__all__ = [
    "DPI",
    "FIGSIZE",
    "OKABE_ITO",
    "PDF_METADATA",
    "PNG_METADATA",
    "new_figure",
    "paper_style",
    "save_figure",
    "write_csv",
]

#: Single-column figure size in inches (fits a two-column paper's column).
FIGSIZE: tuple[float, float] = (3.4, 2.6)
#: Raster resolution of figure.png.
DPI: int = 300
#: Okabe & Ito (2008) palette, distinguishable under the common colour-vision deficiencies.
OKABE_ITO: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                              "#56B4E9", "#F0E442", "#000000")
#: PNG metadata: drop the "Software" tag (it carries the matplotlib version).
PNG_METADATA: dict[str, Any] = {"Software": None}
#: PDF metadata: drop the dates (else the current time) and the producer strings.
PDF_METADATA: dict[str, Any] = {"CreationDate": None, "ModDate": None, "Producer": None,
                                "Creator": None}

_RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "legend.fontsize": 6.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "axes.linewidth": 0.6,
    "axes.grid": True,
    "grid.linewidth": 0.3,
    "grid.alpha": 0.5,
    "legend.frameon": False,
    "mathtext.fontset": "dejavusans",
    "pdf.fonttype": 42,
    "path.simplify": False,
}


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """matplotlib's defaults plus boundlab's paper settings, restored on exit."""
    with matplotlib.style.context(["default", _RC]):
        yield


def new_figure(figsize: tuple[float, float] = FIGSIZE, ncols: int = 1) -> tuple[Figure, Any]:
    """A Figure on the Agg canvas with ``ncols`` Axes side by side; call inside :func:`paper_style`.

    Returns the figure and one Axes (``ncols == 1``) or an array of Axes.
    """
    fig = Figure(figsize=figsize, dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols) if ncols > 1 else fig.add_subplot()
    return fig, axes


def save_figure(fig: Figure, out_dir: str | Path, stem: str = "figure") -> dict[str, Path]:
    """Write ``stem.png`` and ``stem.pdf`` atomically with fixed dpi and no metadata.

    Returns
    -------
    dict
        ``{"png": path, "pdf": path}``.
    """
    out_dir = Path(out_dir)
    paths = {}
    for fmt, meta in (("png", PNG_METADATA), ("pdf", PDF_METADATA)):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=DPI, metadata=meta)
        paths[fmt] = atomic_write_bytes(out_dir / f"{stem}.{fmt}", buf.getvalue())
    return paths


def _cell(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return repr(x)
    return str(x)


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a CSV atomically with ``repr`` floats (round-trip exact) and ``\\n`` line ends.

    ``None`` is written as an empty field. Cells must not contain commas or quotes.
    """
    lines = [",".join(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"CSV row {row!r} has {len(row)} fields, expected {len(header)}")
        cells = [_cell(x) for x in row]
        if any(("," in c) or ('"' in c) or ("\n" in c) for c in cells):
            raise ValueError(f"CSV row {row!r} has a cell with a comma, quote or newline")
        lines.append(",".join(cells))
    return atomic_write_text(path, "\n".join(lines) + "\n")
