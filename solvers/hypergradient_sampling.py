r"""Sampled hypergradients from follower trajectories (bilevel notes §1.4, §1.5, §8.4).

For a trajectory :math:`s_0\sim\mu_0`, :math:`a_t\sim\pi_x`, :math:`s_{t+1}\sim P_x`
truncated at H steps, with exact critics :math:`A_U, V_U` and the follower's
soft value :math:`V_F`, the single-trajectory BC-HG estimator is

.. math::
    \hat g=\sum_t\gamma_U^t\big[\nabla r_U(s_t,a_t)
    +\gamma_U\nabla\log P(s_{t+1}|s_t,a_t)V_U(s_{t+1})\big]
    +\frac1\tau\sum_t\gamma_U^tA_U(s_t,a_t)\hat G_t,

.. math::
    \hat G_t=\sum_{k\ge0}\gamma_F^k\big[\nabla r_F(s_{t+k},a_{t+k})+\gamma_F
    \nabla\log P(s_{t+k+1}|s_{t+k},a_{t+k})V_F(s_{t+k+1})\big],

unbiased for :math:`\nabla F` up to the truncation (:math:`E[\hat G_t|s_t,a_t]=J_Q(s_t,a_t)`)
when the critics are exact (the default: from the linear solves of the
:class:`~solvers.hypergradient.BilevelPoint`; estimated critics can be passed instead).
Baselines: ``"naive"`` (direct term only: the follower frozen, Naive-PGD) and
``"hpgd"`` (the batch every-visit Monte Carlo estimate of
:math:`\nabla Q_F-\nabla V_F` of HPGD's code, multiplied by :math:`A_U/\tau`; biased for
small batches). Sampling is vectorised over trajectories and driven by a
``numpy.random.Generator``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .hypergradient import BilevelPoint

__all__ = ["SAMPLED_METHODS", "SampledGradient", "default_horizon", "sample_trajectories",
           "sampled_hypergradient"]

SAMPLED_METHODS = ("bchg", "hpgd", "naive")


def default_horizon(gamma: float, eps: float = 1e-13) -> int:
    """Smallest H with gamma**H <= eps (1 for gamma = 0)."""
    return 1 if gamma == 0 else max(1, math.ceil(math.log(eps) / math.log(gamma)))


def _sample_rows(cum: np.ndarray, start: np.ndarray, stop: np.ndarray, cols: np.ndarray,
                 u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws from CSR rows given the global cumulative sum of the data."""
    lo = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    target = lo + u * (cum[stop - 1] - lo)
    k = np.searchsorted(cum, target, side="right")
    return cols[np.clip(k, start, stop - 1)]


def sample_trajectories(point: BilevelPoint, N: int, H: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``N`` follower trajectories of H steps: states (N, H+1), actions (N, H) (int64)."""
    if not isinstance(rng, np.random.Generator):
        raise ModelError("rng must be a numpy.random.Generator", field="rng")
    mdp = point.data["follower"]
    S, A = point.pi.shape
    Pm = mdp.transition_matrix
    cumP = np.cumsum(Pm.data)
    ip = Pm.indptr
    cpi = np.cumsum(point.pi, axis=1)
    cmu = np.cumsum(mdp.mu0)
    s = np.empty((N, H + 1), np.int64)
    a = np.empty((N, H), np.int64)
    s[:, 0] = np.minimum(np.searchsorted(cmu, rng.random(N) * cmu[-1], side="right"), S - 1)
    for t in range(H):
        c = cpi[s[:, t]]
        a[:, t] = np.minimum((c < rng.random(N)[:, None] * c[:, -1:]).sum(axis=1), A - 1)
        row = s[:, t] * A + a[:, t]
        s[:, t + 1] = _sample_rows(cumP, ip[row], ip[row + 1], Pm.indices, rng.random(N))
    return s, a


@dataclass(frozen=True)
class SampledGradient:
    """Per-trajectory samples (N, n) of an estimator, with mean and standard error (n,)."""

    method: str
    samples: np.ndarray
    direct: np.ndarray
    indirect: np.ndarray
    H: int

    @property
    def mean(self) -> np.ndarray:
        """Sample mean (n,)."""
        return self.samples.mean(axis=0)

    @property
    def stderr(self) -> np.ndarray:
        """Standard error of the mean (n,) (ddof = 1)."""
        N = self.samples.shape[0]
        return self.samples.std(axis=0, ddof=1) / math.sqrt(N) if N > 1 else np.full(
            self.samples.shape[1], np.inf)


def _terms(point: BilevelPoint, s: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-step direct terms (N, H, n) and follower increments y_t (N, H, n)."""
    d, m = point.data, point.model
    sc = d["score_P"]
    direct = d["J_rU"][s[:, :-1], a]
    y = d["J_rF"][s[:, :-1], a]
    if sc is not None:
        g = sc[s[:, :-1], a, s[:, 1:]]
        direct = direct + m.gamma_U * g * point.V_U[s[:, 1:]][..., None]
        y = y + m.gamma_F * g * point.V_F[s[:, 1:]][..., None]
    return direct, y


def sampled_hypergradient(point: BilevelPoint, N: int, rng: np.random.Generator, *,
                          method: str = "bchg", H: int | None = None,
                          critics: dict | None = None,
                          chunk: int = 2_000_000) -> SampledGradient:
    r"""Sample ``N`` trajectories and return the per-trajectory estimator samples.

    Parameters
    ----------
    point : BilevelPoint
        Exact critics (:math:`A_U, V_U, V_F`) and the follower policy at x.
    N : int
        Number of trajectories (>= 1).
    rng : numpy.random.Generator
    method : {"bchg", "hpgd", "naive"}
    H : int, optional
        Steps per trajectory; default :func:`default_horizon` of
        :math:`\max(\gamma_U,\gamma_F)` (truncation weight <= 1e-13).
    critics : dict, optional
        Estimated critics replacing the exact ones: any of ``"A_U"`` (S, A), ``"V_U"``
        (S,), ``"V_F"`` (S,). The estimator is unbiased when they are exact (the default).
    chunk : int
        Work in batches of about ``chunk`` numbers (N_batch * H * n) to bound memory
        (``"hpgd"`` uses the whole batch for its Monte Carlo critic, so no batching).
    """
    if method not in SAMPLED_METHODS:
        raise ModelError(f"method = {method!r}, expected one of {SAMPLED_METHODS}",
                         field="method")
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 1:
        raise ModelError(f"N = {N!r}, expected an integer >= 1", field="N")
    m = point.model
    if critics:
        bad = set(critics) - {"A_U", "V_U", "V_F"}
        if bad:
            raise ModelError(f"critics has keys {sorted(bad)}, expected A_U, V_U, V_F",
                             field="critics")
        for k, v in critics.items():
            if np.shape(v) != np.shape(getattr(point, k)):
                raise ModelError(f"critics[{k!r}] has shape {np.shape(v)}, expected "
                                 f"{np.shape(getattr(point, k))}", field="critics")
        point = dataclasses.replace(point, **{k: np.asarray(v, float)
                                              for k, v in critics.items()})
    H = default_horizon(max(m.gamma_U, m.gamma_F)) if H is None else int(H)
    size = N if method == "hpgd" else max(1, chunk // (H * m.n))
    wU, wF = m.gamma_U ** np.arange(H), m.gamma_F
    parts_d, parts_i = [], []
    done = 0
    while done < N:
        b = min(size, N - done)
        s, a = sample_trajectories(point, b, H, rng)
        direct, y = _terms(point, s, a)
        G = np.empty_like(y)
        acc = np.zeros((b, m.n))
        for t in range(H - 1, -1, -1):
            acc = y[:, t] + wF * acc
            G[:, t] = acc
        D = np.einsum("t,btn->bn", wU, direct)
        if method == "naive":
            Ind = np.zeros_like(D)
        else:
            adv = point.A_U[s[:, :-1], a] * wU
            if method == "hpgd":
                G = _every_visit_advantage_gradient(G, s[:, :-1], a, point.pi.shape)
            Ind = np.einsum("bt,btn->bn", adv, G) / m.tau
        parts_d.append(D)
        parts_i.append(Ind)
        done += b
    D, Ind = np.concatenate(parts_d), np.concatenate(parts_i)
    return SampledGradient(method=method, samples=D + Ind, direct=D, indirect=Ind, H=H)


def _every_visit_advantage_gradient(G: np.ndarray, s: np.ndarray, a: np.ndarray,
                                    shape: tuple[int, int]) -> np.ndarray:
    r"""HPGD's batch critic: every-visit :math:`\widehat{\nabla Q}(s,a)-\widehat{\nabla V}(s)`.

    Each visited step gets the batch average of :math:`\hat G` over visits of
    :math:`(s_t,a_t)` minus that over visits of :math:`s_t`; a state seen with one
    action only gets exactly 0 (notes §1.5).
    """
    S, A = shape
    n = G.shape[-1]
    flat_sa = (s * A + a).ravel()
    Gf = G.reshape(-1, n)
    # Grouped sums as one sparse product (np.add.at is unbuffered and ~50x slower).
    M = flat_sa.size
    group = sp.csr_array((np.ones(M), (flat_sa, np.arange(M))), shape=(S * A, M))
    sum_sa = group @ Gf
    cnt_sa = np.bincount(flat_sa, minlength=S * A)
    sum_s = sum_sa.reshape(S, A, n).sum(axis=1)
    cnt_s = cnt_sa.reshape(S, A).sum(axis=1)
    gq = sum_sa / np.maximum(cnt_sa, 1)[:, None]
    gv = sum_s / np.maximum(cnt_s, 1)[:, None]
    out = gq[flat_sa] - gv[s.ravel()]
    return out.reshape(G.shape)
