r"""Gridworlds from text layouts, as a networkx graph and a validated TabularMDP.

A layout is a list of equal-length strings, one character per cell:

==========  ===============================================================
``.``       free cell
``#``       wall (not a state)
``S``       start cell; :math:`\mu_0` is uniform over the start cells
``G``       goal cell, absorbing; ``goal_reward`` is paid on *entering* it
``X``       unsafe cell, free to walk on; costs ``unsafe_cost`` per step spent there
==========  ===============================================================

States are the non-wall cells in row-major order. The free cells form the
graph :math:`\mathcal G` = ``networkx.grid_2d_graph`` minus the walls. The
actions are up, right, down, left (indices 0..3). Moving in direction
:math:`b` from cell :math:`x` leads to the neighbour :math:`x+b` if the edge
:math:`(x, x+b)` is in :math:`\mathcal G`, and leaves the agent at :math:`x`
otherwise (a wall or the edge of the grid). With slip probability
:math:`p`, action :math:`a` moves in direction :math:`a` with probability
:math:`1-p` and in each of the three *other* directions with probability
:math:`p/3` (so :math:`p = 3/4` is a uniformly random move):

.. math::
    P(x'|x,a) = \sum_{b} w_{ab}\,\mathbf 1[\mathrm{move}(x,b)=x'],\qquad
    w_{ab} = (1-p)\,\mathbf 1[a=b] + \tfrac p3\,\mathbf 1[a\ne b].

A goal cell :math:`g` is absorbing, :math:`P(g|g,a)=1`, with zero reward and
cost. Elsewhere the reward is the step reward plus the goal reward times the
probability of entering a goal, and the single constraint cost (present
only when the layout has an ``X``, so K = 1, else K = 0) is charged for every
decision taken in an unsafe cell:

.. math::
    r(x,a) = r_{\text{step}} + r_{\text{goal}}\sum_{g\in G}P(g|x,a),\qquad
    c_0(x,a) = c_{\text{unsafe}}\,\mathbf 1[x\in X].

With ``slip = 0``, ``step_reward = 0`` and ``goal_reward > 0``, a cell at
graph distance :math:`d\ge1` from the nearest goal has
:math:`V^\star = r_{\text{goal}}\gamma^{d-1}` (the goal is entered by the
d-th action, taken at time :math:`t=d-1`). Values are
:math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .mdp import TabularMDP

__all__ = ["ACTION_NAMES", "LAYOUT_CHARS", "MOVES", "GridWorld", "gridworld"]

#: Action names, in index order.
ACTION_NAMES: tuple[str, ...] = ("up", "right", "down", "left")
#: (d_row, d_col) of each action.
MOVES: tuple[tuple[int, int], ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))
#: The characters a layout may use.
LAYOUT_CHARS: str = ".#SGX"
#: One arrow per action, for :meth:`GridWorld.render_policy`.
_ARROWS = "^>v<"
#: With ``sparse=None`` models with at most this many states get a dense (S, A, S) kernel.
_DENSE_MAX_STATES = 400

Cell = tuple[int, int]


@dataclass(frozen=True, eq=False)
class GridWorld:
    """A gridworld: its TabularMDP, its graph of free cells and the state <-> cell maps.

    Attributes
    ----------
    mdp : TabularMDP
        The model; K = 1 (the unsafe-cell cost) if the layout has an ``X``, else K = 0.
    graph : networkx.Graph
        Free cells (row, col) with edges between 4-neighbours; node attribute
        ``"kind"`` is the layout character.
    layout : tuple of str
        The validated layout rows.
    cells : tuple of (int, int)
        ``cells[s]`` is the (row, col) of state s (row-major order).
    index : dict
        ``index[(row, col)]`` is the state of a free cell.
    action_names : tuple of str
        ``("up", "right", "down", "left")``.
    starts, goals, unsafe : tuple of int
        States of the ``S``, ``G`` and ``X`` cells.
    slip : float
        Probability that a move goes in one of the three other directions.
    """

    mdp: TabularMDP
    graph: nx.Graph = field(repr=False)
    layout: tuple[str, ...] = field(repr=False)
    cells: tuple[Cell, ...] = field(repr=False)
    index: dict[Cell, int] = field(repr=False)
    action_names: tuple[str, ...] = field(repr=False)
    starts: tuple[int, ...]
    goals: tuple[int, ...]
    unsafe: tuple[int, ...]
    slip: float

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the layout, walls included."""
        return len(self.layout), len(self.layout[0])

    def goal_distances(self) -> np.ndarray:
        """Graph distance (number of moves) from each state to the nearest goal, (S,).

        ``inf`` where no goal is reachable (or the layout has no goal).
        """
        dist = np.full(self.mdp.S, np.inf)
        if self.goals:
            lengths = nx.multi_source_dijkstra_path_length(
                self.graph, {self.cells[g] for g in self.goals})
            for cell, d in lengths.items():
                dist[self.index[cell]] = d
        return dist

    def render_values(self, v: np.ndarray, fmt: str = "{:.3f}") -> str:
        """A text grid of the state values ``v`` (S,); walls are shown as ``#``.

        Every cell is right-aligned to a common width and cells are separated
        by one space, e.g. ``render_values(result.v)`` after value iteration.
        A value that rounds to zero is printed without a minus sign.
        """
        v = np.asarray(v)
        if v.shape != (self.mdp.S,):
            raise ModelError(f"v has shape {v.shape}, expected (S,) = ({self.mdp.S},)",
                             field="v")
        return self._grid([_format_value(fmt, float(x)) for x in v])

    def render_policy(self, pi: np.ndarray) -> str:
        """A text grid of arrows ``^ > v <`` for a policy (S, A) or action indices (S,).

        A stochastic policy is shown by its most likely action; goals are shown
        as ``G`` and walls as ``#``.
        """
        pi = np.asarray(pi)
        S, A = self.mdp.S, self.mdp.A
        if pi.shape == (S, A):
            actions = np.argmax(pi, axis=1)
        elif pi.shape == (S,) and np.issubdtype(pi.dtype, np.integer):
            actions = pi
            if S and (actions.min() < 0 or actions.max() >= A):
                raise ModelError(f"pi contains an action outside [0, {A})", field="pi")
        else:
            raise ModelError(f"pi has shape {pi.shape} (dtype {pi.dtype}), expected a policy "
                             f"(S, A) = ({S}, {A}) or integer actions (S,)", field="pi")
        goals = set(self.goals)
        return self._grid(["G" if s in goals else _ARROWS[a] for s, a in enumerate(actions)])

    def _grid(self, texts: list[str]) -> str:
        """Lay out one string per state on the grid, walls as '#', right-aligned."""
        width = max(len(t) for t in texts)
        lines = []
        for i, row in enumerate(self.layout):
            items = [texts[self.index[(i, j)]] if ch != "#" else "#" for j, ch in enumerate(row)]
            lines.append(" ".join(t.rjust(width) for t in items).rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        rows, cols = self.shape
        return (f"GridWorld({rows}x{cols}, S={self.mdp.S}, starts={self.starts}, "
                f"goals={self.goals}, unsafe={self.unsafe}, slip={self.slip:g}, {self.mdp!r})")


def gridworld(
    layout: Sequence[str],
    *,
    slip: float = 0.0,
    gamma: float = 0.95,
    horizon: int | None = None,
    step_reward: float = 0.0,
    goal_reward: float = 1.0,
    unsafe_cost: float = 1.0,
    sparse: bool | None = None,
) -> GridWorld:
    r"""Build a gridworld MDP from a text layout (see the module docstring for the maths).

    .. math::
        P(x'|x,a)=\sum_b\big[(1-p)\mathbf 1[a=b]+\tfrac p3\mathbf 1[a\ne b]\big]
        \mathbf 1[\mathrm{move}(x,b)=x'],\quad
        r(x,a)=r_{\text{step}}+r_{\text{goal}}P(G|x,a),\quad
        c_0(x,a)=c_{\text{unsafe}}\mathbf 1[x\in X],

    with goals absorbing (zero reward and cost there). Values of the model are
    :math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`.

    Parameters
    ----------
    layout : sequence of str
        Equal-length rows over the characters ``. # S G X``; at least one ``S``.
    slip : float
        Probability p in [0, 1] that a move goes in a uniformly random one of
        the three other directions.
    gamma : float
        Discount in [0, 1); ignored when ``horizon`` is given.
    horizon : int, optional
        Build a finite-horizon (undiscounted) model with this horizon H.
    step_reward : float
        Reward of every action taken outside a goal (e.g. -1 for shortest paths).
    goal_reward : float
        Reward for entering a goal cell, paid on the transition into it.
    unsafe_cost : float
        Cost ``c[0, x, a]`` of each action taken in an ``X`` cell.
    sparse : bool, optional
        Store P as CSR (S*A, S) rather than dense (S, A, S). Default: dense up
        to 400 states.

    Returns
    -------
    GridWorld

    Raises
    ------
    ModelError
        Naming the field ("layout", "slip", ...), and for a bad character its
        row and column.

    Examples
    --------
    >>> g = gridworld(["S.G"], gamma=0.5)
    >>> g.mdp.S, g.mdp.A, g.mdp.K, g.cells
    (3, 4, 0, ((0, 0), (0, 1), (0, 2)))
    >>> g.mdp.r[1].tolist()          # from the middle, only "right" enters G
    [0.0, 1.0, 0.0, 0.0]
    """
    rows = _parse_layout(layout)
    p = _as_real(slip, "slip", lo=0.0, hi=1.0)
    step_reward = _as_real(step_reward, "step_reward")
    goal_reward = _as_real(goal_reward, "goal_reward")
    unsafe_cost = _as_real(unsafe_cost, "unsafe_cost")
    if sparse is not None and not isinstance(sparse, bool):
        raise ModelError(f"sparse = {sparse!r}, expected True, False or None", field="sparse")

    n_rows, n_cols = len(rows), len(rows[0])
    graph = nx.grid_2d_graph(n_rows, n_cols)
    graph.remove_nodes_from([(i, j) for i, row in enumerate(rows)
                             for j, ch in enumerate(row) if ch == "#"])
    cells = tuple(sorted(graph.nodes))
    index = {cell: s for s, cell in enumerate(cells)}
    kinds = [rows[i][j] for i, j in cells]
    nx.set_node_attributes(graph, dict(zip(cells, kinds, strict=True)), "kind")
    starts = tuple(s for s, k in enumerate(kinds) if k == "S")
    goals = tuple(s for s, k in enumerate(kinds) if k == "G")
    unsafe = tuple(s for s, k in enumerate(kinds) if k == "X")

    S, A = len(cells), len(MOVES)
    weights = np.full((A, A), p / (A - 1))
    np.fill_diagonal(weights, 1.0 - p)
    goal_set = set(goals)
    data, row_idx, col_idx = [], [], []
    for s, (i, j) in enumerate(cells):
        targets = []
        for di, dj in MOVES:
            nxt = (i + di, j + dj)
            targets.append(index[nxt] if graph.has_edge((i, j), nxt) else s)
        for a in range(A):
            if s in goal_set:
                pairs = [(s, 1.0)]
            else:
                pairs = [(targets[b], weights[a, b]) for b in range(A) if weights[a, b] > 0]
            for t, w in pairs:
                row_idx.append(s * A + a)
                col_idx.append(t)
                data.append(w)
    kernel = sp.csr_array((data, (row_idx, col_idx)), shape=(S * A, S))  # sums duplicates
    is_goal = np.zeros(S)
    is_goal[list(goals)] = 1.0
    r = step_reward + goal_reward * (kernel @ is_goal).reshape(S, A)
    r[list(goals)] = 0.0
    costs = None
    if unsafe:
        costs = np.zeros((1, S, A))
        costs[0, list(unsafe)] = unsafe_cost
    mu0 = np.zeros(S)
    mu0[list(starts)] = 1.0 / len(starts)
    use_sparse = S > _DENSE_MAX_STATES if sparse is None else sparse
    P = kernel if use_sparse else kernel.toarray().reshape(S, A, S)
    if horizon is not None:
        mdp = TabularMDP(P, r, mu0, horizon=horizon, costs=costs)
    else:
        mdp = TabularMDP(P, r, mu0, gamma=gamma, costs=costs)
    return GridWorld(mdp=mdp, graph=graph, layout=rows, cells=cells, index=index,
                     action_names=ACTION_NAMES, starts=starts, goals=goals, unsafe=unsafe,
                     slip=p)


def _parse_layout(layout: object) -> tuple[str, ...]:
    """Validate a layout: non-empty equal-length str rows over LAYOUT_CHARS with a start."""
    if isinstance(layout, str):
        raise ModelError("layout is a single str, expected a sequence of row strings "
                         "(split a multi-line string with str.splitlines())", field="layout")
    if not isinstance(layout, Sequence) or len(layout) == 0:
        raise ModelError(f"layout = {layout!r}, expected a non-empty sequence of row strings",
                         field="layout")
    rows = tuple(layout)
    for i, row in enumerate(rows):
        if not isinstance(row, str):
            raise ModelError(f"layout[{i}] = {row!r} is a {type(row).__name__}, expected a str",
                             field="layout")
    width = len(rows[0])
    if width == 0:
        raise ModelError("layout[0] is an empty string, expected at least one cell",
                         field="layout")
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ModelError(f"layout[{i}] (row {i}) has length {len(row)}, expected {width} "
                             "like row 0 (rows must have equal length)", field="layout")
        for j, ch in enumerate(row):
            if ch not in LAYOUT_CHARS:
                raise ModelError(
                    f"layout[{i}][{j}] = {ch!r} (row {i}, col {j}) is not a layout character, "
                    f"expected one of {', '.join(repr(c) for c in LAYOUT_CHARS)}",
                    field="layout",
                )
    if not any("S" in row for row in rows):
        raise ModelError("layout has no start cell 'S', expected at least one", field="layout")
    return rows


def _format_value(fmt: str, x: float) -> str:
    """``fmt.format(x)``, without the sign of a value that rounds to zero ("-0.000")."""
    text, zero = fmt.format(x), fmt.format(0.0)
    return zero if text.strip().lstrip("-") == zero.strip() else text


def _as_real(value: object, name: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    """A finite real number in [lo, hi] (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ModelError(f"{name} = {value!r} is not a real number", field=name)
    x = float(value)
    if not math.isfinite(x) or not lo <= x <= hi:
        bounds = f" in [{lo:g}, {hi:g}]" if math.isfinite(lo) else ""
        raise ModelError(f"{name} = {x!r}, expected a finite number{bounds}", field=name)
    return x
