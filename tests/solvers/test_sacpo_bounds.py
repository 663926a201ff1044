"""SACPO Theorems 2 and 3 in the estimated-model setting: exact sides, the §4.9 numbers."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given

from solvers.errors import ModelError
from solvers.kl_bandit import KLBandit
from solvers.sacpo_bounds import SacpoEstimate, sacpo_bounds, uncertainty_gamma
from theory.sacpo_bounds import bounds_of, estimate_instances, thm3_counterexample


def test_counterexample_numbers_of_the_notes_by_plain_arithmetic():
    """LHS 0.879, printed RHS 0.257, pre-Chebyshev 38.36, from math only (not the solver)."""
    lam = math.log(9.0) - 2.147  # pi* = (0.1, 0.9) solves G(pi*) = b = -0.1 in closed form
    p_star = (0.1, 0.9)
    h_hat = (-2.147, -6.0)  # r_hat + lam_hat g_hat with g_hat = 0
    w = [0.5 * math.exp(h) for h in h_hat]
    pi_hat = [x / sum(w) for x in w]
    lhs = max(0.0, -0.1 - (pi_hat[0] * -1.0))
    U_r, U_g = (1e-3, 6.0), (1.0, 1e-6)
    gam = [U_r[i] + lam * U_g[i] for i in range(2)]  # alpha = 1, lam_hat = lam
    rhs = sum(p_star[i] * U_g[i] * math.exp(2 * gam[i]) for i in range(2))
    pre = sum(p_star[i] * math.exp(gam[i]) for i in range(2)) * \
        sum(p_star[i] * U_g[i] * math.exp(gam[i]) for i in range(2))
    assert (round(lhs, 3), round(rhs, 3), round(pre, 2)) == (0.879, 0.257, 38.36)
    bd = bounds_of(thm3_counterexample())
    assert bd.thm3_applies and bd.hat_safety == 0.0
    assert bd.lam_star == pytest.approx(lam, abs=1e-12)
    assert bd.thm3_lhs == pytest.approx(lhs, rel=1e-12)
    assert bd.thm3_rhs == pytest.approx(rhs, rel=1e-12)
    assert bd.thm3_rhs_pre == pytest.approx(pre, rel=1e-12)
    assert bd.thm3_lhs > bd.thm3_rhs and bd.thm3_lhs <= bd.thm3_rhs_pre


@given(estimate_instances())
def test_sides_match_an_independent_loop_over_prompts_and_responses(inst):
    bd = bounds_of(inst)
    mu0, beta, b = inst["mu0"], inst["beta"], inst["b"]
    S, A = inst["r"].shape
    est = SacpoEstimate(*(inst[k] for k in ("r_hat", "g_hat", "U_r", "U_g", "alpha",
                                            "lam_hat", "B")))
    gl, g0 = uncertainty_gamma(est, bd.lam_star), uncertainty_gamma(est, 0.0)
    if (gl / beta).max() > 300:  # the plain loop would overflow; the log-domain code does not
        return
    ps, ph = bd.pi_star, bd.pi_hat
    rhs3 = inst["alpha"] * sum(mu0[s] * ps[s, a] * inst["U_g"][s, a] * math.exp(2 * gl[s, a]
                               / beta) for s in range(S) for a in range(A))
    e1 = [sum(ps[s, a] * math.exp(gl[s, a] / beta) for a in range(A)) for s in range(S)]
    pre2 = -bd.lam_star * b + sum(mu0[s] * e1[s] * sum(
        ps[s, a] * g0[s, a] * math.exp(gl[s, a] / beta) for a in range(A)) for s in range(S)) \
        + beta * math.log(sum(mu0[s] * e1[s] for s in range(S)))
    G_hat = sum(mu0[s] * ph[s, a] * inst["g"][s, a] for s in range(S) for a in range(A))
    assert bd.thm3_rhs == pytest.approx(rhs3, rel=1e-9)
    assert bd.thm2_rhs_pre == pytest.approx(pre2, rel=1e-9, abs=1e-9)
    assert bd.thm3_lhs == pytest.approx(max(0.0, b - G_hat), abs=1e-12)


@given(estimate_instances())
def test_pre_chebyshev_forms_hold_on_generated_instances(inst):
    bd = bounds_of(inst)
    assert bd.thm2_lhs <= bd.thm2_rhs_pre + 1e-9 * max(1.0, abs(bd.thm2_lhs))
    if bd.thm3_applies:
        assert bd.thm3_lhs <= bd.thm3_rhs_pre + 1e-9 * max(1.0, bd.thm3_lhs)


def test_estimates_outside_the_band_are_rejected():
    inst = thm3_counterexample()
    p = KLBandit(*(inst[k] for k in ("mu0", "pi_ref", "r", "g", "beta", "b")))
    est = SacpoEstimate(np.array([[-2.147, -6.5]]), inst["g_hat"], inst["U_r"], inst["U_g"],
                        1.0, inst["lam_hat"], 6.0)
    with pytest.raises(ModelError) as exc:
        sacpo_bounds(p, est)
    assert exc.value.field == "r_hat"


def test_chebyshev_step_fails_exactly_when_e_and_h_e_are_oppositely_ordered():
    # Rational arithmetic, two equally likely responses, X = e^{Gamma/beta}, Y = h X:
    # E[X]E[Y] - E[XY] = -(x1 - x2)(y1 - y2)/4 (minus the covariance). Lemma 16 needs it <= 0.
    def gap(x, h):
        y = [hi * xi for hi, xi in zip(h, x, strict=True)]
        return (x[0] + x[1]) / 2 * (y[0] + y[1]) / 2 - (x[0] * y[0] + x[1] * y[1]) / 2

    x = (Fraction(3), Fraction(1))
    assert gap(x, (Fraction(2), Fraction(1))) == -(x[0] - x[1]) * (6 - 1) / 4 < 0
    assert gap(x, (Fraction(1), Fraction(10))) == -(x[0] - x[1]) * (3 - 10) / 4 > 0


@pytest.mark.parametrize(("kw", "field"), [
    ({"alpha": 0.0}, "alpha"), ({"lam_hat": -1.0}, "lam_hat"), ({"B": -1.0}, "B"),
    ({"U_r": np.array([[-1.0, 1.0]])}, "U_r"), ({"U_g": np.array([[1.0]])}, "U_g"),
    ({"B": 0.0, "g_hat": np.array([[1.0, 0.0]])}, "B"),
])
def test_bad_estimates_raise_model_error(kw, field):
    base = {"r_hat": np.zeros((1, 2)), "g_hat": np.zeros((1, 2)), "U_r": np.ones((1, 2)),
            "U_g": np.ones((1, 2)), "alpha": 1.0, "lam_hat": 0.0, "B": 1.0}
    with pytest.raises(ModelError) as exc:
        SacpoEstimate(**{**base, **kw})
    assert exc.value.field == field


def test_infeasible_true_problem_is_refused():
    p = KLBandit([1.0], [[0.5, 0.5]], [[0.0, 0.0]], [[0.0, 1.0]], 1.0, 2.0)
    est = SacpoEstimate(np.zeros((1, 2)), np.array([[0.0, 1.0]]), np.ones((1, 2)),
                        np.ones((1, 2)), 1.0, 0.0, 1.0)
    with pytest.raises(ModelError, match="infeasible"):
        sacpo_bounds(p, est)
