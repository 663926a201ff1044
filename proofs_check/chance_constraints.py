r"""Identities behind the exact reduction of a joint chance constraint (notes §2.6).

Stand-alone sympy checks (nothing from ``solvers`` is imported):

- ``augmented_chain_violation_identity``: on a fully symbolic 3-state,
  2-action, horizon-2 model, the violation probability
  :math:`\Pr(\exists t\le H: s_t\in U)` summed over all trajectories equals
  :math:`E[f_H]` of the flag-augmented chain and equals
  :math:`\mu_0(U)+E[\sum_{t<H}c(x_t,a_t)]` with the first-entry cost
  :math:`c((s,f),a)=(1-f)P(U|s,a)`, for every non-empty unsafe set.
- ``boole_inequality_two_events``: inclusion-exclusion for two events, whose
  slack term :math:`\Pr(A\cap B)\ge0` gives Boole's inequality.
"""

from __future__ import annotations

import itertools

import sympy as sp

from .core import ProofCheck, identity_check
from .registry import register

__all__ = ["augmented_chain_violation_identity", "boole_inequality_two_events",
           "symbolic_flag_model"]

STATES, ACTIONS, HORIZON = (0, 1, 2), (0, 1), 2
NOTES = "cmdp_ccmdp notes §2.6 (exact reduction of a finite-horizon joint chance constraint)"
SCHMID = ("Schmid, Fochesato, Sutter, Lygeros, Joint Chance Constrained Optimal Control via "
          "Linear Programming, arXiv 2402.19360")


def symbolic_flag_model() -> tuple[dict, dict, dict]:
    r"""Symbolic :math:`P(s'|s,a)`, :math:`\pi(a|s)`, :math:`\mu_0(s)` on 3 states, 2 actions.

    Each distribution's last entry is one minus the others, so every row sums to 1
    identically; all other entries are independent symbols.
    """
    P = {}
    for s, a in itertools.product(STATES, ACTIONS):
        p0, p1 = sp.symbols(f"p_{s}{a}0 p_{s}{a}1", nonnegative=True)
        P[s, a] = {0: p0, 1: p1, 2: 1 - p0 - p1}
    pi = {}
    for s in STATES:
        x = sp.Symbol(f"pi_{s}", nonnegative=True)
        pi[s] = {0: x, 1: 1 - x}
    m0, m1 = sp.symbols("mu_0 mu_1", nonnegative=True)
    mu0 = {0: m0, 1: m1, 2: 1 - m0 - m1}
    return P, pi, mu0


def _by_enumeration(P: dict, pi: dict, mu0: dict, U: frozenset) -> sp.Expr:
    total = sp.S.Zero
    for states in itertools.product(STATES, repeat=HORIZON + 1):
        if not any(s in U for s in states):
            continue
        for actions in itertools.product(ACTIONS, repeat=HORIZON):
            prob = mu0[states[0]]
            for t in range(HORIZON):
                prob *= pi[states[t]][actions[t]] * P[states[t], actions[t]][states[t + 1]]
            total += prob
    return total


def _by_augmented_recursion(P: dict, pi: dict, mu0: dict, U: frozenset) -> tuple[sp.Expr,
                                                                                  sp.Expr]:
    """(E[f_H], mu0(U) + E[sum_t c(x_t, a_t)]) by the forward recursion on (s, f)."""
    rho = {(s, f): (mu0[s] if f == int(s in U) else sp.S.Zero) for s in STATES for f in (0, 1)}
    cost = sum(mu0[s] for s in U)
    for _ in range(HORIZON):
        nxt = {key: sp.S.Zero for key in rho}
        for (s, f), mass in rho.items():
            for a in ACTIONS:
                w = mass * pi[s][a]
                if f == 0:
                    cost += w * sum(P[s, a][u] for u in U)
                for s2 in STATES:
                    nxt[s2, max(f, int(s2 in U))] += w * P[s, a][s2]
        rho = nxt
    return sum(rho[s, 1] for s in STATES), cost


@register("augmented_chain_violation_identity")
def augmented_chain_violation_identity() -> ProofCheck:
    r"""Violation probability = :math:`E[f_H]` = initial mass + expected first-entry cost.

    .. math::

        \Pr^\pi(\exists t\in\{0..H\}: s_t\in U)=E^\pi[f_H]
        =\mu_0(U)+E^\pi\Big[\sum_{t=0}^{H-1}(1-f_t)\,P(U\mid s_t,a_t)\Big],

    with :math:`f_0=\mathbb 1\{s_0\in U\}` and
    :math:`f_{t+1}=f_t\vee\mathbb 1\{s_{t+1}\in U\}`. The left side is summed over
    all :math:`3^{H+1}2^H` trajectories; the right sides come from the forward
    recursion on the augmented distribution :math:`\rho_t(s,f)`. Proved on the
    3-state, 2-action, :math:`H=2` model with every :math:`P(s'|s,a)`,
    :math:`\pi(a|s)` and :math:`\mu_0(s)` symbolic, for each of the 7 non-empty
    unsafe sets :math:`U\subseteq\{0,1,2\}` (two entries per set).

    References
    ----------
    cmdp_ccmdp notes §2.6; Schmid, Fochesato, Sutter, Lygeros, *Joint Chance
    Constrained Optimal Control via Linear Programming*, arXiv 2402.19360.
    """
    P, pi, mu0 = symbolic_flag_model()
    lhs, rhs = [], []
    for k in range(1, len(STATES) + 1):
        for U in itertools.combinations(STATES, k):
            U = frozenset(U)
            enum = _by_enumeration(P, pi, mu0, U)
            flag, cost = _by_augmented_recursion(P, pi, mu0, U)
            lhs += [enum, enum]
            rhs += [flag, cost]
    return identity_check(
        "augmented_chain_violation_identity",
        r"\Pr^\pi(\exists t\le H: s_t\in U)=E^\pi[f_H]=\mu_0(U)+E^\pi\Big[\sum_{t<H}"
        r"(1-f_t)P(U\mid s_t,a_t)\Big]",
        lhs, rhs, simplify=sp.expand,
        details={"source": f"{NOTES}; {SCHMID}",
                 "model": "3 states, 2 actions, H = 2; P, pi, mu0 symbolic; every non-empty U"},
    )


@register("boole_inequality_two_events")
def boole_inequality_two_events() -> ProofCheck:
    r"""Inclusion-exclusion for two events, and Boole's inequality from its slack.

    .. math::

        \Pr(A\cup B)=\Pr(A)+\Pr(B)-\Pr(A\cap B),\qquad
        \Pr(A)+\Pr(B)-\Pr(A\cup B)=\Pr(A\cap B)\ \ge 0,

    hence :math:`\Pr(A\cup B)\le\Pr(A)+\Pr(B)` (the union bound behind the
    surrogate :math:`\sum_t\Pr(s_t\in U)`). Proved on the general probability
    space of two events: the four atoms :math:`A\cap B, A\cap B^c, A^c\cap B,
    A^c\cap B^c` carry symbolic masses :math:`q_1,q_2,q_3\ge0` and
    :math:`1-q_1-q_2-q_3`. The identity entries have residual 0; the
    inequality is the statement that the slack equals the atom mass
    :math:`q_1`, a nonnegative symbol (``details["slack_nonnegative"]``).

    References
    ----------
    Boole's inequality (union bound), e.g. Billingsley, *Probability and
    Measure*, 3rd ed. (1995), §2; used by the flipping paper (Shen et al.,
    arXiv 2410.06474, Appendix J, Theorem 9) and cmdp_ccmdp notes §2.6.
    """
    q1, q2, q3 = sp.symbols("q_1 q_2 q_3", nonnegative=True)
    atoms = {(1, 1): q1, (1, 0): q2, (0, 1): q3, (0, 0): 1 - q1 - q2 - q3}

    def pr(event) -> sp.Expr:
        return sum(mass for (a, b), mass in atoms.items() if event(a, b))

    p_a, p_b = pr(lambda a, b: a), pr(lambda a, b: b)
    p_or, p_and = pr(lambda a, b: a or b), pr(lambda a, b: a and b)
    slack = p_a + p_b - p_or
    return identity_check(
        "boole_inequality_two_events",
        r"\Pr(A\cup B)=\Pr(A)+\Pr(B)-\Pr(A\cap B)\ \Rightarrow\ "
        r"\Pr(A\cup B)\le\Pr(A)+\Pr(B)",
        [p_or, slack], [p_a + p_b - p_and, p_and],
        details={"source": "Boole's inequality; cmdp_ccmdp notes §2.6",
                 "inequality": r"\Pr(A\cup B)\le\Pr(A)+\Pr(B)",
                 "slack": sp.sstr(sp.expand(slack)),
                 "slack_nonnegative": bool(sp.expand(slack).is_nonnegative)},
    )
