r"""Baseline label-flip attacks whose output PCM post-processes (poisoning notes §1.4-1.5).

- :func:`random_flips`: flip ``k_flip`` pairs chosen uniformly at random (hard flips,
  :math:`\theta_{A,i}=1-\theta_{O,i}`).
- :func:`rlhfpoison_flips`: an RLHFPoison-style attack. Candidates are pairs whose chosen
  answer is shorter than the rejected one (target behaviour: longer outputs). The quality
  filter keeps the fraction ``qf_ratio`` of candidates with the smallest clean-reward margin
  :math:`|r_O^\top\phi_i|`; the max-disparity selection then flips the fraction ``mds_ratio``
  of all pairs with the largest length difference (rejected minus chosen).

Both return the poisoned proportion vector :math:`\theta_A` (n_pairs,).

References
----------
Kusaka et al., arXiv 2511.09105, §5 baselines; RLHFPoison (Wang et al., "RLHFPoison: Reward
Poisoning Attack for RLHF in LLMs", arXiv 2311.09641) as implemented in the reference code
(``poisoning/rlhf_poison.py``; the reference sorts the disparity ascending, we take the
largest disparity as the paper's name says).
"""

from __future__ import annotations

import numpy as np

from .errors import ModelError

__all__ = ["random_flips", "rlhfpoison_flips"]


def _hard(theta_O: np.ndarray) -> np.ndarray:
    th = np.asarray(theta_O, float)
    if th.ndim != 1 or not np.all((th == 0) | (th == 1)):
        raise ModelError("theta_O must be a 0/1 vector (one hard label per pair) for a "
                         "flip attack", field="theta_O")
    return th


def random_flips(theta_O: np.ndarray, k_flip: int, rng: np.random.Generator) -> np.ndarray:
    r"""Flip ``k_flip`` uniformly chosen pairs: :math:`\theta_{A,i}=1-\theta_{O,i}` on them."""
    th = _hard(theta_O)
    if not 0 <= k_flip <= th.size:
        raise ModelError(f"k_flip = {k_flip}, expected 0 <= k_flip <= n_pairs = {th.size}",
                         field="k_flip")
    out = th.copy()
    idx = rng.choice(th.size, size=int(k_flip), replace=False)
    out[idx] = 1 - out[idx]
    return out


def rlhfpoison_flips(Phi: np.ndarray, theta_O: np.ndarray, r_O: np.ndarray,
                     length_diff: np.ndarray, qf_ratio: float = 0.25, mds_ratio: float = 0.05
                     ) -> np.ndarray:
    r"""RLHFPoison-style flips toward longer outputs.

    Parameters
    ----------
    Phi : array (feat_dim, n_pairs)
    theta_O : array (n_pairs,) of 0/1
    r_O : array (feat_dim,)
        Reward fitted on clean data; margin :math:`|r_O^\top\phi_i|`.
    length_diff : array (n_pairs,)
        len(rejected) - len(chosen); candidates have ``length_diff > 0``.
    qf_ratio, mds_ratio : float in (0, 1]
        Quality-filter fraction of candidates; flipped fraction of all pairs.
    """
    th = _hard(theta_O)
    ld = np.asarray(length_diff, float)
    if ld.shape != th.shape:
        raise ModelError(f"length_diff has shape {ld.shape}, expected {th.shape}",
                         field="length_diff")
    for name, v in (("qf_ratio", qf_ratio), ("mds_ratio", mds_ratio)):
        if not 0 < v <= 1:
            raise ModelError(f"{name} = {v}, expected a fraction in (0, 1]", field=name)
    cand = np.flatnonzero(ld > 0)
    margin = np.abs(np.asarray(Phi, float)[:, cand].T @ np.asarray(r_O, float))
    keep = cand[np.argsort(margin, kind="stable")[: int(np.ceil(qf_ratio * cand.size))]]
    n_flip = min(keep.size, int(np.ceil(mds_ratio * th.size)))
    chosen = keep[np.argsort(-ld[keep], kind="stable")[:n_flip]]
    out = th.copy()
    out[chosen] = 1 - out[chosen]
    return out
