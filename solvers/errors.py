"""Exceptions raised by boundlab's models and solvers."""

from __future__ import annotations

__all__ = ["ModelError"]


class ModelError(ValueError):
    """A model, policy or instance file is malformed.

    The message names the field, the offending index and value, and what was
    expected, e.g. ``"P[3, 1, :] sums to 0.97, expected 1 within 1e-09"``.
    ``field`` holds the name of the offending field for programmatic use.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
