r"""The DPO implicit-reward identity, for one step and along trajectories (notes §5).

Stand-alone sympy checks (nothing from ``solvers`` is imported). The KL coefficient is
:math:`\beta` (the notes' :math:`\tau`); exponentiated rewards are the positive symbols
:math:`x=e^{r/\beta}`, so every identity below is one between rational functions of
:math:`x` and the reference probabilities, decided by
:func:`~proofs_check.core.rational_simplify` (log is injective on positive reals, so
the exponentiated form is equivalent to the stated log form).

- ``dpo_bandit_implicit_reward``: for :math:`\pi^\star=\pi_{ref}e^{r/\beta}/Z` over three
  actions, :math:`\frac{\pi^\star(a)/\pi_{ref}(a)}{\pi^\star(b)/\pi_{ref}(b)}=e^{(r_a-r_b)/
  \beta}` for every pair, i.e. :math:`\beta\log\frac{\pi^\star(a)}{\pi_{ref}(a)}-\beta\log
  \frac{\pi^\star(b)}{\pi_{ref}(b)}=r_a-r_b` (the partition function cancels), and the
  Bradley-Terry probability :math:`\sigma(r_a-r_b)=x_a/(x_a+x_b)`.
- ``dpo_trajectory_implicit_reward``: on a deterministic 2-state, 2-action, horizon-2
  model (next state = action), soft backward induction gives, for all 8 trajectories,
  :math:`\prod_t\frac{\pi^\star_t(a_t|s_t)}{\pi_{ref}(a_t|s_t)}=e^{(R(\omega)-V_0(s_0))/\beta}`
  and :math:`e^{V_0(s_0)/\beta}=\sum_{\omega'}P_{ref}(\omega'|s_0)e^{R(\omega')/\beta}`.
  With stochastic transitions the first identity fails (:func:`trajectory_identity`
  returns a nonzero residual; the martingale term of notes §5).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import sympy as sp

from .core import ProofCheck, identity_check
from .registry import register

__all__ = ["dpo_bandit_implicit_reward", "dpo_trajectory_implicit_reward",
           "trajectory_identity"]

NOTES = "cmdp_ccmdp notes §5; Rafailov et al. 2023 (DPO), §4; Rafailov et al. 2024 " \
        "('From r to Q*')"
STATES = ACTIONS = (0, 1)

#: Kernel of the deterministic model: next state = action.
DETERMINISTIC = {(s, a): {a: sp.S.One, 1 - a: sp.S.Zero} for s in STATES for a in ACTIONS}


@register("dpo_bandit_implicit_reward")
def dpo_bandit_implicit_reward() -> ProofCheck:
    r"""Pairwise implicit-reward differences of the Gibbs policy, and the BT probability.

    .. math::

        \frac{\pi^\star(a)/\pi_{ref}(a)}{\pi^\star(b)/\pi_{ref}(b)}=e^{(r_a-r_b)/\beta},\qquad
        \sigma\Big(\beta\log\frac{\pi^\star(a)}{\pi_{ref}(a)}-\beta\log\frac{\pi^\star(b)}
        {\pi_{ref}(b)}\Big)=\frac{e^{r_a/\beta}}{e^{r_a/\beta}+e^{r_b/\beta}},

    for :math:`\pi^\star\propto\pi_{ref}e^{r/\beta}` on three responses (the partition
    function cancels), with :math:`x_i=e^{r_i/\beta}` as positive symbols.

    References
    ----------
    Rafailov et al., *Direct Preference Optimization*, NeurIPS 2023, eqs. 4-7;
    cmdp_ccmdp notes §5.
    """
    p1, p2 = sp.symbols("p_1 p_2", positive=True)
    ref = [p1, p2, 1 - p1 - p2]
    x = list(sp.symbols("x_1:4", positive=True))  # x_i = exp(r_i / beta)
    z = sum(p * xi for p, xi in zip(ref, x, strict=True))
    ratio = [(p * xi / z) / p for p, xi in zip(ref, x, strict=True)]  # pi*/pi_ref
    lhs, rhs = [], []
    for a, b in itertools.permutations(range(3), 2):
        lhs.append(ratio[a] / ratio[b])
        rhs.append(x[a] / x[b])
        # sigma(beta*(h_a - h_b)) = 1 / (1 + (ratio_b / ratio_a)^beta) with ratio^beta
        # replaced by the exponentiated implicit reward x^beta / Z^beta: the Z^beta cancel.
        lhs.append(1 / (1 + ratio[b] / ratio[a]))
        rhs.append(x[a] / (x[a] + x[b]))
    return identity_check(
        "dpo_bandit_implicit_reward",
        r"\beta\log\frac{\pi^\star(a)}{\pi_{ref}(a)}-\beta\log\frac{\pi^\star(b)}{\pi_{ref}(b)}"
        r"=r_a-r_b,\quad\pi^\star=\pi_{ref}e^{r/\beta}/Z",
        lhs, rhs, details={"source": NOTES, "actions": 3})


def _symbols() -> tuple[dict, dict]:
    x = {(s, a): sp.Symbol(f"x_{s}{a}", positive=True) for s in STATES for a in ACTIONS}
    p = {}
    for s in STATES:
        q = sp.Symbol(f"q_{s}", positive=True)
        p[s] = {0: q, 1: 1 - q}
    return x, p


def trajectory_identity(kernel: Mapping[tuple[int, int], Mapping[int, sp.Expr]]
                        ) -> tuple[list[sp.Expr], list[sp.Expr]]:
    r"""Both sides of :math:`\prod_t\pi^\star_t/\pi_{ref}=e^{(R-V_0(s_0))/\beta}`, per trajectory.

    Soft backward induction with :math:`x=e^{r/\beta}` (same reward at both steps):
    :math:`Z_1(s)=\sum_ap(a|s)x(s,a)`,
    :math:`e^{Q_0(s,a)/\beta}=x(s,a)\prod_{s'}Z_1(s')^{P(s'|s,a)}`,
    :math:`Z_0(s)=\sum_ap(a|s)e^{Q_0(s,a)/\beta}`; the ratios are
    :math:`e^{Q_0}/Z_0` and :math:`x/Z_1`. ``kernel[(s, a)][s']`` is :math:`P(s'|s,a)`
    (rational numbers). Trajectories :math:`(s_0,a_0,s_1,a_1)` with :math:`P(s_1|s_0,a_0)>0`.
    """
    x, p = _symbols()
    z1 = {s: sum(p[s][a] * x[s, a] for a in ACTIONS) for s in STATES}
    eq0 = {(s, a): x[s, a] * sp.Mul(*[z1[s2] ** kernel[s, a][s2] for s2 in STATES])
           for s in STATES for a in ACTIONS}
    z0 = {s: sum(p[s][a] * eq0[s, a] for a in ACTIONS) for s in STATES}
    lhs, rhs = [], []
    for s0, a0, s1, a1 in itertools.product(STATES, ACTIONS, STATES, ACTIONS):
        if kernel[s0, a0][s1] == 0:
            continue
        lhs.append((eq0[s0, a0] / z0[s0]) * (x[s1, a1] / z1[s1]))
        rhs.append(x[s0, a0] * x[s1, a1] / z0[s0])
    return lhs, rhs


@register("dpo_trajectory_implicit_reward")
def dpo_trajectory_implicit_reward() -> ProofCheck:
    r"""Trajectory DPO identity and the trajectory partition function, deterministic model.

    .. math::

        \beta\sum_{t<H}\log\frac{\pi^\star_t(a_t|s_t)}{\pi_{ref}(a_t|s_t)}=R(\omega)-V_0(s_0),
        \qquad e^{V_0(s_0)/\beta}=\sum_\omega P_{ref}(\omega|s_0)\,e^{R(\omega)/\beta},

    on every trajectory of a deterministic 2-state, 2-action, :math:`H=2` model with a
    symbolic reference policy and symbolic :math:`e^{r/\beta}`.

    References
    ----------
    Rafailov, Hejna, Park, Finn, *From r to Q*: Your Language Model is Secretly a
    Q-Function*, 2024; cmdp_ccmdp notes §5 (derived exactness conditions).
    """
    lhs, rhs = trajectory_identity(DETERMINISTIC)
    x, p = _symbols()
    z1 = {s: sum(p[s][a] * x[s, a] for a in ACTIONS) for s in STATES}
    for s0 in STATES:
        soft = sum(p[s0][a0] * x[s0, a0] * z1[a0] for a0 in ACTIONS)  # Z_0 by recursion
        enum = sum(p[s0][a0] * p[a0][a1] * x[s0, a0] * x[a0, a1]
                   for a0 in ACTIONS for a1 in ACTIONS)  # sum over trajectories
        lhs.append(soft)
        rhs.append(enum)
    return identity_check(
        "dpo_trajectory_implicit_reward",
        r"\beta\sum_{t<H}\log\frac{\pi^\star_t(a_t|s_t)}{\pi_{ref}(a_t|s_t)}=R(\omega)-V_0(s_0),"
        r"\ e^{V_0(s_0)/\beta}=\sum_{\omega}P_{ref}(\omega|s_0)e^{R(\omega)/\beta}",
        lhs, rhs, details={"source": NOTES,
                           "model": "2 states, 2 actions, H = 2, next state = action; "
                                    "pi_ref and exp(r/beta) symbolic"})
