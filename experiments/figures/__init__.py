r"""The figure registry: every figure ``boundlab figures`` and ``boundlab reproduce`` make.

A :class:`Figure` is a name, a caption, a default config, a quick config (for
``--quick``: smaller, same shape) and ``run(config, out_dir)``, which writes
``figure.png``, ``figure.pdf`` and ``data.csv`` (the numbers behind every
curve) into ``out_dir`` and returns their paths. :func:`run_figure` adds the
seed to the config, skips the work when ``out_dir/config.json`` already
records the same config hash and intact files, and otherwise runs the figure
and writes ``config.json`` last (so a directory without it is incomplete and
is redone). A later issue adds a figure by writing a module that calls
:func:`register_figure` and listing it in :data:`FIGURE_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import versions
from ..store import Store, config_hash

__all__ = [
    "FIGURE_MODULES",
    "Figure",
    "FigureRun",
    "figure_config",
    "figure_run_from_result",
    "figures",
    "get_figure",
    "register_figure",
    "run_figure",
]

#: Modules that register figures when imported.
FIGURE_MODULES: tuple[str, ...] = (
    "experiments.figures.vi_error",
    "experiments.figures.bnpo_variance_surface",
    "experiments.figures.g2d_pair_yield",
    "experiments.figures.sacpo_pareto_path",
    "experiments.figures.sacpo_bounds_vs_coverage",
    "experiments.figures.prefine_residual",
    "experiments.figures.poisoning_cost_vs_pairs",
    "experiments.figures.poisoning_features",
    "experiments.figures.poisoning_rounding",
    "experiments.figures.safemil_bag_size",
    "experiments.figures.cliffwalking_ccmdp",
    "experiments.figures.cmdp_randomization_hist",
    "experiments.figures.flip_fig2c_envelope",
    "experiments.figures.flip_fig3_budget",
    "experiments.figures.flip_fig4_surrogate",
    "experiments.figures.flip_thm8_hoeffding",
    "experiments.figures.rb_q_var_ac",
    "experiments.figures.rb_sample_size",
    "experiments.figures.rb_linear_growth",
    "experiments.figures.rb_efficiency",
    "experiments.figures.rlvr_sim_efficiency",
    "experiments.figures.bilevel_estimator_diagnostics",
    "experiments.figures.bilevel_mc_rate",
    "experiments.figures.bilevel_penalty_closeness",
    "experiments.figures.bilevel_trajectory_identity",
    "experiments.figures.bilevel_scaling",
    "experiments.figures.four_rooms_incentives",
    "experiments.figures.toy4_learning_curves",
    "experiments.figures.markov_game_naive_bias",
)

_FIGURES: dict[str, Figure] = {}


@dataclass(frozen=True)
class Figure:
    """A reproducible figure.

    Attributes
    ----------
    name : str
        Directory name under the output directory, e.g. ``"vi_error"``.
    caption : str
        The caption printed under the figure in the report.
    config : mapping
        Parameters of the full figure (JSON-able).
    quick_config : mapping
        Parameters for ``--quick``.
    run : callable(config, out_dir) -> dict of name -> Path
        Computes the data, checks what it claims, writes the files. ``config``
        holds the chosen parameters plus ``"seed"``.
    deterministic : bool
        True when the files depend only on the config and seed (same bytes on
        every run and backend). A timing figure is not: ``boundlab figures``
        makes it on request, ``boundlab reproduce`` leaves it out so that the
        report's bytes stay reproducible.
    """

    name: str
    caption: str
    config: Mapping[str, Any]
    quick_config: Mapping[str, Any]
    run: Callable[[Mapping[str, Any], Path], Mapping[str, Path]]
    deterministic: bool = True


@dataclass(frozen=True)
class FigureRun:
    """One figure made (or found in the cache): its directory, files and config hash.

    ``files`` maps file names (``"figure.png"``, ``"data.csv"``, ...) to paths.
    """

    figure: Figure
    directory: Path
    files: dict[str, Path]
    hash: str
    cached: bool

    def to_result(self) -> dict[str, Any]:
        """What an executor task returns: JSON-able, no paths outside ``out_root/<name>``."""
        return {"name": self.figure.name, "files": sorted(self.files), "hash": self.hash,
                "cached": self.cached}


def figure_run_from_result(result: Mapping[str, Any], out_root: str | Path) -> FigureRun:
    """The :class:`FigureRun` behind :meth:`FigureRun.to_result` (in the process that reports)."""
    directory = Path(out_root) / result["name"]
    return FigureRun(get_figure(result["name"]), directory,
                     {name: directory / name for name in result["files"]}, result["hash"],
                     bool(result["cached"]))


def register_figure(figure: Figure) -> Figure:
    """Add ``figure`` to the registry; names are unique."""
    existing = _FIGURES.get(figure.name)
    if existing is not None and existing is not figure:
        raise ValueError(f"figure name {figure.name!r} is registered twice")
    _FIGURES[figure.name] = figure
    return figure


def figures() -> tuple[Figure, ...]:
    """All registered figures, sorted by name."""
    for mod in FIGURE_MODULES:
        importlib.import_module(mod)
    return tuple(_FIGURES[k] for k in sorted(_FIGURES))


def get_figure(name: str) -> Figure:
    """The figure called ``name``; ``KeyError`` lists the known names."""
    figures()
    try:
        return _FIGURES[name]
    except KeyError:
        raise KeyError(f"no figure {name!r}; known figures: {sorted(_FIGURES)}") from None


def figure_config(figure: Figure, *, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """The cache key config: figure parameters with the seed, plus library versions."""
    params = {**(figure.quick_config if quick else figure.config), "seed": seed}
    v = versions()
    return {"kind": "figure", "name": figure.name, "config": params, "seed": seed,
            "boundlab": v["boundlab"], "matplotlib": v["matplotlib"], "numpy": v["numpy"]}


def run_figure(figure: Figure, out_root: str | Path, *, quick: bool = False, seed: int = 0,
               force: bool = False) -> FigureRun:
    """Make ``figure`` under ``out_root/<name>/`` unless the cache already holds it.

    Parameters
    ----------
    figure : Figure
    out_root : path
        The output directory; the figure goes to ``out_root / figure.name``.
    quick : bool
        Use ``figure.quick_config``.
    seed : int
        Seed of every random draw in the figure.
    force : bool
        Recompute even when the cache holds the result.
    """
    store = Store(out_root)
    directory = Path(out_root) / figure.name
    config = figure_config(figure, quick=quick, seed=seed)
    key = config_hash(config)
    manifest = None if force else store.read_directory_manifest(directory, config)
    if manifest is not None:
        files = {name: directory / name for name in sorted(manifest["files"])}
        return FigureRun(figure, directory, files, key, cached=True)
    produced = {Path(p).name: Path(p) for p in figure.run(config["config"], directory).values()}
    store.write_directory_manifest(directory, config, produced)
    return FigureRun(figure, directory, produced, key, cached=False)
