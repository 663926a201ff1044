r"""Boltzmann covariance and softmax envelope identities (bilevel notes §1.2, §2.1).

Stand-alone sympy checks on :math:`|Y|=3` with symbolic energies :math:`E_i(x)` and
statistics :math:`g_i(x)` (undefined functions of a scalar parameter x). After
differentiation, each :math:`\exp(E_i/\tau)` is replaced by a positive symbol
:math:`w_i` and each derivative by a symbol, so both sides become rational
functions and :func:`~proofs_check.core.rational_simplify` decides the identity.
"""

from __future__ import annotations

import sympy as sp

from .core import ProofCheck, identity_check
from .registry import register

__all__ = ["boltzmann_covariance_identity_three_states", "softmax_envelope_identity"]

NOTES = ("bilevel notes §1.2, §2.1 (derived); Kudo, Tanabe, Wachi, Akimoto, BC-HG, "
         "arXiv 2603.14867")


def _symbols(k: int = 3):
    x = sp.Symbol("x", real=True)
    tau = sp.Symbol("tau", positive=True)
    E = [sp.Function(f"E_{i}")(x) for i in range(k)]
    g = [sp.Function(f"g_{i}")(x) for i in range(k)]
    return x, tau, E, g


def _rationalise(expr: sp.Expr, x, tau, funcs) -> sp.Expr:
    """Replace derivatives by symbols, then exp(E_i/tau) by w_i and E_i, g_i by symbols."""
    rep = {}
    for f in funcs:
        rep[sp.Derivative(f, x)] = sp.Symbol(f"d{f.func.__name__}", real=True)
    expr = expr.subs(rep)
    for f in funcs:
        name = f.func.__name__
        expr = expr.subs(sp.exp(f / tau), sp.Symbol(f"w{name}", positive=True))
        expr = expr.subs(f, sp.Symbol(f"v{name}", real=True))
    return expr


@register("boltzmann_covariance_identity_three_states")
def boltzmann_covariance_identity_three_states() -> ProofCheck:
    r"""Finite Boltzmann covariance identity on three outcomes.

    .. math::

        \frac{d}{dx}\sum_yp_x(y)g_x(y)=\sum_yp_x(y)g_x'(y)+\frac1\tau\Big(\sum_yp_xg_xE_x'
        -\sum_yp_xg_x\sum_yp_xE_x'\Big),\qquad p_x(y)=\frac{e^{E_x(y)/\tau}}{\sum_{y'}
        e^{E_x(y')/\tau}},

    for arbitrary differentiable energies :math:`E_x(y)` and statistics :math:`g_x(y)`,
    :math:`y\in\{0,1,2\}`, :math:`\tau>0`.

    References
    ----------
    bilevel notes §2.1 (the Boltzmann covariance trick of BC-HG, Kudo et al.,
    arXiv 2603.14867); the fluctuation-response relation of statistical mechanics.
    """
    x, tau, E, g = _symbols()
    Z = sum(sp.exp(e / tau) for e in E)
    p = [sp.exp(e / tau) / Z for e in E]
    lhs = sp.diff(sum(pi * gi for pi, gi in zip(p, g, strict=True)), x)
    mean = lambda v: sum(pi * vi for pi, vi in zip(p, v, strict=True))  # noqa: E731
    dE = [sp.diff(e, x) for e in E]
    rhs = mean([sp.diff(gi, x) for gi in g]) + (
        mean([gi * di for gi, di in zip(g, dE, strict=True)]) - mean(g) * mean(dE)) / tau
    funcs = E + g
    return identity_check(
        "boltzmann_covariance_identity_three_states",
        r"\nabla_xE_{p_x}[g_x]=E_{p_x}[\nabla_xg_x]+\tfrac1\tau\mathrm{Cov}_{p_x}(g_x,"
        r"\nabla_xE_x),\ |Y|=3",
        _rationalise(lhs, x, tau, funcs), _rationalise(rhs, x, tau, funcs),
        details={"source": NOTES, "model": "|Y| = 3, E_i(x), g_i(x) undefined functions"})


@register("softmax_envelope_identity")
def softmax_envelope_identity() -> ProofCheck:
    r"""Softmax envelope identity :math:`\nabla V=E_\pi[\nabla Q]` and the Boltzmann score.

    .. math::

        \frac{d}{dx}\,\tau\log\sum_ae^{Q_a(x)/\tau}=\sum_a\pi_aQ_a'(x),\qquad
        \frac{d}{dx}\log\pi_a=\frac1\tau\Big(Q_a'-\sum_{a'}\pi_{a'}Q_{a'}'\Big),

    with :math:`\pi_a=e^{Q_a/\tau}/\sum_{a'}e^{Q_{a'}/\tau}`, three actions, arbitrary
    differentiable :math:`Q_a(x)`.

    References
    ----------
    bilevel notes §1.2 (the envelope identity behind the BC-HG covariance form,
    Kudo et al., arXiv 2603.14867; HPGD, Thoma et al., arXiv 2406.01575).
    """
    x, tau, Q, _ = _symbols()
    Z = sum(sp.exp(q / tau) for q in Q)
    V = tau * sp.log(Z)
    pi = [sp.exp(q / tau) / Z for q in Q]
    dQ = [sp.diff(q, x) for q in Q]
    lhs = [sp.diff(V, x)] + [sp.diff(sp.log(p), x) for p in pi]
    base = sum(p * d for p, d in zip(pi, dQ, strict=True))
    rhs = [base] + [(d - base) / tau for d in dQ]
    return identity_check(
        "softmax_envelope_identity",
        r"\nabla_x\tau\log\sum_ae^{Q_a/\tau}=E_\pi[\nabla_xQ],\ \nabla\log\pi_a="
        r"(\nabla Q_a-E_\pi\nabla Q)/\tau",
        [_rationalise(sp.expand_log(v, force=True), x, tau, Q) for v in lhs],
        [_rationalise(v, x, tau, Q) for v in rhs],
        details={"source": NOTES, "model": "3 actions, Q_a(x) undefined functions"})
