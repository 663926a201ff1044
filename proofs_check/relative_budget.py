r"""Closed forms of the relative-budget reward (Wachi et al., arXiv 2602.01523; notes §2.4).

Stand-alone sympy checks (nothing from ``solvers`` is imported):

- ``relative_budget_exponential_reward_moments``: for :math:`T\sim\mathrm{Exp}(p)` and
  :math:`\tilde R=(H-T)^+`, with :math:`\xi=pH`,
  :math:`E[\tilde R]/H=1-(1-e^{-\xi})/\xi` and
  :math:`E[\tilde R^2]/H^2=1-2/\xi+2(1-e^{-\xi})/\xi^2` (integrals done by sympy).
- ``relative_budget_geometric_reward_sum``: for :math:`\Pr[T=t]=p(1-p)^{t-1}` and symbolic
  :math:`H`, :math:`E[R]=\sum_{t=1}^H(1-(1-p)^t)=H-(1-p)(1-(1-p)^H)/p`.
- ``relative_budget_geometric_second_moment``: the second-moment closed form used by
  ``GeometricTime``, against the direct sum :math:`\sum_{j=1}^H(H-j+1)^2p(1-p)^{j-1}`
  for :math:`H=1..12` with :math:`p` symbolic.
"""

from __future__ import annotations

import sympy as sp

from .core import ProofCheck, identity_check
from .registry import register

__all__ = ["relative_budget_exponential_reward_moments", "relative_budget_geometric_reward_sum",
           "relative_budget_geometric_second_moment"]

SOURCE = ("Wachi et al., A Relative-Budget Theory for RL with Verifiable Rewards, arXiv "
          "2602.01523; poisoning_budget notes §2.4")
_GEOM_SECOND_MAX_H = 12


@register("relative_budget_exponential_reward_moments")
def relative_budget_exponential_reward_moments() -> ProofCheck:
    r"""Exponential case :math:`k=1` of the Gamma closed forms, by symbolic integration.

    .. math::

        \frac{E[(H-T)^+]}{H}=1-\frac{1-e^{-\xi}}{\xi},\qquad
        \frac{E[((H-T)^+)^2]}{H^2}=1-\frac2\xi+\frac{2(1-e^{-\xi})}{\xi^2},\qquad\xi=pH,

    where the left sides are :math:`\int_0^H(H-t)^jpe^{-pt}\,dt/H^j` computed by sympy, and
    the general forms :math:`HF_1-\mu F_2` and :math:`H^2F_1-2H\mu F_2+2F_3/p^2` (with
    :math:`F_j` the Gamma(:math:`j,p`) CDF at :math:`H`) agree with them.

    References
    ----------
    Wachi, Kinoshita, Takakura, Higuchi, Suzuki, *A Relative-Budget Theory for RLVR in
    LLM Reasoning*, arXiv 2602.01523; poisoning_budget notes §2.4 (derived closed forms).
    """
    p, H, t = sp.symbols("p H t", positive=True)
    xi = p * H
    dens = p * sp.exp(-p * t)
    m1 = sp.integrate((H - t) * dens, (t, 0, H)) / H
    m2 = sp.integrate((H - t) ** 2 * dens, (t, 0, H)) / H**2

    def F(j: int) -> sp.Expr:  # Gamma(j, p) CDF at H, integer j
        return 1 - sp.exp(-xi) * sum(xi**i / sp.factorial(i) for i in range(j))

    mu = 1 / p
    general = [(H * F(1) - mu * F(2)) / H, (H**2 * F(1) - 2 * H * mu * F(2) + 2 * F(3) / p**2)
               / H**2]
    closed = [1 - (1 - sp.exp(-xi)) / xi, 1 - 2 / xi + 2 * (1 - sp.exp(-xi)) / xi**2]
    return identity_check(
        "relative_budget_exponential_reward_moments",
        r"E[\tilde R]/H=1-\tfrac{1-e^{-\xi}}{\xi},\ E[\tilde R^2]/H^2=1-\tfrac2\xi+"
        r"\tfrac{2(1-e^{-\xi})}{\xi^2}",
        [m1, m2, general[0], general[1]], [closed[0], closed[1], closed[0], closed[1]],
        simplify=lambda e: sp.simplify(sp.expand(e)),
        details={"source": SOURCE})


@register("relative_budget_geometric_reward_sum")
def relative_budget_geometric_reward_sum() -> ProofCheck:
    r"""Geometric-sum form of :math:`E[R]` for symbolic :math:`H` and :math:`p\in(0,1)`.

    .. math::

        E[R]=\sum_{j=1}^H(H-j+1)p(1-p)^{j-1}=\sum_{t=1}^H\big(1-(1-p)^t\big)
        =H-\frac{(1-p)(1-(1-p)^H)}{p}.

    The first sum (the definition :math:`R=(H-T+1)\mathbb 1\{T\le H\}`) and the second
    (:math:`R=\sum_t\mathbb 1\{T\le t\}`) are evaluated by ``sympy.summation`` with
    :math:`a=1-p` a symbol in (0, 1).

    References
    ----------
    Wachi, Kinoshita, Takakura, Higuchi, Suzuki, *A Relative-Budget Theory for RLVR in
    LLM Reasoning*, arXiv 2602.01523; poisoning_budget notes §2.4 (derived closed forms).
    """
    a = sp.Symbol("a", positive=True)  # a = 1 - p
    H = sp.Symbol("H", positive=True, integer=True)
    j, t = sp.symbols("j t", positive=True, integer=True)
    assume = sp.Q.lt(a, 1)
    p = 1 - a
    by_def = sp.summation((H - j + 1) * p * a ** (j - 1), (j, 1, H))
    by_tail = sp.summation(1 - a**t, (t, 1, H))
    closed = H - a * (1 - a**H) / p

    def simplify(e: sp.Expr) -> sp.Expr:
        e = sp.piecewise_fold(e).subs(sp.Eq(a, 1), False)
        if isinstance(e, sp.Piecewise):
            e = e.args[-1][0] if len(e.args) > 1 else e.args[0][0]
        return sp.simplify(sp.powsimp(sp.expand(e), force=True))

    return identity_check(
        "relative_budget_geometric_reward_sum",
        r"\sum_{j=1}^H(H-j+1)p(1-p)^{j-1}=\sum_{t=1}^H(1-(1-p)^t)=H-\tfrac{(1-p)(1-(1-p)^H)}{p}",
        [by_def, by_tail], [closed, closed], assume=assume, simplify=simplify,
        details={"source": SOURCE})


@register("relative_budget_geometric_second_moment")
def relative_budget_geometric_second_moment() -> ProofCheck:
    r"""The closed form of :math:`E[R^2]` used by ``GeometricTime``, for :math:`H=1..12`.

    .. math::

        \sum_{j=1}^H(H-j+1)^2p\,a^{j-1}=\sum_{t=1}^H(2(H-t)+1)(1-a^t)
        =H^2-\frac{(2H+1)aw}{p}+\frac{2a(w-Hpa^H)}{p^2},\quad a=1-p,\ w=1-a^H,

    one entry per :math:`H` and identity, as rational functions of :math:`p`.

    References
    ----------
    Wachi, Kinoshita, Takakura, Higuchi, Suzuki, *A Relative-Budget Theory for RLVR in
    LLM Reasoning*, arXiv 2602.01523; poisoning_budget notes §2.4 (derived closed forms).
    """
    p = sp.Symbol("p", positive=True)
    a = 1 - p
    lhs, rhs = [], []
    for H in range(1, _GEOM_SECOND_MAX_H + 1):
        by_def = sum((H - j + 1) ** 2 * p * a ** (j - 1) for j in range(1, H + 1))
        by_tail = sum((2 * (H - t) + 1) * (1 - a**t) for t in range(1, H + 1))
        w = 1 - a**H
        closed = H**2 - (2 * H + 1) * a * w / p + 2 * a * (w - H * p * a**H) / p**2
        lhs += [by_def, by_tail]
        rhs += [closed, closed]
    return identity_check(
        "relative_budget_geometric_second_moment",
        r"E[R^2]=\sum_{t=1}^H(2(H-t)+1)(1-a^t)=H^2-\tfrac{(2H+1)aw}{p}+\tfrac{2a(w-Hpa^H)}{p^2}",
        lhs, rhs, details={"source": SOURCE, "H_range": f"1..{_GEOM_SECOND_MAX_H}"})
