"""Policies: validation and conversions between action indices and (S, A) tables."""

from __future__ import annotations

import numpy as np

from .errors import ModelError
from .mdp import TabularMDP
from .validation import as_real_array, check_finite, check_nonnegative, check_rows_sum_to_one

__all__ = ["as_policy", "deterministic_policy", "greedy_policy", "uniform_policy"]


def as_policy(mdp: TabularMDP, pi: object, field: str = "pi") -> np.ndarray:
    """Validate a policy for ``mdp``: a read-only float array (S, A), or (H, S, A).

    A time-dependent ``(H, S, A)`` policy is accepted only by finite-horizon
    models. Every row ``pi[s, :]`` (``pi[t, s, :]``) must be a probability
    vector within 1e-9. An integer vector ``(S,)`` is *not* accepted here:
    convert action indices with :func:`deterministic_policy` first.
    """
    arr = as_real_array(pi, field)
    if arr.ndim == 2:
        expected = (mdp.S, mdp.A)
    elif arr.ndim == 3 and mdp.finite_horizon:
        expected = (mdp.horizon, mdp.S, mdp.A)
    else:
        allowed = "(S, A) or (H, S, A)" if mdp.finite_horizon else "(S, A)"
        raise ModelError(f"{field} has shape {arr.shape}, expected {allowed}", field=field)
    if arr.shape != expected:
        raise ModelError(f"{field} has shape {arr.shape}, expected {expected}", field=field)
    check_finite(arr, field)
    check_nonnegative(arr, field)
    check_rows_sum_to_one(arr.sum(axis=-1).ravel(), field, arr.shape[:-1])
    return arr


def deterministic_policy(actions: np.ndarray, A: int) -> np.ndarray:
    """One-hot table ``pi[..., a] = 1{a == actions[...]}`` from action indices."""
    actions = np.asarray(actions)
    if not np.issubdtype(actions.dtype, np.integer):
        raise ModelError(f"actions has dtype {actions.dtype}, expected integers", field="actions")
    if actions.size and (actions.min() < 0 or actions.max() >= A):
        bad = int(actions.min() if actions.min() < 0 else actions.max())
        raise ModelError(f"actions contains {bad}, expected indices in [0, {A})", field="actions")
    return np.eye(A)[actions]


def uniform_policy(mdp: TabularMDP) -> np.ndarray:
    """The uniformly random stationary policy (S, A)."""
    return np.full((mdp.S, mdp.A), 1.0 / mdp.A)


def greedy_policy(q: np.ndarray) -> np.ndarray:
    """Deterministic greedy table from Q values (..., A); ties go to the lowest action."""
    return np.eye(q.shape[-1])[np.argmax(q, axis=-1)]
