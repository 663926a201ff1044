r"""Identities of discounted MDPs, proved on the fully symbolic 2-state, 2-action MDP.

Each check builds both sides in exact rational-function arithmetic
(:mod:`proofs_check.two_state`), converts them to sympy and passes them to
:func:`~proofs_check.core.identity_check`, which reduces ``lhs - rhs`` to
canonical form with ``cancel(together(.))``. A zero residual is a proof for the
2-state, 2-action MDP with *every* parameter symbolic (transition probabilities,
rewards, :math:`\mu_0`, :math:`\gamma`, both policies); the general statements
follow by the same algebra with :math:`S\times A` sums.
"""

from __future__ import annotations

from .core import ProofCheck, identity_check
from .registry import register
from .two_state import ACTIONS, STATES, two_state_mdp

__all__ = [
    "bellman_contraction_two_state",
    "occupancy_flow_constraints",
    "performance_difference_two_state",
    "value_equals_occupancy_two_state",
]

PUTERMAN = "Puterman, Markov Decision Processes (1994)"
KAKADE_LANGFORD = ("Kakade & Langford, Approximately optimal approximate reinforcement "
                   "learning (ICML 2002), Lemma 6.1")
SYMBOLIC = ("2-state, 2-action MDP; P(0|s,a), r(s,a), mu0(0), gamma and both policies "
            "pi(0|s), pi'(0|s) are independent symbols")


@register("performance_difference_two_state")
def performance_difference_two_state() -> ProofCheck:
    r"""Performance-difference lemma on the symbolic 2-state MDP.

    .. math::

        V^\pi(\mu_0)-V^{\pi'}(\mu_0)
        =\frac{1}{1-\gamma}\sum_{s,a}d^\pi(s,a)\,A^{\pi'}(s,a),
        \qquad A^{\pi'}(s,a)=Q^{\pi'}(s,a)-V^{\pi'}(s),

    with :math:`V^\pi=(I-\gamma P_\pi)^{-1}r_\pi` (unnormalised values) and the
    normalised occupancy :math:`d^\pi(s,a)=d^\pi_S(s)\pi(a\mid s)`,
    :math:`d^\pi_S=(1-\gamma)(I-\gamma P_\pi^\top)^{-1}\mu_0` (transposed solve).
    Fully general on 2 states and 2 actions: both policies are stochastic and
    every parameter is a symbol. Runs in about 0.3 s.

    References
    ----------
    Kakade & Langford, *Approximately optimal approximate reinforcement
    learning* (ICML 2002), Lemma 6.1.
    """
    M = two_state_mdp()
    pi, pi_ref = M.policy("pi"), M.policy("pi'")
    lhs = M.initial_value(M.value(pi)) - M.initial_value(M.value(pi_ref))
    d, adv = M.occupancy(pi), M.advantage(pi_ref)
    rhs = sum(d[s, a] * adv[s, a] for s in STATES for a in ACTIONS) / (1 - M.gamma)
    return identity_check(
        "performance_difference_two_state",
        r"V^\pi(\mu_0)-V^{\pi'}(\mu_0)=\frac{1}{1-\gamma}\sum_{s,a}d^\pi(s,a)\,"
        r"A^{\pi'}(s,a)",
        M.to_sympy(lhs), M.to_sympy(rhs),
        details={"source": KAKADE_LANGFORD, "model": SYMBOLIC},
    )


@register("occupancy_flow_constraints")
def occupancy_flow_constraints() -> ProofCheck:
    r"""The occupancy measure satisfies the flow constraints of the occupancy LP.

    For every :math:`s'`,

    .. math::

        \sum_a d^\pi(s',a)=(1-\gamma)\,\mu_0(s')+\gamma\sum_{s,a}P(s'\mid s,a)\,d^\pi(s,a),
        \qquad \sum_{s,a}d^\pi(s,a)=1,

    where :math:`d^\pi(s,a)=d^\pi_S(s)\pi(a\mid s)` and :math:`d^\pi_S` is the
    transposed solve :math:`(1-\gamma)(I-\gamma P_\pi^\top)^{-1}\mu_0`. The second
    identity (mass 1) is the normalisation; it follows from the first by summing
    over :math:`s'`. The residual is a 3-vector: flow at :math:`s'=0`, at
    :math:`s'=1`, then the mass.

    References
    ----------
    Puterman, *Markov Decision Processes* (1994), §6.9 (dual linear program);
    Altman, *Constrained Markov Decision Processes* (1999), ch. 3.
    """
    M = two_state_mdp()
    pi = M.policy("pi")
    d = M.occupancy(pi)
    lhs = [sum(d[t, a] for a in ACTIONS) for t in STATES]
    rhs = [(1 - M.gamma) * M.mu0(t)
           + M.gamma * sum(M.P(s, a, t) * d[s, a] for s in STATES for a in ACTIONS)
           for t in STATES]
    lhs.append(sum(d.values()))
    rhs.append(M.field.one)
    return identity_check(
        "occupancy_flow_constraints",
        r"\sum_a d^\pi(s',a)=(1-\gamma)\mu_0(s')+\gamma\sum_{s,a}P(s'\mid s,a)\,d^\pi(s,a)"
        r"\ \ \forall s',\quad\sum_{s,a}d^\pi(s,a)=1",
        M.to_sympy(lhs), M.to_sympy(rhs),
        details={"source": f"{PUTERMAN}, §6.9", "model": SYMBOLIC},
    )


@register("value_equals_occupancy_two_state")
def value_equals_occupancy_two_state() -> ProofCheck:
    r"""The value is the occupancy-weighted reward, divided by :math:`1-\gamma`.

    .. math::

        V^\pi(\mu_0)=\frac{1}{1-\gamma}\sum_{s,a}d^\pi(s,a)\,r(s,a),

    with :math:`V^\pi=(I-\gamma P_\pi)^{-1}r_\pi` from the primal solve and
    :math:`d^\pi` from the transposed solve: the primal/dual pairing behind the
    occupancy LP (the identity ``theory``'s ``mdp.value_equals_occupancy`` tests
    numerically).

    References
    ----------
    Puterman, *Markov Decision Processes* (1994), §6.9; Altman, *Constrained
    Markov Decision Processes* (1999), ch. 3.
    """
    M = two_state_mdp()
    pi = M.policy("pi")
    d = M.occupancy(pi)
    lhs = M.initial_value(M.value(pi))
    rhs = sum(d[s, a] * M.r(s, a) for s in STATES for a in ACTIONS) / (1 - M.gamma)
    return identity_check(
        "value_equals_occupancy_two_state",
        r"V^\pi(\mu_0)=\frac{1}{1-\gamma}\sum_{s,a}d^\pi(s,a)\,r(s,a)",
        M.to_sympy(lhs), M.to_sympy(rhs),
        details={"source": f"{PUTERMAN}, §6.9", "model": SYMBOLIC},
    )


@register("bellman_contraction_two_state")
def bellman_contraction_two_state() -> ProofCheck:
    r"""The identity behind the sup-norm contraction of the policy Bellman operator.

    For a fixed stochastic policy :math:`\pi` and arbitrary :math:`u, w`,

    .. math::

        (T^\pi u-T^\pi w)(s)=\gamma\sum_{s'}P_\pi(s,s')\,(u-w)(s')\quad\forall s,
        \qquad \sum_{s'}P_\pi(s,s')=1\quad\forall s,

    where :math:`(T^\pi v)(s)=\sum_a\pi(a\mid s)[r(s,a)+\gamma\sum_{s'}P(s'\mid s,a)v(s')]`
    and :math:`P_\pi(s,s')=\sum_a\pi(a\mid s)P(s'\mid s,a)`. Since the entries of
    :math:`P_\pi` are products and sums of probabilities, they are non-negative,
    and with unit row sums
    :math:`|(T^\pi u-T^\pi w)(s)|\le\gamma\sum_{s'}P_\pi(s,s')|(u-w)(s')|
    \le\gamma\|u-w\|_\infty`, i.e. :math:`\|T^\pi u-T^\pi w\|_\infty\le\gamma\|u-w\|_\infty`.
    This check proves the two identities (the residual is a 4-vector: the
    difference at :math:`s=0, 1`, then the row sums); the final inequality is
    the triangle inequality.

    References
    ----------
    Puterman, *Markov Decision Processes* (1994), §6.2 (Banach fixed-point
    theorem, Thm 6.2.3, applied to the policy operator :math:`L_d`).
    """
    M = two_state_mdp()
    pi = M.policy("pi")
    u, w = M.vector("u"), M.vector("w")
    Tu, Tw, Pp = M.bellman(pi, u), M.bellman(pi, w), M.P_pi(pi)
    lhs = [Tu[s] - Tw[s] for s in STATES] + [sum(Pp[s]) for s in STATES]
    rhs = [M.gamma * sum(Pp[s][t] * (u[t] - w[t]) for t in STATES) for s in STATES]
    rhs += [M.field.one for _ in STATES]
    return identity_check(
        "bellman_contraction_two_state",
        r"(T^\pi u-T^\pi w)(s)=\gamma\sum_{s'}P_\pi(s,s')(u-w)(s'),\quad"
        r"\sum_{s'}P_\pi(s,s')=1\quad\forall s",
        M.to_sympy(lhs), M.to_sympy(rhs),
        details={"source": f"{PUTERMAN}, §6.2, Thm 6.2.3", "model": SYMBOLIC},
    )
