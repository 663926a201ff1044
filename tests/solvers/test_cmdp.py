"""Constrained MDPs: occupancy LP against enumeration, duality, vertices, certificates.

Expected numbers come from independent computations: values of the A^S
deterministic policies by direct linear solves (or a hand-written backward
recursion), mixed at the episode level by a separate LP over mixture weights
(notes §2.3: the occupancy polytope is the convex hull of the deterministic
occupancies), or for K = 1 the upper concave envelope of (cost, value) points.

Tolerances: HiGHS solves to feasibility LP_FEASIBILITY_TOL = 1e-9 on its scaled
LP, so optimal values are compared within 1e-8 of the value scale (max |r|, |c|
times 1/(1-gamma) or H): ten times HiGHS's tolerance, and a hundred times tighter
than verify()'s own allowance CMDP_VERIFY_RTOL, so a solver error that verify()
might let through still fails here.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from solvers import ModelError, TabularMDP, evaluate, policy_iteration, random_mdp
from solvers.cmdp import lagrangian_dual, solve_cmdp
from solvers.enumeration import best_episode_mixture, deterministic_policy_values
from solvers.tolerances import LP_FEASIBILITY_TOL

GAMMA = 0.9


def _tol(m: TabularMDP) -> float:
    """Allowance for comparing values: 10 LP_FEASIBILITY_TOL times the value scale."""
    horizon = m.horizon if m.finite_horizon else 1.0 / (1.0 - m.gamma)
    return 10 * LP_FEASIBILITY_TOL * horizon * max(1.0, np.abs(m.r).max(), np.abs(m.costs).max())


def deterministic_points(m: TabularMDP) -> np.ndarray:
    """(n, 1 + K): value and costs of each deterministic (Markov) policy, solved directly."""
    return deterministic_policy_values(m)[1]


best_mixture = best_episode_mixture


def concave_envelope_at(points: np.ndarray, b: float) -> float:
    """K = 1: max of the upper concave envelope of (cost, value) points over costs <= b:
    the best single point with cost <= b, or the best pair mixture with cost exactly b."""
    best = max((v for v, c in points if c <= b), default=-np.inf)
    for (v1, c1), (v2, c2) in itertools.product(points, repeat=2):
        if c1 <= b <= c2:
            theta = 0.0 if c2 == c1 else (b - c1) / (c2 - c1)
            best = max(best, (1 - theta) * v1 + theta * v2)
    return best


@st.composite
def cmdps(draw, horizon: bool = False, max_S: int = 3, max_K: int = 2):
    """A tiny random CMDP and a budget equal to the costs of a random deterministic policy
    plus a random slack in [0, 0.3] (so it is feasible), or sometimes below every cost."""
    seed = draw(st.integers(0, 2**31 - 1))
    S = draw(st.integers(1, max_S if not horizon else 2))
    A = draw(st.integers(2, 3 if not horizon else 2))
    K = draw(st.integers(1, max_K))
    H = draw(st.integers(1, 3)) if horizon else None
    m = random_mdp(seed, S=S, A=A, K=K, horizon=H)
    rng = np.random.default_rng(seed + 1)
    pts = deterministic_points(m)
    b = pts[rng.integers(len(pts)), 1:] + rng.uniform(0, 0.3, size=K)
    return m, b, pts


def _count_randomising(d: np.ndarray) -> int:
    """sum over (t,)s with positive occupancy of (#actions with positive occupancy - 1).

    'Positive' means above 1e-10, HiGHS's feasibility resolution (LP_FEASIBILITY_TOL = 1e-9)."""
    support = (d > 1e-10).sum(axis=-1)
    return int(np.maximum(support - 1, 0).sum())


@given(cmdps())
def test_lp_optimum_equals_best_mixture_of_deterministic_policies(inst):
    m, b, pts = inst
    res = solve_cmdp(m, b)
    expected = best_mixture(pts, b)
    assert res.status == "optimal" and expected is not None
    assert res.value == pytest.approx(expected, abs=_tol(m))
    assert np.all(res.cost_values <= b + _tol(m))


@given(cmdps(max_K=1))
def test_lp_optimum_equals_concave_envelope_for_one_constraint(inst):
    m, b, pts = inst
    res = solve_cmdp(m, b)
    assert res.status == "optimal"
    assert res.value == pytest.approx(concave_envelope_at(pts, b[0]), abs=_tol(m))


@given(cmdps(horizon=True))
def test_finite_horizon_lp_equals_best_mixture_of_deterministic_markov_policies(inst):
    m, b, pts = inst
    res = solve_cmdp(m, b)
    assert res.status == "optimal"
    assert res.pi.shape == (m.horizon, m.S, m.A)
    assert res.value == pytest.approx(best_mixture(pts, b), abs=_tol(m))


@given(st.one_of(cmdps(), cmdps(horizon=True)))
def test_evaluating_extracted_policy_reproduces_value_and_costs(inst):
    m, b, _ = inst
    res = solve_cmdp(m, b)
    assert res.status == "optimal"
    ev = evaluate(m, res.pi)
    assert ev.value == pytest.approx(res.value, abs=_tol(m))
    np.testing.assert_allclose(ev.cost_values, res.cost_values, atol=_tol(m), rtol=0)


@given(st.one_of(cmdps(), cmdps(horizon=True)), st.lists(st.floats(0, 20), min_size=2, max_size=2))
def test_weak_duality_lagrangian_dual_bounds_value(inst, lam):
    m, b, _ = inst
    res = solve_cmdp(m, b)
    assert res.status == "optimal"
    assert lagrangian_dual(m, b, np.array(lam[: m.K])) >= res.value - _tol(m)


@given(st.one_of(cmdps(), cmdps(horizon=True)))
def test_strong_duality_and_complementary_slackness_at_lp_multipliers(inst):
    m, b, _ = inst
    res = solve_cmdp(m, b)
    assert res.status == "optimal" and np.all(res.lam >= 0)
    # D(lam*) by policy iteration (independent of the LP) equals the LP value
    assert lagrangian_dual(m, b, res.lam) == pytest.approx(res.value, abs=_tol(m))
    slack = res.lam * (b - res.cost_values)
    np.testing.assert_allclose(slack, 0, atol=_tol(m) * (1 + res.lam.sum()))


@given(st.one_of(cmdps(), cmdps(horizon=True)))
def test_lp_optimum_randomizes_in_at_most_K_states(inst):
    m, b, _ = inst
    res = solve_cmdp(m, b)  # dual simplex: a vertex
    assert res.status == "optimal"
    assert _count_randomising(res.d) <= m.K


def test_lp_optimum_randomizes_in_at_most_K_states_on_larger_models():
    for seed in range(20):
        m = random_mdp(seed, S=8, A=3, K=1 + seed % 3)
        rng = np.random.default_rng(seed)
        lo = np.array([-policy_iteration(TabularMDP(m.P, -c, m.mu0, gamma=m.gamma)).value
                       for c in m.costs])
        hi = np.array([policy_iteration(TabularMDP(m.P, c, m.mu0, gamma=m.gamma)).value
                       for c in m.costs])
        res = solve_cmdp(m, lo + rng.uniform(0.3, 0.6, m.K) * (hi - lo))
        if res.status == "optimal":
            assert _count_randomising(res.d) <= m.K


@given(st.one_of(cmdps(), cmdps(horizon=True)))
def test_lp_and_cvxpy_agree(inst):
    m, b, _ = inst
    a, c = solve_cmdp(m, b, method="lp"), solve_cmdp(m, b, method="cvxpy")
    assert a.status == c.status == "optimal"
    assert c.value == pytest.approx(a.value, abs=_tol(m))
    assert c.verify().ok


@given(st.one_of(cmdps(), cmdps(horizon=True)), st.floats(0.01, 1.0))
def test_budget_below_min_cost_is_infeasible_with_certificate(inst, gap):
    m, _, pts = inst
    k = 0
    min_cost = -policy_iteration(  # independent: DP on reward -c_k
        TabularMDP(m.P, -m.costs[k], m.mu0, **({"horizon": m.horizon} if m.finite_horizon
                                                 else {"gamma": m.gamma}))).value
    assert min_cost == pytest.approx(pts[:, 1 + k].min(), abs=_tol(m))
    b = pts[:, 1:].max(axis=0) + 1.0
    b[k] = min_cost - gap
    res = solve_cmdp(m, b)
    assert res.status == "infeasible" and res.value != res.value  # nan
    cert = res.infeasibility
    assert np.all(cert.weights >= 0) and cert.weights.sum() == pytest.approx(1.0)
    assert cert.min_weighted_cost > cert.weighted_budget
    if m.K == 1:
        assert cert.min_weighted_cost == pytest.approx(min_cost, abs=_tol(m))
        assert cert.min_weighted_cost > b[0]
    assert res.verify().ok
    assert solve_cmdp(m, b, method="cvxpy").status == "infeasible"


@given(st.one_of(cmdps(max_S=3), cmdps(horizon=True)))
def test_verify_passes_on_solutions_in_float_and_exact_arithmetic(inst):
    m, b, _ = inst
    res = solve_cmdp(m, b)
    assert res.verify().ok, res.verify().message
    cert = res.verify(exact=True)
    assert cert.ok and cert.exact, cert.message
    assert cert.duality_gap <= cert.tolerance


@pytest.mark.parametrize("field, change", [
    ("value", lambda r: r.value + 1e-3),
    ("lam", lambda r: r.lam + 0.1),
    ("lam", lambda r: np.zeros_like(r.lam)),
    ("v", lambda r: r.v * 0.99),
    ("d", lambda r: r.d * 1.01),
    ("cost_values", lambda r: r.cost_values - 1e-3),
])
@pytest.mark.parametrize("horizon", [None, 3])
def test_verify_fails_on_tampered_result(field, change, horizon):
    m = random_mdp(3, S=3, A=2, K=1, horizon=horizon)
    pts = deterministic_points(m)
    # halfway between the least cost and the cost of the unconstrained optimum: the budget binds
    b = np.array([0.5 * (pts[:, 1].min() + pts[np.argmax(pts[:, 0]), 1])])
    res = solve_cmdp(m, b)
    assert res.status == "optimal" and res.lam[0] > 0.01  # the budget binds
    bad = dataclasses.replace(res, **{field: change(res)})
    assert not bad.verify().ok
    assert not bad.verify(exact=True).ok


def test_verify_reports_a_nan_residual_instead_of_hiding_it():
    # max(0, nan) is 0 in Python: a NaN value vector must still fail, and show as NaN
    m = random_mdp(3, S=3, A=2, K=1)
    res = solve_cmdp(m, np.array([1e6]))
    v = res.v.copy()
    v[0] = np.nan
    cert = dataclasses.replace(res, v=v).verify()
    assert not cert.ok and np.isnan(cert.dual_infeasibility)
    d = res.d.copy()
    d[0, 0] = np.nan
    cert = dataclasses.replace(res, d=d).verify()
    assert not cert.ok and np.isnan(cert.negativity)


def test_verify_fails_on_tampered_infeasibility_certificate():
    m = random_mdp(4, S=3, A=2, K=2)
    res = solve_cmdp(m, [0.0, 100.0])
    assert res.status == "infeasible"
    fake = dataclasses.replace(res.infeasibility, weights=np.array([0.0, 1.0]))
    assert not dataclasses.replace(res, infeasibility=fake).verify().ok


def test_sparse_and_dense_models_give_the_same_solution():
    m = random_mdp(5, S=4, A=2, K=2)
    ms = TabularMDP(sp.csr_array(m.dense_P().reshape(8, 4)), m.r, m.mu0, gamma=m.gamma,
                    costs=m.costs)
    b = deterministic_points(m)[3, 1:] + 0.1
    a, s = solve_cmdp(m, b), solve_cmdp(ms, b)
    assert a.status == s.status == "optimal"
    assert s.value == pytest.approx(a.value, abs=_tol(m)) and s.verify().ok


def test_bad_inputs_raise_model_error_naming_the_field():
    m = random_mdp(0, S=2, A=2, K=2)
    cases = [
        (random_mdp(0, S=2, A=2, K=0), [1.0], "costs"),
        (m, [1.0], "thresholds"),
        (m, [[1.0, 2.0]], "thresholds"),
        (m, [1.0, np.nan], "thresholds"),
        (m, [1.0, np.inf], "thresholds"),
        (m, ["a", "b"], "thresholds"),
    ]
    for model, b, name in cases:
        with pytest.raises(ModelError) as exc:
            solve_cmdp(model, b)
        assert exc.value.field == name and name in str(exc.value)
    with pytest.raises(ModelError, match="method") as exc:
        solve_cmdp(m, [1.0, 1.0], method="simplex")
    with pytest.raises(ModelError, match="lam"):
        lagrangian_dual(m, [1.0, 1.0], [-1.0, 0.0])
    with pytest.raises(ModelError, match="lam"):
        lagrangian_dual(m, [1.0, 1.0], [1.0])


# -- verify() through the sparse kernel -------------------------------------------------------
def _dense_residuals(res) -> dict[str, float]:
    """The verify() residuals recomputed here with the dense (S, A, S) kernel, in float."""
    m = res.mdp
    P, lam_c = m.dense_P(), np.tensordot(res.lam, m.costs, axes=1)
    d, v = res.d, res.v
    if m.finite_horizon:
        H = m.horizon
        inflow = [m.mu0] + [np.einsum("sa,sat->t", d[t], P) for t in range(H - 1)]
        flow = max(np.abs(d[t].sum(axis=1) - inflow[t]).max() for t in range(H))
        v_next = [*v[1:], np.zeros(m.S)]
        rc = np.stack([m.r - lam_c + P @ v_next[t] - v[t][:, None] for t in range(H)])
        primal, costs = float((d * m.r).sum()), np.einsum("tsa,ksa->k", d, m.costs)
        dual, cs = float(m.mu0 @ v[0] + res.lam @ res.thresholds), np.abs(d * rc).max()
    else:
        g = m.gamma
        flow = np.abs(d.sum(axis=1) - (1 - g) * m.mu0 - g * np.einsum("sa,sat->t", d, P)).max()
        rc = m.r - lam_c + g * P @ v - v[:, None]
        primal = float((d * m.r).sum()) / (1 - g)
        costs = np.einsum("sa,ksa->k", d, m.costs) / (1 - g)
        dual, cs = float(m.mu0 @ v + res.lam @ res.thresholds), np.abs(d * rc).max() / (1 - g)
    return {"flow_residual": flow, "dual_infeasibility": max(0.0, rc.max()),
            "duality_gap": abs(primal - dual),
            "complementary_slackness": max(cs, np.abs(res.lam * (res.thresholds - costs)).max()),
            "constraint_violation": max(0.0, (costs - res.thresholds).max())}


@pytest.mark.parametrize("horizon", [None, 3])
def test_sparse_verify_residuals_equal_a_dense_recomputation(horizon):
    """On a tampered solution (macroscopic residuals) sparse, dense and exact paths agree."""
    m = random_mdp(7, S=5, A=3, K=2, horizon=horizon)
    b = evaluate(m, np.full((m.S, m.A), 1 / m.A)).cost_values  # the uniform policy meets b
    res = solve_cmdp(m, b)
    assert res.status == "optimal"
    rng = np.random.default_rng(0)
    bad = dataclasses.replace(res, d=np.abs(res.d + 1e-3 * rng.random(res.d.shape)),
                              v=res.v - 1e-2 * rng.random(res.v.shape), lam=0.9 * res.lam)
    ms = TabularMDP(sp.csr_array(m.dense_P().reshape(m.S * m.A, m.S)), m.r, m.mu0,
                    gamma=None if horizon else m.gamma, horizon=horizon, costs=m.costs)
    assert ms.is_sparse and not m.is_sparse
    want = _dense_residuals(bad)
    assert want["dual_infeasibility"] > 1e-3 and want["flow_residual"] > 1e-4
    for cert in (bad.verify(), dataclasses.replace(bad, mdp=ms).verify(),
                 bad.verify(exact=True)):
        assert not cert.ok
        for name, x in want.items():
            # float sums of <= S*A = 15 terms of size <= ~H/(1-gamma): rounding ~1e-14
            assert getattr(cert, name) == pytest.approx(x, rel=1e-9, abs=1e-12), name
    assert res.verify().ok and dataclasses.replace(res, mdp=ms).verify().ok


def test_verify_never_densifies_a_large_sparse_model():
    """S = 5000, A = 10: a dense P would take 2 GB; verify() stays within a few MB."""
    import tracemalloc
    m = random_mdp(0, S=5000, A=10, K=1, successors=5, gamma=0.95)
    top = evaluate(m, policy_iteration(TabularMDP(m.P, m.r, m.mu0, gamma=m.gamma)).pi)
    cmin = -policy_iteration(TabularMDP(m.P, -m.costs[0], m.mu0, gamma=m.gamma)).value
    res = solve_cmdp(m, [0.5 * (float(top.cost_values[0]) + cmin)], method="flip")
    assert res.status == "optimal"
    tracemalloc.start()
    try:
        cert = res.verify()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cert.ok, cert.message
    assert peak < 50e6  # P has 250k nonzeros (3 MB); d, r, rc are (5000, 10) (0.4 MB each)
    assert not dataclasses.replace(res, lam=res.lam * 1.01).verify().ok
    # a shift of v by 1e-3 moves the dual objective by 1e-3 > tolerance (~1.2e-4)
    assert not dataclasses.replace(res, v=res.v + 1e-3).verify().ok
