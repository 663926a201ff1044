r"""rDPO (Ray Chowdhury, Kini, Natarajan, ICML 2024): unbiasedness and minimiser existence.

Poisoning notes §3.4.

- ``rdpo.unbiased`` (holds): the exact expectation of the robust loss over independent
  label flips (all :math:`2^{m}` flip patterns of every pair enumerated) equals the clean
  Bradley-Terry loss, computed separately by :func:`solvers.bt_fit.bt_loss`.
- ``rdpo.existence`` (violated): "the rDPO loss always has a minimiser" (for the
  unconstrained estimator). One pair, :math:`\theta=1`, :math:`\varepsilon=0.1`:
  :math:`\tilde\theta=1.125` and :math:`L=\mathrm{softplus}(u)-1.125u\to-\infty`.
- ``rdpo.existence_corrected`` (holds): a minimiser exists iff
  :math:`\Phi\,\mathrm{diag}(m)\tilde\theta\in\mathrm{relint}\,\Phi\,\mathrm{diag}(m)[0,1]^N`.
  The LP decision (:func:`solvers.rdpo.rdpo_existence`) is confirmed independently:
  when it says "exists", by a ridge path :math:`\rho\to0` of Newton fits of the per-label loss
  (:func:`solvers.rdpo.minimise_rdpo`) staying bounded; when it says "no minimiser", by
  the per-label loss decreasing without end along the LP's dual direction. On a norm
  ball :math:`\|r\|\le B` a minimiser always exists (a continuous function on a compact
  set), which is the paper's setting.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st

from solvers.bt_fit import bt_loss
from solvers.rdpo import (
    RDPO_DEPTH_TOL,
    effective_proportions,
    minimise_rdpo,
    rdpo_existence,
    rdpo_loss,
    rdpo_loss_along,
)
from solvers.tolerances import EPS

from .core import Evidence, Instance, Theorem
from .registry import register

RDPO = "Ray Chowdhury, Kini, Natarajan: Provably Robust DPO (ICML 2024), arXiv 2403.00409"

_EPS_VALUES = st.one_of(st.sampled_from([0.0, 0.1, 0.25, 1 / 3, 0.45]),
                        st.floats(0.0, 0.45, allow_nan=False, allow_subnormal=False))


@st.composite
def rdpo_instances(draw: st.DrawFn, max_feat: int = 3, max_pairs: int = 6, max_m: int = 4
                   ) -> Instance:
    """Small integer features (so boundary cases occur), grid proportions, a flip rate, r."""
    feat_dim = draw(st.integers(1, max_feat))
    n_pairs = draw(st.integers(1, max_pairs))
    m = draw(st.integers(1, max_m))
    Phi = np.array(draw(st.lists(st.integers(-3, 3), min_size=feat_dim * n_pairs,
                                 max_size=feat_dim * n_pairs)), float).reshape(feat_dim, n_pairs)
    theta = np.array(draw(st.lists(st.integers(0, m), min_size=n_pairs, max_size=n_pairs)),
                     float) / m
    r = np.array(draw(st.lists(st.floats(-3, 3, allow_nan=False, allow_subnormal=False),
                               min_size=feat_dim, max_size=feat_dim)))
    return {"Phi": Phi, "theta": theta, "m": m, "eps": draw(_EPS_VALUES), "r": r}


# -- rdpo.unbiased ------------------------------------------------------------------------
def _expected_robust_loss(inst: Instance, loss_eps: float | None = None) -> tuple[float, float]:
    """E over all flip patterns of the rDPO loss of the observed labels; and the term scale.

    Labels flip with ``inst["eps"]``; the robust loss assumes ``loss_eps`` (default: the
    same rate, as the theorem states).
    """
    Phi, theta, m, eps, r = inst["Phi"], inst["theta"], int(inst["m"]), inst["eps"], inst["r"]
    loss_eps = eps if loss_eps is None else loss_eps
    total, biggest = 0.0, 0.0
    for i in range(Phi.shape[1]):
        k = int(np.rint(theta[i] * m))             # annotations truly saying y > z
        truth = np.array([1] * k + [0] * (m - k))
        col = Phi[:, [i]]
        for flips in itertools.product((0, 1), repeat=m):
            f = np.array(flips)
            prob = float(np.prod(np.where(f == 1, eps, 1 - eps)))
            observed = np.abs(truth - f).mean()  # proportion of observed labels y > z
            term = rdpo_loss(r, col, np.array([observed]), loss_eps, m)
            total += prob * term
            biggest = max(biggest, abs(term))
    return total, biggest


def _check_unbiased(inst: Instance) -> Evidence:
    expected, biggest = _expected_robust_loss(inst)
    clean = bt_loss(inst["r"], inst["Phi"], inst["theta"], inst["m"])
    n_terms = inst["Phi"].shape[1] * 2 ** int(inst["m"])
    # each term is (1-eps)A - eps B over 1 - 2 eps: relative rounding ~4 EPS of (A+B)/(1-2eps)
    # <= biggest-scale; summing n_terms of them adds n_terms roundings; 16x safety.
    scale = max(biggest, abs(clean), 1.0) * (1 + 2 * inst["eps"]) / (1 - 2 * inst["eps"])
    tol = 16 * EPS * n_terms * scale
    return Evidence(expected, clean, "==", tol=tol,
                    details={"n_terms": n_terms, "eps": float(inst["eps"])})


register(Theorem(
    id="rdpo.unbiased",
    source=f"{RDPO}, §3 (robust loss); poisoning notes §3.4",
    statement=r"E_{\text{flips}\sim\mathrm{Bern}(\varepsilon)}\Big[\sum_i m_i\big(\hat\theta_i"
              r"\hat\ell_\varepsilon(u_i)+(1-\hat\theta_i)\hat\ell_\varepsilon(-u_i)\big)\Big]"
              r"=L(r;\theta),\ \hat\ell_\varepsilon(u)=\frac{(1-\varepsilon)\ell(u)-"
              r"\varepsilon\ell(-u)}{1-2\varepsilon}",
    summary="rDPO's robust loss is unbiased: its expectation over label flips is the clean loss",
    instances=rdpo_instances,
    check=_check_unbiased,
    proof_checks=("rdpo_unbiased",),
    tight=True,
))


# -- rdpo.existence (violated) ------------------------------------------------------------
def _existence(inst: Instance):
    res = rdpo_existence(inst["Phi"], inst["theta"], inst["eps"], inst["m"])
    cert = res.verify()
    if not cert.ok:
        raise RuntimeError(f"rDPO existence certificate does not verify: {cert}")
    return res, cert


def _check_existence_naive(inst: Instance) -> Evidence:
    res, cert = _existence(inst)
    steps = np.array([1.0, 10.0, 100.0])
    along = rdpo_loss_along(res, steps)
    # lhs: the depth of Phi M theta_tilde in the zonotope (> 0 iff a minimiser exists);
    # rhs: the decision threshold. The statement claims depth > threshold always.
    return Evidence(res.depth, RDPO_DEPTH_TOL, ">=", details={
        "status": res.status, "slope": cert.slope, "loss_t1": float(along[0]),
        "loss_t10": float(along[1]), "loss_t100": float(along[2]),
        "theta_tilde_max": float(res.theta_tilde.max()),
        "theta_tilde_min": float(res.theta_tilde.min())})


register(Theorem(
    id="rdpo.existence",
    source=f"{RDPO}, unconstrained reading of the rDPO estimator; poisoning notes §3.4",
    statement=r"\forall\theta\in[0,1]^N,\ \varepsilon\in[0,\tfrac12):\ "
              r"\arg\min_{r}L_\varepsilon(r;\theta)\neq\emptyset",
    summary="naive: the unconstrained rDPO loss always has a minimiser (false: one pair, "
            "theta = 1, eps > 0)",
    instances=rdpo_instances,
    check=_check_existence_naive,
    expected="violated",
    counterexample="rdpo.existence.json",
    corrected="rdpo.existence_corrected",
))


# -- rdpo.existence_corrected (holds) -----------------------------------------------------
def _descends_forever(inst: Instance, u: np.ndarray) -> tuple[bool, float]:
    """Per-label loss along r = 2^k u, k = 0..30: non-increasing and below L(0) at the end.

    Step k -> k+1 may rise by 64 EPS |L| (rounding of one loss evaluation) plus
    2^k * delta, where delta = 64 EPS sum_i m_i |phi_i^T u| max(1, |theta_tilde|) bounds
    the slope error of a direction u carrying float rounding (a boundary direction has
    true slope 0 but computed slope ~1e-16). A direction with a real positive slope c(u)
    (>> delta) makes the loss grow linearly by k = 30 and fails.
    Returns (verdict, L(2^30 u) - L(0)).
    """
    Phi, theta, eps, m = inst["Phi"], inst["theta"], inst["eps"], inst["m"]
    tt = effective_proportions(theta, eps)
    delta = 64 * EPS * float(np.sum(m * np.abs(Phi.T @ u))) * max(1.0, float(np.abs(tt).max()))
    vals = [rdpo_loss(np.zeros(Phi.shape[0]), Phi, theta, eps, m)]
    vals += [rdpo_loss(2.0 ** k * u, Phi, theta, eps, m) for k in range(31)]
    ok = all(b <= a + 64 * EPS * max(1.0, abs(a)) + 2.0 ** k * delta
             for k, (a, b) in enumerate(itertools.pairwise(vals)))
    return bool(ok and vals[-1] < vals[0]), float(vals[-1] - vals[0])


def _check_existence_corrected(inst: Instance) -> Evidence:
    res, cert = _existence(inst)
    lp_exists = 1.0 if res.status == "exists" else 0.0
    details = {"depth": res.depth, "dual_value": res.dual_value, "slope": cert.slope,
               "theta_tilde_outside": bool(np.any((res.theta_tilde < 0)
                                                  | (res.theta_tilde > 1)))}
    if res.status == "exists":
        # independent: the ridge path of Newton fits of the per-label loss stays bounded
        run = minimise_rdpo(inst["Phi"], inst["theta"], inst["eps"], inst["m"])
        numeric = 1.0 if run.status == "bounded" else 0.0
        details.update(path_status=run.status, path_margin_change=run.margin_change)
    else:
        # independent: the per-label loss decreases without end along the LP's direction
        descends, drop = _descends_forever(inst, res.u)
        numeric = 0.0 if descends else 1.0
        details.update(ray_descends=descends, ray_drop=drop)
    # Both sides are decisions (0/1); they must agree exactly.
    return Evidence(lp_exists, numeric, "==", details=details)


register(Theorem(
    id="rdpo.existence_corrected",
    source=f"{RDPO}; exponential-family MLE existence (Barndorff-Nielsen 1978, Thm 9.13; "
           "Rockafellar, Convex Analysis, Thm 6.6); poisoning notes §3.4",
    statement=r"\arg\min_rL_\varepsilon(r;\theta)\neq\emptyset\iff\Phi\,\mathrm{diag}(m)"
              r"\tilde\theta\in\mathrm{relint}\,\Phi\,\mathrm{diag}(m)[0,1]^N,\ "
              r"\tilde\theta=\frac{\theta-\varepsilon}{1-2\varepsilon};\ "
              r"\text{on }\{\|r\|\le B\}\text{ a minimiser always exists}",
    summary="an rDPO minimiser exists iff Phi M theta_tilde is in the relative interior of the "
            "zonotope (LP decision confirmed by a ridge path / a descent ray)",
    instances=rdpo_instances,
    check=_check_existence_corrected,
    tight=True,
))

