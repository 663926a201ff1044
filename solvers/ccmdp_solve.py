r"""Solving a finite-horizon chance-constrained MDP exactly, and by its surrogates.

The problem (cmdp_ccmdp notes §2.6) over *all* (history-dependent, randomised) policies:

.. math::
    J^\star(\delta)=\max_\pi E^\pi\Big[\sum_{t<H}r(s_t,a_t)\Big]\quad\text{s.t.}\quad
    \Pr^\pi\big(\exists t\in\{0..H\}: s_t\in U\big)\le\delta .

:func:`solve_ccmdp` with ``surrogate=None`` solves it exactly: the flag
augmentation (:func:`solvers.ccmdp.augment_with_flag`) turns the joint chance
constraint into one expected first-entry cost, :math:`\Pr(V_H)=\mu_0(U)+E[\sum_t
c(x_t,a_t)]`, so the finite-horizon occupancy LP of :func:`solvers.cmdp.solve_cmdp`
on the augmented states :math:`x=(s,f)` with budget :math:`\delta-\mu_0(U)` gives
the optimum over all policies; the optimal policy is Markov in :math:`(t,s,f)`.

The surrogates replace the joint constraint by a linear one in the state
marginals of a Markov policy on the *original* model (solved as a CMDP there):

- ``"boole"``: :math:`\sum_{t=0}^H\Pr(s_t\in U)\le\delta` (Boole's inequality; the
  flipping paper's affine chance constraint, Thm 9) -- conservative;
- ``"h_unsafe"``: :math:`\sum_{i=1}^H\gamma_u^i\Pr(s_i\in U)\le\delta` (the flipping
  paper's :math:`H_{unsafe}`, ECRL) -- *not* conservative in general (notes §3.9-A).

Every result reports the exact violation probability of its policy, recomputed
by :func:`solvers.ccmdp.violation_probability` on the original model, so the
conservatism (or the violation) of a surrogate is visible. Values are
:math:`E[\sum_{t<H}r_t]` (finite horizon, undiscounted; nothing scaled by
:math:`1-\gamma`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .ccmdp import (
    AugmentedModel,
    augment_with_flag,
    require_finite_horizon,
    validate_delta,
    validate_unsafe,
    violation_probability,
)
from .ccmdp_surrogates import boole_bound, h_unsafe
from .cmdp import CMDPResult, InfeasibilityCertificate, solve_cmdp
from .cmdp_verify import CMDPCertificate
from .errors import ModelError
from .evaluation import evaluate
from .mdp import TabularMDP
from .random_models import as_generator

__all__ = ["SURROGATES", "CCMDPResult", "exact_values", "solve_ccmdp"]

#: Accepted values of ``surrogate`` (None is the exact constraint).
SURROGATES: tuple[str, ...] = ("boole", "h_unsafe")


@dataclass(frozen=True, eq=False)
class CCMDPResult:
    r"""Solution of a chance-constrained MDP. Read ``status`` before any other field.

    Attributes
    ----------
    mdp : TabularMDP
        The original finite-horizon model.
    unsafe : ndarray of bool (S,)
        The unsafe set :math:`U`.
    delta : float
        The level :math:`\delta`.
    surrogate : str or None
        None (exact joint constraint), "boole" or "h_unsafe".
    gamma_u : float or None
        Safety discount of the "h_unsafe" surrogate.
    status : str
        "optimal", "infeasible" or "unbounded" (that of the underlying CMDP LP).
    message : str
    value : float
        :math:`E[\sum_{t<H}r_t]` of the returned policy (nan unless optimal), from the LP.
    violation_probability : float
        Exact :math:`\Pr(\exists t\le H: s_t\in U)` of the returned policy, recomputed by
        :func:`solvers.ccmdp.violation_probability` on the original model (nan unless optimal).
    constraint_value : float
        The constrained quantity as the LP sees it: :math:`\Pr(V_H)` (exact),
        :math:`\sum_{t\le H}\Pr(s_t\in U)` (boole) or :math:`H_{unsafe}` (h_unsafe),
        each including its uncontrollable :math:`t=0` part.
    policy : ndarray or None
        Exact: (H, 2S, A) on augmented states ``x = f*S + s`` (see
        :meth:`action_probabilities`); surrogates: (H, S, A) Markov policy.
    lam : float
        Multiplier of the (surrogate) constraint, :math:`\partial J/\partial\delta` (nan
        unless optimal).
    cmdp : CMDPResult
        The underlying LP result (``verify()`` / ``certificate()`` delegate to it).
    augmented : AugmentedModel or None
        The flag augmentation (exact problem only).
    min_constraint_value : float
        When infeasible: the smallest achievable constraint value (certified by dynamic
        programming in the Farkas certificate), i.e. the safest policy's; else nan.
    """

    mdp: TabularMDP = field(repr=False)
    unsafe: np.ndarray = field(repr=False)
    delta: float
    surrogate: str | None
    gamma_u: float | None
    status: str
    message: str
    value: float
    violation_probability: float
    constraint_value: float
    policy: np.ndarray | None = field(repr=False)
    lam: float
    cmdp: CMDPResult = field(repr=False)
    augmented: AugmentedModel | None = field(repr=False)
    min_constraint_value: float = float("nan")

    @property
    def infeasibility(self) -> InfeasibilityCertificate | None:
        """Farkas certificate of the underlying CMDP when ``status == "infeasible"``."""
        return self.cmdp.infeasibility

    def verify(self, exact: bool = False) -> CMDPCertificate:
        """Re-verify the underlying LP from the (augmented) model alone, see ``CMDPResult``."""
        return self.cmdp.verify(exact=exact)

    certificate = verify

    def action_probabilities(self, t: int, s: int, f: int = 0) -> np.ndarray:
        r""":math:`\pi_t(\cdot\mid s,f)` (A,): ``f`` is the flag "already visited U" (exact
        problem); a surrogate's Markov policy ignores ``f``."""
        self._require_optimal()
        H, S = int(self.mdp.horizon), self.mdp.S
        if not (0 <= t < H and 0 <= s < S and f in (0, 1)):
            raise ModelError(f"(t, s, f) = ({t}, {s}, {f}), expected t in [0, {H}), s in "
                             f"[0, {S}), f in {{0, 1}}", field="t")
        x = f * S + s if self.surrogate is None else s
        return self.policy[t, x]

    def rollout(self, rng: object) -> tuple[np.ndarray, np.ndarray, float, bool]:
        r"""Run the policy for one episode: ``(states (H+1,), actions (H,), return, violated)``.

        The flag :math:`f_t=\mathbb 1\{\exists\tau\le t: s_\tau\in U\}` is tracked along the
        way and fed to :meth:`action_probabilities`; ``return`` is :math:`\sum_{t<H}r(s_t,a_t)`
        and ``violated`` is :math:`f_H`. ``rng`` is a ``numpy.random.Generator`` or a seed.
        """
        self._require_optimal()
        gen = as_generator(rng)
        m, H = self.mdp, int(self.mdp.horizon)
        P = m.transition_matrix
        s = int(gen.choice(m.S, p=m.mu0))
        f = int(self.unsafe[s])
        states, actions, ret = [s], [], 0.0
        for t in range(H):
            p = np.maximum(self.action_probabilities(t, s, f), 0.0)
            a = int(gen.choice(m.A, p=p / p.sum()))
            ret += float(m.r[s, a])
            row = P[[s * m.A + a]].toarray().ravel()
            s = int(gen.choice(m.S, p=row / row.sum()))
            f = max(f, int(self.unsafe[s]))
            states.append(s)
            actions.append(a)
        return np.array(states), np.array(actions), ret, bool(f)

    def _require_optimal(self) -> None:
        if self.status != "optimal":
            raise ModelError(f"the result has status {self.status!r}; there is no policy to run",
                             field="status")


def solve_ccmdp(mdp: TabularMDP, unsafe: object, delta: object, *,
                surrogate: str | None = None, gamma_u: float | None = None) -> CCMDPResult:
    r"""Maximise :math:`E[\sum_{t<H}r_t]` subject to a joint chance constraint or a surrogate.

    Exact (``surrogate=None``, notes §2.6):

    .. math::
        \max_{d\ge0}\sum_{t<H}\langle d_t,r\rangle\ \text{ on augmented states }(s,f),\quad
        \sum_{t<H}\sum_{(s,0),a}d_t((s,0),a)\,P(U|s,a)\le\delta-\mu_0(U),

    whose optimum is the best value over all history-dependent randomised policies with
    :math:`\Pr(\exists t\le H: s_t\in U)\le\delta`. ``"boole"``: the CMDP on the original
    model with cost :math:`P(U|s,a)` and budget :math:`\delta-\mu_0(U)`, i.e.
    :math:`\sum_{t=0}^H\Pr(s_t\in U)\le\delta`. ``"h_unsafe"``: the CMDP on the
    time-layered original model with cost :math:`\gamma_u^{t+1}P(U|s_t,a_t)` and budget
    :math:`\delta`, i.e. :math:`\sum_{i=1}^H\gamma_u^i\Pr(s_i\in U)\le\delta`.

    Parameters
    ----------
    mdp : TabularMDP
        Finite-horizon model (its own costs, if any, are ignored).
    unsafe : bool mask (S,) or list of state indices
    delta : float in [0, 1]
    surrogate : {None, "boole", "h_unsafe"}
    gamma_u : float in (0, 1)
        Required for (and only for) ``surrogate="h_unsafe"``.

    Returns
    -------
    CCMDPResult
        "optimal" with value (:math:`E[\sum_{t<H}r_t]`), exact violation probability,
        policy and multiplier; or "infeasible" with the Farkas certificate of the LP and
        ``min_constraint_value`` (even the safest policy exceeds :math:`\delta`).

    Raises
    ------
    ModelError
        A discounted model ("horizon"), a bad unsafe mask ("unsafe"), delta outside
        [0, 1] ("delta"), an unknown surrogate ("surrogate") or a bad gamma_u ("gamma_u").

    References
    ----------
    cmdp_ccmdp notes §2.6; Schmid et al., arXiv 2402.19360; Shen et al. (flipping-based
    policy), arXiv 2410.06474, Thm 9 and ECRL.
    """
    H = require_finite_horizon(mdp)
    mask = validate_unsafe(mdp, unsafe)
    d = validate_delta(delta)
    gu = _check_surrogate(surrogate, gamma_u)
    mu_u = float(mdp.mu0[mask].sum())
    if surrogate is None:
        aug = augment_with_flag(mdp, mask)
        res = solve_cmdp(aug.mdp, [aug.cost_threshold(d)])
        if res.status != "optimal":
            return _not_optimal(mdp, mask, d, None, None, res, aug, mu_u)
        pi = res.pi
        # The flag-0 half of pi decides every trajectory up to its first entry into U, and
        # the event {exists t: s_t in U} is decided by then, so Pr(V_H) of the augmented
        # policy is that of the Markov policy pi[:, :S] on the original model.
        viol = violation_probability(mdp, pi[:, :mdp.S], mask)
        return CCMDPResult(mdp, mask, d, None, None, "optimal", res.message, res.value, viol,
                           mu_u + float(res.cost_values[0]), pi, float(res.lam[0]), res, aug)
    p_unsafe = (mdp.transition_matrix @ mask.astype(float)).reshape(mdp.S, mdp.A)
    if surrogate == "boole":
        model = TabularMDP(mdp.P, mdp.r, mdp.mu0, horizon=H, costs=p_unsafe[None])
        res = solve_cmdp(model, [d - mu_u])
        if res.status != "optimal":
            return _not_optimal(mdp, mask, d, surrogate, None, res, None, mu_u)
        pi = res.pi
        constraint = boole_bound(mdp, pi, mask)
    else:
        layered = _time_layered(mdp, p_unsafe, gu)
        res = solve_cmdp(layered, [d])
        if res.status != "optimal":
            return _not_optimal(mdp, mask, d, surrogate, gu, res, None, 0.0)
        S = mdp.S
        pi = np.stack([res.pi[t, t * S:(t + 1) * S] for t in range(H)])
        constraint = h_unsafe(mdp, pi, mask, gu)
    viol = violation_probability(mdp, pi, mask)
    return CCMDPResult(mdp, mask, d, surrogate, gu, "optimal", res.message, res.value, viol,
                       constraint, pi, float(res.lam[0]), res, None)


# -- helpers ----------------------------------------------------------------------------
def _check_surrogate(surrogate: object, gamma_u: object) -> float | None:
    if surrogate is not None and surrogate not in SURROGATES:
        raise ModelError(f"surrogate = {surrogate!r}, expected None (exact) or one of "
                         f"{SURROGATES}", field="surrogate")
    if surrogate != "h_unsafe":
        if gamma_u is not None:
            raise ModelError(f"gamma_u = {gamma_u!r} is only used with surrogate='h_unsafe'",
                             field="gamma_u")
        return None
    if isinstance(gamma_u, bool) or not isinstance(gamma_u, numbers.Real) \
            or not math.isfinite(float(gamma_u)) or not 0.0 < float(gamma_u) < 1.0:
        raise ModelError(f"gamma_u = {gamma_u!r}, expected a float in (0, 1) for "
                         "surrogate='h_unsafe'", field="gamma_u")
    return float(gamma_u)


def _time_layered(mdp: TabularMDP, p_unsafe: np.ndarray, gamma_u: float) -> TabularMDP:
    r"""States :math:`(t,s)` (index ``t*S+s``) so that a time-dependent cost becomes a
    state-action cost: :math:`c((t,s),a)=\gamma_u^{t+1}P(U|s,a)`; layer t moves to t+1
    (the last layer loops on itself; it is never reached before the horizon)."""
    import scipy.sparse as sp

    H, S, A = int(mdp.horizon), mdp.S, mdp.A
    Pm = mdp.transition_matrix.tocoo()
    rows, cols, data = [], [], []
    for t in range(H):
        nxt = min(t + 1, H - 1)
        rows.append(t * S * A + Pm.row)
        cols.append(nxt * S + Pm.col)
        data.append(Pm.data)
    P = sp.csr_array((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(H * S * A, H * S))
    weights = gamma_u ** np.arange(1, H + 1)
    cost = (weights[:, None, None] * p_unsafe[None]).reshape(1, H * S, A)
    mu0 = np.concatenate([mdp.mu0, np.zeros((H - 1) * S)])
    return TabularMDP(P, np.tile(mdp.r, (H, 1)), mu0, horizon=H, costs=cost)


def _not_optimal(mdp: TabularMDP, mask: np.ndarray, d: float, surrogate: str | None,
                 gu: float | None, res: CMDPResult, aug: AugmentedModel | None,
                 offset: float) -> CCMDPResult:
    """Result for an infeasible (or unbounded) LP; the certificate gives the safest value."""
    nan = float("nan")
    cert = res.infeasibility
    min_c = offset + cert.min_weighted_cost if cert is not None else nan
    msg = res.message
    if res.status == "infeasible" and cert is not None:
        what = "Pr(exists t <= H: s_t in U)" if surrogate is None else f"the {surrogate} bound"
        msg = (f"infeasible: the smallest achievable {what} is {min_c:.6g} > delta = {d:g} "
               f"(certified by dynamic programming, margin {cert.margin:.3g})")
    return CCMDPResult(mdp, mask, d, surrogate, gu, res.status, msg, nan, nan, nan, None, nan,
                       res, aug, min_c)


def exact_values(result: CCMDPResult) -> tuple[float, float]:
    r"""``(value, violation probability)`` of an optimal result's policy, by evaluation.

    Value by the backward recursion :func:`solvers.evaluation.evaluate` on the model the
    policy lives on (augmented, or the original for surrogates), not from the LP.
    """
    result._require_optimal()
    model = result.augmented.mdp if result.augmented is not None else result.mdp
    value = evaluate(model, result.policy).value
    return float(value), violation_probability(
        result.mdp, result.policy[:, :result.mdp.S], result.unsafe)
