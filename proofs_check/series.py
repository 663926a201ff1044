r"""Geometric series behind discounted values and normalised occupancy measures.

DESIGN.md normalises values as :math:`\mathbb E[\sum_t\gamma^t r_t]` and occupancy
measures as :math:`d=(1-\gamma)\sum_t\gamma^t\Pr(s_t=s,a_t=a)`; the factor
:math:`1/(1-\gamma)` that links them is the geometric series checked here.
"""

from __future__ import annotations

import sympy as sp

from .core import ProofCheck, identity_check
from .registry import register

__all__ = ["discounted_constant_reward_geometric_series"]

PUTERMAN = "Puterman, Markov Decision Processes (1994)"


@register("discounted_constant_reward_geometric_series")
def discounted_constant_reward_geometric_series() -> ProofCheck:
    r"""Discounted sum of a constant reward, infinite and finite horizon.

    For a constant reward :math:`c`, :math:`0<\gamma<1` and a horizon
    :math:`H\ge 1`,

    .. math::

        \sum_{t\ge 0}\gamma^t c = \frac{c}{1-\gamma},\qquad
        \sum_{t=0}^{H-1}\gamma^t c = \frac{c\,(1-\gamma^H)}{1-\gamma},\qquad
        (1-\gamma)\sum_{t\ge 0}\gamma^t = 1,

    the last saying that the normalised occupancy measure
    :math:`d=(1-\gamma)\sum_t\gamma^t\Pr(s_t,a_t)` has total mass 1, so that
    :math:`V^\pi(\mu_0)=\langle d^\pi,r\rangle/(1-\gamma)` (values unnormalised,
    :math:`\mathbb E[\sum_t\gamma^t r_t]`). The sums are evaluated by
    ``sympy.summation``; its ``Piecewise`` convergence branch is resolved with
    ``refine`` under :math:`\gamma<1` (the symbol is declared positive).

    The residual is a 3-vector, one entry per identity in the order above.

    References
    ----------
    Puterman, *Markov Decision Processes* (1994), §6.1 (policy evaluation) and
    §6.9 (linear programming, occupancy measures); Altman, *Constrained Markov
    Decision Processes* (1999), ch. 3.
    """
    gamma = sp.Symbol("gamma", positive=True)
    c = sp.Symbol("c", real=True)
    t = sp.Symbol("t", integer=True, nonnegative=True)
    H = sp.Symbol("H", integer=True, positive=True)
    infinite = sp.summation(gamma**t * c, (t, 0, sp.oo))
    finite = sp.summation(gamma**t * c, (t, 0, H - 1))
    mass = (1 - gamma) * sp.summation(gamma**t, (t, 0, sp.oo))
    return identity_check(
        "discounted_constant_reward_geometric_series",
        r"\sum_{t\ge0}\gamma^t c=\frac{c}{1-\gamma},\quad"
        r"\sum_{t=0}^{H-1}\gamma^t c=\frac{c(1-\gamma^H)}{1-\gamma},\quad"
        r"(1-\gamma)\sum_{t\ge0}\gamma^t=1\qquad(0<\gamma<1)",
        lhs=[infinite, finite, mass],
        rhs=[c / (1 - gamma), c * (1 - gamma**H) / (1 - gamma), 1],
        assume=sp.Q.lt(gamma, 1),
        details={"source": f"{PUTERMAN}, §6.1, §6.9"},
    )
