r"""Post-processed poisoning has "the same effect": checked by fitting, not only by the identity.

Poisoning notes §1.2 (arXiv 2511.09105, Theorem 1 and the [derived] loss identity). If
:math:`\Phi\,\mathrm{diag}(m)\theta=\Phi\,\mathrm{diag}(m)\theta'` then
:math:`L(\cdot;\theta)\equiv L(\cdot;\theta')`, so

- ``poisoning.same_effect_fit``: the ridge-regularised Bradley-Terry reward fitted on
  :math:`\theta'` equals the one fitted on :math:`\theta`;
- ``poisoning.same_effect_dpo_fit``: the log-linear DPO policy
  :math:`\pi_w\propto\pi_{ref}e^{w^\top\phi}` fitted on :math:`\theta'` equals the one fitted
  on :math:`\theta` (compared as log-probabilities of every response).

Each side is its own Newton solve on its own dataset; the tolerance is the certified
solver accuracy (strong convexity: :math:`\|r-r^\star\|\le\|\nabla F(r)\|/\rho`) plus the
rounding of the premise :math:`\|\Phi\,\mathrm{diag}(m)(\theta-\theta')\|`, never a
fudge factor.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from scipy.linalg import null_space

from solvers.bt_fit import dpo_pair_features, fit_dpo, log_linear_policy, same_effect_fit
from solvers.tolerances import EPS

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register

PAPER_A = "Kusaka, Saito, Kudo, Tanabe, Wachi, Akimoto: Cost-Minimized Label-Flipping " \
          "Poisoning Attack to LLM Alignment (AAAI 2026), arXiv 2511.09105"
N_CTX, N_RESP = 2, 3


@st.composite
def same_phi_theta_instances(draw: st.DrawFn) -> Instance:
    r"""Log-linear model, comparison pairs, proportions :math:`\theta` and a :math:`\theta'`
    moved inside :math:`[0,1]^N` along the null space of :math:`\Phi\,\mathrm{diag}(m)`."""
    feat_dim = draw(st.integers(1, 3))
    n_pairs = draw(st.integers(feat_dim + 1, 7))
    small = st.floats(-2, 2, allow_nan=False, allow_subnormal=False)
    feats = np.array(draw(st.lists(small, min_size=N_CTX * N_RESP * feat_dim,
                                   max_size=N_CTX * N_RESP * feat_dim))
                     ).reshape(N_CTX, N_RESP, feat_dim)
    ref = np.array(draw(st.lists(st.integers(1, 4), min_size=N_CTX * N_RESP,
                                 max_size=N_CTX * N_RESP)), float).reshape(N_CTX, N_RESP)
    pairs = []
    for _ in range(n_pairs):
        x = draw(st.integers(0, N_CTX - 1))
        y = draw(st.integers(0, N_RESP - 1))
        z = (y + draw(st.integers(1, N_RESP - 1))) % N_RESP
        pairs.append((x, y, z))
    pairs = np.array(pairs)
    counts = np.array(draw(st.lists(st.integers(1, 5), min_size=n_pairs, max_size=n_pairs)),
                      float)
    theta = np.array(draw(st.lists(st.integers(1, 9), min_size=n_pairs, max_size=n_pairs)),
                     float) / 10
    Phi = dpo_pair_features(feats, pairs)
    basis = null_space(Phi * counts)                 # (n_pairs, >= n_pairs - feat_dim)
    coef = np.array(draw(st.lists(small, min_size=basis.shape[1], max_size=basis.shape[1])))
    v = basis @ coef
    frac = draw(st.floats(0.1, 1.0, allow_nan=False))
    if np.abs(v).max() > 0:
        # largest step keeping theta + t v in [0, 1]
        with np.errstate(divide="ignore", over="ignore"):
            room = np.where(v > 0, (1 - theta) / np.where(v > 0, v, 1),
                            np.where(v < 0, theta / np.where(v < 0, -v, 1), np.inf))
        theta_prime = np.clip(theta + frac * room.min() * v, 0.0, 1.0)
    else:
        theta_prime = theta.copy()
    return {"feats": feats, "log_ref": np.log(ref / ref.sum(axis=1, keepdims=True)),
            "pairs": pairs, "m": counts, "theta": theta, "theta_prime": theta_prime,
            "tau": draw(st.sampled_from([0.1, 0.5, 1.0, 2.0])),
            "ridge": draw(st.sampled_from([1e-3, 1e-2, 1e-1]))}


def _moved(inst: Instance) -> float:
    return float(np.abs(inst["theta"] - inst["theta_prime"]).sum())


# -- poisoning.same_effect_fit ------------------------------------------------------------
def _check_reward(inst: Instance) -> Evidence:
    Phi = dpo_pair_features(inst["feats"], inst["pairs"])
    res = same_effect_fit(Phi, inst["theta"], inst["theta_prime"], inst["m"], inst["ridge"])
    if res.fit.status != "optimal" or res.fit_prime.status != "optimal":
        raise RuntimeError(f"reward fit did not converge: {res.fit.status}, "
                           f"{res.fit_prime.status}")
    # Certified when the premise holds: each fit within g / rho of its optimum, the optima
    # within premise_tol / rho (the rounding of an exactly-null difference).
    return Evidence(res.distance, 0.0, "==", tol=res.same_tol, details={
        "premise": res.premise, "moved_l1": _moved(inst), "grad_norm": res.fit.grad_norm,
        "grad_norm_prime": res.fit_prime.grad_norm, "reward_norm": float(np.linalg.norm(
            res.fit.r)), "objective_gap": res.fit.objective - res.fit_prime.objective})


def _premise(inst: Instance) -> tuple[float, float]:
    Phi = dpo_pair_features(inst["feats"], inst["pairs"])
    m = np.asarray(inst["m"], float)
    premise = float(np.linalg.norm(Phi @ (m * (inst["theta"] - inst["theta_prime"]))))
    # rounding of Phi M (theta - theta') for an exactly-null difference (as in same_effect_fit)
    tol = 64 * EPS * Phi.shape[1] * max(1.0, float(np.abs(Phi).max())) * float(m.max())
    return premise, tol


SAME_PHI_M_THETA = Assumption(
    "same_phi_m_theta", lambda inst: _premise(inst)[0] <= _premise(inst)[1],
    "Phi diag(m) theta' = Phi diag(m) theta up to float rounding")


register(Theorem(
    id="poisoning.same_effect_fit",
    source=f"{PAPER_A}, Theorem 1 / (P1); poisoning notes §1.2 [derived]",
    statement=r"\Phi\,\mathrm{diag}(m)\theta=\Phi\,\mathrm{diag}(m)\theta'\Rightarrow"
              r"\arg\min_rL(r;\theta)+\tfrac\rho2\|r\|^2=\arg\min_rL(r;\theta')+"
              r"\tfrac\rho2\|r\|^2",
    summary="two datasets with the same Phi M theta give the same fitted reward (two Newton "
            "solves)",
    instances=same_phi_theta_instances,
    check=_check_reward,
    assumptions=(SAME_PHI_M_THETA,),
    tight=True,
))


# -- poisoning.same_effect_dpo_fit --------------------------------------------------------
def _check_policy(inst: Instance) -> Evidence:
    args = (inst["feats"], inst["log_ref"], inst["pairs"])
    kw = {"m": inst["m"], "tau": inst["tau"], "ridge": inst["ridge"]}
    a = fit_dpo(*args, inst["theta"], **kw)
    b = fit_dpo(*args, inst["theta_prime"], **kw)
    if a.status != "optimal" or b.status != "optimal":
        raise RuntimeError(f"DPO fit did not converge: {a.status}, {b.status}")
    la = log_linear_policy(a.r, inst["feats"], inst["log_ref"])
    lb = log_linear_policy(b.r, inst["feats"], inst["log_ref"])
    premise, premise_tol = _premise(inst)
    # ||w - w'|| <= (g + g' + tau * premise_tol) / rho when the premise holds (the
    # w-gradients differ by tau Phi M (theta - theta')); a log-softmax moves by at most
    # 2 max ||phi(x, y)|| ||dw||; plus rounding of the log-probabilities (16 EPS of size).
    w_gap = (a.grad_norm + b.grad_norm + inst["tau"] * premise_tol) / inst["ridge"]
    phi_max = float(np.linalg.norm(inst["feats"], axis=2).max())
    tol = 2 * phi_max * w_gap + 16 * EPS * max(1.0, float(np.abs(la).max()))
    return Evidence(float(np.abs(la - lb).max()), 0.0, "==", tol=tol, details={
        "premise": premise, "moved_l1": _moved(inst), "w_norm": float(np.linalg.norm(a.r)),
        "w_distance": float(np.linalg.norm(a.r - b.r)), "tau": float(inst["tau"])})


register(Theorem(
    id="poisoning.same_effect_dpo_fit",
    source=f"{PAPER_A}, Theorem 1 and eq. 3; poisoning notes §1.1-1.2 [derived] (DPO with a "
           "log-linear policy head)",
    statement=r"\Phi\,\mathrm{diag}(m)\theta=\Phi\,\mathrm{diag}(m)\theta'\Rightarrow"
              r"\pi_{w^\star(\theta)}=\pi_{w^\star(\theta')},\ \pi_w\propto\pi_{ref}"
              r"e^{w^\top\phi}",
    summary="two datasets with the same Phi M theta give the same DPO-fitted log-linear policy",
    instances=same_phi_theta_instances,
    check=_check_policy,
    assumptions=(SAME_PHI_M_THETA,),
    tight=True,
))
