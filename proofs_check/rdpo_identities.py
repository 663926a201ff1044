r"""rDPO unbiasedness and its proportion form (poisoning notes §3.4).

Stand-alone sympy checks. The per-label losses :math:`A=\ell(u)=-\log\sigma(u)` and
:math:`B=\ell(-u)` are free symbols: unbiasedness is an identity between rational
functions of :math:`A,B,\varepsilon,\theta`, decided by
:func:`~proofs_check.core.rational_simplify`.
"""

from __future__ import annotations

import sympy as sp

from .core import ProofCheck, identity_check
from .registry import register

__all__ = ["rdpo_unbiased"]

SOURCE = "Ray Chowdhury, Kini, Natarajan, Provably Robust DPO, ICML 2024 (arXiv 2403.00409)"


@register("rdpo_unbiased")
def rdpo_unbiased() -> ProofCheck:
    r"""The robust loss is unbiased, per label and over :math:`m=3` annotations.

    .. math::

        \hat\ell_\varepsilon(A,B)=\frac{(1-\varepsilon)A-\varepsilon B}{1-2\varepsilon},\qquad
        (1-\varepsilon)\hat\ell_\varepsilon(A,B)+\varepsilon\hat\ell_\varepsilon(B,A)=A,

        \theta\hat\ell_\varepsilon(A,B)+(1-\theta)\hat\ell_\varepsilon(B,A)
        =\tilde\theta A+(1-\tilde\theta)B,\quad\tilde\theta=\frac{\theta-\varepsilon}
        {1-2\varepsilon},

        E_{j}\big[\tfrac{j}{3}\hat\ell_\varepsilon(A,B)+(1-\tfrac{j}{3})\hat\ell_\varepsilon
        (B,A)\big]=\tfrac{k}{3}A+(1-\tfrac{k}{3})B,\quad k=0,\dots,3,

    where :math:`j` is the observed count of :math:`y\succ z` labels when :math:`k` of
    three annotations truly say so and each flips independently with probability
    :math:`\varepsilon` (expectation over all :math:`2^3` flip patterns).

    References
    ----------
    Ray Chowdhury, Kini, Natarajan, *Provably Robust DPO*, ICML 2024, eq. (7) and Lemma
    3.1 (unbiasedness); poisoning notes §3.4.
    """
    A, B, eps, theta = sp.symbols("A B varepsilon theta")

    def robust(a: sp.Expr, b: sp.Expr) -> sp.Expr:
        return ((1 - eps) * a - eps * b) / (1 - 2 * eps)

    lhs = [(1 - eps) * robust(A, B) + eps * robust(B, A),
           theta * robust(A, B) + (1 - theta) * robust(B, A)]
    tt = (theta - eps) / (1 - 2 * eps)
    rhs = [A, tt * A + (1 - tt) * B]
    m = 3
    for k in range(m + 1):
        expected = sp.S.Zero
        for pattern in range(2 ** m):
            flips = [(pattern >> i) & 1 for i in range(m)]
            truth = [1 if i < k else 0 for i in range(m)]
            prob = sp.Mul(*[eps if f else 1 - eps for f in flips])
            j = sum(t ^ f for t, f in zip(truth, flips, strict=True))
            frac = sp.Rational(j, m)
            expected += prob * (frac * robust(A, B) + (1 - frac) * robust(B, A))
        lhs.append(expected)
        rhs.append(sp.Rational(k, m) * A + (1 - sp.Rational(k, m)) * B)
    return identity_check(
        "rdpo_unbiased",
        r"E_{\text{flip}}[\hat\ell_\varepsilon(\text{observed})]=\ell(\text{true}),\ "
        r"L_\varepsilon(r;\theta)=L(r;\tilde\theta)",
        lhs, rhs, details={"source": SOURCE, "annotations": m})
