"""Rational arithmetic for exact certificates on small models.

Every float64 is a dyadic rational, so ``Fraction(x)`` is exact: the
computations here are exact for the model *as stored*, with no rounding at
all. They are used by ``verify(exact=True)`` and by checks that need an
independent, rounding-free reference on tiny instances.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .errors import ModelError
from .mdp import TabularMDP

__all__ = [
    "EXACT_MAX_STATES",
    "exact_bellman_q",
    "exact_policy_values",
    "fraction_array",
    "solve_fractions",
]

#: ``verify(exact=True)`` refuses larger models: Gaussian elimination over
#: fractions is O(S^3) with growing denominators.
EXACT_MAX_STATES = 60


def fraction_array(a: np.ndarray) -> np.ndarray:
    """Object array of exact ``Fraction`` copies of the float entries of ``a``."""
    a = np.asarray(a, dtype=float)
    out = np.empty(a.shape, dtype=object)
    for idx, val in np.ndenumerate(a):
        out[idx] = Fraction(float(val))
    return out


def solve_fractions(M: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``M x = b`` exactly over the rationals by Gauss-Jordan elimination.

    ``M`` is an (n, n) and ``b`` an (n,) or (n, m) object array of Fractions.
    Raises ``ZeroDivisionError`` if ``M`` is singular.
    """
    n = M.shape[0]
    B = b.reshape(n, -1)
    aug = [list(M[i]) + list(B[i]) for i in range(n)]
    for col in range(n):
        pivot = next((i for i in range(col, n) if aug[i][col] != 0), None)
        if pivot is None:
            raise ZeroDivisionError("singular matrix in exact solve")
        aug[col], aug[pivot] = aug[pivot], aug[col]
        inv = 1 / aug[col][col]
        row = [v * inv for v in aug[col]]
        aug[col] = row
        for i in range(n):
            if i != col and aug[i][col] != 0:
                f = aug[i][col]
                aug[i] = [vi - f * vr for vi, vr in zip(aug[i], row, strict=True)]
    x = np.empty((n, B.shape[1]), dtype=object)
    for i in range(n):
        x[i] = aug[i][n:]
    return x.reshape(b.shape)


def _require_small(mdp: TabularMDP) -> None:
    if mdp.S > EXACT_MAX_STATES:
        raise ModelError(
            f"exact arithmetic needs S <= {EXACT_MAX_STATES}, got S = {mdp.S}; "
            "use verify(exact=False)",
            field="S",
        )


def exact_bellman_q(mdp: TabularMDP, v: np.ndarray, discount: Fraction | None = None) -> np.ndarray:
    r"""Exact :math:`q(s,a) = r(s,a) + \gamma\sum_{s'}P(s'|s,a)v(s')` as Fractions (S, A)."""
    _require_small(mdp)
    g = Fraction(mdp.gamma) if discount is None else discount
    P = fraction_array(mdp.dense_P())
    r = fraction_array(mdp.r)
    vf = v if v.dtype == object else fraction_array(v)
    return r + g * np.tensordot(P, vf, axes=([2], [0]))


def exact_policy_values(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    r"""Exact values as Fractions: (S,) discounted, (H+1, S) finite horizon (last row 0).

    Discounted: solves :math:`(I-\gamma P_\pi)v=r_\pi` by exact elimination.
    """
    _require_small(mdp)
    S = mdp.S
    P = fraction_array(mdp.dense_P())
    r = fraction_array(mdp.r)
    pif = fraction_array(pi)
    if mdp.finite_horizon:
        pis = pif if pif.ndim == 3 else np.array([pif] * mdp.horizon)
        V = np.empty((mdp.horizon + 1, S), dtype=object)
        V[mdp.horizon] = [Fraction(0)] * S
        for t in range(mdp.horizon - 1, -1, -1):
            q = r + np.tensordot(P, V[t + 1], axes=([2], [0]))
            V[t] = (pis[t] * q).sum(axis=1)
        return V
    g = Fraction(mdp.gamma)
    P_pi = np.einsum("sa,sat->st", pif, P)
    r_pi = (pif * r).sum(axis=1)
    M = np.empty((S, S), dtype=object)
    for i in range(S):
        for j in range(S):
            M[i, j] = (1 if i == j else 0) - g * P_pi[i, j]
    return solve_fractions(M, r_pi)
