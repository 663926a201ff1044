r"""Identities behind cost-minimal label-flip poisoning (poisoning notes §1.1-1.2).

Stand-alone sympy checks (nothing from ``solvers`` is imported):

- ``poisoning_loss_difference_identity``: for a fully symbolic :math:`2\times3` feature
  matrix, symbolic proportions, annotation counts and reward, the Bradley-Terry loss in
  proportion form satisfies
  :math:`L(r;\theta)-L(r;\theta')=-(\theta-\theta')^\top\mathrm{diag}(m)\Phi^\top r`,
  so :math:`\Phi\,\mathrm{diag}(m)(\theta-\theta')=0` makes the two losses identical.
"""

from __future__ import annotations

import sympy as sp

from .core import ProofCheck, identity_check
from .registry import register

__all__ = ["bt_loss_symbolic", "poisoning_loss_difference_identity"]

# log(sigma(u)) - log(sigma(-u)) = u is registered once, as ``log_sigmoid_odds`` in
# proofs_check/sacpo_identities.py.

FEAT_DIM, N_PAIRS = 2, 3
PAPER = ("Kusaka, Saito, Kudo, Tanabe, Wachi, Akimoto, Cost-Minimized Label-Flipping "
         "Poisoning Attack to LLM Alignment, arXiv 2511.09105, eq. (2) and Theorem 1")


def _log_sigmoid(t: sp.Expr) -> sp.Expr:
    return -sp.log(1 + sp.exp(-t))


def _simplify_logs(expr: sp.Expr) -> sp.Expr:
    """Expand logarithms of positive arguments, then simplify (exact)."""
    return sp.simplify(sp.expand_log(sp.expand(expr), force=True))


def bt_loss_symbolic(Phi: sp.Matrix, theta: list, counts: list, r: sp.Matrix) -> sp.Expr:
    r""":math:`L(r;\theta)=-\sum_i m_i[\theta_i\log\sigma(u_i)+(1-\theta_i)\log\sigma(-u_i)]`,
    :math:`u=\Phi^\top r` (notes §1.1, the MLE loss summed over the :math:`m_i` annotations)."""
    u = Phi.T * r
    return -sum(counts[i] * (theta[i] * _log_sigmoid(u[i]) + (1 - theta[i]) * _log_sigmoid(-u[i]))
                for i in range(Phi.shape[1]))


@register("poisoning_loss_difference_identity")
def poisoning_loss_difference_identity() -> ProofCheck:
    r"""Loss-difference identity behind PCM post-processing (a 2 x 3 symbolic instance).

    .. math::

        L(r;\theta)-L(r;\theta')=-(\theta-\theta')^\top\mathrm{diag}(m)\,\Phi^\top r,

    with :math:`L` the Bradley-Terry loss in proportion form, :math:`\Phi` (feat_dim x n_pairs)
    symbolic, :math:`\theta,\theta'` symbolic proportions and :math:`m` symbolic counts.

    References
    ----------
    Kusaka et al., arXiv 2511.09105, Theorem 1 (equivalence of (P0) and (P1)); poisoning notes
    §1.2 ("Why (P1) is right").
    """
    Phi = sp.Matrix(FEAT_DIM, N_PAIRS, lambda k, i: sp.Symbol(f"phi_{k}{i}", real=True))
    r = sp.Matrix(FEAT_DIM, 1, lambda k, _: sp.Symbol(f"r_{k}", real=True))
    th = [sp.Symbol(f"theta_{i}", real=True) for i in range(N_PAIRS)]
    th2 = [sp.Symbol(f"thetap_{i}", real=True) for i in range(N_PAIRS)]
    m = [sp.Symbol(f"m_{i}", positive=True) for i in range(N_PAIRS)]
    lhs = bt_loss_symbolic(Phi, th, m, r) - bt_loss_symbolic(Phi, th2, m, r)
    d = sp.Matrix([th[i] - th2[i] for i in range(N_PAIRS)])
    rhs = -(d.T * sp.diag(*m) * Phi.T * r)[0, 0]
    return identity_check(
        "poisoning_loss_difference_identity",
        r"L(r;\theta)-L(r;\theta')=-(\theta-\theta')^\top\mathrm{diag}(m)\Phi^\top r",
        lhs, rhs, simplify=_simplify_logs)
