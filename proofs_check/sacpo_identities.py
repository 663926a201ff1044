r"""Identities behind SACPO's stepwise alignment and the DPO logistic loss (notes §4.3).

Stand-alone sympy checks (nothing from ``solvers`` is imported):

- ``sacpo_stepwise_realignment``: for three responses with a symbolic reference policy
  :math:`(p_1,p_2,1-p_1-p_2)`, symbolic :math:`r_i,g_i`, KL weight :math:`\beta>0` and
  multiplier :math:`\lambda\ge0`,
  :math:`\pi^\star_{r+\lambda g}\propto\pi^\star_r\,e^{\lambda g/\beta}` entry by entry
  (Theorem 1; realigning :math:`\pi^\star_r` to :math:`g` with weight :math:`\beta/\lambda`),
  the same for the opposite order (Remark 2), and the normaliser
  :math:`\Upsilon=Z_{r+\lambda g}/Z_r=\sum_a\pi^\star_r e^{\lambda g/\beta}`.
- ``log_sigmoid_odds``: :math:`\log\sigma(u)-\log\sigma(-u)=u` for real :math:`u`, which
  turns the Bradley-Terry likelihood into DPO's logistic loss.

The exponentials are split by ``expand`` (:math:`e^{(x+y)/\beta}=e^{x/\beta}e^{y/\beta}`,
the reverse-KL fact of Remark 1); after that each side is a rational function of the
exponentials and :func:`~proofs_check.core.rational_simplify` decides the identity.
"""

from __future__ import annotations

import sympy as sp

from .core import ProofCheck, identity_check
from .registry import register

__all__ = ["gibbs", "log_sigmoid_odds", "sacpo_stepwise_realignment", "split_exp_simplify"]

SACPO = "Wachi et al., SACPO (NeurIPS 2024), arXiv 2404.11049, Theorem 1, Remark 2"


def split_exp_simplify(expr: sp.Expr) -> sp.Expr:
    """``expand`` (splits exponentials of sums), then the rational canonical form."""
    return sp.cancel(sp.together(sp.expand(expr)))


def gibbs(base: list[sp.Expr], f: list[sp.Expr], weight: sp.Expr) -> list[sp.Expr]:
    r"""Symbolic alignment :math:`\pi_i=\mathrm{base}_ie^{f_i/w}/\sum_j\mathrm{base}_je^{f_j/w}`."""
    w = [b * sp.exp(fi / weight) for b, fi in zip(base, f, strict=True)]
    z = sum(w)
    return [wi / z for wi in w]


def _symbols() -> tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol], sp.Symbol, sp.Symbol]:
    p1, p2 = sp.symbols("p_1 p_2", positive=True)
    ref = [p1, p2, 1 - p1 - p2]
    r = list(sp.symbols("r_1:4", real=True))
    g = list(sp.symbols("g_1:4", real=True))
    beta, lam = sp.symbols("beta lambda", positive=True)
    return ref, r, g, beta, lam


@register("sacpo_stepwise_realignment")
def sacpo_stepwise_realignment() -> ProofCheck:
    r"""Joint Gibbs policy = stepwise realignment (both orders), and the normaliser identity.

    .. math::

        \pi^\star_{r+\lambda g}=T_{\lambda g}T_r\pi_{ref}=T_rT_{\lambda g}\pi_{ref},\qquad
        \frac{Z_{r+\lambda g}}{Z_r}=E_{\pi^\star_r}e^{\lambda g/\beta},

    with :math:`T_f\pi=\pi e^{f/\beta}/Z_f(\pi)`, three responses, a symbolic reference policy
    :math:`(p_1,p_2,1-p_1-p_2)` and symbolic :math:`r_i,g_i,\beta>0,\lambda>0`.

    References
    ----------
    Wachi, Tran, Sato, Tanabe, Akimoto, *Stepwise Alignment for Constrained Language Model
    Policy Optimization* (SACPO), NeurIPS 2024, arXiv 2404.11049, Theorem 1 and Remark 2;
    cmdp_ccmdp notes §4.3.
    """
    ref, r, g, beta, lam = _symbols()
    joint = gibbs(ref, [ri + lam * gi for ri, gi in zip(r, g, strict=True)], beta)
    reward_first = gibbs(gibbs(ref, r, beta), g, beta / lam)
    safety_first = gibbs(gibbs(ref, g, beta / lam), r, beta)
    pi_r = gibbs(ref, r, beta)
    z_joint = sum(p * sp.exp((ri + lam * gi) / beta) for p, ri, gi in zip(ref, r, g, strict=True))
    z_r = sum(p * sp.exp(ri / beta) for p, ri in zip(ref, r, strict=True))
    upsilon = sum(pr * sp.exp(lam * gi / beta) for pr, gi in zip(pi_r, g, strict=True))
    return identity_check(
        "sacpo_stepwise_realignment",
        r"\pi^\star_{r+\lambda g}=T_{\lambda g}T_r\pi_{ref}=T_rT_{\lambda g}\pi_{ref},\ "
        r"Z_{r+\lambda g}/Z_r=E_{\pi^\star_r}e^{\lambda g/\beta}",
        [*joint, *joint, z_joint / z_r], [*reward_first, *safety_first, upsilon],
        simplify=split_exp_simplify, details={"source": SACPO, "responses": 3})


@register("log_sigmoid_odds")
def log_sigmoid_odds() -> ProofCheck:
    r"""The log-odds of the logistic function.

    .. math::

        \log\sigma(u)-\log\sigma(-u)=u,\qquad\sigma(u)=\frac1{1+e^{-u}},\ u\in\mathbb R.

    References
    ----------
    Rafailov et al., *Direct Preference Optimization*, NeurIPS 2023, eqs. 5-7.
    """
    u = sp.Symbol("u", real=True)

    def sigma(x: sp.Expr) -> sp.Expr:
        return 1 / (1 + sp.exp(-x))

    # sympy.simplify merges the logs (u real) and reduces (1+e^u)/(1+e^-u) to e^u.
    return identity_check("log_sigmoid_odds", r"\log\sigma(u)-\log\sigma(-u)=u",
                          sp.log(sigma(u)) - sp.log(sigma(-u)), u, simplify=sp.simplify,
                          details={"source": "Rafailov et al., DPO (2023), eq. 5-7"})
