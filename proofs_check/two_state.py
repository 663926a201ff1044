r"""A fully symbolic 2-state, 2-action discounted MDP, in exact rational-function arithmetic.

States and actions are :math:`\{0,1\}`. Every quantity is a symbol:

- :math:`p_{sa}=P(s'=0\mid s,a)` (so :math:`P(s'=1\mid s,a)=1-p_{sa}`), symbols ``p_sa``;
- rewards :math:`r_{sa}`, symbols ``r_sa``;
- :math:`\mu_0=(m, 1-m)`, symbol ``m``; the discount :math:`\gamma`, symbol ``gamma``;
- two stationary policies :math:`\pi(0\mid s)=` ``pi_s`` and :math:`\pi'(0\mid s)=`
  ``pi'_s`` (the second action gets the complement);
- two value vectors :math:`u, w` (symbols ``u_s``, ``w_s``) for operator identities.

Arithmetic happens in the field :math:`\mathbb Q(\gamma, m, p, r, \pi, \pi', u, w)`
of rational functions (``sympy.QQ.frac_field``): every intermediate result is kept
as one fraction in lowest terms, which is exactly what ``cancel(together(.))`` would
produce at the end, but about twenty times faster for the performance-difference
identity (0.3 s instead of 6 s). Linear systems are solved by Cramer's rule; the
determinants :math:`\det(I-\gamma P_\pi)` are nonzero as polynomials (their value
at :math:`\gamma=0` is 1), and for :math:`0\le\gamma<1` and probabilities in
:math:`[0,1]` they are positive, so every division is legitimate.

Values follow DESIGN.md: :math:`V^\pi=\mathbb E[\sum_t\gamma^t r_t]`, not
multiplied by :math:`1-\gamma`; occupancy measures are normalised (total mass 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import sympy as sp

__all__ = ["TwoStateMDP", "two_state_mdp"]

S = A = 2
STATES = ACTIONS = range(2)

#: A field element of the rational-function field (``sympy.polys.fields.FracElement``).
F = Any
Vector = tuple[F, F]  # indexed by state
Policy = dict[tuple[int, int], F]  # (s, a) -> pi(a | s)
StateAction = dict[tuple[int, int], F]  # (s, a) -> quantity


@dataclass(frozen=True)
class TwoStateMDP:
    r"""The symbolic 2-state, 2-action MDP; build it with :func:`two_state_mdp`.

    Attributes
    ----------
    field : sympy FracField
        :math:`\mathbb Q(\text{all symbols})`; ``field.to_sympy(x)`` converts back.
    symbols : dict of str to sympy.Symbol
        Every generator by name (``"gamma"``, ``"m"``, ``"p_01"``, ``"pi'_1"``, ...).
    """

    field: Any
    symbols: dict[str, sp.Symbol]

    def sym(self, name: str) -> F:
        """The generator called ``name`` as a field element."""
        return self.field.from_sympy(self.symbols[name])

    @property
    def gamma(self) -> F:
        r"""The discount :math:`\gamma`."""
        return self.sym("gamma")

    def mu0(self, s: int) -> F:
        r""":math:`\mu_0(s)`, with :math:`\mu_0=(m,1-m)`."""
        return self.sym("m") if s == 0 else 1 - self.sym("m")

    def P(self, s: int, a: int, s_next: int) -> F:
        r""":math:`P(s'\mid s,a)`: :math:`p_{sa}` for :math:`s'=0`, else :math:`1-p_{sa}`."""
        p = self.sym(f"p_{s}{a}")
        return p if s_next == 0 else 1 - p

    def r(self, s: int, a: int) -> F:
        """The reward :math:`r(s, a)`."""
        return self.sym(f"r_{s}{a}")

    def policy(self, name: str = "pi") -> Policy:
        r"""The policy ``name`` (``"pi"`` or ``"pi'"``): :math:`\pi(0\mid s)=` ``name_s``."""
        return {(s, a): self.sym(f"{name}_{s}") if a == 0 else 1 - self.sym(f"{name}_{s}")
                for s in STATES for a in ACTIONS}

    def vector(self, name: str) -> Vector:
        """The value vector ``name`` (``"u"`` or ``"w"``): entries ``name_0, name_1``."""
        return (self.sym(f"{name}_0"), self.sym(f"{name}_1"))

    # -- policy-induced chain ---------------------------------------------------------
    def P_pi(self, pi: Policy) -> tuple[Vector, Vector]:
        r""":math:`P_\pi(s,s')=\sum_a\pi(a\mid s)P(s'\mid s,a)`, as rows."""
        return tuple(tuple(sum(pi[s, a] * self.P(s, a, t) for a in ACTIONS) for t in STATES)
                     for s in STATES)

    def r_pi(self, pi: Policy) -> Vector:
        r""":math:`r_\pi(s)=\sum_a\pi(a\mid s)r(s,a)`."""
        return tuple(sum(pi[s, a] * self.r(s, a) for a in ACTIONS) for s in STATES)

    def bellman(self, pi: Policy, v: Vector) -> Vector:
        r""":math:`(T^\pi v)(s)=\sum_a\pi(a\mid s)\,[r(s,a)+\gamma\sum_{s'}P(s'\mid s,a)v(s')]`."""
        q = self.q_from(v)
        return tuple(sum(pi[s, a] * q[s, a] for a in ACTIONS) for s in STATES)

    def q_from(self, v: Vector) -> StateAction:
        r""":math:`q(s,a)=r(s,a)+\gamma\sum_{s'}P(s'\mid s,a)\,v(s')`."""
        return {(s, a): self.r(s, a) + self.gamma * sum(self.P(s, a, t) * v[t] for t in STATES)
                for s in STATES for a in ACTIONS}

    # -- value, action value, advantage, occupancy ------------------------------------
    def value(self, pi: Policy) -> Vector:
        r""":math:`V^\pi=(I-\gamma P_\pi)^{-1}r_\pi`, solved exactly (Puterman 1994, Thm 6.1.1)."""
        Pp = self.P_pi(pi)
        M = [[int(i == j) - self.gamma * Pp[i][j] for j in STATES] for i in STATES]
        return _solve2(M, self.r_pi(pi))

    def q(self, pi: Policy) -> StateAction:
        r""":math:`Q^\pi(s,a)=r(s,a)+\gamma\sum_{s'}P(s'\mid s,a)V^\pi(s')`."""
        return self.q_from(self.value(pi))

    def advantage(self, pi: Policy) -> StateAction:
        r""":math:`A^\pi(s,a)=Q^\pi(s,a)-V^\pi(s)`."""
        v, q = self.value(pi), self.q(pi)
        return {(s, a): q[s, a] - v[s] for s in STATES for a in ACTIONS}

    def state_occupancy(self, pi: Policy) -> Vector:
        r""":math:`d^\pi_S=(1-\gamma)(I-\gamma P_\pi^\top)^{-1}\mu_0`, the transposed solve."""
        Pp = self.P_pi(pi)
        M = [[int(i == j) - self.gamma * Pp[j][i] for j in STATES] for i in STATES]
        return tuple((1 - self.gamma) * x for x in _solve2(M, (self.mu0(0), self.mu0(1))))

    def occupancy(self, pi: Policy) -> StateAction:
        r""":math:`d^\pi(s,a)=d^\pi_S(s)\,\pi(a\mid s)`, normalised (mass 1)."""
        ds = self.state_occupancy(pi)
        return {(s, a): ds[s] * pi[s, a] for s in STATES for a in ACTIONS}

    def initial_value(self, v: Vector) -> F:
        r""":math:`v(\mu_0)=\sum_s\mu_0(s)v(s)`."""
        return sum(self.mu0(s) * v[s] for s in STATES)

    def to_sympy(self, x: F | tuple | list) -> Any:
        """Convert a field element (or a tuple/list of them) back to sympy expressions."""
        if isinstance(x, (tuple, list)):
            return [self.to_sympy(y) for y in x]
        return self.field.to_sympy(x)


def _solve2(M: list[list[F]], b: tuple[F, F]) -> Vector:
    """Cramer's rule for a 2x2 system ``M x = b``."""
    det = M[0][0] * M[1][1] - M[0][1] * M[1][0]
    return ((b[0] * M[1][1] - M[0][1] * b[1]) / det,
            (M[0][0] * b[1] - M[1][0] * b[0]) / det)


@cache
def two_state_mdp() -> TwoStateMDP:
    """The (cached) symbolic 2-state, 2-action MDP described in the module docstring."""
    names = ["gamma", "m"]
    names += [f"{x}_{s}{a}" for x in ("p", "r") for s in STATES for a in ACTIONS]
    names += [f"{x}_{s}" for x in ("pi", "pi'", "u", "w") for s in STATES]
    symbols = {n: sp.Symbol(n, real=True) for n in names}
    return TwoStateMDP(field=sp.QQ.frac_field(*symbols.values()), symbols=symbols)
