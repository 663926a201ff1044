"""Hypothesis strategies for tabular instances, shared by tests and ``boundlab check``.

Kernels are drawn as small non-negative integer weights per row, then
normalised: this reaches deterministic, sparse and uniform rows (the edge
cases of most bounds) and shrinks toward readable kernels. Rewards are
floats in [-1, 1] (or small decimals), discounts include 0 and values close
to 1.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from solvers import TabularMDP

__all__ = ["discounts", "mdp_and_policy", "mdps", "policies", "stochastic_rows"]


def stochastic_rows(draw: st.DrawFn, shape: tuple[int, ...], max_weight: int = 4) -> np.ndarray:
    """Rows (last axis) that are probability vectors, from integer weights; zero rows -> uniform."""
    w = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, max_weight))).astype(float)
    sums = w.sum(axis=-1, keepdims=True)
    uniform = np.full_like(w, 1.0 / shape[-1])
    return np.where(sums > 0, w / np.where(sums > 0, sums, 1.0), uniform)


def discounts(max_gamma: float = 0.99) -> st.SearchStrategy[float]:
    """Discounts in [0, max_gamma], with the edge values 0 and max_gamma likely."""
    return st.one_of(st.sampled_from([0.0, 0.5, 0.9, max_gamma]),
                     st.floats(0.0, max_gamma, allow_nan=False, allow_subnormal=False))


def _rewards(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=st.one_of(
        st.integers(-4, 4).map(lambda k: k / 4),
        st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)))


@st.composite
def mdps(draw: st.DrawFn, max_S: int = 5, max_A: int = 3, K: int = 0,
         horizon: bool | None = False, max_gamma: float = 0.99,
         max_horizon: int = 6) -> TabularMDP:
    """Small TabularMDPs: S in [1, max_S], A in [1, max_A], K costs.

    ``horizon=False`` gives discounted models, ``True`` finite-horizon ones,
    ``None`` either.
    """
    S = draw(st.integers(1, max_S))
    A = draw(st.integers(1, max_A))
    finite = draw(st.booleans()) if horizon is None else horizon
    P = stochastic_rows(draw, (S, A, S))
    r = draw(_rewards((S, A)))
    mu0 = stochastic_rows(draw, (S,))
    costs = draw(_rewards((K, S, A))) if K else None
    if finite:
        return TabularMDP(P, r, mu0, horizon=draw(st.integers(1, max_horizon)), costs=costs)
    return TabularMDP(P, r, mu0, gamma=draw(discounts(max_gamma)), costs=costs)


def policies(draw: st.DrawFn, mdp: TabularMDP, time_dependent: bool = False) -> np.ndarray:
    """A randomised policy (S, A) for ``mdp`` ((H, S, A) if time_dependent)."""
    shape = ((mdp.horizon,) if time_dependent and mdp.finite_horizon else ()) + (mdp.S, mdp.A)
    return stochastic_rows(draw, shape)


@st.composite
def mdp_and_policy(draw: st.DrawFn, **kwargs: object) -> dict:
    """``{"mdp": TabularMDP, "pi": (S, A) policy}``."""
    mdp = draw(mdps(**kwargs))
    return {"mdp": mdp, "pi": policies(draw, mdp)}
