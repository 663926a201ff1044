r"""Minimum-cost label-flip poisoning of RLHF/DPO as a convex program (poisoning notes §1.1-1.2).

The attacker sets the preference proportions :math:`\theta\in[0,1]^{N}` of
:math:`N` (``n_pairs``) comparisons with features :math:`\Phi\in\mathbb R^{n_f\times N}`
(``feat_dim`` x ``n_pairs``, column :math:`\phi_i` = chosen minus rejected). Since
:math:`L(r;\theta)-L(r;\theta')=-(\theta-\theta')^\top\mathrm{diag}(m)\Phi^\top r`, every
:math:`\theta` with :math:`\Phi\theta=\Phi\theta_A` yields the same Bradley-Terry/DPO
objective as the target :math:`\theta_A`, and the cheapest such :math:`\theta` solves

.. math::

    \text{(P1)}\quad\min_\zeta\|\zeta\|\ \ \text{s.t.}\ \ \Phi\zeta=\Phi\Delta,\ \
    -\theta_O\le\zeta\le 1-\theta_O,\qquad \Delta=\theta_A-\theta_O\ (\texttt{shift}),\ \
    \theta^\star=\theta_O+\zeta^\star.

With the :math:`\ell_1` cost it is the LP :math:`\min 1^\top(u+v)` s.t.
:math:`[\Phi,-\Phi](u,v)=\Phi\Delta`, :math:`0\le u\le1-\theta_O`, :math:`0\le v\le\theta_O`,
solved by HiGHS dual simplex (a vertex, with duals). Its Lagrangian dual is

.. math::

    \max_\lambda\ g(\lambda)=b^\top\lambda-\sum_i\big[(1-\theta_{O,i})(\phi_i^\top\lambda-1)_+
    +\theta_{O,i}(-\phi_i^\top\lambda-1)_+\big],\qquad b=\Phi\Delta,

and *every* :math:`\lambda` gives the certified lower bound :math:`g(\lambda)\le OPT`.

References
----------
Kusaka, Saito, Kudo, Tanabe, Wachi, Akimoto, "Cost-Minimized Label-Flipping Poisoning
Attack to LLM Alignment", arXiv 2511.09105 (AAAI 2026), Theorem 1 and the LP of its code.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .errors import ModelError
from .poisoning_exact import exact_certificate, exact_target
from .tolerances import LP_FEASIBILITY_TOL
from .validation import describe, reject_bool_leaves

__all__ = ["POISONING_EXACT_MAX_PAIRS", "PoisoningInstance", "PoisoningResult",
           "bt_loss", "dual_objective", "min_cost_poisoning", "sigmoid"]

#: ``verify(exact=True)`` refuses instances with more pairs (rational elimination is O(N^3)).
POISONING_EXACT_MAX_PAIRS: int = 200


def sigmoid(t: np.ndarray) -> np.ndarray:
    r"""Logistic function :math:`\sigma(t)=1/(1+e^{-t})`, evaluated without overflow."""
    t = np.asarray(t, dtype=float)
    return np.where(t >= 0, 1.0 / (1.0 + np.exp(-np.abs(t))),
                    np.exp(-np.abs(t)) / (1.0 + np.exp(-np.abs(t))))


def _array(x: Any, name: str, ndim: int) -> np.ndarray:
    reject_bool_leaves(x, name)
    try:
        a = np.asarray(x)
    except (ValueError, TypeError, RecursionError) as exc:  # ragged or too deep
        raise ModelError(f"{name} cannot be read as an array ({exc}), expected real numbers",
                         field=name) from None
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer)
                                   or np.issubdtype(a.dtype, np.floating)):
        raise ModelError(f"{name} has dtype {a.dtype}, expected real numbers", field=name)
    if a.ndim != ndim:
        raise ModelError(f"{name} has shape {a.shape}, expected {ndim} dimension(s)", field=name)
    a = a.astype(float)
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        idx = tuple(int(i) for i in bad[0])
        raise ModelError(f"{name}[{', '.join(map(str, idx))}] = {a[idx]}, expected finite "
                         "numbers", field=name)
    return a


def _proportions(x: Any, name: str, n_pairs: int) -> np.ndarray:
    a = _array(x, name, 1)
    if a.shape != (n_pairs,):
        raise ModelError(f"{name} has shape {a.shape}, expected (n_pairs,) = ({n_pairs},)",
                         field=name)
    out = np.flatnonzero((a < 0) | (a > 1))
    if out.size:
        i = int(out[0])
        raise ModelError(f"{name}[{i}] = {a[i]}, expected a proportion in [0, 1]", field=name)
    return a


@dataclass(frozen=True, eq=False)
class PoisoningInstance:
    r"""A label-flip poisoning instance (notes §1.1).

    Parameters
    ----------
    Phi : array (feat_dim, n_pairs)
        Comparison features, column :math:`\phi_i=\phi(x_i,y_i)-\phi(x_i,z_i)`.
    theta_O : array (n_pairs,)
        Benign preference proportions in [0, 1].
    theta_A : array (n_pairs,), optional
        Target proportions in [0, 1] (e.g. another attack's poisoned labels).
    r_A : array (feat_dim,), optional
        Target reward; then :math:`\theta_A=\sigma(\Phi^\top r_A)` (give exactly one of the two).
    m : int
        Annotations per pair (the grid :math:`\Theta_m=\{0,1/m,\dots,1\}`); flips = m |zeta|_1.
    target_moment : array (feat_dim,), optional
        The target :math:`b=\Phi\Delta` given directly (e.g. a gradient-matching target that
        need not be reachable; then (P1) may be infeasible and ``theta_A`` is None).
    """

    Phi: np.ndarray
    theta_O: np.ndarray
    theta_A: np.ndarray | None = None
    r_A: np.ndarray | None = None
    m: int = 1
    target_moment: np.ndarray | None = None

    def __post_init__(self) -> None:
        Phi = _array(self.Phi, "Phi", 2)
        feat_dim, n_pairs = Phi.shape
        if feat_dim < 1 or n_pairs < 1:
            raise ModelError(f"Phi has shape {Phi.shape}, expected (feat_dim >= 1, n_pairs >= 1)",
                             field="Phi")
        theta_O = _proportions(self.theta_O, "theta_O", n_pairs)
        given = [k for k in ("theta_A", "r_A", "target_moment") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ModelError(f"got {given or 'none'}, expected exactly one of theta_A, r_A, "
                             "target_moment", field="theta_A")
        r_A = tm = theta_A = None
        if self.target_moment is not None:
            tm = _array(self.target_moment, "target_moment", 1)
            if tm.shape != (feat_dim,):
                raise ModelError(f"target_moment has shape {tm.shape}, expected (feat_dim,) = "
                                 f"({feat_dim},)", field="target_moment")
        elif self.r_A is not None:
            r_A = _array(self.r_A, "r_A", 1)
            if r_A.shape != (feat_dim,):
                raise ModelError(f"r_A has shape {r_A.shape}, expected (feat_dim,) = "
                                 f"({feat_dim},)", field="r_A")
            with np.errstate(over="ignore", invalid="ignore"):
                logits = Phi.T @ r_A
            if np.isnan(logits).any():  # inf - inf: Phi and r_A too large for float64
                i = int(np.flatnonzero(np.isnan(logits))[0])
                raise ModelError(f"Phi[:, {i}] @ r_A is not a number (overflow), expected "
                                 "Phi and r_A small enough that Phi^T r_A is finite or "
                                 "+-inf", field="r_A")
            theta_A = sigmoid(logits)
        else:
            theta_A = _proportions(self.theta_A, "theta_A", n_pairs)
        if isinstance(self.m, bool) or not isinstance(self.m, (int, np.integer)) or self.m < 1:
            raise ModelError(f"m = {describe(self.m)}, expected an integer >= 1 (annotations "
                             "per pair)", field="m")
        for name, val in (("Phi", Phi), ("theta_O", theta_O), ("theta_A", theta_A),
                          ("r_A", r_A), ("target_moment", tm)):
            if val is not None:
                val.setflags(write=False)
            object.__setattr__(self, name, val)
        object.__setattr__(self, "m", int(self.m))

    @property
    def feat_dim(self) -> int:
        """Number of features :math:`n_f`."""
        return self.Phi.shape[0]

    @property
    def n_pairs(self) -> int:
        """Number of comparison pairs :math:`N`."""
        return self.Phi.shape[1]

    @property
    def shift(self) -> np.ndarray:
        r""":math:`\Delta=\theta_A-\theta_O` (n_pairs,); :math:`\Phi^\dagger b` if target_moment."""
        if self.theta_A is None:
            return np.linalg.pinv(self.Phi) @ self.target_moment
        return self.theta_A - self.theta_O

    @property
    def target(self) -> np.ndarray:
        r"""Right-hand side :math:`b=\Phi\Delta` (feat_dim,)."""
        if self.theta_A is None:
            return self.target_moment
        return self.Phi @ self.shift


def bt_loss(r: np.ndarray, Phi: np.ndarray, theta: np.ndarray, counts: np.ndarray | float = 1.0
            ) -> float:
    r"""Bradley-Terry negative log-likelihood in proportion form (notes §1.1).

    .. math:: L(r;\theta)=\sum_i m_i\big[-\log\sigma(-u_i)\big]-\sum_i m_i\theta_iu_i,
              \quad u=\Phi^\top r,

    equal to :math:`-\sum_i m_i[\theta_i\log\sigma(u_i)+(1-\theta_i)\log\sigma(-u_i)]`.
    """
    u = np.asarray(Phi, float).T @ np.asarray(r, float)
    w = np.broadcast_to(np.asarray(counts, float), u.shape)
    return float(np.sum(w * np.logaddexp(0.0, u)) - np.sum(w * np.asarray(theta) * u))


def dual_objective(instance: PoisoningInstance, lam: np.ndarray) -> float:
    r"""The :math:`\ell_1` LP dual :math:`g(\lambda)` (module docstring); a lower bound on OPT.

    Weak duality holds for every :math:`\lambda\in\mathbb R^{n_f}`: the box multipliers
    :math:`(\pm\phi_i^\top\lambda-1)_+` are chosen optimally, so no feasibility is needed.
    """
    s = instance.Phi.T @ np.asarray(lam, float)
    th = instance.theta_O
    return float(instance.target @ lam - np.sum((1 - th) * np.maximum(s - 1, 0))
                 - np.sum(th * np.maximum(-s - 1, 0)))


@dataclass(frozen=True, eq=False)
class PoisoningResult:
    r"""Result of :func:`min_cost_poisoning`.

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

    def verify(self, exact: bool = False) -> dict[str, Any]:
        r"""Recompute residuals independently of the solver.

        Returns a dict with ``primal_residual`` (:math:`\|\Phi\zeta-b\|_\infty` plus box
        violation), ``dual_residual`` (negative upper multipliers, reduced-cost violation),
        ``lower_bound`` = :math:`g(\lambda)`, ``gap`` = cost - lower_bound, and ``ok``.
        With ``exact=True`` (l1, n_pairs <= POISONING_EXACT_MAX_PAIRS) the vertex is rebuilt
        from its active set and the dual from complementary slackness in ``Fraction``
        arithmetic; ``ok`` then means exact feasibility and an exact gap of 0 (see
        :func:`solvers.poisoning_exact.exact_certificate`).
        For an infeasible result the Farkas inequality is re-checked.
        """
        inst = self.instance
        scale = max(1.0, float(np.abs(inst.Phi).max()))
        # HiGHS meets its tolerances (1e-9) on the scaled LP; unscaling by max|Phi| and summing
        # n_pairs rounding errors of random sign (~sqrt(n_pairs)) can lose that much, with a
        # 100x margin. Tampered solutions in the tests miss by 1e-3 or more.
        tol = 100 * LP_FEASIBILITY_TOL * scale * inst.n_pairs ** 0.5
        if self.status == "infeasible":
            y = self.farkas
            s = inst.Phi.T @ y
            reach = float(np.sum(np.maximum(s, 0) * (1 - inst.theta_O))
                          + np.sum(np.maximum(-s, 0) * inst.theta_O))
            margin = float(inst.target @ y) - reach
            if exact:
                yq = [Fraction(float(v)) for v in y]
                sq = [sum((Fraction(float(inst.Phi[k, i])) * yq[k]
                           for k in range(inst.feat_dim)), Fraction(0))
                      for i in range(inst.n_pairs)]
                bq = exact_target(inst)
                reachq = sum((max(s_, 0) * (1 - Fraction(float(inst.theta_O[i])))
                              + max(-s_, 0) * Fraction(float(inst.theta_O[i]))
                              for i, s_ in enumerate(sq)), Fraction(0))
                margin_q = sum((a * b for a, b in zip(bq, yq, strict=True)), Fraction(0)) - reachq
                return {"farkas_margin": margin_q, "ok": margin_q > 0, "exact": True}
            return {"farkas_margin": margin, "ok": margin > tol, "exact": False}
        zeta = self.zeta
        eq = float(np.abs(inst.Phi @ zeta - inst.target).max())
        box = float(max(np.max(-inst.theta_O - zeta), np.max(zeta - (1 - inst.theta_O)), 0.0))
        out: dict[str, Any] = {"primal_residual": eq + box, "exact": False}
        if self.norm != "l1":
            if exact:
                raise ValueError(f"exact verification is for the l1 LP, not {self.norm}")
            out["ok"] = eq + box <= tol
            return out
        lam = self.duals["lam"]
        s = inst.Phi.T @ lam
        au, av = self.duals["upper_u"], self.duals["upper_v"]
        # reduced costs of u and v: 1 - s + au >= 0 and 1 + s + av >= 0, multipliers >= 0
        dres = float(max(0.0, -au.min(), -av.min(), (s - 1 - au).max(), (-s - 1 - av).max()))
        lb = dual_objective(inst, lam)
        cost = float(np.abs(zeta).sum())
        out.update(dual_residual=dres, lower_bound=lb, gap=cost - lb,
                   ok=bool(eq + box <= tol and dres <= tol and abs(cost - lb) <= tol))
        if exact:
            if inst.n_pairs > POISONING_EXACT_MAX_PAIRS:
                raise ValueError(f"exact verification supports n_pairs <= "
                                 f"{POISONING_EXACT_MAX_PAIRS}, got {inst.n_pairs}")
            out.update(exact_certificate(inst, zeta, lam))
            out["exact"] = True
        return out


def min_cost_poisoning(instance: PoisoningInstance, norm: str = "l1", method: str = "auto"
                       ) -> PoisoningResult:
    r"""Solve (P1): the cheapest proportions with the same BT/DPO objective as the target.

    ``norm="l1"`` (flip count / m) uses HiGHS dual simplex on the split LP with sparse
    constraints and returns a vertex with its duals; ``"l2"`` and ``"linf"`` use cvxpy.
    An infeasible target (no :math:`\theta\in[0,1]^N` with :math:`\Phi\theta=\Phi\theta_A`;
    impossible when :math:`\theta_A\in[0,1]^N`, but reachable through a ``target_moment``)
    returns status "infeasible" and a Farkas vector.

    Parameters
    ----------
    method : {"auto", "direct", "colgen"}
        l1 only. "direct" solves the full LP. "colgen" (column generation) solves the LP on a
        working set of pairs that contains the support of :math:`\Delta` (so it is feasible),
        prices every other pair by :math:`|\phi_i^\top\lambda|\le1` (its LP reduced cost)
        and adds violators until none is left; the restricted vertex padded with zeros is a
        vertex of the full LP with the same duals. "auto" uses colgen when
        n_pairs >= ``COLGEN_MIN_PAIRS`` and the shift is supported on at most half the pairs.

    Returns
    -------
    PoisoningResult
    """
    if not isinstance(instance, PoisoningInstance):
        raise TypeError(f"instance is {type(instance).__name__}, expected PoisoningInstance")
    if norm not in ("l1", "l2", "linf"):
        raise ModelError(f"norm = {norm!r}, expected 'l1', 'l2' or 'linf'", field="norm")
    if method not in ("auto", "direct", "colgen"):
        raise ModelError(f"method = {method!r}, expected 'auto', 'direct' or 'colgen'",
                         field="method")
    n = instance.n_pairs
    # Pi_Phi = I iff rank(Phi) = n_pairs, which needs feat_dim >= n_pairs
    no_saving = bool(instance.feat_dim >= n and np.linalg.matrix_rank(instance.Phi) == n)
    if norm != "l1":
        return _solve_cvxpy(instance, norm, no_saving)
    support = (np.flatnonzero(instance.shift) if instance.theta_A is not None else None)
    if method == "colgen" and support is None:
        raise ModelError("column generation needs theta_A (its support makes the working set "
                         "feasible)", field="method")
    if method == "auto":
        method = ("colgen" if support is not None and n >= COLGEN_MIN_PAIRS
                  and support.size <= n // 2 else "direct")
    if method == "direct":
        res = _highs_l1(instance.Phi, instance.theta_O, instance.target)
        if res.status == 2:
            return _infeasible(instance, "l1", res.message, no_saving)
        zeta, lam, msg = res.x[:n] - res.x[n:], np.asarray(res.eqlin.marginals, float), \
            res.message
        duals = {"lam": lam, "upper_u": 0.0 - np.asarray(res.upper.marginals[:n], float),
                 "upper_v": 0.0 - np.asarray(res.upper.marginals[n:], float)}
    else:
        zeta, lam, msg = _colgen_l1(instance, support)
        s = instance.Phi.T @ lam
        # optimal box multipliers for a given lam: (s - 1)_+ and (-s - 1)_+ (module docstring)
        duals = {"lam": lam, "upper_u": np.maximum(s - 1, 0.0),
                 "upper_v": np.maximum(-s - 1, 0.0)}
    cost = float(np.abs(zeta).sum())
    return PoisoningResult(instance, "optimal", "l1", cost, zeta, instance.theta_O + zeta,
                           instance.m * cost, duals, no_saving_possible=no_saving, message=msg)


#: ``method="auto"`` switches to column generation from this many pairs.
COLGEN_MIN_PAIRS: int = 5000


def _highs_l1(Phi: np.ndarray, th: np.ndarray, target: np.ndarray) -> Any:
    """HiGHS dual simplex on the split LP; raises unless optimal or infeasible."""
    n = Phi.shape[1]
    A = sp.hstack([sp.csr_array(Phi), -sp.csr_array(Phi)], format="csr")
    bounds = np.concatenate([np.stack([np.zeros(n), 1 - th], 1), np.stack([np.zeros(n), th], 1)])
    res = linprog(np.ones(2 * n), A_eq=A, b_eq=target, bounds=bounds, method="highs-ds",
                  options={"primal_feasibility_tolerance": LP_FEASIBILITY_TOL,
                           "dual_feasibility_tolerance": LP_FEASIBILITY_TOL})
    if res.status not in (0, 2):
        raise RuntimeError(f"HiGHS returned status {res.status}: {res.message}")
    return res


def _colgen_l1(instance: PoisoningInstance, support: np.ndarray) -> tuple[np.ndarray,
                                                                         np.ndarray, str]:
    """Column generation for the l1 LP (see :func:`min_cost_poisoning`)."""
    Phi, th, n, fd = instance.Phi, instance.theta_O, instance.n_pairs, instance.feat_dim
    can_up, can_down = th < 1, th > 0
    # seed the working set with the pairs the Theorem 2 dual point prices highest
    lam0 = np.linalg.lstsq(Phi @ Phi.T, instance.target, rcond=None)[0]
    score = np.abs(Phi.T @ lam0)
    work = np.zeros(n, bool)
    work[support] = True
    work[np.argsort(-score)[: 4 * fd]] = True
    # a pair whose reduced cost is below -tol enters; HiGHS's own dual tolerance is 1e-9 on the
    # scaled LP, so 1e-9 * max|phi| keeps the pricing consistent with it
    tol = LP_FEASIBILITY_TOL * max(1.0, float(np.abs(Phi).max()))
    batch = max(100, 4 * fd)
    for rounds in range(1, 1000):
        idx = np.flatnonzero(work)
        res = _highs_l1(Phi[:, idx], th[idx], instance.target)
        if res.status != 0:  # a superset of supp(shift) is always feasible
            raise RuntimeError(f"restricted LP returned {res.message}")
        lam = np.asarray(res.eqlin.marginals, float)
        s = Phi.T @ lam
        viol = np.where(can_up, s - 1, 0.0).clip(0) + np.where(can_down, -s - 1, 0.0).clip(0)
        viol[work] = 0.0
        bad = np.flatnonzero(viol > tol)
        if bad.size == 0:
            zeta = np.zeros(n)
            zeta[idx] = res.x[: idx.size] - res.x[idx.size:]
            return zeta, lam, f"{res.message} (column generation: {rounds} rounds, " \
                              f"{idx.size} of {n} pairs)"
        work[bad[np.argsort(-viol[bad])[:batch]]] = True
    raise RuntimeError("column generation did not converge in 1000 rounds")


def _solve_cvxpy(instance: PoisoningInstance, norm: str, no_saving: bool) -> PoisoningResult:
    import cvxpy as cp

    th = instance.theta_O
    z = cp.Variable(instance.n_pairs)
    eq = instance.Phi @ z == instance.target
    obj = cp.norm(z, 2) if norm == "l2" else cp.norm(z, "inf")
    prob = cp.Problem(cp.Minimize(obj), [eq, z >= -th, z <= 1 - th])
    prob.solve(solver="CLARABEL")
    if prob.status in ("infeasible", "infeasible_inaccurate"):
        return _infeasible(instance, norm, prob.status, no_saving)
    if prob.status != "optimal":
        raise RuntimeError(f"cvxpy ({norm}) returned status {prob.status}")
    zeta = np.clip(np.asarray(z.value, float), -th, 1 - th)
    cost = float(np.linalg.norm(zeta, 2 if norm == "l2" else np.inf))
    return PoisoningResult(instance, "optimal", norm, cost, zeta, th + zeta,
                           instance.m * float(np.abs(zeta).sum()),
                           {"lam": -np.asarray(eq.dual_value, float)},
                           no_saving_possible=no_saving, message=prob.status)


def _infeasible(instance: PoisoningInstance, norm: str, message: str, no_saving: bool
                ) -> PoisoningResult:
    r"""Farkas vector for :math:`b\notin\Phi([0,1]^N-\theta_O)`: maximise the separation.

    Solves :math:`\max_y\ b^\top y-\sum_i[(1-\theta_{O,i})(\phi_i^\top y)_++\theta_{O,i}
    (-\phi_i^\top y)_+]` over :math:`\|y\|_\infty\le1` (an LP); a positive optimum proves
    infeasibility.
    """
    Phi, th = instance.Phi, instance.theta_O
    fd, n = Phi.shape
    # variables y (fd), p, q >= 0 with p - q = Phi^T y; the support function of the box is
    # (1-th)^T p + th^T q at the optimum (p, q = positive/negative parts), so minimise
    # -b^T y + (1-th)^T p + th^T q.
    c = np.concatenate([-instance.target, 1 - th, th])
    A_eq = sp.hstack([sp.csr_array(Phi.T), -sp.eye_array(n), sp.eye_array(n)], format="csr")
    bounds = [(-1, 1)] * fd + [(0, None)] * (2 * n)
    res = linprog(c, A_eq=A_eq, b_eq=np.zeros(n), bounds=bounds, method="highs-ds")
    if res.status != 0:
        raise RuntimeError(f"Farkas LP failed: {res.message}")
    y = res.x[:fd]
    return PoisoningResult(instance, "infeasible", norm, float("nan"), None, None,
                           float("nan"), {}, farkas=y, no_saving_possible=no_saving,
                           message=message)
