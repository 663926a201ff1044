r"""The result of the minimum-cost poisoning program (P1) and its solver-independent certificate.

:class:`PoisoningResult` holds :math:`\zeta^\star`, :math:`\theta^\star=\theta_O+\zeta^\star`
and the duals; :meth:`PoisoningResult.verify` recomputes from the instance alone

- primal feasibility :math:`\|\Phi\zeta-b\|_\infty` plus the box violation,
- (l1) dual feasibility of :math:`(\lambda,\alpha_u,\alpha_v)`: reduced costs
  :math:`1-\phi_i^\top\lambda+\alpha_{u,i}\ge0`, :math:`1+\phi_i^\top\lambda+\alpha_{v,i}\ge0`,
  :math:`\alpha\ge0`,
- (l1) the lower bound :math:`g(\lambda)\le OPT` of :func:`dual_objective` and the gap
  :math:`\|\zeta\|_1-g(\lambda)`,
- (infeasible) the Farkas separation margin of the stored vector :math:`y`,

and returns a frozen :class:`PoisoningCertificate` (as :meth:`solvers.cmdp.CMDPResult.verify`
returns a :class:`~solvers.cmdp_verify.CMDPCertificate`). ``exact=True`` redoes the check in
``Fraction`` arithmetic (:mod:`solvers.poisoning_exact`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .poisoning_exact import ExactVertexCheck, exact_certificate, exact_farkas_margin
from .poisoning_instance import PoisoningInstance
from .tolerances import LP_FEASIBILITY_TOL

__all__ = ["POISONING_EXACT_MAX_PAIRS", "PoisoningCertificate", "PoisoningResult",
           "dual_objective"]

#: ``verify(exact=True)`` refuses instances with more pairs (rational elimination is O(N^3)).
POISONING_EXACT_MAX_PAIRS: int = 200


def dual_objective(instance: PoisoningInstance, lam: np.ndarray) -> float:
    r"""The :math:`\ell_1` LP dual :math:`g(\lambda)`; a lower bound on OPT.

    .. math:: g(\lambda)=b^\top\lambda-\sum_i\big[(1-\theta_{O,i})(\phi_i^\top\lambda-1)_+
              +\theta_{O,i}(-\phi_i^\top\lambda-1)_+\big],\qquad b=\Phi\Delta.

    Weak duality holds for every :math:`\lambda\in\mathbb R^{n_f}`: the box multipliers
    :math:`(\pm\phi_i^\top\lambda-1)_+` are chosen optimally, so no feasibility is needed.
    """
    s = instance.Phi.T @ np.asarray(lam, float)
    th = instance.theta_O
    return float(instance.target @ lam - np.sum((1 - th) * np.maximum(s - 1, 0))
                 - np.sum(th * np.maximum(-s - 1, 0)))


def _json_number(x: float | Fraction | None) -> float | None:
    """A JSON-safe number: Fractions rounded to float, NaN and None as None."""
    if x is None:
        return None
    x = float(x)
    return None if np.isnan(x) else x


@dataclass(frozen=True, eq=False)
class PoisoningCertificate:
    r"""Outcome of :meth:`PoisoningResult.verify`, recomputed from the instance alone.

    Attributes
    ----------
    ok : bool
        Optimal, float: every residual and the gap at most ``tolerance`` (l2/linf: the primal
        residual only). Optimal, exact: the rebuilt vertex is exactly feasible with an exact
        gap of 0 (``exact_vertex.ok``). Infeasible: ``farkas_margin`` > ``tolerance``
        (float) or > 0 exactly.
    exact : bool
        True when the decisive check was done in rational arithmetic.
    status : {"optimal", "infeasible"}
    norm : {"l1", "l2", "linf"}
    primal_residual : float
        :math:`\|\Phi\zeta-b\|_\infty+\max(0,\max_i(-\theta_{O,i}-\zeta_i),
        \max_i(\zeta_i-1+\theta_{O,i}))` (NaN when infeasible).
    dual_residual : float
        l1: :math:`\max(0,-\min\alpha_u,-\min\alpha_v,\max(s-1-\alpha_u),\max(-s-1-\alpha_v))`
        with :math:`s=\Phi^\top\lambda` (NaN otherwise).
    lower_bound : float
        l1: :math:`g(\lambda)` (:func:`dual_objective`), a certified lower bound on OPT.
    gap : float
        l1: :math:`\|\zeta\|_1-g(\lambda)` in floats (NaN otherwise).
    farkas_margin : float or Fraction
        Infeasible: :math:`b^\top y-\max_{\theta\in[0,1]^N}y^\top\Phi(\theta-\theta_O)`
        (a Fraction when exact; NaN when optimal).
    tolerance : float
        :math:`100\cdot\texttt{LP\_FEASIBILITY\_TOL}\cdot\max(1,\max|\Phi|)\sqrt{N}`.
    message : str
    exact_vertex : ExactVertexCheck or None
        The rational rebuild of the l1 vertex and dual when ``exact`` and optimal.
    """

    ok: bool
    exact: bool
    status: str
    norm: str
    primal_residual: float
    dual_residual: float
    lower_bound: float
    gap: float
    farkas_margin: float | Fraction
    tolerance: float
    message: str
    exact_vertex: ExactVertexCheck | None = None

    @property
    def certified_gap(self) -> float | Fraction:
        """The exact gap when the vertex was rebuilt in rationals, else the float ``gap``."""
        return self.exact_vertex.gap if self.exact_vertex is not None else self.gap

    def to_json(self) -> dict[str, Any]:
        """The certificate as JSON-safe values (Fractions as floats, NaN as None)."""
        out: dict[str, Any] = {"ok": bool(self.ok), "exact": bool(self.exact),
                               "status": self.status, "norm": self.norm,
                               "tolerance": self.tolerance, "message": self.message}
        for name in ("primal_residual", "dual_residual", "lower_bound", "gap",
                     "farkas_margin"):
            out[name] = _json_number(getattr(self, name))
        ev = self.exact_vertex
        if ev is not None:
            out.update(exact_feasible=bool(ev.feasible), exact_cost=_json_number(ev.cost),
                       exact_lower_bound=_json_number(ev.lower_bound),
                       exact_gap=_json_number(ev.gap), deviation=_json_number(ev.deviation),
                       reason=ev.reason)
        return out


@dataclass(frozen=True, eq=False)
class PoisoningResult:
    r"""Result of :func:`solvers.poisoning.min_cost_poisoning`.

    Attributes
    ----------
    status : {"optimal", "infeasible"}
    norm : {"l1", "l2", "linf"}
    cost : float
        :math:`\|\zeta^\star\|` (NaN when infeasible).
    zeta, theta_star : arrays (n_pairs,) or None
    flips : float
        :math:`m\|\zeta^\star\|_1` (number of flipped annotations before rounding).
    duals : dict
        l1: ``lam`` (feat_dim,) for the equality, ``upper_u``, ``upper_v`` (n_pairs,) >= 0
        for the upper bounds of u and v; l2/linf: ``lam`` from cvxpy.
    farkas : array (feat_dim,) or None
        When infeasible: :math:`y` with :math:`y^\top b>\max_{\theta\in[0,1]^N}y^\top\Phi
        (\theta-\theta_O)`, proof that no proportion vector reaches the target.
    no_saving_possible : bool
        :math:`\Pi_\Phi=I` (rank Phi = n_pairs, e.g. feat_dim >= n_pairs): the only feasible
        point is :math:`\zeta=\Delta`, so post-processing cannot save anything.
    """

    instance: PoisoningInstance
    status: str
    norm: str
    cost: float
    zeta: np.ndarray | None
    theta_star: np.ndarray | None
    flips: float
    duals: dict
    farkas: np.ndarray | None = None
    no_saving_possible: bool = False
    message: str = ""

    def verify(self, exact: bool = False) -> PoisoningCertificate:
        r"""Recompute residuals independently of the solver; see :class:`PoisoningCertificate`.

        With ``exact=True`` (l1, n_pairs <= POISONING_EXACT_MAX_PAIRS) the vertex is rebuilt
        from its active set and the dual from complementary slackness in ``Fraction``
        arithmetic; ``ok`` then means exact feasibility and an exact gap of 0 (see
        :func:`solvers.poisoning_exact.exact_certificate`). For an infeasible result the
        Farkas inequality is re-checked (exactly with ``exact=True``, any n_pairs).

        Raises
        ------
        ValueError
            ``exact=True`` for an l2/linf result or more than POISONING_EXACT_MAX_PAIRS pairs.
        """
        inst = self.instance
        nan = float("nan")
        scale = max(1.0, float(np.abs(inst.Phi).max()))
        # HiGHS meets its tolerances (1e-9) on the scaled LP; unscaling by max|Phi| and summing
        # n_pairs rounding errors of random sign (~sqrt(n_pairs)) can lose that much, with a
        # 100x margin. Tampered solutions in the tests miss by 1e-3 or more.
        tol = 100 * LP_FEASIBILITY_TOL * scale * inst.n_pairs ** 0.5
        if self.status == "infeasible":
            return self._verify_infeasible(exact, tol)
        if exact and self.norm != "l1":
            raise ValueError(f"exact verification is for the l1 LP, not {self.norm}")
        if exact and inst.n_pairs > POISONING_EXACT_MAX_PAIRS:
            raise ValueError(f"exact verification supports n_pairs <= "
                             f"{POISONING_EXACT_MAX_PAIRS}, got {inst.n_pairs}")
        zeta = self.zeta
        eq = float(np.abs(inst.Phi @ zeta - inst.target).max())
        box = float(max(np.max(-inst.theta_O - zeta), np.max(zeta - (1 - inst.theta_O)), 0.0))
        primal = eq + box
        if self.norm != "l1":
            ok = primal <= tol
            return PoisoningCertificate(ok, False, "optimal", self.norm, primal, nan, nan, nan,
                                        nan, tol, _message(ok, {"primal_residual": primal}, tol))
        lam = self.duals["lam"]
        s = inst.Phi.T @ lam
        au, av = self.duals["upper_u"], self.duals["upper_v"]
        # reduced costs of u and v: 1 - s + au >= 0 and 1 + s + av >= 0, multipliers >= 0
        dres = float(max(0.0, -au.min(), -av.min(), (s - 1 - au).max(), (-s - 1 - av).max()))
        lb = dual_objective(inst, lam)
        gap = float(np.abs(zeta).sum()) - lb
        residuals = {"primal_residual": primal, "dual_residual": dres, "gap": abs(gap)}
        if not exact:
            ok = all(v <= tol for v in residuals.values())
            return PoisoningCertificate(ok, False, "optimal", "l1", primal, dres, lb, gap, nan,
                                        tol, _message(ok, residuals, tol))
        ev = exact_certificate(inst, zeta, lam)
        msg = ("exact rational verification passed: the rebuilt vertex is feasible, its exact "
               f"gap is 0 and it deviates {ev.deviation:.3g} from the reported one" if ev.ok
               else "exact rational verification FAILED: " + (
                   ev.reason or f"feasible = {ev.feasible}, exact gap = {float(ev.gap):.3g}, "
                   f"deviation = {ev.deviation:.3g}"))
        return PoisoningCertificate(ev.ok, True, "optimal", "l1", primal, dres, lb, gap, nan,
                                    tol, msg, ev)

    def _verify_infeasible(self, exact: bool, tol: float) -> PoisoningCertificate:
        """Re-check the Farkas separation of ``farkas`` (module docstring)."""
        inst, y, nan = self.instance, self.farkas, float("nan")
        if exact:
            margin: float | Fraction = exact_farkas_margin(inst, y)
            ok = margin > 0
        else:
            s = inst.Phi.T @ y
            reach = float(np.sum(np.maximum(s, 0) * (1 - inst.theta_O))
                          + np.sum(np.maximum(-s, 0) * inst.theta_O))
            margin = float(inst.target @ y) - reach
            ok = margin > tol
        kind = "exact rational" if exact else "float"
        msg = (f"{kind} verification passed: the Farkas vector separates the target by "
               f"{float(margin):.3g}" if ok else
               f"{kind} verification FAILED: Farkas margin {float(margin):.3g} <= "
               f"{0.0 if exact else tol:.3g}")
        return PoisoningCertificate(bool(ok), exact, "infeasible", self.norm, nan, nan, nan, nan,
                                    margin, tol, msg)


def _message(ok: bool, residuals: dict[str, float], tol: float) -> str:
    """The message of a float verification: which residuals exceed ``tol``."""
    if ok:
        return f"float verification passed: every residual <= {tol:.3g}"
    failed = ", ".join(f"{k} = {v:.3g}" for k, v in residuals.items() if not v <= tol)
    return f"float verification FAILED: {failed} (tolerance {tol:.3g})"
