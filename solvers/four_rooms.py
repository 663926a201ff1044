r"""FourRooms incentive design (bilevel notes §3.2; HPGD's environment as configured in BC-HG).

The map (13 x 13 with the outer wall, ``x`` = wall, 104 free cells, coordinates (row, column))
is :data:`FOUR_ROOMS_MAP`; the free cells form a :mod:`networkx` grid graph whose four rooms
are joined by the doorways (3,6), (6,2), (7,9), (10,6). Actions up, right, down, left; the
intended action is executed with probability :math:`1-f` and each other action with
:math:`f/3` (``fail_prob`` :math:`f=0.33`); a move into a wall stays put.

Tabular model (what the discounted MDP means):

- States: the 104 cells in row-major order, then one absorbing zero-reward ``sink``
  (S = 105). Rewards depend on the current cell only (HPGD computes the reward of a step
  from the state before the move). Reaching the goal (1,9) ends the episode: the goal pays
  its reward for one step and every action moves to the sink, where nothing is ever paid
  again. This is exactly termination in a discounted MDP.
- The 200-step episode cut of the original code is *not* part of the exact objective
  (it would need time in the state); the exact values are infinite-horizon discounted
  sums. It is used as the rollout length of the sampled estimators
  (:func:`incentive_ascent`, ``H = 200``), whose bias against the exact gradient is then
  bounded by the probability of not having reached the goal within 200 steps
  (:func:`unfinished_probability`).

Follower reward :math:`r_F(s)=\mathbb 1\{s=\text{goal}\}+\text{inc}_s(w)` with
:math:`\text{inc}_i(w)=-0.2\,\mathrm{softmax}(w)_i` for the 104 cells (the goal's own
incentive is 0, HPGD's ``IncentiveModel``), :math:`w\in\mathbb R^{105}` (slot 104 unused).
Leader reward :math:`r_U(s)=\mathbb 1\{s=(8,4)\}-5\,\mathbb 1\{s=\text{goal}\}\,
\|\text{inc}(w)\|_1` with :math:`\|\text{inc}\|_1=0.2\sum_{i<104}\mathrm{softmax}(w)_i`
(the norm of HPGD's incentive array, the goal's slot included). Values are
:math:`E[\sum_t\gamma^tr_t]`, not scaled by :math:`1-\gamma`.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from .configurable_mdp import ConfigurableMDP, FixedKernel
from .errors import ModelError
from .hypergradient_sampling import SAMPLED_METHODS
from .leader_opt import projected_gradient_ascent
from .soft_dp import SOFT_TOL, policy_kernel
from .validation import as_real_array, check_finite

__all__ = ["ACTIONS", "DOORWAYS", "EPISODE_STEPS", "FOUR_ROOMS_MAP", "GOAL", "START", "TARGET",
           "AscentRun", "FourRooms", "IncentiveCostReward", "SoftmaxIncentiveReward",
           "four_rooms", "four_rooms_graph", "incentive_ascent", "softmax",
           "unfinished_probability"]

FOUR_ROOMS_MAP = """\
xxxxxxxxxxxxx
x     x     x
x     x     x
x           x
x     x     x
x     x     x
xx xxxx     x
x     xxx xxx
x     x     x
x     x     x
x           x
x     x     x
xxxxxxxxxxxxx"""
DOORWAYS = ((3, 6), (6, 2), (7, 9), (10, 6))
#: (row, column) steps of up, right, down, left.
ACTIONS = ((-1, 0), (0, 1), (1, 0), (0, -1))
START, GOAL, TARGET = (4, 1), (1, 9), (8, 4)
#: Episode cut of the original code; here the rollout length of the sampled estimators.
EPISODE_STEPS = 200


def softmax(w: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{softmax}(w)_i=e^{w_i-\max w}/\sum_je^{w_j-\max w}` (max-shifted)."""
    z = np.exp(w - np.max(w))
    return z / z.sum()


def four_rooms_graph() -> nx.Graph:
    """The free cells of :data:`FOUR_ROOMS_MAP` as a 4-neighbour grid graph (nodes (row, col)).

    Checks the layout of notes §3.2: 104 free cells, connected, and removing the four
    doorways leaves exactly four rooms, each doorway adjacent to two of them.
    """
    rows = FOUR_ROOMS_MAP.split("\n")
    G = nx.grid_2d_graph(len(rows), len(rows[0]))
    G.remove_nodes_from([(i, j) for i, row in enumerate(rows) for j, c in enumerate(row)
                         if c == "x"])
    if G.number_of_nodes() != 104 or not nx.is_connected(G):
        raise ModelError(f"FourRooms map has {G.number_of_nodes()} free cells (connected: "
                         f"{nx.is_connected(G)}), expected 104 connected", field="map")
    rooms = list(nx.connected_components(G.subgraph(set(G) - set(DOORWAYS))))
    for door in DOORWAYS:
        touched = {k for k, room in enumerate(rooms) if set(G[door]) & room}
        if len(rooms) != 4 or len(touched) != 2:
            raise ModelError(f"doorway {door} joins rooms {sorted(touched)} of {len(rooms)}, "
                             "expected 2 of 4 rooms", field="doorways")
    return G


@dataclass(frozen=True, eq=False)
class SoftmaxIncentiveReward:
    r"""Reward :math:`r(s,a;w)=r_0(s,a)+c\,\mathrm{softmax}(w)_{k(s)}` (0 where :math:`k(s)<0`).

    Jacobian :math:`\partial r(s,a)/\partial w_j=c\,p_k(\delta_{kj}-p_j)`,
    :math:`p=\mathrm{softmax}(w)`, shape (S, A, n). ``r0`` (S, A); ``slot`` (S,) int in
    [-1, n); ``n`` weights (slots no state uses still move the softmax).
    """

    r0: np.ndarray
    slot: np.ndarray
    scale: float
    n: int

    def __post_init__(self) -> None:
        r0 = as_real_array(self.r0, "r0", ndim=2)
        check_finite(r0, "r0")
        slot = np.asarray(self.slot)
        if slot.shape != (r0.shape[0],) or not np.issubdtype(slot.dtype, np.integer):
            raise ModelError(f"slot has shape {slot.shape}, expected integer (S,) = "
                             f"({r0.shape[0]},)", field="slot")
        if slot.size and (slot.min() < -1 or slot.max() >= self.n):
            raise ModelError(f"slot has entries in [{slot.min()}, {slot.max()}], expected "
                             f"[-1, n) = [-1, {self.n})", field="slot")
        if not np.isfinite(self.scale):
            raise ModelError(f"scale = {self.scale!r}, expected finite", field="scale")
        object.__setattr__(self, "r0", r0)
        object.__setattr__(self, "slot", slot.astype(np.int64))

    def per_state(self, w: np.ndarray) -> np.ndarray:
        r""":math:`c\,\mathrm{softmax}(w)_{k(s)}` (0 where no slot), shape (S,)."""
        p = softmax(w)
        return np.where(self.slot >= 0, self.scale * p[np.maximum(self.slot, 0)], 0.0)

    def value(self, w: np.ndarray) -> np.ndarray:
        """r(w), shape (S, A)."""
        return self.r0 + self.per_state(w)[:, None]

    def jacobian(self, w: np.ndarray) -> np.ndarray:
        """dr/dw, shape (S, A, n)."""
        p = softmax(w)
        used = self.slot >= 0
        k = np.maximum(self.slot, 0)
        J = -p[k][:, None] * p[None, :]
        J[np.arange(k.size), k] += p[k]
        J = np.where(used[:, None], self.scale * J, 0.0)
        return np.broadcast_to(J[:, None, :], (*self.r0.shape, self.n)).copy()


@dataclass(frozen=True, eq=False)
class IncentiveCostReward:
    r"""Leader reward charged for the incentives: :math:`r(s,a;w)=r_0(s,a)-
    \kappa(s,a)\,|c|\sum_{i<m}\mathrm{softmax}(w)_i` (:math:`|c|\sum_{i<m}p_i` is the L1 norm
    of the incentive array :math:`c\,p_{0:m}`).

    Jacobian :math:`-\kappa|c|\,(p_j\mathbb 1\{j<m\}-p_j\sum_{i<m}p_i)`, shape (S, A, n).
    ``r0``, ``charge`` (S, A); ``m`` = ``n_used``.
    """

    r0: np.ndarray
    charge: np.ndarray
    scale: float
    n_used: int
    n: int

    def __post_init__(self) -> None:
        r0 = as_real_array(self.r0, "r0", ndim=2)
        charge = as_real_array(self.charge, "charge", ndim=2)
        if charge.shape != r0.shape:
            raise ModelError(f"charge has shape {charge.shape}, expected (S, A) = {r0.shape}",
                             field="charge")
        check_finite(r0, "r0")
        check_finite(charge, "charge")
        if not 0 <= self.n_used <= self.n:
            raise ModelError(f"n_used = {self.n_used}, expected 0 <= n_used <= n = {self.n}",
                             field="n_used")
        object.__setattr__(self, "r0", r0)
        object.__setattr__(self, "charge", charge)

    def l1(self, w: np.ndarray) -> float:
        r""":math:`|c|\sum_{i<m}\mathrm{softmax}(w)_i`."""
        return abs(self.scale) * float(softmax(w)[: self.n_used].sum())

    def value(self, w: np.ndarray) -> np.ndarray:
        """r(w), shape (S, A)."""
        return self.r0 - self.charge * self.l1(w)

    def jacobian(self, w: np.ndarray) -> np.ndarray:
        """dr/dw, shape (S, A, n)."""
        p = softmax(w)
        used = np.where(np.arange(self.n) < self.n_used, p, 0.0)
        grad_l1 = abs(self.scale) * (used - p * used.sum())
        return -self.charge[..., None] * grad_l1


@dataclass(frozen=True, eq=False)
class FourRooms:
    """The FourRooms bilevel instance: ``model`` (ConfigurableMDP, n = 105 weights),
    ``cells`` ((104, 2) row-major free cells; state i is ``cells[i]``, state 104 the sink),
    ``start``, ``goal``, ``target`` (state indices), ``fail_prob``."""

    model: ConfigurableMDP
    cells: np.ndarray
    start: int
    goal: int
    target: int
    fail_prob: float

    def state(self, cell: tuple[int, int]) -> int:
        """State index of the free cell (row, column); ModelError for a wall or off-map cell."""
        hit = np.flatnonzero((self.cells == np.asarray(cell)).all(axis=1))
        if hit.size != 1:
            raise ModelError(f"cell {cell} is not a free cell of the map", field="cell")
        return int(hit[0])

    def incentives(self, w: np.ndarray) -> np.ndarray:
        """The follower's incentive per cell (104,), 0 at the goal (in [-0.2, 0])."""
        return self.model.r_F.per_state(w)[: len(self.cells)]

    def grid(self, values: np.ndarray) -> np.ndarray:
        """Per-cell values (104,) on the 13 x 13 map, NaN on walls."""
        out = np.full((13, 13), np.nan)
        out[self.cells[:, 0], self.cells[:, 1]] = values
        return out


def four_rooms(tau: float, *, fail_prob: float = 0.33, gamma_F: float = 0.99,
               gamma_U: float = 0.99, incentive_scale: float = 0.2,
               cost_weight: float = 5.0) -> FourRooms:
    r"""The FourRooms incentive-design instance of notes §3.2 at temperature ``tau``.

    Kernel: from cell s, action a moves along :data:`ACTIONS`\ [b] with probability
    :math:`1-f` for b = a and :math:`f/3` otherwise (staying put where the move hits a
    wall); the goal moves to the sink, the sink stays. Rewards as in the module docstring.
    """
    if not 0.0 <= fail_prob <= 0.75:
        raise ModelError(f"fail_prob = {fail_prob!r}, expected in [0, 0.75] (the intended "
                         "action keeps probability 1 - fail_prob >= fail_prob / 3)",
                         field="fail_prob")
    G = four_rooms_graph()
    cells = np.array(sorted(G.nodes))
    index = {tuple(c): i for i, c in enumerate(cells)}
    nc, A = len(cells), len(ACTIONS)
    S, sink, goal = nc + 1, nc, index[GOAL]
    P = np.zeros((S, A, S))
    for i, (r, c) in enumerate(cells):
        dest = [index.get((r + dr, c + dc), i) for dr, dc in ACTIONS]
        for a in range(A):
            for b, j in enumerate(dest):
                P[i, a, j] += 1.0 - fail_prob if a == b else fail_prob / 3
    P[goal] = 0.0
    P[goal, :, sink] = 1.0
    P[sink, :, sink] = 1.0
    n = nc + 1
    base_F = np.zeros((S, A))
    base_F[goal] = 1.0
    slot = np.append(np.arange(nc), -1)
    slot[goal] = -1
    r_F = SoftmaxIncentiveReward(base_F, slot, -incentive_scale, n)
    base_U = np.zeros((S, A))
    base_U[index[TARGET]] = 1.0
    charge = np.zeros((S, A))
    charge[goal] = cost_weight
    r_U = IncentiveCostReward(base_U, charge, incentive_scale, nc, n)
    mu0 = np.zeros(S)
    mu0[index[START]] = 1.0
    model = ConfigurableMDP(r_F, r_U, FixedKernel(P), mu0, gamma_F, gamma_U, tau, n)
    return FourRooms(model=model, cells=cells, start=index[START], goal=goal,
                     target=index[TARGET], fail_prob=float(fail_prob))


def unfinished_probability(point, steps: int = EPISODE_STEPS) -> float:
    r""":math:`\Pr(s_{\text{steps}}\ne\text{sink})` under the follower policy of ``point``.

    The truncation bias of an H-step rollout of an absorbing model is carried by these
    trajectories only (every reward and Jacobian vanishes in the sink).
    """
    mdp = point.data["follower"]
    Ppi = policy_kernel(mdp, point.pi)
    d = mdp.mu0.copy()
    for _ in range(steps):
        d = Ppi.T @ d
    return float(1.0 - d[-1])


@dataclass(frozen=True)
class AscentRun:
    """Leader iterates ``w`` (K+1, n), exact ``F`` (K+1,) with certified error bounds ``F_err``
    (K+1,) (:func:`~solvers.hypergradient.objective_error_bound`), gradient norms (K,) before
    clipping."""

    gradient: str
    w: np.ndarray
    F: np.ndarray
    F_err: np.ndarray
    grad_norm: np.ndarray


def incentive_ascent(fr: FourRooms, w0: np.ndarray, *, step: float, iterations: int,
                     gradient: str = "exact", samples: int = 100,
                     rng: np.random.Generator | None = None, H: int = EPISODE_STEPS,
                     clip: float | None = 1.0, tol: float = SOFT_TOL) -> AscentRun:
    r"""Gradient ascent :math:`w_{k+1}=w_k+\eta\,\mathrm{clip}(g_k)` on F (notes §3.2: SGD with
    gradient-norm clipping at 1.0), :math:`F(w_k)` recorded exactly at every iterate.

    ``gradient``: ``"exact"`` (BC form, the "oracle"), or a sampled estimator of
    :func:`~solvers.hypergradient_sampling.sampled_hypergradient` (``"bchg"``, ``"hpgd"``,
    ``"naive"``) averaged over ``samples`` follower trajectories of ``H`` steps (the
    episode cut). A thin call of :func:`~solvers.leader_opt.projected_gradient_ascent` with an
    unbounded box, ``H`` and ``clip``.
    """
    if gradient not in ("exact", *SAMPLED_METHODS):
        raise ModelError(f"gradient = {gradient!r}, expected 'exact' or one of "
                         f"{SAMPLED_METHODS}", field="gradient")
    run = projected_gradient_ascent(fr.model, w0, (-np.inf, np.inf), step=step,
                                    iterations=iterations, gradient=gradient, samples=samples,
                                    rng=rng, tol=tol, H=H, clip=clip)
    return AscentRun(gradient=gradient, w=run.x, F=run.F, F_err=run.F_err,
                     grad_norm=run.grad_norm)
