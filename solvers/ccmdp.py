r"""Exact reduction of a finite-horizon joint chance constraint (cmdp_ccmdp notes, §2.6).

Let :math:`U\subset\{0..S-1\}` be the unsafe set of a finite-horizon model with
horizon :math:`H`. The *violation event* is

.. math::
    V_H=\{\exists\,t\in\{0,\dots,H\}:\ s_t\in U\},

following the notes exactly: it counts the initial state :math:`s_0` **and**
the terminal state :math:`s_H` (reached by the last action :math:`a_{H-1}`; it
earns no reward but can be unsafe). The joint chance constraint is
:math:`\Pr^\pi(V_H)\le\delta`.

:func:`augment_with_flag` builds the exact augmented CMDP on states
:math:`(s,f)`, :math:`f_t=\mathbb 1\{\exists\tau\le t: s_\tau\in U\}`, whose one
expected cost plus the constant :math:`\mu_0(U)` is :math:`\Pr(V_H)` for every
policy, history-dependent ones included. :func:`violation_probability` computes
:math:`\Pr(V_H)` exactly for a Markov policy by a forward recursion on the mass
that has not yet visited :math:`U`; :func:`violation_probability_enumeration` is
an independent brute-force sum over trajectories (tiny models, exact rationals).
The surrogates :func:`boole_bound` and :func:`h_unsafe` (flipping paper,
Shen et al., NeurIPS 2024, arXiv 2410.06474) are in :mod:`solvers.ccmdp_surrogates`.

Nothing here is a value scaled by :math:`1-\gamma`: probabilities are
probabilities and finite-horizon rewards are :math:`E[\sum_{t<H}r_t]`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .evaluation import evaluate, occupancy
from .exact import fraction_array
from .mdp import TabularMDP
from .policies import as_policy
from .tolerances import EPS
from .validation import as_real_scalar

__all__ = [
    "ENUMERATION_MAX_PATHS",
    "AugmentedModel",
    "augment_with_flag",
    "require_finite_horizon",
    "validate_delta",
    "validate_unsafe",
    "violation_error_bound",
    "violation_probability",
    "violation_probability_enumeration",
]

#: :func:`violation_probability_enumeration` refuses models with more trajectories
#: :math:`S^{H+1}A^H` than this (each costs O(H) rational multiplications).
ENUMERATION_MAX_PATHS = 200_000


# -- validation -----------------------------------------------------------------------
def require_finite_horizon(mdp: TabularMDP) -> int:
    """Return ``mdp.horizon``; a discounted model raises ModelError naming "horizon"."""
    if not isinstance(mdp, TabularMDP):
        raise ModelError(f"mdp is {type(mdp).__name__}, expected a TabularMDP", field="mdp")
    if not mdp.finite_horizon:
        raise ModelError(
            f"the model is discounted (gamma = {mdp.gamma:g}, horizon unset); the joint chance "
            "constraint needs a finite-horizon model with horizon H >= 1", field="horizon")
    return int(mdp.horizon)


def validate_unsafe(mdp: TabularMDP, unsafe: object) -> np.ndarray:
    """The unsafe set as a read-only boolean mask (S,).

    Parameters
    ----------
    mdp : TabularMDP
    unsafe : bool array-like (S,) or int array-like of state indices
        A mask (``unsafe[s]`` True iff :math:`s\\in U`) or the list of unsafe
        states (duplicates allowed; an empty list is the empty set).

    Raises
    ------
    ModelError
        Naming "unsafe": wrong length or dimension, an index outside [0, S), or
        a dtype that is neither bool nor integer.
    """
    S = mdp.S
    if isinstance(unsafe, (list, tuple)) and len(unsafe) == 0:
        arr = np.zeros(0, dtype=np.int64)
    else:
        try:
            arr = np.asarray(unsafe)
        except (ValueError, TypeError) as exc:
            raise ModelError(f"unsafe cannot be read as an array ({exc}), expected a boolean "
                             "mask (S,) or a list of state indices", field="unsafe") from None
    if arr.ndim != 1:
        raise ModelError(f"unsafe has shape {arr.shape}, expected a boolean mask (S,) = ({S},) "
                         "or a 1-D list of state indices", field="unsafe")
    if arr.dtype == np.bool_:
        if arr.shape != (S,):
            raise ModelError(f"unsafe is a boolean mask of length {arr.shape[0]}, expected "
                             f"length S = {S}", field="unsafe")
        mask = arr.copy()
    elif np.issubdtype(arr.dtype, np.integer):
        bad = (arr < 0) | (arr >= S)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ModelError(f"unsafe[{i}] = {int(arr[i])}, expected a state index in "
                             f"[0, {S})", field="unsafe")
        mask = np.zeros(S, dtype=bool)
        mask[arr] = True
    else:
        raise ModelError(f"unsafe has dtype {arr.dtype}, expected bool (a mask) or integers "
                         "(state indices)", field="unsafe")
    mask.setflags(write=False)
    return mask


def validate_delta(delta: object) -> float:
    """The chance-constraint level as a float in [0, 1]; otherwise ModelError naming "delta"."""
    d = as_real_scalar(delta, "delta", "a float in [0, 1]")
    if not 0.0 <= d <= 1.0:
        raise ModelError(f"delta = {d!r}, expected a float in [0, 1]", field="delta")
    return d


# -- the augmented model --------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class AugmentedModel:
    r"""The flag-augmented CMDP of a finite-horizon model (notes §2.6).

    Augmented state :math:`(s,f)` has index ``f * S + s`` (flag-0 states first).

    Attributes
    ----------
    mdp : TabularMDP
        2S states, same actions and horizon, reward :math:`r(s,a)` lifted, one
        cost (K = 1) :math:`c((s,f),a)=(1-f)\sum_{s'\in U}P(s'|s,a)`.
    original : TabularMDP
        The model that was augmented.
    unsafe : ndarray of bool (S,)
        The unsafe mask :math:`U`.
    initial_violation : float
        :math:`\mu_0(U)=\Pr(f_0=1)`, the part of :math:`\Pr(V_H)` no policy controls.
    """

    mdp: TabularMDP
    original: TabularMDP
    unsafe: np.ndarray
    initial_violation: float

    def index(self, s: int, f: int) -> int:
        """Augmented index ``f * S + s`` of the original state ``s`` with flag ``f``."""
        S = self.original.S
        if not (0 <= int(s) < S and int(f) in (0, 1)):
            raise ModelError(f"(s, f) = ({s}, {f}), expected s in [0, {S}) and f in {{0, 1}}",
                             field="s")
        return int(f) * S + int(s)

    def state(self, x: int) -> tuple[int, int]:
        """The pair ``(s, f)`` of augmented index ``x`` (inverse of :meth:`index`)."""
        S = self.original.S
        if not 0 <= int(x) < 2 * S:
            raise ModelError(f"x = {x}, expected an augmented index in [0, {2 * S})", field="x")
        return int(x) % S, int(x) // S

    def lift_policy(self, pi: object, pi_after: object | None = None) -> np.ndarray:
        r"""Augmented policy (H, 2S, A): ``pi`` while :math:`f=0`, ``pi_after`` once :math:`f=1`.

        With ``pi_after=None`` the flag is ignored and the lifted policy induces
        the same trajectory law on :math:`(s_t,a_t)` as the Markov policy ``pi``
        (so the same reward value and violation probability). A different
        ``pi_after`` gives a history-dependent policy of the original model.
        """
        m, H = self.original, int(self.original.horizon)
        before = np.broadcast_to(as_policy(m, pi), (H, m.S, m.A))
        after = before if pi_after is None else np.broadcast_to(
            as_policy(m, pi_after, field="pi_after"), (H, m.S, m.A))
        return np.concatenate([before, after], axis=1)

    def project_policy(self, pi_aug: object) -> np.ndarray:
        r"""Markov policy (H, S, A) on the original states with the same state-action marginals.

        .. math::
            \bar\pi_t(a|s)=\frac{\sum_f\Pr(s_t=s,f_t=f)\,\pi_t(a|s,f)}{\Pr(s_t=s)},

        and :math:`\bar\pi_t(\cdot|s)=\pi_t(\cdot|s,0)` where :math:`\Pr(s_t=s)=0`.
        By induction on t, :math:`\Pr^{\bar\pi}(s_t,a_t)=\Pr^{\pi}(s_t,a_t)`, so the
        reward value is preserved; the violation probability in general is *not*
        (the flag carries history). Projecting a lifted ``pi`` returns ``pi``.
        """
        S = self.original.S
        d = occupancy(self.mdp, pi_aug)  # (H, 2S, A), validates pi_aug
        pis = np.broadcast_to(as_policy(self.mdp, pi_aug), d.shape)
        joint = d[:, :S] + d[:, S:]
        mass = joint.sum(axis=2, keepdims=True)
        safe_mass = np.where(mass > 0, mass, 1.0)
        return np.where(mass > 0, joint / safe_mass, pis[:, :S])

    def violation_probability(self, pi_aug: object) -> float:
        r""":math:`\Pr(V_H)=\mu_0(U)+E^\pi[\sum_{t<H}c(x_t,a_t)]` for an augmented policy."""
        return self.initial_violation + float(evaluate(self.mdp, pi_aug).cost_values[0])

    def cost_threshold(self, delta: object) -> float:
        r"""Budget :math:`b=\delta-\mu_0(U)` of the augmented cost for :math:`\Pr(V_H)\le\delta`."""
        return validate_delta(delta) - self.initial_violation


def augment_with_flag(mdp: TabularMDP, unsafe: object) -> AugmentedModel:
    r"""Exact flag augmentation of a finite-horizon joint chance constraint.

    States :math:`(s,f)`, :math:`f\in\{0,1\}`, with :math:`f_0=\mathbb 1\{s_0\in U\}`
    and :math:`(s,f)\xrightarrow{a}(s',f\vee\mathbb 1\{s'\in U\})` with probability
    :math:`P(s'|s,a)`; rewards :math:`r(s,a)` unchanged; one cost

    .. math::
        c((s,f),a)=(1-f)\,\sum_{s'\in U}P(s'|s,a)=E\big[\mathbb 1\{f_t=0,f_{t+1}=1\}
        \,\big|\,x_t=(s,f),a_t=a\big].

    **Derivation.** :math:`f_t` is nondecreasing, so :math:`f_H=f_0+\sum_{t=0}^{H-1}
    \mathbb 1\{f_t=0,f_{t+1}=1\}` and :math:`\{f_H=1\}=V_H`. Taking expectations
    and the tower rule on each term (the conditional law of :math:`s_{t+1}` given
    the history is :math:`P(\cdot|s_t,a_t)` for *any* policy),

    .. math::
        \Pr^\pi(V_H)=E^\pi[f_H]=\mu_0(U)+E^\pi\Big[\sum_{t=0}^{H-1}c(x_t,a_t)\Big].

    A time-invariant state-action cost cannot charge :math:`t=0`, so the constant
    :math:`\mu_0(U)` is kept apart (``initial_violation``); when :math:`\mu_0(U)=0`
    the expected total cost *is* the violation probability, and in general the
    constraint :math:`\Pr(V_H)\le\delta` is :math:`E[\sum_t c]\le\delta-\mu_0(U)`.

    Parameters
    ----------
    mdp : TabularMDP
        A finite-horizon model (dense or sparse P; the augmented P has the same storage).
    unsafe : bool mask (S,) or list of state indices

    Returns
    -------
    AugmentedModel

    References
    ----------
    cmdp_ccmdp notes §2.6; Schmid, Fochesato, Sutter, Lygeros, "Joint Chance
    Constrained Optimal Control via Linear Programming", arXiv 2402.19360.
    """
    H = require_finite_horizon(mdp)
    mask = validate_unsafe(mdp, unsafe)
    S, A = mdp.S, mdp.A
    Pm = mdp.transition_matrix.tocoo()
    s_rows, a_rows = Pm.row // A, Pm.row % A
    rows, cols = [], []
    for f in (0, 1):
        rows.append((f * S + s_rows) * A + a_rows)
        cols.append(Pm.col + S * np.maximum(f, mask[Pm.col].astype(np.int64)))
    P_aug = sp.csr_array((np.concatenate([Pm.data, Pm.data]),
                          (np.concatenate(rows), np.concatenate(cols))), shape=(2 * S * A, 2 * S))
    if not mdp.is_sparse:
        P_aug = P_aug.toarray().reshape(2 * S, A, 2 * S)
    p_unsafe = (mdp.transition_matrix @ mask.astype(float)).reshape(S, A)
    cost = np.concatenate([p_unsafe, np.zeros((S, A))])[None]
    mu0 = np.concatenate([np.where(mask, 0.0, mdp.mu0), np.where(mask, mdp.mu0, 0.0)])
    aug = TabularMDP(P_aug, np.concatenate([mdp.r, mdp.r]), mu0, horizon=H, costs=cost)
    return AugmentedModel(mdp=aug, original=mdp, unsafe=mask,
                          initial_violation=float(mdp.mu0[mask].sum()))


# -- exact violation probability ------------------------------------------------------
def _time_policy(mdp: TabularMDP, pi: object) -> np.ndarray:
    """Validated policy broadcast to (H, S, A)."""
    return np.broadcast_to(as_policy(mdp, pi), (int(mdp.horizon), mdp.S, mdp.A))


def violation_probability(mdp: TabularMDP, pi: object, unsafe: object) -> float:
    r"""Exact :math:`\Pr^\pi(\exists t\in\{0..H\}: s_t\in U)` for a Markov policy.

    Forward recursion on the mass that has not visited :math:`U` (the flag-0
    half of the augmented chain):

    .. math::
        q_0(s)=\mu_0(s)\mathbb 1\{s\notin U\},\quad
        q_{t+1}(s')=\mathbb 1\{s'\notin U\}\sum_{s,a}q_t(s)\pi_t(a|s)P(s'|s,a),

    .. math::
        \Pr(V_H)=\mu_0(U)+\sum_{t=0}^{H-1}\sum_{s'\in U}\sum_{s,a}q_t(s)\pi_t(a|s)P(s'|s,a),

    accumulated as a sum of nonnegative terms (no :math:`1-\sum q_H` cancellation).
    Float error is at most :func:`violation_error_bound`.

    Parameters
    ----------
    mdp : TabularMDP
        Finite-horizon model (a discounted one raises ModelError naming "horizon").
    pi : ndarray (S, A) or (H, S, A)
    unsafe : bool mask (S,) or list of state indices

    Returns
    -------
    float
        A probability (not a value; nothing is scaled by :math:`1-\gamma`).

    References
    ----------
    cmdp_ccmdp notes §2.6 (the identity :math:`\Pr(V_H)=E[f_H]`).
    """
    H = require_finite_horizon(mdp)
    mask = validate_unsafe(mdp, unsafe)
    pis = _time_policy(mdp, pi)
    Pt = mdp.transition_matrix.T.tocsr()
    q = np.where(mask, 0.0, mdp.mu0)
    total = float(mdp.mu0[mask].sum())
    for t in range(H):
        nxt = Pt @ (q[:, None] * pis[t]).ravel()
        total += float(nxt[mask].sum())
        q = np.where(mask, 0.0, nxt)
    return total


def violation_error_bound(mdp: TabularMDP) -> float:
    r"""Bound :math:`(H+1)(SA+3)\,\varepsilon` on the float error of :func:`violation_probability`.

    Every quantity is a sum of nonnegative products of probabilities, so
    rounding is relative: one step of the recursion forms :math:`q_t\pi_t` (one
    rounding) and a sparse product with at most :math:`SA` nonnegative terms
    per entry (relative error :math:`\le(SA+1)u`, :math:`u=\varepsilon/2`); over
    H steps that compounds to :math:`\le H(SA+2)u(1+o(1))` relative on each
    mass, and summing :math:`H+1` increments whose total is at most 1 adds
    :math:`(H+1)u`. The stated bound is about twice that sum.
    """
    H = require_finite_horizon(mdp)
    return (H + 1) * (mdp.S * mdp.A + 3) * EPS


def violation_probability_enumeration(mdp: TabularMDP, pi: object, unsafe: object,
                                      *, exact: bool = True) -> Fraction | float:
    r""":math:`\Pr(V_H)` by summing over all :math:`S^{H+1}A^H` trajectories (tiny models).

    .. math::
        \Pr(V_H)=\sum_{s_0,a_0,\dots,s_H}\mu_0(s_0)\prod_{t<H}\pi_t(a_t|s_t)
        P(s_{t+1}|s_t,a_t)\;\mathbb 1\{\exists t\le H: s_t\in U\}.

    Independent of the recursion and of the augmentation; with ``exact=True``
    it runs in rational arithmetic on the stored floats (no rounding at all)
    and returns a ``Fraction``.

    Raises
    ------
    ModelError
        Naming "horizon" for a discounted model or when :math:`S^{H+1}A^H`
        exceeds :data:`ENUMERATION_MAX_PATHS`.

    References
    ----------
    cmdp_ccmdp notes §2.6 (definition of the joint chance constraint).
    """
    H = require_finite_horizon(mdp)
    mask = validate_unsafe(mdp, unsafe)
    S, A = mdp.S, mdp.A
    if S ** (H + 1) * A ** H > ENUMERATION_MAX_PATHS:
        raise ModelError(f"S^(H+1) A^H = {S ** (H + 1) * A ** H} trajectories (S = {S}, A = {A}, "
                         f"horizon = {H}), expected at most {ENUMERATION_MAX_PATHS}",
                         field="horizon")
    pis, P, mu0 = _time_policy(mdp, pi), mdp.dense_P(), mdp.mu0
    if exact:
        pis, P, mu0 = fraction_array(pis), fraction_array(P), fraction_array(mu0)
    total = Fraction(0) if exact else 0.0
    for states in itertools.product(range(S), repeat=H + 1):
        if not mask[list(states)].any() or mu0[states[0]] == 0:
            continue
        for actions in itertools.product(range(A), repeat=H):
            prob = mu0[states[0]]
            for t in range(H):
                prob = prob * pis[t, states[t], actions[t]] * P[states[t], actions[t],
                                                                 states[t + 1]]
            total += prob
    return total

