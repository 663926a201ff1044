r"""Gymnasium toy_text environments as TabularMDPs, with one absorbing terminal state.

A toy_text environment (FrozenLake, CliffWalking, Taxi) publishes its dynamics
as ``env.unwrapped.P[s][a] = [(prob, next_state, reward, terminated), ...]``.
:func:`from_gymnasium` turns the table into a :class:`~solvers.mdp.TabularMDP`
with :math:`S = n_S + 1` states: the environment's :math:`n_S` states and one
extra absorbing terminal state :math:`\bot = n_S`. Every *terminated*
transition is redirected to :math:`\bot`, whatever ``next_state`` it names:

.. math::
    P(s'|s,a) = \sum_{i:\ \neg\mathrm{term}_i,\ s'_i=s'} p_i,\qquad
    P(\bot|s,a) = \sum_{i:\ \mathrm{term}_i} p_i,\qquad
    r(s,a) = \sum_i p_i\,r_i,

and :math:`P(\bot|\bot,a)=1`, :math:`r(\bot,a)=0`; duplicate
:math:`(s,a,s')` entries are summed. This is what the episode does: after a
terminated step nothing more is earned. The redirection matters for Taxi,
whose post-dropoff state is an ordinary non-absorbing state in ``P``, and
makes FrozenLake's holes and goal and CliffWalking's goal absorbing.
Truncation (``TimeLimit``) is not modelled: the result is discounted, or has
the finite horizon you give. :math:`\mu_0` is ``env.unwrapped.initial_state_distrib``
extended by :math:`\mu_0(\bot)=0`. Values are :math:`E[\sum_t\gamma^tr_t]`,
not scaled by :math:`1-\gamma`.

gymnasium is an optional dependency (``pip install -e '.[gym]'``); it is only
imported to build an environment from its id.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .mdp import TabularMDP
from .validation import as_real_array, check_rows_sum_to_one, check_shape

__all__ = ["GymInfo", "from_gymnasium"]

_INSTALL_HINT = "from_gymnasium needs gymnasium: pip install -e '.[gym]'"
#: With ``sparse=None`` models with at most this many states get a dense (S, A, S) kernel.
_DENSE_MAX_STATES = 400
_TABLE = "env.unwrapped.P"


@dataclass(frozen=True, eq=False)
class GymInfo:
    r"""How a gymnasium environment was mapped onto the TabularMDP.

    Attributes
    ----------
    n_env_states : int
        Number of environment states :math:`n_S`; state s of the env is state s of the MDP.
    n_actions : int
        Number of actions A (the env's action indices, unchanged).
    terminal : int
        Index :math:`n_S` of the added absorbing terminal state.
    termination_prob : ndarray (n_S, A)
        Probability that action a in state s ends the episode, :math:`P(\bot|s,a)`.
    env_id : str or None
        ``env.spec.id`` when the environment has a spec.
    """

    n_env_states: int
    n_actions: int
    terminal: int
    termination_prob: np.ndarray = field(repr=False)
    env_id: str | None


@overload
def from_gymnasium(env: Any, *, gamma: float = ..., horizon: int | None = ...,
                   mu0: np.ndarray | None = ..., sparse: bool | None = ...,
                   return_info: Literal[False] = ...,
                   make_kwargs: Mapping[str, Any] | None = ...) -> TabularMDP: ...
@overload
def from_gymnasium(env: Any, *, gamma: float = ..., horizon: int | None = ...,
                   mu0: np.ndarray | None = ..., sparse: bool | None = ...,
                   return_info: Literal[True],
                   make_kwargs: Mapping[str, Any] | None = ...
                   ) -> tuple[TabularMDP, GymInfo]: ...


def from_gymnasium(
    env: Any,
    *,
    gamma: float = 0.99,
    horizon: int | None = None,
    mu0: np.ndarray | None = None,
    sparse: bool | None = None,
    return_info: bool = False,
    make_kwargs: Mapping[str, Any] | None = None,
) -> TabularMDP | tuple[TabularMDP, GymInfo]:
    r"""Convert a toy_text environment's transition table ``P`` into a TabularMDP.

    The model has :math:`S=n_S+1` states, the last one an absorbing terminal
    state that every terminated transition enters (module docstring):
    :math:`P(\bot|s,a)=\sum_{i:\mathrm{term}_i}p_i`, :math:`r(s,a)=\sum_ip_ir_i`.
    Values are :math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`.

    Parameters
    ----------
    env : gymnasium.Env or str
        An environment whose ``env.unwrapped`` has ``P`` (wrappers are looked
        through), or an id such as ``"FrozenLake-v1"`` passed to
        ``gymnasium.make(env, **make_kwargs)``.
    gamma : float
        Discount in [0, 1); ignored when ``horizon`` is given.
    horizon : int, optional
        Build a finite-horizon (undiscounted) model with horizon H instead.
    mu0 : ndarray (n_S,), optional
        Initial distribution over the env's states; default
        ``env.unwrapped.initial_state_distrib``.
    sparse : bool, optional
        Store P as CSR (S*A, S) rather than dense (S, A, S). Default: dense up
        to 400 states (FrozenLake 4x4 and 8x8, CliffWalking), sparse above (Taxi).
    return_info : bool
        Also return a :class:`GymInfo` describing the mapping.
    make_kwargs : mapping, optional
        Keyword arguments for ``gymnasium.make`` when ``env`` is an id.

    Returns
    -------
    TabularMDP, or (TabularMDP, GymInfo) when ``return_info`` is True.

    Raises
    ------
    ModelError
        If ``env`` has no ``unwrapped.P`` or no initial distribution, or an
        entry of ``P`` is malformed (naming ``P[s][a][i]`` and the value), or
        the dynamics are not described by ``P`` (Taxi's ``fickle_passenger``).
    ImportError
        If ``env`` is an id and gymnasium is not installed.

    Examples
    --------
    >>> mdp, info = from_gymnasium("FrozenLake-v1", gamma=0.9, return_info=True,
    ...                            make_kwargs={"is_slippery": False})
    >>> mdp.S, mdp.A, info.terminal
    (17, 4, 16)
    """
    if isinstance(env, str):
        gym = _import_gymnasium()
        made = gym.make(env, **dict(make_kwargs or {}))
        try:
            return from_gymnasium(made, gamma=gamma, horizon=horizon, mu0=mu0, sparse=sparse,
                                  return_info=return_info)
        finally:
            made.close()
    if make_kwargs is not None:
        raise ModelError("make_kwargs is only used when env is an environment id (a str)",
                         field="make_kwargs")
    if sparse is not None and not isinstance(sparse, bool):
        raise ModelError(f"sparse = {sparse!r}, expected True, False or None", field="sparse")
    unwrapped, table = _transition_table(env)
    nS, nA = _sizes(unwrapped, table)
    S, T = nS + 1, nS
    rows, cols, data = [], [], []
    r = np.zeros((S, nA))
    term = np.zeros((nS, nA))
    for s in range(nS):
        by_action = _lookup(table, s, f"{_TABLE}[{s}]", f"keys 0..{nS - 1}")
        for a in range(nA):
            outcomes = _lookup(by_action, a, f"{_TABLE}[{s}][{a}]", f"keys 0..{nA - 1}")
            for i, entry in enumerate(_as_list(outcomes, f"{_TABLE}[{s}][{a}]")):
                p, nxt, rew, done = _parse_entry(entry, f"{_TABLE}[{s}][{a}][{i}]", nS)
                r[s, a] += p * rew
                if done:
                    term[s, a] += p
                rows.append(s * nA + a)
                cols.append(T if done else nxt)
                data.append(p)
    rows.extend(T * nA + a for a in range(nA))
    cols.extend([T] * nA)
    data.extend([1.0] * nA)
    kernel = sp.csr_array((data, (rows, cols)), shape=(S * nA, S))  # sums duplicates
    check_rows_sum_to_one(np.asarray(kernel.sum(axis=1)).ravel()[: nS * nA], _TABLE, (nS, nA))
    init = _initial_distribution(unwrapped, mu0, nS)
    use_sparse = S > _DENSE_MAX_STATES if sparse is None else sparse
    P = kernel if use_sparse else kernel.toarray().reshape(S, nA, S)
    if horizon is not None:
        mdp = TabularMDP(P, r, init, horizon=horizon)
    else:
        mdp = TabularMDP(P, r, init, gamma=gamma)
    if not return_info:
        return mdp
    term.setflags(write=False)
    spec = getattr(env, "spec", None) or getattr(unwrapped, "spec", None)
    info = GymInfo(n_env_states=nS, n_actions=nA, terminal=T, termination_prob=term,
                   env_id=getattr(spec, "id", None))
    return mdp, info


def _import_gymnasium() -> Any:
    """Import gymnasium lazily, with an install hint when it is missing."""
    try:
        import gymnasium
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return gymnasium


def _transition_table(env: Any) -> tuple[Any, Any]:
    """(env.unwrapped, env.unwrapped.P), or a ModelError naming what is missing."""
    unwrapped = getattr(env, "unwrapped", None)
    if unwrapped is None:
        raise ModelError(
            f"env ({type(env).__name__}) has no .unwrapped attribute, expected a gymnasium.Env "
            "such as gymnasium.make('FrozenLake-v1')", field="env")
    table = getattr(unwrapped, "P", None)
    if table is None:
        raise ModelError(
            f"env.unwrapped ({type(unwrapped).__name__}) has no transition table P, expected a "
            "toy_text environment with P[s][a] = [(prob, next_state, reward, terminated), ...]",
            field=_TABLE)
    if getattr(unwrapped, "fickle_passenger", False):
        raise ModelError(
            "env.unwrapped.fickle_passenger is True: Taxi then changes the destination inside "
            "step(), which P does not describe; expected fickle_passenger=False",
            field="env.unwrapped.fickle_passenger")
    return unwrapped, table


def _sizes(unwrapped: Any, table: Any) -> tuple[int, int]:
    """(n_S, A) from the Discrete spaces when present, else from the table."""
    try:
        n_table = len(table)
    except TypeError:
        raise ModelError(f"{_TABLE} is a {type(table).__name__}, expected a dict of dicts",
                         field=_TABLE) from None
    nS = _space_size(unwrapped, "observation_space", n_table)
    first = _lookup(table, 0, f"{_TABLE}[0]", "an entry for state 0") if nS else {}
    try:
        n_first = len(first)
    except TypeError:
        n_first = 0
    nA = _space_size(unwrapped, "action_space", n_first)
    if nS < 1 or nA < 1:
        raise ModelError(f"{_TABLE} describes {nS} states and {nA} actions, expected at least "
                         "one of each", field=_TABLE)
    return nS, nA


def _space_size(unwrapped: Any, name: str, fallback: int) -> int:
    """``unwrapped.<name>.n`` for a Discrete space (with start 0), else ``fallback``."""
    space = getattr(unwrapped, name, None)
    n = getattr(space, "n", None)
    if n is None:
        return fallback
    start = int(getattr(space, "start", 0))
    if start != 0:
        raise ModelError(f"env.unwrapped.{name} starts at {start}, expected a Discrete space "
                         "starting at 0", field=f"env.unwrapped.{name}")
    return int(n)


def _lookup(container: Any, key: int, where: str, expected: str) -> Any:
    """``container[key]`` or a ModelError naming the missing entry."""
    try:
        return container[key]
    except (KeyError, IndexError, TypeError):
        raise ModelError(f"{where} is missing, expected {expected}", field=_TABLE) from None


def _as_list(outcomes: Any, where: str) -> list:
    """The outcome list of one (s, a); it must be a non-empty sequence."""
    if isinstance(outcomes, (str, bytes, Mapping)) or not hasattr(outcomes, "__len__"):
        raise ModelError(f"{where} = {outcomes!r}, expected a list of "
                         "(prob, next_state, reward, terminated)", field=_TABLE)
    if len(outcomes) == 0:
        raise ModelError(f"{where} is empty, expected at least one outcome", field=_TABLE)
    return list(outcomes)


def _parse_entry(entry: Any, where: str, nS: int) -> tuple[float, int, float, bool]:
    """Validate one (prob, next_state, reward, terminated) tuple."""
    try:
        p, nxt, rew, done = entry
    except (TypeError, ValueError):
        raise ModelError(f"{where} = {entry!r}, expected (prob, next_state, reward, terminated)",
                         field=_TABLE) from None
    for name, x in (("prob", p), ("reward", rew)):
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real) \
                or not math.isfinite(float(x)):
            raise ModelError(f"{where} has {name} = {x!r}, expected a finite real number",
                             field=_TABLE)
    if float(p) < 0:
        raise ModelError(f"{where} has prob = {p!r}, expected a probability >= 0", field=_TABLE)
    try:
        s_next = operator.index(nxt)
    except TypeError:
        raise ModelError(f"{where} has next_state = {nxt!r}, expected an integer state",
                         field=_TABLE) from None
    if not 0 <= s_next < nS:
        raise ModelError(f"{where} has next_state = {s_next}, expected a state in [0, {nS})",
                         field=_TABLE)
    if isinstance(done, (bool, np.bool_)) or (isinstance(done, numbers.Integral)
                                              and int(done) in (0, 1)):
        return float(p), s_next, float(rew), bool(done)
    raise ModelError(f"{where} has terminated = {done!r}, expected a bool", field=_TABLE)


def _initial_distribution(unwrapped: Any, mu0: Any, nS: int) -> np.ndarray:
    """mu0 over the env's states (argument, else initial_state_distrib), plus mu0(terminal)=0."""
    name = "mu0"
    if mu0 is None:
        mu0 = getattr(unwrapped, "initial_state_distrib", None)
        name = "env.unwrapped.initial_state_distrib"
        if mu0 is None:
            raise ModelError(
                f"env.unwrapped ({type(unwrapped).__name__}) has no initial_state_distrib, "
                f"expected one, or pass mu0= (shape ({nS},)) to from_gymnasium", field=name)
    arr = as_real_array(mu0, name, ndim=1)
    check_shape(arr, (nS,), name, "(n_S,)")
    return np.append(arr, 0.0)
