r"""A token-level simulation of RL with verifiable rewards (RLVR) under a token budget.

The idealised relative-budget theory (Wachi et al., arXiv 2602.01523, §§4-6;
notes ``poisoning_budget.md`` part 2) reasons about one prompt and a fixed
law of the time to the first correct solution :math:`T`. This module goes one
step further: a *population* of tasks, a *parametric* policy whose update
changes each task's law of :math:`T`, group-sampled rollouts truncated at the
budget :math:`H`, and a GRPO-style policy-gradient step. It measures how much
each token spent improves accuracy and the paper's reward.

Model (a multi-step reasoning chain)
------------------------------------
Task :math:`x` is solved by :math:`k` (``shape``) reasoning steps taken in
order. At every generated token the current step is completed with
probability :math:`p_x=\sigma(\theta_x)` (logistic :math:`\sigma`, policy logit
:math:`\theta_x`), independently of the past. Hence the step-completion
times are the partial sums of :math:`k` i.i.d. Geometric(:math:`p_x`) variables
and

.. math:: T\mid x\sim\mathrm{NegBin}(k,p_x),\quad
   P(T=t)=\binom{t-1}{k-1}p_x^k(1-p_x)^{t-k},\quad E[T\mid x]=\mu_x=k/p_x,

the discrete analogue of the Gamma(:math:`k`, rate) law of the paper's
Theorem 6.4 (:math:`\mathrm{CV}(T)\approx1/\sqrt k`). A rollout generates
:math:`n=\min(T,H)` tokens and has completed :math:`j\le k` steps (:math:`j=k`
iff :math:`T\le H`). The token sequence is a run of Bernoulli(:math:`p_x`)
"step done" events, so its log-likelihood is
:math:`j\log p_x+(n-j)\log(1-p_x)` and the exact score (REINFORCE) is

.. math:: \partial_{\theta_x}\log\pi(\omega)=j-p_x\,n. \qquad (\text{score})

Rewards: binary :math:`R=\mathbb 1\{T\le H\}` or the paper's
:math:`R=(H-T+1)\mathbb 1\{T\le H\}`. Closed forms (derivation in
docs/rlvr_simulation.md), with :math:`B(n,p)` a binomial variable:

.. math:: q=P(B(H,p)\ge k),\qquad
   E[R]=(H+1)\,q-\tfrac{k}{p}P(B(H+1,p)\ge k+1),

.. math:: \partial_\theta q=(1-p)\,H\,P(T=H),\qquad
   \partial_\theta E[R]=(1-p)\,E[T;\,T\le H]=(1-p)\tfrac kpP(B(H+1,p)\ge k+1).

GRPO-style update: for each task, :math:`G` rollouts, group advantages
:math:`A_i=(R_i-\bar R)/s_R` (population std; ``advantage="grpo"``; 0 when all
rewards in the group are equal) or :math:`A_i=R_i-\bar R` (``"centred"``), and
:math:`\theta_x\leftarrow\theta_x+\eta\,\frac1G\sum_iA_i\,(j_i-p_xn_i)`. The
centred estimator is unbiased for :math:`(1-1/G)\,\partial_\theta E[R]`.

The reward is a single undiscounted return per rollout (:math:`\gamma=1`, no
scaling). Randomness comes only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit, ndtri
from scipy.stats import binom
from tqdm import tqdm

from .errors import ModelError
from .validation import as_real_array, as_real_scalar, check_finite, describe

__all__ = [
    "ADVANTAGES",
    "REWARDS",
    "Rollouts",
    "SimulationResult",
    "TaskPopulation",
    "expected_reward",
    "expected_reward_gradient",
    "group_advantages",
    "lognormal_population",
    "policy_gradient_estimate",
    "relative_budget",
    "rollout_rewards",
    "sample_rollouts",
    "simulate",
    "success_probability",
    "sweep_budgets",
]

#: Reward kinds: ``"binary"`` = 1{T <= H}; ``"paper"`` = (H - T + 1) 1{T <= H}.
REWARDS: tuple[str, ...] = ("binary", "paper")
#: Advantage kinds: ``"grpo"`` = (R - mean) / std within the group; ``"centred"`` = R - mean.
ADVANTAGES: tuple[str, ...] = ("grpo", "centred")


@dataclass(frozen=True)
class TaskPopulation:
    r"""Tasks with per-token step hazard :math:`p_x=\sigma(\theta_x)` and ``shape`` steps.

    Attributes
    ----------
    theta : ndarray, shape (n_tasks,)
        Policy logits; finite. :math:`p_x=\sigma(\theta_x)\in(0,1)`.
    shape : int
        Number of reasoning steps :math:`k\ge1`; :math:`T\mid x\sim\mathrm{NegBin}(k,p_x)`.
    """

    theta: np.ndarray
    shape: int

    def __post_init__(self) -> None:
        theta = as_real_array(self.theta, "theta", ndim=1)  # (n_tasks,), n_tasks >= 1
        check_finite(theta, "theta")
        _positive_int(self.shape, "shape", 1)
        object.__setattr__(self, "theta", theta)
        object.__setattr__(self, "shape", int(self.shape))

    @property
    def hazard(self) -> np.ndarray:
        """Per-token step-completion probability :math:`p_x=\\sigma(\\theta_x)`, (n_tasks,)."""
        return expit(self.theta)

    @property
    def mean_T(self) -> np.ndarray:
        """:math:`\\mu_x=E[T\\mid x]=k/p_x`, shape (n_tasks,)."""
        return self.shape / self.hazard

    @property
    def n_tasks(self) -> int:
        return int(self.theta.size)


#: Largest population :func:`lognormal_population` builds (~0.5 GB of float64 work arrays).
MAX_POPULATION_TASKS = 10**7

def lognormal_population(n_tasks: int, mean_T: float, shape: int = 1,
                         spread: float = 0.0) -> TaskPopulation:
    r"""A deterministic population whose :math:`\log\mu_x` are stratified normal quantiles.

    :math:`\mu_x=\bar\mu\exp(s z_x-s^2/2)` with :math:`z_x=\Phi^{-1}((x+1/2)/n)`, so the
    population of :math:`\mu_x` approximates a log-normal law with mean ``mean_T``
    (:math:`\bar\mu`) and log-sd ``spread`` (:math:`s`) without any randomness; then
    :math:`\theta_x=\mathrm{logit}(k/\mu_x)`.

    Raises
    ------
    ModelError
        If ``n_tasks < 1``, ``spread < 0`` or some :math:`\mu_x\le k` (a hazard of 1 or more).
    """
    n = _positive_int(n_tasks, "n_tasks", 1)
    if n > MAX_POPULATION_TASKS:
        raise ModelError(f"n_tasks = {n}, expected at most {MAX_POPULATION_TASKS} (a quantile "
                         "grid that fine is already exact to plotting accuracy; larger ones "
                         "only exhaust memory)", field="n_tasks")
    k = _positive_int(shape, "shape", 1)
    spread = as_real_scalar(spread, "spread", "a finite number >= 0")
    if spread < 0.0:
        raise ModelError(f"spread = {spread!r}, expected a finite number >= 0", field="spread")
    mean_T = as_real_scalar(mean_T, "mean_T", f"a finite mean > shape = {k}")
    try:
        z = ndtri((np.arange(n) + 0.5) / n)
    except (ValueError, MemoryError):
        raise ModelError(f"n_tasks = {n} tasks cannot be allocated, expected a practical "
                         "population size", field="n_tasks") from None
    with np.errstate(over="ignore", invalid="ignore"):  # a huge spread gives mu = 0 or nan
        mu = mean_T * np.exp(spread * z - np.float64(spread) ** 2 / 2.0)
    if not np.all(mu > k):
        raise ModelError(f"mean_T = {mean_T!r} with spread {spread!r} gives min mu_x = "
                         f"{mu.min()!r}, expected every mu_x > shape = {k}", field="mean_T")
    return TaskPopulation(logit(k / mu), k)


def relative_budget(H: int, population: TaskPopulation) -> float:
    r"""Population relative budget :math:`\xi=H/\bar\mu`, :math:`\bar\mu=\frac1n\sum_x\mu_x`."""
    return _budget(H) / float(np.mean(population.mean_T))


# --- exact law -----------------------------------------------------------------------------


def success_probability(H: int, hazard: np.ndarray, shape: int) -> np.ndarray:
    r"""Accuracy :math:`q=P(T\le H)=P(B(H,p)\ge k)` per task (B binomial); shape of ``hazard``."""
    return binom.sf(shape - 1, _budget(H), np.asarray(hazard, dtype=float))


def expected_reward(H: int, hazard: np.ndarray, shape: int, reward: str = "paper") -> np.ndarray:
    r"""Exact :math:`E[R\mid x]` per task (undiscounted return of one rollout).

    ``"binary"``: :math:`q`. ``"paper"``:
    :math:`E[(H-T+1)^+]=(H+1)q-\frac kpP(B(H+1,p)\ge k+1)`, using
    :math:`tP(T_k=t)=\frac kpP(T_{k+1}=t+1)`.
    """
    H = _budget(H)
    p = np.asarray(hazard, dtype=float)
    q = success_probability(H, p, shape)
    if _reward_kind(reward) == "binary":
        return q
    return (H + 1) * q - (shape / p) * binom.sf(shape, H + 1, p)


def expected_reward_gradient(H: int, theta: np.ndarray, shape: int,
                             reward: str = "paper") -> np.ndarray:
    r"""Exact :math:`\partial E[R\mid x]/\partial\theta_x` per task.

    ``"binary"``: :math:`(1-p)HP(T=H)` with
    :math:`P(T=H)=p\,P(B(H-1,p)=k-1)`. ``"paper"``:
    :math:`(1-p)E[T;T\le H]=(1-p)\frac kpP(B(H+1,p)\ge k+1)`. Both from
    :math:`\frac{d}{dp}P(B(t,p)\ge k)=\frac tpP(T=t)` and :math:`dp/d\theta=p(1-p)`.
    """
    H = _budget(H)
    p = expit(np.asarray(theta, dtype=float))
    if _reward_kind(reward) == "binary":
        return (1 - p) * H * p * binom.pmf(shape - 1, H - 1, p)
    return (1 - p) * (shape / p) * binom.sf(shape, H + 1, p)


# --- rollouts and the estimator ------------------------------------------------------------


@dataclass(frozen=True)
class Rollouts:
    """``G`` rollouts per task, all arrays of shape (n_tasks, G).

    Attributes
    ----------
    T : ndarray of int
        Time to the first correct solution (may exceed ``H``; not observed then).
    steps : ndarray of int
        Steps completed within the budget, :math:`j=\\#\\{m:S_m\\le H\\}`.
    tokens : ndarray of int
        Tokens generated, :math:`\\min(T,H)`.
    """

    T: np.ndarray
    steps: np.ndarray
    tokens: np.ndarray


def sample_rollouts(population: TaskPopulation, H: int, G: int,
                    rng: np.random.Generator) -> Rollouts:
    r"""Sample ``G`` exact rollouts per task; step times :math:`S_m` = cumsum of Geometric(p_x)."""
    H, G = _budget(H), _positive_int(G, "G", 2)
    p = population.hazard[:, None, None]
    gaps = rng.geometric(np.broadcast_to(p, (population.n_tasks, G, population.shape)))
    times = np.cumsum(gaps, axis=2)
    T = times[:, :, -1]
    return Rollouts(T=T, steps=np.sum(times <= H, axis=2), tokens=np.minimum(T, H))


def rollout_rewards(rollouts: Rollouts, H: int, reward: str) -> np.ndarray:
    """Rewards, shape (n_tasks, G): ``1{T<=H}`` (binary) or ``(H-T+1) 1{T<=H}`` (paper)."""
    H = _budget(H)
    solved = rollouts.T <= H
    if _reward_kind(reward) == "binary":
        return solved.astype(float)
    return np.where(solved, H - rollouts.T + 1, 0).astype(float)


def group_advantages(rewards: np.ndarray, advantage: str = "grpo") -> np.ndarray:
    r"""Group-relative advantages along the last axis (the ``G`` rollouts of one task).

    ``"centred"``: :math:`A_i=R_i-\bar R`; ``"grpo"``: :math:`A_i=(R_i-\bar R)/s_R` with the
    population std :math:`s_R`, and :math:`A_i=0` when :math:`s_R=0` (all rewards equal).
    ``"grpo"`` is invariant under :math:`R\mapsto aR+b` (:math:`a>0`).
    """
    if advantage not in ADVANTAGES:
        raise ModelError(f"advantage = {advantage!r}, expected one of {ADVANTAGES}",
                         field="advantage")
    r = np.asarray(rewards, dtype=float)
    centred = r - r.mean(axis=-1, keepdims=True)
    if advantage == "centred":
        return centred
    std = np.sqrt(np.mean(centred**2, axis=-1, keepdims=True))
    # a group whose rewards agree carries no signal; its centred rewards are exactly 0 (the
    # mean of equal floats is that float), so dividing by 1 instead of 0 returns exact zeros
    return centred / np.where(std > 0.0, std, 1.0)


def policy_gradient_estimate(population: TaskPopulation, rollouts: Rollouts, H: int,
                             reward: str = "paper", advantage: str = "grpo") -> np.ndarray:
    r"""The GRPO-style direction :math:`\hat g_x=\frac1G\sum_iA_i(j_i-p_xn_i)`, shape (n_tasks,)."""
    adv = group_advantages(rollout_rewards(rollouts, H, reward), advantage)
    score = rollouts.steps - population.hazard[:, None] * rollouts.tokens
    return np.mean(adv * score, axis=1)


# --- the training loop ---------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationResult:
    r"""One training run at budget ``H``. Arrays over iterations ``i = 0..n_iter``.

    Attributes
    ----------
    H, G, shape, reward, advantage, lr : run parameters.
    xi : ndarray, shape (n_iter + 1,)
        :math:`\xi_i=H/\bar\mu_i`, exact from the current logits.
    accuracy : ndarray, shape (n_iter + 1,)
        Exact population-mean :math:`q` (not sampled).
    reward_per_H : ndarray, shape (n_iter + 1,)
        Exact population-mean :math:`E[(H-T+1)^+]/H`.
    tokens : ndarray, shape (n_iter,)
        Tokens spent per task in iteration ``i``: :math:`\frac1n\sum_{x,g}\min(T,H)`.
    theta : ndarray, shape (n_tasks,)
        Final logits.
    """

    H: int
    G: int
    shape: int
    reward: str
    advantage: str
    lr: float
    xi: np.ndarray
    accuracy: np.ndarray
    reward_per_H: np.ndarray
    tokens: np.ndarray
    theta: np.ndarray

    def efficiency(self, metric: str = "accuracy") -> float:
        r"""Run efficiency :math:`(J_{n}-J_0)/\sum_i\mathrm{tokens}_i` per task-token.

        ``metric`` is ``"accuracy"`` (:math:`J=\bar q`), ``"reward"`` (:math:`J=\overline{E[R]}/H`)
        or ``"reward_raw"`` (:math:`J=\overline{E[R]}`, the unit of the idealised F-B4
        efficiency :math:`\tfrac12\sqrt\kappa\sigma_R/(n_iH)`); :math:`R` is the paper's
        reward whichever reward was trained on.
        """
        curves = {"accuracy": self.accuracy, "reward": self.reward_per_H,
                  "reward_raw": self.reward_per_H * self.H}
        curve = curves.get(metric)
        if curve is None:
            raise ModelError(f"metric = {metric!r}, expected one of {sorted(curves)}",
                             field="metric")
        return float((curve[-1] - curve[0]) / np.sum(self.tokens))


def simulate(population: TaskPopulation, H: int, G: int, n_iter: int, lr: float,
             rng: np.random.Generator, *, reward: str = "paper", advantage: str = "grpo",
             progress: bool = False) -> SimulationResult:
    r"""Train the population for ``n_iter`` GRPO-style steps at budget ``H``.

    Each iteration samples ``G`` rollouts per task (:func:`sample_rollouts`), forms
    :func:`policy_gradient_estimate` and sets :math:`\theta\leftarrow\theta+\eta\hat g`
    (``lr`` = :math:`\eta`). Accuracy and reward are evaluated exactly after every step.

    Raises
    ------
    ModelError
        ``H < 1`` (field ``"H"``), ``G < 2`` (``"G"``), ``n_iter < 1`` (``"n_iter"``),
        ``lr`` not finite and positive (``"lr"``), unknown ``reward`` / ``advantage``.
    """
    H, G = _budget(H), _positive_int(G, "G", 2)
    n_iter = _positive_int(n_iter, "n_iter", 1)
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ModelError(f"lr = {lr!r}, expected a finite number > 0", field="lr")
    _reward_kind(reward)
    group_advantages(np.zeros(2), advantage)  # validates the advantage kind
    k, pop = population.shape, population
    xi, acc, rew, tokens = [], [], [], []

    def record(p: TaskPopulation) -> None:
        xi.append(relative_budget(H, p))
        acc.append(float(np.mean(success_probability(H, p.hazard, k))))
        rew.append(float(np.mean(expected_reward(H, p.hazard, k, "paper"))) / H)

    record(pop)
    for _ in tqdm(range(n_iter), disable=not progress, desc=f"RLVR H={H}", leave=False):
        rolls = sample_rollouts(pop, H, G, rng)
        g = policy_gradient_estimate(pop, rolls, H, reward, advantage)
        tokens.append(float(np.sum(rolls.tokens)) / pop.n_tasks)
        pop = TaskPopulation(pop.theta + lr * g, k)
        record(pop)
    return SimulationResult(H=H, G=G, shape=k, reward=reward, advantage=advantage,
                            lr=float(lr), xi=np.array(xi), accuracy=np.array(acc),
                            reward_per_H=np.array(rew), tokens=np.array(tokens),
                            theta=pop.theta)


# --- validation helpers ----------------------------------------------------------------------


def _positive_int(value: object, field: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ModelError(f"{field} = {describe(value)}, expected an integer >= {minimum}",
                         field=field)
    return int(value)


def _budget(H: object) -> int:
    return _positive_int(H, "H", 1)


def _reward_kind(reward: str) -> str:
    if reward not in REWARDS:
        raise ModelError(f"reward = {reward!r}, expected one of {REWARDS}", field="reward")
    return reward


def sweep_budgets(population: TaskPopulation, budgets: Sequence[int], seeds: Sequence[int], *,
                  G: int, n_iter: int, lr: float, reward: str = "paper",
                  advantage: str = "grpo", progress: bool = False,
                  ) -> list[list[SimulationResult]]:
    r"""Run :func:`simulate` for every budget and seed: ``out[b][s]``.

    Run ``(b, s)`` draws from ``default_rng(SeedSequence(seeds[s], spawn_key=(b,)))``, so
    adding budgets or seeds never changes the other runs.
    """
    runs = [(b, s) for b in range(len(budgets)) for s in range(len(seeds))]
    out: list[list[SimulationResult]] = [[] for _ in budgets]
    for b, s in tqdm(runs, disable=not progress, desc="RLVR sweep", leave=False):
        rng = np.random.default_rng(np.random.SeedSequence(int(seeds[s]), spawn_key=(b,)))
        out[b].append(simulate(population, budgets[b], G, n_iter, lr, rng, reward=reward,
                               advantage=advantage))
    return out
