r"""Identities behind the RLVR estimator formulas: BNPO, RiskPO, G2D (notes §3.1-§3.3).

Stand-alone sympy checks (nothing from ``solvers`` is imported):

- ``bnpo_variance_integrand``: :math:`E[(R-p)^2\mid p]=p(1-p)` for
  :math:`R\sim\mathrm{Bern}(p)`, and the integrand of :math:`E[A^2]` is the kernel of
  :math:`\mathrm{Beta}(\alpha_0+3-2\alpha,\beta_0+3-2\beta)` times
  :math:`B(\alpha,\beta)^2/B(\alpha_0,\beta_0)`.
- ``bnpo_stationarity``: the gradient of :math:`\log\operatorname{Var}[A_{\alpha,\beta}]`
  vanishes at :math:`(1+\alpha_0/3,1+\beta_0/3)`, where the Hessian is
  :math:`6H_{\log B}(\alpha,\beta)`.
- ``beta_three_halves_density``: :math:`f_{\mathrm{Beta}(3/2,3/2)}(p)=(8/\pi)\sqrt{p(1-p)}`.
- ``g2d_pair_yield``: the pair-yield formulas for every G, and by enumeration for G <= 8.
- ``riskpo_rvar_advantage_forms``: the two forms of the RVaR advantage agree on all
  three regions of Y.
- ``riskpo_rvar_cvar_exponential``: :math:`\mathrm{RVaR}_{\alpha,\beta}=(\beta\mathrm{CVaR}_\beta
  -\alpha\mathrm{CVaR}_\alpha)/(\beta-\alpha)` for an exponential score, from the densities.
"""

from __future__ import annotations

import sympy as sp

from .core import ProofCheck, identity_check
from .registry import register

__all__ = ["beta_three_halves_density", "bnpo_stationarity", "bnpo_variance_integrand",
           "g2d_pair_yield", "log_variance_bnpo", "riskpo_rvar_advantage_forms",
           "riskpo_rvar_cvar_exponential"]

BNPO = "Xiao, Zhang, Cao, BNPO, arXiv 2506.02864; poisoning_budget notes §3.2"
G2D = "Verma & Ravindran, G2D, arXiv 2605.21266; poisoning_budget notes §3.1"
RISKPO = "Ren, Jiang, et al., RiskPO, arXiv 2510.00911; poisoning_budget notes §3.3"

a, b, a0, b0 = sp.symbols("alpha beta alpha_0 beta_0", positive=True)


def log_variance_bnpo(alpha: sp.Expr, beta: sp.Expr) -> sp.Expr:
    r""":math:`2\log B(\alpha,\beta)+\log B(\alpha_0+3-2\alpha,\beta_0+3-2\beta)
    -\log B(\alpha_0,\beta_0)`, written with ``loggamma``."""
    def logb(x: sp.Expr, y: sp.Expr) -> sp.Expr:
        return sp.loggamma(x) + sp.loggamma(y) - sp.loggamma(x + y)

    return 2 * logb(alpha, beta) + logb(a0 + 3 - 2 * alpha, b0 + 3 - 2 * beta) - logb(a0, b0)


@register("bnpo_variance_integrand")
def bnpo_variance_integrand() -> ProofCheck:
    r"""Conditional second moment and the Beta kernel of BNPO's variance integrand.

    .. math::

        \sum_{r\in\{0,1\}}p^r(1-p)^{1-r}(r-p)^2=p(1-p),\qquad
        p(1-p)\,\frac{p^{\alpha_0-1}(1-p)^{\beta_0-1}}{B(\alpha_0,\beta_0)}
        \Big(\frac{B(\alpha,\beta)}{p^{\alpha-1}(1-p)^{\beta-1}}\Big)^2
        =\frac{B(\alpha,\beta)^2}{B(\alpha_0,\beta_0)}
        p^{(\alpha_0+3-2\alpha)-1}(1-p)^{(\beta_0+3-2\beta)-1},

    so integrating over :math:`p\in(0,1)` gives the closed form
    :math:`B(\alpha,\beta)^2B(\alpha_0+3-2\alpha,\beta_0+3-2\beta)/B(\alpha_0,\beta_0)`.
    :math:`p=t/(1+t)` with :math:`t>0` makes both :math:`p` and :math:`1-p` positive.
    References
    ----------
    Xiao, Zhang, Cao, *BNPO: Beta Normalization Policy Optimization*, arXiv 2506.02864;
    poisoning_budget notes §3.2 (derived).
    """
    t = sp.Symbol("t", positive=True)
    p = t / (1 + t)
    Bab, B0 = sp.Symbol("B_ab", positive=True), sp.Symbol("B_0", positive=True)
    second = sum(p**r * (1 - p) ** (1 - r) * (r - p) ** 2 for r in (0, 1))
    integrand = p * (1 - p) * p ** (a0 - 1) * (1 - p) ** (b0 - 1) / B0 \
        * (Bab / (p ** (a - 1) * (1 - p) ** (b - 1))) ** 2
    kernel = Bab**2 / B0 * p ** (a0 + 3 - 2 * a - 1) * (1 - p) ** (b0 + 3 - 2 * b - 1)
    return identity_check(
        "bnpo_variance_integrand",
        r"E[(R-p)^2\mid p]=p(1-p),\quad \frac{p(1-p)\,\mathrm{Beta}(p;\alpha_0,\beta_0)}"
        r"{f_N(p;\alpha,\beta)^2}=\frac{B(\alpha,\beta)^2}{B(\alpha_0,\beta_0)}"
        r"p^{\alpha_0+2-2\alpha}(1-p)^{\beta_0+2-2\beta}",
        [second, integrand / kernel], [p * (1 - p), 1],
        simplify=lambda e: sp.simplify(sp.powsimp(sp.expand_power_base(e, force=True),
                                                  force=True)),
        details={"source": BNPO, "substitution": "p = t/(1+t), t > 0"},
    )


@register("bnpo_stationarity")
def bnpo_stationarity() -> ProofCheck:
    r"""Stationarity of BNPO's log-variance at :math:`(1+\alpha_0/3,1+\beta_0/3)`.

    .. math::

        \partial_\alpha\log V=2[\psi(\alpha)-\psi(\alpha+\beta)]-2[\psi(u)-\psi(u+v)],\quad
        u=\alpha_0+3-2\alpha,\ v=\beta_0+3-2\beta,

    and symmetrically in :math:`\beta`. At :math:`\alpha=1+\alpha_0/3`,
    :math:`\beta=1+\beta_0/3` one has :math:`u=\alpha`, :math:`v=\beta`, so both partial
    derivatives are 0. The Hessian there is :math:`6H_{\log B}(\alpha,\beta)`
    (:math:`2H_{\log B}` from the first term, :math:`(-2)^2H_{\log B}` from the second),
    positive definite since :math:`\log B` is strictly convex (Hölder), so the stationary
    point is the unique minimiser. Entries: the two partials, then the three Hessian
    entries minus :math:`6H_{\log B}`.
    References
    ----------
    Xiao, Zhang, Cao, *BNPO: Beta Normalization Policy Optimization*, arXiv 2506.02864;
    poisoning_budget notes §3.2 (derived).
    """
    logv = log_variance_bnpo(a, b)
    star = {a: 1 + a0 / 3, b: 1 + b0 / 3}
    grad = [sp.diff(logv, x).subs(star) for x in (a, b)]
    hess = [sp.diff(logv, x, y).subs(star) for x, y in ((a, a), (a, b), (b, b))]
    x, y = star[a], star[b]
    h_logb = [sp.polygamma(1, x) - sp.polygamma(1, x + y), -sp.polygamma(1, x + y),
              sp.polygamma(1, y) - sp.polygamma(1, x + y)]
    return identity_check(
        "bnpo_stationarity",
        r"\nabla_{\alpha,\beta}\log\operatorname{Var}[A_{\alpha,\beta}]\big|_{(1+\alpha_0/3,"
        r"1+\beta_0/3)}=0,\quad \nabla^2\log\operatorname{Var}=6\nabla^2\log B(\alpha,\beta)",
        grad + hess, [0, 0] + [6 * h for h in h_logb], simplify=sp.expand,
        details={"source": BNPO},
    )


@register("beta_three_halves_density")
def beta_three_halves_density() -> ProofCheck:
    r"""The Beta(3/2, 3/2) density is :math:`(8/\pi)\sqrt{p(1-p)}`.

    .. math::

        B(\tfrac32,\tfrac32)=\frac{\Gamma(3/2)^2}{\Gamma(3)}=\frac{\pi}{8},\qquad
        \int_0^1\sqrt{p(1-p)}\,dp=\frac\pi8,\qquad
        \frac{p^{1/2}(1-p)^{1/2}}{B(3/2,3/2)}=\frac8\pi\sqrt{p(1-p)},

    so BNPO with :math:`\alpha=\beta=3/2` is GRPO's :math:`(R-p)/\sqrt{p(1-p)}` times
    :math:`\pi/8`. The integral is computed by sympy (substituting :math:`p=\sin^2\theta`),
    independently of the Gamma values.
    References
    ----------
    Xiao, Zhang, Cao, *BNPO: Beta Normalization Policy Optimization*, arXiv 2506.02864;
    poisoning_budget notes §3.2 (derived).
    """
    t = sp.Symbol("t", positive=True)
    p = t / (1 + t)
    half = sp.Rational(3, 2)
    B = sp.gamma(half) ** 2 / sp.gamma(3)
    th = sp.Symbol("theta", positive=True)
    # q = sin(theta)^2 on [0, pi/2]: sqrt(q (1-q)) dq = sin cos * 2 sin cos dtheta (sin, cos >= 0)
    integral = sp.integrate(2 * sp.sin(th) ** 2 * sp.cos(th) ** 2, (th, 0, sp.pi / 2))
    density = p ** (half - 1) * (1 - p) ** (half - 1) / B
    return identity_check(
        "beta_three_halves_density",
        r"f_{\mathrm{Beta}(3/2,3/2)}(p)=\frac{p^{1/2}(1-p)^{1/2}}{B(3/2,3/2)}=\frac8\pi"
        r"\sqrt{p(1-p)},\quad B(3/2,3/2)=\int_0^1\sqrt{p(1-p)}\,dp=\frac\pi8",
        [B, integral, density], [sp.pi / 8, sp.pi / 8, 8 / sp.pi * sp.sqrt(p * (1 - p))],
        simplify=sp.simplify, details={"source": BNPO},
    )


@register("g2d_pair_yield")
def g2d_pair_yield() -> ProofCheck:
    r"""Pair yield of a group of G rollouts with success probability p.

    .. math::

        \Pr[0<j<G]=1-p^G-(1-p)^G,\qquad E[j(G-j)]=G(G-1)p(1-p),\qquad j\sim\mathrm{Bin}(G,p).

    For symbolic G, from :math:`E[j]=Gp` and :math:`E[j^2]=Gp(1-p)+G^2p^2`:
    :math:`E[j(G-j)]=GE[j]-E[j^2]=G(G-1)p(1-p)`. For each :math:`G=1..8`, summing the
    binomial pmf: :math:`\sum_{j=1}^{G-1}\binom Gj p^j(1-p)^{G-j}=1-p^G-(1-p)^G` and
    :math:`\sum_j\binom Gjp^j(1-p)^{G-j}j(G-j)=G(G-1)p(1-p)`.
    References
    ----------
    Verma & Ravindran, *G2D*, arXiv 2605.21266; poisoning_budget notes §3.1.
    """
    p, G = sp.symbols("p G", positive=True)
    general = G * (G * p) - (G * p * (1 - p) + G**2 * p**2)
    lhs, rhs = [general], [G * (G - 1) * p * (1 - p)]
    for g in range(1, 9):
        pmf = [sp.binomial(g, j) * p**j * (1 - p) ** (g - j) for j in range(g + 1)]
        lhs += [sum(pmf[1:g]), sum(w * j * (g - j) for j, w in enumerate(pmf))]
        rhs += [1 - p**g - (1 - p) ** g, g * (g - 1) * p * (1 - p)]
    return identity_check(
        "g2d_pair_yield",
        r"\Pr[0<j<G]=1-p^G-(1-p)^G,\quad E[j(G-j)]=G(G-1)p(1-p),\quad j\sim\mathrm{Bin}(G,p)",
        lhs, rhs, details={"source": G2D, "enumerated_G": "1..8"},
    )


@register("riskpo_rvar_advantage_forms")
def riskpo_rvar_advantage_forms() -> ProofCheck:
    r"""The two forms of RiskPO's RVaR advantage agree.

    .. math::

        (Y-q_\alpha)_+-(Y-q_\beta)_++q_\alpha-q_\beta=\mathrm{clip}(Y,q_\alpha,q_\beta)-q_\beta,

    checked with :math:`q_\beta=q_\alpha+m+e` on the three regions :math:`Y=q_\alpha-s`,
    :math:`Y=q_\alpha+m`, :math:`Y=q_\beta+s` (:math:`m,e,s\ge0`, so the middle point
    ranges over :math:`[q_\alpha,q_\beta]`); the right side is 0 on the last region.
    References
    ----------
    Ren, Jiang, et al., *RiskPO*, arXiv 2510.00911; poisoning_budget notes §3.3.
    """
    qa = sp.Symbol("q_alpha", real=True)
    m, e, s = sp.symbols("m e s", nonnegative=True)
    d = m + e  # q_beta - q_alpha >= 0, split at the middle-region point Y = q_alpha + m
    qb = qa + d
    lhs, rhs = [], []
    for y in (qa - s, qa + m, qb + s):
        # sympy decides the sign of each Max argument from the symbols' assumptions
        above_a, above_b = sp.factor(y - qa), sp.factor(y - qb)
        lhs.append(sp.Max(above_a, 0) - sp.Max(above_b, 0) + qa - qb)
        # clip(Y, q_a, q_b) = q_a + min(max(Y - q_a, 0), d)
        rhs.append(qa + sp.Min(sp.Max(above_a, 0), d) - qb)
    if any(e.has(sp.Max, sp.Min) for e in lhs + rhs):
        raise RuntimeError("riskpo_rvar_advantage_forms: a region's Max/Min did not resolve")
    return identity_check(
        "riskpo_rvar_advantage_forms",
        r"(Y-q_\alpha)_+-(Y-q_\beta)_++q_\alpha-q_\beta=\mathrm{clip}(Y,q_\alpha,q_\beta)-q_\beta",
        lhs, rhs, details={"source": RISKPO,
                           "regions": "Y < q_alpha, q_alpha <= Y <= q_beta, Y > q_beta"},
    )


@register("riskpo_rvar_cvar_exponential")
def riskpo_rvar_cvar_exponential() -> ProofCheck:
    r"""RVaR = (beta CVaR_beta - alpha CVaR_alpha)/(beta - alpha) for an exponential score.

    .. math::

        \mathrm{RVaR}_{\alpha,\beta}=\frac{\beta\,\mathrm{CVaR}_\beta-\alpha\,\mathrm{CVaR}_\alpha}
        {\beta-\alpha}.

    With :math:`q_u=-\log(1-u)/\lambda`, the conditional definitions
    :math:`\mathrm{CVaR}_u=\frac1u\int_0^{q_u}y\lambda e^{-\lambda y}dy` and
    :math:`\mathrm{RVaR}_{\alpha,\beta}=\frac1{\beta-\alpha}\int_{q_\alpha}^{q_\beta}y\lambda
    e^{-\lambda y}dy` are integrated symbolically; the identity holds for every continuous
    Y because :math:`\Pr[Y\le q_u]=u` exactly (it fails for atoms at a quantile).
    References
    ----------
    Ren, Jiang, et al., *RiskPO*, arXiv 2510.00911; poisoning_budget notes §3.3.
    """
    lam, y = sp.symbols("lambda y", positive=True)
    al, be = sp.symbols("alpha beta", positive=True)

    def q(u: sp.Expr) -> sp.Expr:
        return -sp.log(1 - u) / lam

    def moment(lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
        prim = sp.integrate(y * lam * sp.exp(-lam * y), y)  # antiderivative
        return prim.subs(y, hi) - prim.subs(y, lo)

    cvar_a, cvar_b = moment(0, q(al)) / al, moment(0, q(be)) / be
    rvar_ab = moment(q(al), q(be)) / (be - al)
    return identity_check(
        "riskpo_rvar_cvar_exponential",
        r"Y\sim\mathrm{Exp}(\lambda):\ \mathrm{RVaR}_{\alpha,\beta}="
        r"\frac{\beta\,\mathrm{CVaR}_\beta-\alpha\,\mathrm{CVaR}_\alpha}{\beta-\alpha}",
        rvar_ab, (be * cvar_b - al * cvar_a) / (be - al),
        simplify=lambda e: sp.simplify(sp.expand_log(e, force=True)),
        details={"source": RISKPO},
    )
