r"""Seeded random MDP generators (dense Dirichlet rows or sparse k-successor rows)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .mdp import TabularMDP

__all__ = ["as_generator", "random_mdp"]


def as_generator(rng: np.random.Generator | int) -> np.random.Generator:
    """Accept a ``numpy.random.Generator`` or an integer seed (nothing else: no global state)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ModelError(f"rng = {rng!r}, expected a numpy.random.Generator or an int seed",
                     field="rng")


def _distinct_successors(rng: np.random.Generator, n_rows: int, S: int, k: int) -> np.ndarray:
    """k distinct uniformly random states per row, (n_rows, k), by Floyd's algorithm.

    Floyd's sampling draws a uniform k-subset of range(S) with k draws; it is
    vectorised here over rows.
    """
    out = np.empty((n_rows, k), dtype=np.int64)
    for i, j in enumerate(range(S - k, S)):
        t = rng.integers(0, j + 1, size=n_rows)
        clash = (out[:, :i] == t[:, None]).any(axis=1) if i else np.zeros(n_rows, bool)
        out[:, i] = np.where(clash, j, t)
    return out


def random_mdp(
    rng: np.random.Generator | int,
    S: int,
    A: int,
    K: int = 0,
    *,
    gamma: float | None = 0.9,
    horizon: int | None = None,
    successors: int | None = None,
    concentration: float = 1.0,
    reward_range: tuple[float, float] = (0.0, 1.0),
) -> TabularMDP:
    r"""A random TabularMDP from a seeded generator.

    - Dense (``successors=None``): each row :math:`P(\cdot|s,a)\sim\mathrm{Dirichlet}
      (\text{concentration}\cdot\mathbf 1_S)`; P is (S, A, S).
    - Sparse (``successors=k``): each (s, a) gets k distinct uniformly chosen
      successor states with Dirichlet(concentration) weights; P is CSR (S*A, S).

    Rewards are uniform on ``reward_range``, costs uniform on [0, 1),
    :math:`\mu_0\sim\mathrm{Dirichlet}(\mathbf 1_S)`. Give ``horizon`` for a
    finite-horizon model (``gamma`` is then ignored). Same seed, same model.

    Examples
    --------
    >>> m = random_mdp(0, S=4, A=2, K=1)
    >>> m.S, m.A, m.K, m.gamma
    (4, 2, 1, 0.9)
    """
    rng = as_generator(rng)
    for name, val, lo in (("S", S, 1), ("A", A, 1), ("K", K, 0)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
            raise ModelError(f"{name} = {val!r}, expected an integer >= {lo}", field=name)
    if not concentration > 0:
        raise ModelError(f"concentration = {concentration!r}, expected > 0", field="concentration")
    n = S * A
    if successors is None:
        P = rng.dirichlet(np.full(S, concentration), size=(S, A))
    else:
        if not (1 <= successors <= S):
            raise ModelError(f"successors = {successors!r}, expected an integer in [1, S = {S}]",
                             field="successors")
        cols = _distinct_successors(rng, n, S, successors)
        w = rng.gamma(concentration, size=(n, successors))
        w_sum = w.sum(axis=1, keepdims=True)
        # Gamma draws can underflow to 0 for tiny concentration: fall back to uniform there.
        w = np.where(w_sum > 0, w / np.where(w_sum > 0, w_sum, 1.0), 1.0 / successors)
        indptr = np.arange(0, n * successors + 1, successors)
        P = sp.csr_array((w.ravel(), cols.ravel(), indptr), shape=(n, S))
    lo, hi = reward_range
    r = rng.uniform(lo, hi, size=(S, A))
    costs = rng.random((K, S, A)) if K else None
    mu0 = rng.dirichlet(np.ones(S))
    if horizon is not None:
        return TabularMDP(P, r, mu0, horizon=horizon, costs=costs)
    return TabularMDP(P, r, mu0, gamma=gamma, costs=costs)
