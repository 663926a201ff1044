r"""Independent re-verification of CMDP solutions (float or exact rational).

From the model and the result's ``d``, ``v``, ``lam``, ``pi`` only (never from
the LP matrices or the solver), recompute (discounted; finite horizon with
:math:`\gamma=1`, :math:`d_t`, :math:`v_t`, :math:`v_H=0`, no :math:`1-\gamma` factors):

- primal feasibility: flow residual
  :math:`\max_{s'}|\sum_ad(s',a)-(1-\gamma)\mu_0(s')-\gamma\sum_{s,a}P(s'|s,a)d(s,a)|`,
  negativity :math:`\max(0,-\min d)`, budget violation :math:`\max_k(V_{c_k}(d)-b_k)^+`
  with :math:`V_{c_k}(d)=\langle d,c_k\rangle/(1-\gamma)`;
- dual feasibility: :math:`\lambda\ge0` and the reduced costs
  :math:`\bar r(s,a)=r(s,a)-\lambda^\top c(s,a)+\gamma\sum_{s'}P(s'|s,a)v(s')-v(s)\le0`
  (finite horizon :math:`\bar r_t=r-\lambda^\top c+Pv_{t+1}-v_t`);
- duality gap :math:`|\langle d,r\rangle/(1-\gamma)-(\mu_0^\top v+\lambda^\top b)|`;
- complementary slackness :math:`\max(|d\,\bar r|/(1-\gamma),\ |\lambda_k(b_k-V_{c_k}(d))|)`;
- consistency: the reported value and costs equal :math:`V(d)`, and
  :func:`~solvers.evaluation.evaluate` of the extracted policy reproduces them.

Why these certify optimality: for any feasible policy with occupancy :math:`d'`,
:math:`V_r(d')\le V_r(d')-\lambda^\top(V_c(d')-b)=\mu_0^\top v+\lambda^\top b
+\langle d',\bar r\rangle/(1-\gamma)\le\mu_0^\top v+\lambda^\top b`, so the dual
objective bounds :math:`V^\star(b)` and the gap bounds the sub-optimality of ``d``.

Float verification multiplies by the model's CSR kernel (S*A, S) only (never a dense
(S, A, S) array), so it needs O(nnz(P) + S*A) memory and runs at S = 1e5, A = 10;
``exact=True`` uses dense Fraction arrays and is limited to small models.

An infeasible result is verified by recomputing
:math:`\min_\pi\sum_kw_kV_{c_k}(\pi)` by policy iteration and checking that it
exceeds :math:`w^\top b` by more than its error bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from .cmdp import _with_reward, min_weighted_cost_certificate
from .errors import ModelError
from .evaluation import evaluate
from .exact import exact_bellman_q, exact_policy_values, fraction_array
from .planning import policy_iteration
from .tolerances import CMDP_EXACT_MAX_SA, CMDP_VERIFY_RTOL

if TYPE_CHECKING:
    from .cmdp import CMDPResult

__all__ = ["CMDPCertificate", "verify_cmdp"]



@dataclass(frozen=True)
class CMDPCertificate:
    """Outcome of re-verifying a :class:`~solvers.cmdp.CMDPResult` from the model alone.

    ``ok`` is True when every residual is at most ``tolerance``. Residuals of an
    infeasible result are nan except ``farkas_margin``
    (min weighted cost - weighted budget - DP error bound, > 0 certifies).
    With ``exact=True`` the residuals were computed in rational arithmetic on the
    stored floats and rounded to float only for reporting.
    """

    ok: bool
    exact: bool
    status: str
    flow_residual: float
    negativity: float
    constraint_violation: float
    dual_infeasibility: float
    lam_negativity: float
    duality_gap: float
    complementary_slackness: float
    value_mismatch: float
    farkas_margin: float
    tolerance: float
    message: str



def _positive_part(x: object) -> object:
    """max(x, 0) that keeps a NaN (Python's max(0, nan) is 0 and would hide it)."""
    return x if not x <= 0 else 0

def verify_cmdp(result: CMDPResult, exact: bool = False) -> CMDPCertificate:
    """Recompute primal/dual feasibility, gap, complementary slackness and policy values.

    Parameters
    ----------
    result : CMDPResult
    exact : bool
        Redo the feasibility, gap and evaluation checks in ``fractions.Fraction``
        (models with S*A <= :data:`CMDP_EXACT_MAX_SA`).
    """
    mdp = result.mdp
    if exact and mdp.S * mdp.A > CMDP_EXACT_MAX_SA:
        raise ModelError(f"exact verification needs S*A <= {CMDP_EXACT_MAX_SA}, got "
                         f"S*A = {mdp.S * mdp.A}; use verify(exact=False)", field="S")
    if result.status == "infeasible":
        return _verify_infeasible(result, exact)
    nan = float("nan")
    if result.status != "optimal":
        return CMDPCertificate(False, exact, result.status, *([nan] * 9), 0.0,
                               f"nothing to verify for status {result.status!r}")
    T = float(mdp.horizon) if mdp.finite_horizon else 1.0 / (1.0 - mdp.gamma)
    lam_abs = np.abs(result.lam)
    scale = max(1.0, float(np.max(np.abs(mdp.r))) + float(lam_abs @ np.max(
        np.abs(mdp.costs.reshape(mdp.K, -1)), axis=1)), float(np.max(np.abs(result.thresholds))))
    tol = CMDP_VERIFY_RTOL * scale * T
    res = _residuals(result, exact)
    res["value_mismatch"] = max(res["value_mismatch"], _policy_mismatch(result, exact))
    names = ("flow_residual", "negativity", "constraint_violation", "dual_infeasibility",
             "lam_negativity", "duality_gap", "complementary_slackness", "value_mismatch")
    # the flow residual is in occupancy units (mass 1): compare it with tol / (scale * T)
    scaled = dict(res, flow_residual=res["flow_residual"] * scale * T)
    failed = [n for n in names if not scaled[n] <= tol]
    kind = "exact rational" if exact else "float"
    message = (f"{kind} verification passed: every residual <= {tol:.3g}" if not failed else
               f"{kind} verification FAILED: " + ", ".join(f"{n} = {res[n]:.3g}" for n in failed)
               + f" (tolerance {tol:.3g})")
    return CMDPCertificate(not failed, exact, "optimal", *(res[n] for n in names), nan, tol,
                           message)


def _residuals(result: CMDPResult, exact: bool) -> dict[str, float]:
    """Residuals of d, v, lam against the model, in float or Fraction arithmetic.

    Float: every product with P goes through the model's CSR kernel (S*A, S)
    (:attr:`~solvers.mdp.TabularMDP.transition_matrix`), so memory is O(nnz(P) + S*A)
    and a sparse model is never densified. Exact: P as a dense (S, A, S) array of
    Fractions (small models only, :data:`CMDP_EXACT_MAX_SA`).
    """
    mdp = result.mdp
    K, S, A = mdp.K, mdp.S, mdp.A
    if exact:
        conv = fraction_array
        kernel = _DenseKernel(conv(mdp.dense_P()))
        g = Fraction(mdp.gamma)
    else:
        def conv(a):
            return np.asarray(a, dtype=float)
        kernel = _SparseKernel(mdp.transition_matrix, S, A)
        g = mdp.gamma
    r, c, mu0 = conv(mdp.r), conv(mdp.costs), conv(mdp.mu0)
    b, lam, d, v = conv(result.thresholds), conv(result.lam), conv(result.d), conv(result.v)
    lam_c = lam[0] * c[0]  # (no float start value: it would turn Fractions into floats)
    for k in range(1, K):
        lam_c = lam_c + lam[k] * c[k]
    if mdp.finite_horizon:
        H = mdp.horizon
        inflow = [mu0] + [kernel.inflow(d[t]) for t in range(H - 1)]
        flow = max(_amax(d[t].sum(axis=1) - inflow[t]) for t in range(H))
        v_next = [v[t + 1] for t in range(H - 1)] + [mu0 * 0]
        rc = np.array([r - lam_c + kernel.expect(v_next[t]) - v[t][:, None]
                       for t in range(H)], dtype=object if exact else float)
        primal, costs = (d * r).sum(), np.array([(d * c[k]).sum() for k in range(K)])
        dual_obj = (mu0 * v[0]).sum() + (lam * b).sum()
        cs_primal = _amax(d * rc)
    else:
        flow = _amax(d.sum(axis=1) - (1 - g) * mu0 - g * kernel.inflow(d))
        rc = r - lam_c + g * kernel.expect(v) - v[:, None]
        primal = (d * r).sum() / (1 - g)
        costs = np.array([(d * c[k]).sum() / (1 - g) for k in range(K)])
        dual_obj = (mu0 * v).sum() + (lam * b).sum()
        cs_primal = _amax(d * rc) / (1 - g)
    return {
        "flow_residual": float(flow),
        "negativity": float(_positive_part(-_min(d))),
        "constraint_violation": float(_positive_part(max(costs - b))),
        "dual_infeasibility": float(_positive_part(_max(rc))),
        "lam_negativity": float(_positive_part(-min(lam))),
        "duality_gap": float(abs(primal - dual_obj)),
        "complementary_slackness": float(max(cs_primal, _amax(lam * (b - costs)))),
        "value_mismatch": float(max(abs(conv(np.array([result.value]))[0] - primal),
                                    _amax(conv(result.cost_values) - costs))),
    }


class _SparseKernel:
    r"""Products with the CSR kernel M (S*A, S), row ``s*A + a``, in float arithmetic.

    ``expect(v)[s, a]`` :math:`=\sum_{s'}P(s'|s,a)v(s')` (``M @ v``) and
    ``inflow(d)[s']`` :math:`=\sum_{s,a}P(s'|s,a)d(s,a)` (``M.T @ d``).
    """

    def __init__(self, M, S: int, A: int) -> None:
        self.M, self.S, self.A = M, S, A

    def expect(self, v: np.ndarray) -> np.ndarray:
        return np.asarray(self.M @ v).reshape(self.S, self.A)

    def inflow(self, d: np.ndarray) -> np.ndarray:
        return np.asarray(self.M.T @ d.reshape(-1))


class _DenseKernel:
    """The same two products with a dense (S, A, S) array (object arrays of Fractions)."""

    def __init__(self, P: np.ndarray) -> None:
        self.P = P

    def expect(self, v: np.ndarray) -> np.ndarray:
        return np.tensordot(self.P, v, axes=([2], [0]))

    def inflow(self, d: np.ndarray) -> np.ndarray:
        return np.tensordot(d, self.P, axes=([0, 1], [0, 1]))


def _max(x: np.ndarray) -> float | Fraction:
    return max(np.ravel(x)) if x.dtype == object else float(np.max(x))


def _min(x: np.ndarray) -> float | Fraction:
    return min(np.ravel(x)) if x.dtype == object else float(np.min(x))


def _amax(x: np.ndarray) -> float | Fraction:
    x = np.asarray(x)
    if x.dtype != object:  # vectorised: a Python loop over 1e6 floats would take seconds
        return float(np.max(np.abs(x))) if x.size else 0.0
    return max(abs(e) for e in np.ravel(x))


def _policy_mismatch(result: CMDPResult, exact: bool) -> float:
    """|V(extracted pi) - reported| over reward and costs, by policy evaluation."""
    mdp, pi = result.mdp, result.pi
    if not exact:
        ev = evaluate(mdp, pi)
        return float(max(abs(ev.value - result.value),
                         float(np.max(np.abs(ev.cost_values - result.cost_values)))))
    worst = Fraction(0)
    rewards = [(mdp.r, result.value), *zip(mdp.costs, result.cost_values, strict=True)]
    for reward, reported in rewards:
        V = exact_policy_values(_with_reward(mdp, reward), pi)
        V0 = V[0] if mdp.finite_horizon else V
        val = sum(m * x for m, x in zip(fraction_array(mdp.mu0), V0, strict=True))
        worst = max(worst, abs(val - Fraction(float(reported))))
    return float(worst)


def _verify_infeasible(result: CMDPResult, exact: bool) -> CMDPCertificate:
    mdp, cert, b = result.mdp, result.infeasibility, result.thresholds
    nan = float("nan")
    if cert is None:
        return CMDPCertificate(False, exact, "infeasible", *([nan] * 8), nan, 0.0,
                               "infeasible result without a certificate")
    w = np.asarray(cert.weights, dtype=float)
    if np.any(w < 0) or not w.sum() > 0:
        return CMDPCertificate(False, exact, "infeasible", *([nan] * 8), nan, 0.0,
                               f"Farkas weights {w} are not >= 0 with a positive sum")
    if exact:
        margin = _exact_min_cost_margin(mdp, w, b)
    else:
        margin = min_weighted_cost_certificate(mdp, b, w).margin
    ok = margin > 0
    message = (f"infeasibility certified: min_pi w.V_c(pi) exceeds w.b by {margin:.3g}" if ok
               else f"infeasibility NOT certified: margin {margin:.3g} <= 0")
    return CMDPCertificate(ok, exact, "infeasible", *([nan] * 8), float(margin), 0.0, message)


def _exact_min_cost_margin(mdp, w: np.ndarray, b: np.ndarray) -> float:
    r"""Rigorous lower bound on :math:`\min_\pi w^\top V_c(\pi)-w^\top b`, in Fractions.

    For the DP's policy with exact values :math:`V` of reward :math:`-w^\top c` and exact
    Bellman residual :math:`\rho=\max(0,\max_{s,a}q(s,a)-V(s))`,
    :math:`V^\star\le V+\rho/(1-\gamma)` (finite horizon :math:`V^\star_0\le V_0+H\rho`).
    """
    model = _with_reward(mdp, -np.tensordot(w, mdp.costs, axes=1))
    plan = policy_iteration(model)
    V = exact_policy_values(model, plan.pi)
    if model.finite_horizon:
        Pf, rf = fraction_array(model.dense_P()), fraction_array(model.r)
        rho = max(max(0, max((rf + np.tensordot(Pf, V[t + 1], axes=([2], [0]))).max(axis=1)
                             - V[t])) for t in range(model.horizon))
        upper = (fraction_array(model.mu0) * V[0]).sum() + model.horizon * rho
    else:
        q = exact_bellman_q(model, V)
        rho = max(0, max(q.max(axis=1) - V))
        upper = (fraction_array(model.mu0) * V).sum() + rho / (1 - Fraction(model.gamma))
    wf = fraction_array(w)
    return float(-upper - (wf * fraction_array(b)).sum())
