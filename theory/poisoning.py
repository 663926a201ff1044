r"""Minimum-cost label-flip poisoning (arXiv 2511.09105): bounds, post-processing, rounding.

Items 1-8 of poisoning notes §1.7, each side computed independently: the LP optimum by
HiGHS, the lower bound from the projection formula (a dual point, no solver), the upper bound
from the segment point, the integer optimum by brute force in exact integer arithmetic, the
single-constraint optimum by the greedy knapsack against an LP, the l2 optimum by cvxpy
against the closed form, the loss by direct evaluation on both proportion vectors.

The naive claim "integer optimum - LP optimum <= feat_dim" is false
(``poisoning.integer_gap_at_most_feat_dim``, violated; notes §1.7 item 6); the corrected
rounding statement, count bound plus residual bound, holds (``poisoning.rounding_additive``).
Costs are in proportion units (:math:`\|\zeta\|_1` = flips / m) unless called flips.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from scipy.optimize import linprog

from solvers.bt_fit import bt_loss
from solvers.poisoning import PoisoningInstance, min_cost_poisoning, sigmoid
from solvers.poisoning_bounds import (
    knapsack_single_constraint,
    projected_shift,
    projection_lower_bound,
    segment_upper_bound,
)
from solvers.poisoning_rounding import brute_force_integer, fractional_coordinates, post_process
from solvers.tolerances import EPS, LP_FEASIBILITY_TOL

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register

PAPER = ("Kusaka, Saito, Kudo, Tanabe, Wachi, Akimoto: Cost-Minimized Label-Flipping Poisoning "
         "Attack to LLM Alignment, arXiv 2511.09105 (AAAI 2026)")


# -- instances ---------------------------------------------------------------------------------
@st.composite
def poisoning_instances(draw: st.DrawFn, integer: bool = False, hard: bool | None = None,
                        m: int = 1, max_pairs: int = 12) -> Instance:
    """Small (P1) instances of notes §1.7: feat_dim in [1, 4], n_pairs in [feat_dim+1, 12].

    Features are integers in {-1, 0, 1} (or {-2..2}) or floats rounded to 1/8; theta_O is 0/1;
    theta_A is a hard-flip vector or, unless ``hard``, sigma(Phi^T r_A).
    """
    fd = draw(st.integers(1, 4))
    n = draw(st.integers(fd + 1, max_pairs))
    if integer or draw(st.booleans()):
        vals = st.integers(-2, 2).map(float)
    else:
        vals = st.integers(-24, 24).map(lambda k: k / 8)
    Phi = np.array(draw(st.lists(vals, min_size=fd * n, max_size=fd * n))).reshape(fd, n)
    theta_O = np.array(draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n)))
    use_hard = hard if hard is not None else draw(st.booleans())
    if use_hard:
        flips = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        theta_A = np.where(flips, 1 - theta_O, theta_O)
    else:
        r_A = np.array(draw(st.lists(st.integers(-8, 8).map(lambda k: k / 4), min_size=fd,
                                     max_size=fd)))
        theta_A = sigmoid(Phi.T @ r_A)
    return {"Phi": Phi, "theta_O": theta_O, "theta_A": theta_A, "m": m}


def _inst(inst: Instance) -> PoisoningInstance:
    return PoisoningInstance(inst["Phi"], inst["theta_O"], theta_A=inst["theta_A"],
                             m=int(inst.get("m", 1)))


def _lp(p: PoisoningInstance):
    res = min_cost_poisoning(p)
    if res.status != "optimal":  # theta_A in the box makes zeta = shift feasible
        raise RuntimeError(f"(P1) returned {res.status} on a reachable target: {res.message}")
    return res


def _lp_tol(p: PoisoningInstance) -> float:
    """HiGHS stops at feasibility/optimality tolerance 1e-9 on its scaled LP; unscaling over
    n_pairs columns of size max|Phi| loses at most a factor n_pairs * max|Phi| (100x margin)."""
    return 100 * LP_FEASIBILITY_TOL * p.n_pairs * max(1.0, float(np.abs(p.Phi).max()))


# -- 1. lower bound ----------------------------------------------------------------------------
def _check_lower(inst: Instance) -> Evidence:
    p = _inst(inst)
    lb = projection_lower_bound(p)
    opt = _lp(p).cost
    return Evidence(lb.value, opt, "<=", tol=_lp_tol(p), details={
        "ratio_opt_lb": opt / lb.value if lb.value > 0 else float("nan"),
        "feat_dim": p.feat_dim, "n_pairs": p.n_pairs})


register(Theorem(
    id="poisoning.lower_bound", source=f"{PAPER}, Theorem 2; poisoning notes §1.3",
    statement=r"OPT_{LP}\ge\|\Pi_\Phi\Delta\|_2^2/\|\Pi_\Phi\Delta\|_\infty",
    summary="projection lower bound (an explicit LP dual point) <= the l1 LP optimum",
    instances=poisoning_instances, check=_check_lower))


# -- 1'. upper bound ---------------------------------------------------------------------------
def _check_upper(inst: Instance) -> Evidence:
    p = _inst(inst)
    ub = segment_upper_bound(p)
    th = p.theta_O + ub.zeta
    box_violation = float(max(0.0, -th.min(), th.max() - 1))
    eq_res = float(np.abs(p.Phi @ ub.zeta - p.target).max())
    # An infeasible segment point would not bound OPT: report it as rhs = -inf.
    feas_tol = 64 * EPS * p.n_pairs * max(1.0, float(np.abs(p.Phi).max()))
    rhs = ub.value if box_violation <= feas_tol and eq_res <= 1e3 * feas_tol else -np.inf
    opt = _lp(p).cost
    return Evidence(opt, rhs, "<=", tol=_lp_tol(p), details={
        "ub": ub.value, "best_on_segment": ub.best, "l1_shift": float(np.abs(p.shift).sum()),
        "step": ub.step, "box_violation": box_violation})


register(Theorem(
    id="poisoning.upper_bound", source=f"{PAPER}, Theorem 3 (constants reconstructed, "
                                       "poisoning notes §1.3)",
    statement=r"OPT_{LP}\le\min\{\|\tfrac{\alpha^\ast I+\bar\alpha\Pi_\Phi}"
              r"{\alpha^\ast+\bar\alpha}\Delta\|_1,\|\Delta\|_1\}\le\|\Delta\|_1",
    summary="the l1 LP optimum <= the segment upper bound (a box-feasible primal point)",
    instances=poisoning_instances, check=_check_upper))


# -- 2. post-processing preserves the loss -----------------------------------------------------
@st.composite
def _loss_instances(draw: st.DrawFn) -> Instance:
    inst = draw(poisoning_instances())
    fd = inst["Phi"].shape[0]
    inst["r"] = np.array(draw(st.lists(st.integers(-16, 16).map(lambda k: k / 4),
                                       min_size=fd, max_size=fd)))
    inst["m"] = draw(st.integers(1, 5))
    return inst


def _check_loss(inst: Instance) -> Evidence:
    p = _inst(inst)
    res = _lp(p)
    r = inst["r"]
    # theta_star = theta_O + zeta may leave [0, 1] by the LP's round-off; the loss is linear in
    # theta, so evaluate it there as it is rather than clipping (which would move Phi theta_star)
    l_star = bt_loss(r, p.Phi, res.theta_star, p.m, check_range=False)
    l_A = bt_loss(r, p.Phi, p.theta_A, p.m)
    # |L1 - L2| = m |zeta_res^T Phi^T r| with Phi zeta residual <= LP tol, plus float rounding
    # of the two sums (n_pairs terms of size m (|u| + log 2)).
    u = np.abs(p.Phi.T @ r)
    tol = (p.m * _lp_tol(p) * float(np.abs(r).sum())
           + 8 * EPS * p.n_pairs * p.m * float((u + 1).sum()))
    return Evidence(l_star, l_A, "==", tol=tol, details={"flips_saved":
                                                          p.m * (np.abs(p.shift).sum() - res.cost)})


register(Theorem(
    id="poisoning.post_processing_preserves_loss",
    source=f"{PAPER}, Theorem 1 and PCM; poisoning notes §1.2 (loss identity)",
    statement=r"\Phi\theta^\star=\Phi\theta_A\Rightarrow L(r;\theta^\star)=L(r;\theta_A)"
              r"\ \forall r",
    summary="PCM's proportions give the identical Bradley-Terry loss as the attack's",
    instances=_loss_instances, check=_check_loss,
    proof_checks=("poisoning_loss_difference_identity",), tight=True))


# -- 3. never more flips -----------------------------------------------------------------------
def _check_never_more(inst: Instance) -> Evidence:
    p = _inst(inst)
    return Evidence(_lp(p).flips, p.m * float(np.abs(p.shift).sum()), "<=",
                    tol=p.m * _lp_tol(p))


register(Theorem(
    id="poisoning.never_more_flips", source=f"{PAPER}, PCM; poisoning notes §1.7 item 3",
    statement=r"m\|\zeta^\star\|_1\le m\|\theta_A-\theta_O\|_1",
    summary="PCM never needs more flips than the attack it post-processes",
    instances=poisoning_instances, check=_check_never_more))


# -- 4. vertex sparsity ------------------------------------------------------------------------
def _check_sparsity(inst: Instance) -> Evidence:
    p = _inst(inst)
    frac = fractional_coordinates(_lp(p))
    return Evidence(frac.size, int(np.linalg.matrix_rank(p.Phi)), "<=")


register(Theorem(
    id="poisoning.vertex_sparsity", source=f"{PAPER}; poisoning notes §1.6, §1.7 item 4",
    statement=r"\#\{i:\ \zeta^\star_i\ne0,\ -\theta_{O,i}<\zeta^\star_i<1-\theta_{O,i}\}"
              r"\le\mathrm{rank}(\Phi)",
    summary="a vertex optimum of the l1 LP has at most rank(Phi) fractional coordinates",
    instances=poisoning_instances, check=_check_sparsity))


# -- 5. feature monotonicity -------------------------------------------------------------------
@st.composite
def _extra_row_instances(draw: st.DrawFn) -> Instance:
    inst = draw(poisoning_instances())
    n = inst["Phi"].shape[1]
    inst["extra_row"] = np.array(draw(st.lists(st.integers(-2, 2).map(float), min_size=n,
                                               max_size=n)))
    return inst


def _check_monotone(inst: Instance) -> Evidence:
    p = _inst(inst)
    big = PoisoningInstance(np.vstack([p.Phi, inst["extra_row"]]), p.theta_O,
                            theta_A=p.theta_A)
    return Evidence(_lp(p).cost, _lp(big).cost, "<=", tol=_lp_tol(p) + _lp_tol(big))


register(Theorem(
    id="poisoning.feature_monotonicity", source=f"{PAPER}, Proposition 4 (exact form, "
                                                "poisoning notes §1.3)",
    statement=r"\mathrm{row}(\Phi)\subseteq\mathrm{row}(\Phi')\Rightarrow OPT(\Phi)\le OPT(\Phi')",
    summary="appending a feature row never decreases the minimum poisoning cost",
    instances=_extra_row_instances, check=_check_monotone))


# -- 6. rounding (corrected) and the integer problem -------------------------------------------
def _check_rounding(inst: Instance) -> Evidence:
    p = _inst(inst)
    pp = post_process(p)
    count_excess = pp.rounded_flips - (pp.lp_flips + pp.rank)
    resid_excess = pp.residual - pp.rank_residual_bound
    return Evidence(max(count_excess, resid_excess), 0.0, "<=", tol=p.m * _lp_tol(p), details={
        "rounded_flips": pp.rounded_flips, "lp_flips": pp.lp_flips, "rank": pp.rank,
        "residual": pp.residual, "residual_bound": pp.rank_residual_bound})


@st.composite
def _grid_instances(draw: st.DrawFn) -> Instance:
    inst = draw(poisoning_instances())
    inst["m"] = draw(st.integers(1, 5))
    return inst


register(Theorem(
    id="poisoning.rounding_additive", source="poisoning notes §1.6 (corrected form of the "
                                             "'additive in feat_dim' claim)",
    statement=r"m\|\theta_{round}-\theta_O\|_1\le m\,OPT_{LP}+\mathrm{rank}(\Phi)\ \wedge\ "
              r"\|\Phi(\theta_{round}-\theta_A)\|_2\le\mathrm{rank}(\Phi)\max_i\|\phi_i\|_2/m",
    summary="rounding an LP vertex to m annotations costs <= rank(Phi) extra flips and a "
            "bounded residual",
    instances=_grid_instances, check=_check_rounding))


def _integer_instances() -> st.SearchStrategy:
    return poisoning_instances(integer=True, hard=True, max_pairs=10)


def _check_integer_chain(inst: Instance) -> Evidence:
    p = _inst(inst)
    ip = brute_force_integer(p)
    lb = projection_lower_bound(p).value
    lp = _lp(p).cost
    base = float(np.abs(p.shift).sum())
    # integers are exact; the LP and LB carry the LP tolerance
    worst = max(lb - lp, lp - ip.flips, ip.flips - base)
    return Evidence(worst, 0.0, "<=", tol=_lp_tol(p), details={
        "lb": lb, "opt_lp": lp, "opt_ip": ip.flips, "baseline": base})


register(Theorem(
    id="poisoning.integer_sandwich", source=f"{PAPER}; poisoning notes §1.7 item 6",
    statement=r"LB\le OPT_{LP}\le OPT_{IP}\le k_{flip}\quad(m=1)",
    summary="LB <= LP optimum <= exact integer optimum (brute force) <= baseline flips",
    instances=_integer_instances, check=_check_integer_chain))


def _check_gap(inst: Instance) -> Evidence:
    p = _inst(inst)
    ip = brute_force_integer(p)
    return Evidence(ip.flips - p.m * _lp(p).cost, p.feat_dim, "<=", tol=p.m * _lp_tol(p),
                    details={"opt_ip": ip.flips, "opt_lp_flips": p.m * _lp(p).cost})


register(Theorem(
    id="poisoning.integer_gap_at_most_feat_dim",
    source="naive 'UB - LB <= d' reading (stated by no source); poisoning notes §1.7 item 6",
    statement=r"OPT_{IP}-m\,OPT_{LP}\le n_f",
    summary="naive: the exact integer attack costs at most feat_dim flips more than the LP "
            "(false)",
    instances=_integer_instances, check=_check_gap, expected="violated",
    counterexample="poisoning.integer_gap_at_most_feat_dim.json",
    corrected="poisoning.rounding_additive"))


# -- 7. closed forms ---------------------------------------------------------------------------
def _knapsack_instances() -> st.SearchStrategy:
    return _loss_instances()


def _check_knapsack(inst: Instance) -> Evidence:
    p = _inst(inst)
    a = p.Phi.T @ inst["r"]
    h = float(a @ p.shift)
    kn = knapsack_single_constraint(a, h, -p.theta_O, 1 - p.theta_O)
    n = p.n_pairs
    lp = linprog(np.ones(2 * n), A_eq=np.concatenate([a, -a])[None], b_eq=[h],
                 bounds=[(0, u) for u in 1 - p.theta_O] + [(0, v) for v in p.theta_O],
                 method="highs")
    if lp.status != 0 or kn.status != "optimal":
        raise RuntimeError(f"single-constraint problem: LP {lp.message}, greedy {kn.status}")
    tol = 100 * LP_FEASIBILITY_TOL * n * max(1.0, float(np.abs(a).max()))
    return Evidence(kn.cost, float(lp.fun), "==", tol=tol)


register(Theorem(
    id="poisoning.knapsack_equals_lp", source=f"{PAPER}, Theorem 6; poisoning notes §1.3",
    statement=r"\text{greedy by }|a_i|\ \text{solves}\ \min\|\zeta\|_1\ \text{s.t.}\ "
              r"a^\top\zeta=h,\ -\theta_O\le\zeta\le1-\theta_O",
    summary="the fractional-knapsack closed form equals the single-constraint LP optimum",
    instances=_knapsack_instances, check=_check_knapsack, tight=True))


def _check_adaptive(inst: Instance) -> Evidence:
    p = _inst(inst)
    a = p.Phi.T @ inst["r"]
    kn = knapsack_single_constraint(a, float(a @ p.shift), -p.theta_O, 1 - p.theta_O)
    return Evidence(kn.cost, _lp(p).cost, "<=", tol=_lp_tol(p))


register(Theorem(
    id="poisoning.adaptive_embedding_cheaper", source=f"{PAPER}, Theorem 6; notes §1.3",
    statement=r"a=\Phi^\top r\Rightarrow OPT(a^\top\zeta=a^\top\Delta)"
              r"\le OPT(\Phi\zeta=\Phi\Delta)",
    summary="the single-constraint (adaptive-embedding) attack is never dearer than (P1)",
    instances=_knapsack_instances, check=_check_adaptive))


@st.composite
def _interior_instances(draw: st.DrawFn) -> Instance:
    inst = draw(poisoning_instances(hard=False))
    inst["theta_O"] = np.full(inst["Phi"].shape[1], 0.5)
    return inst


def _proj_in_box(inst: Instance) -> bool:
    p = _inst(inst)
    proj, _ = projected_shift(p)
    return bool(np.all(np.abs(proj) < 0.5 - 1e-6))


def _check_l2(inst: Instance) -> Evidence:
    p = _inst(inst)
    res = min_cost_poisoning(p, "l2")
    proj, _ = projected_shift(p)
    # Clarabel stops at relative accuracy ~1e-8 on the conic problem.
    return Evidence(res.cost, float(np.linalg.norm(proj)), "==", tol=1e-6)


register(Theorem(
    id="poisoning.l2_closed_form", source=f"{PAPER}, Theorem 2 (l2 case); notes §1.3, §1.7 "
                                          "item 7",
    statement=r"\Pi_\Phi\Delta\in\text{box}\Rightarrow OPT_{\ell_2}=\|\Pi_\Phi\Delta\|_2",
    summary="with l2 cost and an interior projection the optimum is the projected shift",
    instances=_interior_instances, check=_check_l2,
    assumptions=(Assumption("projection_in_box", _proj_in_box,
                            "theta_O + Pi_Phi shift lies strictly inside [0, 1]^N"),),
    tight=True))


# -- 8. Gaussian projection mean ---------------------------------------------------------------
@st.composite
def _gaussian_instances(draw: st.DrawFn) -> Instance:
    fd = draw(st.integers(1, 6))
    return {"feat_dim": fd, "n_pairs": draw(st.integers(fd + 1, 40)),
            "draws": 400, "seed": draw(st.integers(0, 2**31 - 1))}


def _check_gaussian(inst: Instance) -> Evidence:
    rng = np.random.default_rng(inst["seed"])
    fd, n, T = inst["feat_dim"], inst["n_pairs"], inst["draws"]
    shift = rng.standard_normal(n)
    ratios = np.empty(T)
    for t in range(T):
        Phi = rng.standard_normal((fd, n))
        q, _ = np.linalg.qr(Phi.T)
        ratios[t] = float(np.sum((q.T @ shift) ** 2) / (shift @ shift))
    k = fd / n
    # the ratio is Beta(fd/2, (n-fd)/2): variance 2 k (1-k) / (n+2); 5 standard errors
    # (two-sided exceedance ~6e-7 by the normal approximation of the mean of 400 draws)
    se = np.sqrt(2 * k * (1 - k) / (n + 2) / T)
    return Evidence(float(ratios.mean()), k, "==", tol=5 * se, details={"se": se})


register(Theorem(
    id="poisoning.gaussian_projection_mean", source=f"{PAPER}, Proposition 4 mechanism; "
                                                    "poisoning notes §1.3, §1.7 item 8",
    statement=r"\Phi_{ij}\sim N(0,1)\Rightarrow E\|\Pi_\Phi\Delta\|_2^2/\|\Delta\|_2^2="
              r"n_f/N",
    summary="for Gaussian features the projected shift keeps a feat_dim/n_pairs share",
    instances=_gaussian_instances, check=_check_gaussian))
