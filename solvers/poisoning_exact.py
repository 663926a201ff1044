r"""Exact (rational) re-verification of an l1 poisoning LP solution (used by
``PoisoningResult.verify(exact=True)``).

The reported float vertex is classified coordinate by coordinate (on a face of the box or
free), the free coordinates are re-solved from the moment constraint in ``Fraction``
arithmetic, the dual is rebuilt from complementary slackness on the tight pairs, and the
certificate records exact primal feasibility, the exact primal and dual objectives and
their (exact) gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .poisoning_instance import PoisoningInstance

__all__ = ["ExactVertexCheck", "exact_certificate", "exact_farkas_margin", "exact_target"]

#: Distance below which a float coordinate is classified as sitting on a face / being tight.
_CLASSIFY_TOL = 1e-7


def _rational_solve(rows: list[list[Fraction]], rhs: list[Fraction], default: list[Fraction]
                    ) -> list[Fraction] | None:
    """Gauss-Jordan in Fractions; free unknowns take ``default``; None when inconsistent."""
    n = len(default)
    M = [[*r, c] for r, c in zip(rows, rhs, strict=True)]
    piv_cols: list[int] = []
    r = 0
    for col in range(n):
        p = next((i for i in range(r, len(M)) if M[i][col] != 0), None)
        if p is None:
            continue
        M[r], M[p] = M[p], M[r]
        inv = 1 / M[r][col]
        M[r] = [v * inv for v in M[r]]
        for i in range(len(M)):
            if i != r and M[i][col] != 0:
                f = M[i][col]
                M[i] = [a - f * b for a, b in zip(M[i], M[r], strict=True)]
        piv_cols.append(col)
        r += 1
    if any(all(v == 0 for v in row[:n]) and row[n] != 0 for row in M[r:]):
        return None
    x = list(default)
    free = [c for c in range(n) if c not in piv_cols]
    for i, col in enumerate(piv_cols):
        x[col] = M[i][n] - sum((M[i][c] * default[c] for c in free), Fraction(0))
    return x


@dataclass(frozen=True, eq=False)
class ExactVertexCheck:
    r"""The l1 vertex and its dual rebuilt in ``Fraction`` arithmetic (:func:`exact_certificate`).

    Attributes
    ----------
    ok : bool
        ``feasible``, ``gap == 0`` exactly and ``deviation <= _CLASSIFY_TOL``.
    feasible : bool
        The rebuilt :math:`\zeta` satisfies :math:`\Phi\zeta=b` (by construction) and the box
        :math:`-\theta_O\le\zeta\le1-\theta_O` exactly.
    cost, lower_bound, gap : Fraction or None
        :math:`\|\zeta\|_1`, the dual value :math:`g(\lambda)` and their difference, exact;
        None when the active set gives an inconsistent system.
    deviation : float
        :math:`\max_i|\zeta^{exact}_i-\zeta_i|` against the reported float vertex.
    zeta, lam : lists of Fraction or None
        The rebuilt vertex and dual.
    reason : str
        Why the check could not be carried out ("" otherwise).
    """

    ok: bool
    feasible: bool
    cost: Fraction | None
    lower_bound: Fraction | None
    gap: Fraction | None
    deviation: float
    zeta: list[Fraction] | None
    lam: list[Fraction] | None
    reason: str = ""


def exact_target(inst: PoisoningInstance) -> list[Fraction]:
    r""":math:`b=\Phi(\theta_A-\theta_O)` (or the target_moment) in exact rationals."""
    F = Fraction
    if inst.theta_A is None:
        return [F(float(v)) for v in inst.target_moment]
    d = [F(float(a)) - F(float(o)) for a, o in zip(inst.theta_A, inst.theta_O, strict=True)]
    return [sum((F(float(p)) * di for p, di in zip(row, d, strict=True)), F(0))
            for row in inst.Phi]


def exact_certificate(inst: PoisoningInstance, zeta: np.ndarray, lam: np.ndarray
                      ) -> ExactVertexCheck:
    r"""Rebuild the l1 vertex and its dual in ``Fraction`` arithmetic and check them exactly.

    The data are the exact rationals of the stored float64 values. Coordinates within
    ``_CLASSIFY_TOL`` of a face (:math:`-\theta_{O,i}`, 0, :math:`1-\theta_{O,i}`) are fixed
    there; the free ones solve :math:`\Phi_F\zeta_F=b-\Phi_{\bar F}\zeta_{\bar F}` exactly. The
    dual solves complementary slackness :math:`\phi_i^\top\lambda=\mathrm{sign}(\zeta_i)` on the
    free and tight coordinates (remaining freedom from the float :math:`\lambda`); the exact
    lower bound is :math:`g(\lambda)`. ``ok`` = exactly feasible, exact gap = 0, and the
    rebuilt vertex within ``_CLASSIFY_TOL`` of the reported :math:`\zeta` (``deviation``).
    """
    F = Fraction
    Phi = [[F(float(v)) for v in row] for row in inst.Phi]
    fd, n = inst.feat_dim, inst.n_pairs
    thO = [F(float(v)) for v in inst.theta_O]
    b = exact_target(inst)
    zq: list[Fraction | None] = [None] * n
    free = []
    for i in range(n):
        for face in (-thO[i], F(0), 1 - thO[i]):
            if abs(zeta[i] - float(face)) < _CLASSIFY_TOL:
                zq[i] = face
                break
        else:
            free.append(i)
    rhs = [b[k] - sum((Phi[k][i] * zq[i] for i in range(n) if zq[i] is not None), F(0))
           for k in range(fd)]
    xf = _rational_solve([[Phi[k][i] for i in free] for k in range(fd)], rhs,
                         [F(float(zeta[i])) for i in free])
    if xf is None:
        return ExactVertexCheck(False, False, None, None, None, float("nan"), None, None,
                                "active set of the float vertex gives an inconsistent system")
    for i, v in zip(free, xf, strict=True):
        zq[i] = v
    feasible = all(-thO[i] <= zq[i] <= 1 - thO[i] for i in range(n))
    cost = sum((abs(v) for v in zq), F(0))
    s = inst.Phi.T @ lam
    tight = [i for i in range(n) if i in free or abs(abs(s[i]) - 1) < _CLASSIFY_TOL]
    signs = [F(int(np.sign(zeta[i]))) if i in free else F(int(np.sign(s[i]))) for i in tight]
    lq = _rational_solve([[Phi[k][i] for k in range(fd)] for i in tight], signs,
                         [F(float(v)) for v in lam])
    if lq is None:
        lq = [F(float(v)) for v in lam]
    sq = [sum((Phi[k][i] * lq[k] for k in range(fd)), F(0)) for i in range(n)]
    g = (sum((b[k] * lq[k] for k in range(fd)), F(0))
         - sum(((1 - thO[i]) * max(sq[i] - 1, F(0)) + thO[i] * max(-sq[i] - 1, F(0))
                for i in range(n)), F(0)))
    # the rebuilt vertex must be the reported one (up to HiGHS's rounding), not a repair of it
    deviation = max(abs(float(zq[i]) - float(zeta[i])) for i in range(n))
    return ExactVertexCheck(bool(feasible and cost == g and deviation <= _CLASSIFY_TOL),
                            feasible, cost, g, cost - g, deviation, zq, lq)


def exact_farkas_margin(inst: PoisoningInstance, y: np.ndarray) -> Fraction:
    r"""Exact :math:`b^\top y-\sum_i[(1-\theta_{O,i})(\phi_i^\top y)_++\theta_{O,i}
    (-\phi_i^\top y)_+]`: positive iff :math:`y` separates :math:`b` from
    :math:`\Phi([0,1]^N-\theta_O)`, i.e. proves that (P1) is infeasible.

    Computed in ``Fraction`` on the exact rationals of the stored floats.
    """
    F = Fraction
    yq = [F(float(v)) for v in y]
    sq = [sum((F(float(inst.Phi[k, i])) * yq[k] for k in range(inst.feat_dim)), F(0))
          for i in range(inst.n_pairs)]
    reach = sum((max(s, 0) * (1 - F(float(inst.theta_O[i])))
                 + max(-s, 0) * F(float(inst.theta_O[i])) for i, s in enumerate(sq)), F(0))
    return sum((a * b for a, b in zip(exact_target(inst), yq, strict=True)), F(0)) - reach
