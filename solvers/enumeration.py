r"""Brute-force references for tiny models: every deterministic policy, episode-level mixtures.

Independent of the LP and dynamic-programming solvers (each policy is valued by
its own direct solve), these give the reference numbers that theorems and tests
compare the solvers with. The occupancy polytope is the convex hull of the
deterministic occupancies (cmdp_ccmdp notes §2.3), so the best *episode-level*
mixture of deterministic policies is the CMDP optimum.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linprog

from .errors import ModelError
from .mdp import TabularMDP

__all__ = ["ENUMERATION_MAX_POLICIES", "best_episode_mixture", "deterministic_policy_values"]

#: Refuse to enumerate more deterministic policies than this.
ENUMERATION_MAX_POLICIES = 100_000


def deterministic_policy_values(mdp: TabularMDP) -> tuple[np.ndarray, np.ndarray]:
    r"""Values and costs of every deterministic (Markov, for finite horizon) policy.

    Returns
    -------
    actions : ndarray (n, S) or (n, H, S)
        The policies, as action indices.
    points : ndarray (n, 1 + K)
        Row i is :math:`(V_r(\pi_i), V_{c_1}(\pi_i), \dots)`, values
        :math:`E[\sum_t\gamma^t\cdot]` from :math:`\mu_0`, each by a direct solve
        (discounted) or backward recursion (finite horizon).
    """
    P, S, A = mdp.dense_P(), mdp.S, mdp.A
    n_slots = S * mdp.horizon if mdp.finite_horizon else S
    if A**n_slots > ENUMERATION_MAX_POLICIES:
        raise ModelError(f"A^{n_slots} = {A**n_slots} deterministic policies, expected at most "
                         f"{ENUMERATION_MAX_POLICIES}", field="S")
    R = np.concatenate([mdp.r[None], mdp.costs])  # (1+K, S, A)
    idx = np.arange(S)
    acts_all, rows = [], []
    for table in itertools.product(range(A), repeat=n_slots):
        if mdp.finite_horizon:
            acts = np.asarray(table).reshape(mdp.horizon, S)
            v = np.zeros((1 + mdp.K, S))
            for t in range(mdp.horizon - 1, -1, -1):
                a = acts[t]
                v = R[:, idx, a] + v @ P[idx, a].T
            rows.append(v @ mdp.mu0)
        else:
            acts = np.asarray(table)
            v = np.linalg.solve(np.eye(S) - mdp.gamma * P[idx, acts], R[:, idx, acts].T)
            rows.append(mdp.mu0 @ v)
        acts_all.append(acts)
    return np.array(acts_all), np.array(rows)


def best_episode_mixture(points: np.ndarray, thresholds: np.ndarray) -> float | None:
    r"""Best episode-level mixture: :math:`\max_w w^\top V_r` s.t. :math:`w^\top V_c\le b`,
    :math:`\sum w=1`, :math:`w\ge0`; ``None`` if no mixture meets the budget.

    Solved as a small dense LP over the mixture weights (not the occupancy LP).
    """
    n = points.shape[0]
    res = linprog(-points[:, 0], A_ub=points[:, 1:].T, b_ub=np.asarray(thresholds, float),
                  A_eq=np.ones((1, n)), b_eq=[1.0], bounds=(0, None), method="highs")
    if res.status == 2:
        return None
    if res.status != 0:
        raise RuntimeError(f"mixture LP failed: {res.message}")
    return float(-res.fun)
