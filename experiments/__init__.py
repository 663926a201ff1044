"""Figure and table regeneration, the experiment store, the report and the ``boundlab`` CLI.

``experiments`` imports :mod:`theory` and :mod:`solvers`; nothing imports
``experiments`` (DESIGN.md, Layout). Entry point: :func:`experiments.cli.main`.
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["__version__", "versions"]

#: Version of the source tree, used when boundlab is not pip-installed
#: (kept equal to ``[project] version`` in pyproject.toml; a test checks it).
_SOURCE_VERSION = "0.1.0"

try:
    __version__: str = metadata.version("boundlab")
except metadata.PackageNotFoundError:
    __version__ = _SOURCE_VERSION


def versions() -> dict[str, str]:
    """Versions of boundlab and of the libraries whose output ends up in results."""
    import hypothesis
    import matplotlib
    import numpy
    import scipy

    return {"boundlab": __version__, "hypothesis": hypothesis.__version__,
            "matplotlib": matplotlib.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__}
