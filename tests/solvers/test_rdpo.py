"""rDPO: robust loss = BT at effective proportions; the existence LP and its certificates."""

from __future__ import annotations

import numpy as np
import pytest

from solvers.bt_fit import _loss
from solvers.errors import ModelError
from solvers.rdpo import (
    effective_proportions,
    minimise_rdpo,
    rdpo_existence,
    rdpo_loss,
    robust_pair_loss,
)


def test_robust_loss_is_bt_at_the_effective_proportions():
    rng = np.random.default_rng(0)
    Phi, r = rng.standard_normal((3, 7)), rng.standard_normal(3)
    theta = rng.integers(0, 5, 7) / 4
    for eps in (0.0, 0.1, 0.3):
        tt = effective_proportions(theta, eps)
        assert rdpo_loss(r, Phi, theta, eps, 4) == pytest.approx(
            _loss(r, Phi, tt, np.full(7, 4.0)), rel=1e-12)


def test_eps_zero_gives_the_plain_logistic_loss():
    u = np.linspace(-5, 5, 11)
    assert np.allclose(robust_pair_loss(u, 0.0), np.logaddexp(0, -u))


def test_one_pair_hard_label_has_no_minimiser_and_the_loss_is_unbounded_below():
    res = rdpo_existence(np.array([[1.0]]), np.array([1.0]), 0.1)
    assert res.status == "no_minimiser" and res.depth == pytest.approx(-0.125)
    cert = res.verify()
    assert cert.ok and cert.slope == pytest.approx(-0.125)
    assert rdpo_loss(1e3 * res.u, np.array([[1.0]]), np.array([1.0]), 0.1) < -100
    assert minimise_rdpo(np.array([[1.0]]), np.array([1.0]), 0.1).status == "unbounded"


def test_soft_labels_inside_the_cube_have_a_minimiser_with_zero_gradient():
    Phi = np.array([[1.0, 2.0, -1.0]])
    theta = np.array([0.5, 0.75, 0.25])
    res = rdpo_existence(Phi, theta, 0.1, 4)
    assert res.status == "exists" and res.verify().ok
    assert abs(res.depth - res.dual_value) < 1e-8          # strong duality
    assert minimise_rdpo(Phi, theta, 0.1, 4).status == "bounded"


def test_many_pairs_can_rescue_hard_labels():
    # theta_tilde outside [0,1], but Phi M theta_tilde = 0 lies inside the zonotope
    Phi = np.array([[1.0, -1.0]])
    res = rdpo_existence(Phi, np.array([1.0, 1.0]), 0.2)
    assert res.status == "exists" and np.all(res.theta_tilde > 1)


def test_a_tampered_certificate_does_not_verify():
    res = rdpo_existence(np.array([[1.0]]), np.array([1.0]), 0.1)
    bad = type(res)(res.status, res.depth, res.dual_value, res.p, -res.u, res.theta_tilde,
                    res.Phi, res.counts)
    assert not bad.verify().ok


def test_exact_verification_proves_both_outcomes_and_rejects_a_tampered_direction():
    hard = rdpo_existence(np.array([[1.0]]), np.array([1.0]), 0.0)   # boundary: slope 0
    assert hard.status == "no_minimiser" and hard.verify(exact=True).exact_ok
    soft = rdpo_existence(np.array([[1.0, 2.0, -1.0], [0.0, 1.0, 1.0]]),
                          np.array([0.5, 0.75, 0.25]), 0.1, 4)
    assert soft.status == "exists" and soft.verify(exact=True).exact_ok
    bad = type(hard)(hard.status, hard.depth, hard.dual_value, hard.p, -hard.u,
                     hard.theta_tilde, hard.Phi, hard.counts)
    assert not bad.verify(exact=True).exact_ok
    fake = type(soft)(soft.status, soft.depth, soft.dual_value, soft.p + 2.0, soft.u,
                      soft.theta_tilde, soft.Phi, soft.counts)       # p outside the cube
    assert not fake.verify(exact=True).exact_ok


@pytest.mark.parametrize("eps", [-0.1, 0.5, 0.7, np.nan])
def test_bad_flip_rate_is_rejected(eps):
    with pytest.raises(ModelError) as info:
        effective_proportions(np.array([0.5]), eps)
    assert info.value.field == "eps"


def test_bad_proportions_are_rejected():
    with pytest.raises(ModelError) as info:
        rdpo_existence(np.array([[1.0]]), np.array([1.5]), 0.1)
    assert info.value.field == "theta"
