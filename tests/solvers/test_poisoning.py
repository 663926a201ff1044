"""The l1/l2/linf minimum-cost poisoning programs: validation, optimality certificates
(float and exact), infeasibility with a Farkas vector, and the bounds of Theorems 2, 3, 6."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given
from scipy.optimize import linprog

from solvers.bt_fit import bt_loss
from solvers.errors import ModelError
from solvers.poisoning import (
    PoisoningCertificate,
    PoisoningInstance,
    PoisoningResult,
    dual_objective,
    min_cost_poisoning,
    sigmoid,
)
from solvers.poisoning_bounds import (
    knapsack_single_constraint,
    projection_lower_bound,
    segment_upper_bound,
)
from theory.poisoning import poisoning_instances


def _instance(seed=0, fd=3, n=12, m=1, hard=False):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((fd, n))
    theta_O = np.ones(n)
    if hard:
        theta_A = theta_O.copy()
        theta_A[rng.choice(n, n // 3, replace=False)] = 0.0
        return PoisoningInstance(Phi, theta_O, theta_A=theta_A, m=m)
    return PoisoningInstance(Phi, theta_O, r_A=rng.standard_normal(fd), m=m)


def _inst(d):
    return PoisoningInstance(d["Phi"], d["theta_O"], theta_A=d["theta_A"], m=d["m"])


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, field", [
    ({"theta_O": np.array([0.5, 1.2, 0.0])}, "theta_O"),
    ({"theta_A": np.array([0.5, -0.1, 0.0])}, "theta_A"),
    ({"Phi": np.array([[1.0, np.nan, 0.0]])}, "Phi"),
    ({"Phi": np.ones(3)}, "Phi"),
    ({"theta_O": np.ones(4)}, "theta_O"),
    ({"m": 0}, "m"),
    ({"m": 2.5}, "m"),
    ({"r_A": np.ones(1)}, "theta_A"),  # both theta_A and r_A given
])
def test_bad_instances_are_rejected_naming_the_field(kwargs, field):
    base = {"Phi": np.array([[1.0, 2.0, -1.0]]), "theta_O": np.ones(3),
            "theta_A": np.array([1.0, 0.0, 1.0])}
    base.update(kwargs)
    with pytest.raises(ModelError) as err:
        PoisoningInstance(**base)
    assert err.value.field == field


def test_r_A_gives_the_bradley_terry_target_and_is_read_only():
    inst = _instance(1)
    np.testing.assert_allclose(inst.theta_A, 1 / (1 + np.exp(-(inst.Phi.T @ inst.r_A))))
    with pytest.raises(ValueError):
        inst.Phi[0, 0] = 1.0
    assert sigmoid(np.array([-800.0]))[0] == 0.0 and sigmoid(np.array([800.0]))[0] == 1.0


def test_bt_loss_matches_the_cross_entropy_form():
    rng = np.random.default_rng(3)
    Phi, theta, r = rng.standard_normal((2, 6)), rng.random(6), rng.standard_normal(2)
    u = Phi.T @ r
    direct = -np.sum(3 * (theta * np.log(sigmoid(u)) + (1 - theta) * np.log(sigmoid(-u))))
    assert bt_loss(r, Phi, theta, 3) == pytest.approx(direct, rel=1e-12)


# -- l1 LP: optimality certificates ----------------------------------------------------------
@given(poisoning_instances())
def test_l1_vertex_is_certified_in_floats_and_exactly_in_rationals(d):
    res = min_cost_poisoning(_inst(d))
    assert res.status == "optimal"
    v = res.verify()
    assert isinstance(v, PoisoningCertificate) and v.ok and not v.exact, v.message
    assert v.primal_residual <= v.tolerance and v.dual_residual <= v.tolerance
    assert abs(v.gap) <= v.tolerance and v.lower_bound == dual_objective(res.instance,
                                                                          res.duals["lam"])
    ex = res.verify(exact=True)
    ev = ex.exact_vertex
    assert ex.ok and ex.exact and ev.gap == 0 and ev.feasible, ex.message
    assert isinstance(ev.gap, Fraction) and ex.certified_gap == 0
    assert float(ev.cost) == pytest.approx(res.cost, abs=1e-9)


@given(poisoning_instances())
def test_l1_optimum_matches_an_independent_cvxpy_solve(d):
    inst = _inst(d)
    z = cp.Variable(inst.n_pairs)
    prob = cp.Problem(cp.Minimize(cp.norm1(z)), [inst.Phi @ z == inst.target,
                                                 z >= -inst.theta_O, z <= 1 - inst.theta_O])
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal"
    # Clarabel's default relative accuracy is ~1e-8 on problems of this scale.
    assert min_cost_poisoning(inst).cost == pytest.approx(prob.value, abs=1e-6)


def test_a_perturbed_solution_or_dual_fails_verification():
    res = min_cost_poisoning(_instance(4))
    assert res.verify().ok and res.verify(exact=True).ok
    z = res.zeta.copy()
    z[np.argmax(np.abs(z))] *= 0.9
    bad = PoisoningResult(res.instance, "optimal", "l1", float(np.abs(z).sum()), z,
                          res.instance.theta_O + z, res.flips, res.duals)
    assert not bad.verify().ok and "FAILED" in bad.verify().message
    assert not bad.verify(exact=True).ok and "FAILED" in bad.verify(exact=True).message
    duals = dict(res.duals, lam=res.duals["lam"] * 0.5)
    bad_dual = PoisoningResult(res.instance, "optimal", "l1", res.cost, res.zeta,
                               res.theta_star, res.flips, duals)
    assert bad_dual.verify().gap > 1e-3 and not bad_dual.verify().ok


def test_certificate_is_frozen_and_serialises_to_json():
    res = min_cost_poisoning(_instance(4))
    ex = res.verify(exact=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ex.ok = False
    d = json.loads(json.dumps(ex.to_json()))
    assert d["ok"] and d["exact"] and d["exact_gap"] == 0.0 and d["farkas_margin"] is None
    assert d["exact_feasible"] and d["deviation"] <= 1e-7
    # the float dual value equals the float cost to the verification tolerance
    assert d["lower_bound"] == pytest.approx(res.cost, abs=d["tolerance"])
    plain = res.verify().to_json()
    assert "exact_gap" not in plain and plain["ok"] and not plain["exact"]


def test_dual_objective_is_a_lower_bound_for_every_lambda():
    inst = _instance(5, hard=True)
    opt = min_cost_poisoning(inst).cost
    rng = np.random.default_rng(0)
    for _ in range(200):
        assert dual_objective(inst, rng.standard_normal(inst.feat_dim) * 3) <= opt + 1e-9


def test_flips_count_m_annotations_and_theta_star_reaches_the_target():
    res = min_cost_poisoning(_instance(6, m=5))
    assert res.flips == pytest.approx(5 * np.abs(res.zeta).sum())
    np.testing.assert_allclose(res.instance.Phi @ res.theta_star,
                               res.instance.Phi @ res.instance.theta_A, atol=1e-9)


# -- infeasible target and feat_dim >= n_pairs ------------------------------------------------
def test_unreachable_target_is_infeasible_with_a_farkas_certificate():
    Phi = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, -1.0]])
    inst = PoisoningInstance(Phi, np.zeros(3), target_moment=np.array([3.5, 0.0]))
    res = min_cost_poisoning(inst)
    assert res.status == "infeasible" and res.zeta is None
    cert = res.verify()
    assert cert.ok and cert.status == "infeasible" and cert.farkas_margin > cert.tolerance
    assert np.isnan(cert.primal_residual) and np.isnan(cert.gap)
    ex = res.verify(exact=True)
    assert ex.ok and ex.exact and ex.farkas_margin > 0 and isinstance(ex.farkas_margin, Fraction)
    # the margin by hand: y = (1, 0) gives b^T y = 3.5 and max_theta y^T Phi theta = 3
    y = np.array([1.0, 0.0])
    far = dataclasses.replace(res, farkas=y).verify(exact=True)
    assert far.ok and far.farkas_margin == Fraction(1, 2)
    # a vector that does not separate (y = (0, 1): margin 0 - 1) is not a certificate
    assert not dataclasses.replace(res, farkas=np.array([0.0, 1.0])).verify().ok
    assert not dataclasses.replace(res, farkas=np.array([0.0, 1.0])).verify(exact=True).ok
    # a reachable moment (3 = all labels flipped) is feasible
    ok = min_cost_poisoning(PoisoningInstance(Phi, np.zeros(3),
                                              target_moment=np.array([3.0, 0.0])))
    assert ok.status == "optimal" and ok.cost == pytest.approx(3.0)


def test_feat_dim_at_least_n_pairs_means_no_saving():
    rng = np.random.default_rng(7)
    Phi = rng.standard_normal((5, 4))
    inst = PoisoningInstance(Phi, np.ones(4), theta_A=np.array([0.0, 1.0, 0.3, 0.0]))
    res = min_cost_poisoning(inst)
    assert res.no_saving_possible
    np.testing.assert_allclose(res.zeta, inst.shift, atol=1e-9)
    assert not min_cost_poisoning(_instance(0)).no_saving_possible


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_conic_norms_are_feasible_and_not_above_the_shift(norm):
    inst = _instance(8)
    res = min_cost_poisoning(inst, norm)
    cert = res.verify()
    assert res.status == "optimal" and cert.ok and cert.norm == norm and np.isnan(cert.gap)
    ordn = 2 if norm == "l2" else np.inf
    assert res.cost <= np.linalg.norm(inst.shift, ordn) + 1e-7
    assert projection_lower_bound(inst, norm).value <= res.cost + 1e-6
    with pytest.raises(ValueError):
        res.verify(exact=True)


def test_unknown_norm_is_rejected():
    with pytest.raises(ModelError):
        min_cost_poisoning(_instance(0), "l3")


# -- bounds -------------------------------------------------------------------------------------
@given(poisoning_instances())
def test_lower_bound_is_the_dual_value_of_its_point_and_bounds_are_ordered(d):
    inst = _inst(d)
    lb, ub = projection_lower_bound(inst), segment_upper_bound(inst)
    opt = min_cost_poisoning(inst).cost
    assert dual_objective(inst, lb.lam) == pytest.approx(lb.value, abs=1e-9)
    if lb.value > 0:
        assert np.abs(inst.Phi.T @ lb.lam).max() == pytest.approx(1.0)
    tol = 1e-7
    assert lb.value <= opt + tol <= ub.best + 2 * tol
    assert ub.best <= ub.value + 1e-12 <= np.abs(inst.shift).sum() + 2e-12
    for z in (ub.zeta, ub.best_zeta):
        th = inst.theta_O + z
        assert th.min() >= -1e-12 and th.max() <= 1 + 1e-12
        np.testing.assert_allclose(inst.Phi @ z, inst.target, atol=1e-8)


def test_hard_flip_target_collapses_the_segment_bound_to_the_shift():
    inst = _instance(9, hard=True)
    ub = segment_upper_bound(inst)
    assert ub.alpha_bar == 0 and ub.step == 0 and ub.value == pytest.approx(
        np.abs(inst.shift).sum())


def test_a_wrong_lower_bound_point_is_caught():
    inst = _instance(10)
    lb = projection_lower_bound(inst)
    # doubling the point leaves the box penalty nonzero: its dual value is no longer the LB
    assert dual_objective(inst, 2 * lb.lam) < 2 * lb.value - 1e-6


def test_knapsack_matches_the_lp_and_reports_infeasibility():
    rng = np.random.default_rng(11)
    for _ in range(50):
        n = 8
        a, lo, hi = rng.standard_normal(n), -rng.random(n), rng.random(n)
        h = float(a @ (lo + (hi - lo) * rng.random(n)))
        kn = knapsack_single_constraint(a, h, lo, hi)
        lp = linprog(np.ones(2 * n), A_eq=np.concatenate([a, -a])[None], b_eq=[h],
                     bounds=[(0, u) for u in hi] + [(0, -v) for v in lo], method="highs")
        assert kn.cost == pytest.approx(lp.fun, abs=1e-9)
        assert a @ kn.zeta == pytest.approx(h, abs=1e-9)
    far = knapsack_single_constraint(np.ones(3), 10.0, -np.ones(3), np.ones(3))
    assert far.status == "infeasible" and far.reach == 3.0
    with pytest.raises(ModelError):
        knapsack_single_constraint(np.ones(2), 1.0, np.array([0.1, 0.0]), np.ones(2))


# -- column generation ---------------------------------------------------------------------------
def test_column_generation_matches_the_full_lp_and_certifies_on_the_full_problem():
    from solvers.poisoning import COLGEN_MIN_PAIRS
    from solvers.poisoning_attacks import random_flips

    rng = np.random.default_rng(12)
    n = COLGEN_MIN_PAIRS + 1000
    Phi = rng.standard_normal((8, n))
    inst = PoisoningInstance(Phi, np.ones(n), theta_A=random_flips(np.ones(n), n // 20, rng))
    auto = min_cost_poisoning(inst)
    assert "column generation" in auto.message
    direct = min_cost_poisoning(inst, method="direct")
    assert "column generation" not in direct.message
    assert auto.cost == pytest.approx(direct.cost, rel=1e-9)
    check = auto.verify()  # residuals over all n pairs, not only the working set
    assert check.ok and check.dual_residual <= 1e-9
    # a vertex: at most rank(Phi) = 8 coordinates strictly inside the box
    z = auto.zeta
    assert np.sum((np.abs(z) > 1e-7) & (np.abs(z + 1) > 1e-7)) <= 8


def test_column_generation_needs_a_target_vector_and_methods_are_checked():
    Phi = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, -1.0]])
    inst = PoisoningInstance(Phi, np.zeros(3), target_moment=np.array([1.0, 0.0]))
    with pytest.raises(ModelError):
        min_cost_poisoning(inst, method="colgen")
    with pytest.raises(ModelError):
        min_cost_poisoning(inst, method="simplex")
    small = _instance(13, hard=True)
    a = min_cost_poisoning(small, method="colgen")
    assert a.cost == pytest.approx(min_cost_poisoning(small, method="direct").cost, abs=1e-9)
    assert a.verify(exact=True).ok
