"""Bradley-Terry loss, ridge reward fit, log-linear DPO fit and the same-effect check."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from solvers.bt_fit import (
    bt_gradient,
    bt_loss,
    dpo_pair_features,
    fit_dpo,
    fit_reward,
    same_effect_fit,
)
from solvers.errors import ModelError


def _data(seed=0, f=3, n=8):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((f, n)), rng.uniform(size=n), rng.standard_normal(f)


def test_proportion_form_equals_the_sum_over_individual_labels():
    Phi, _, r = _data()
    m = 4
    k = np.array([0, 1, 2, 3, 4, 2, 1, 3])
    per_label = sum(-np.log(1 / (1 + np.exp(-(Phi[:, i] @ r)))) * k[i]
                    - np.log(1 / (1 + np.exp(Phi[:, i] @ r))) * (m - k[i]) for i in range(8))
    assert bt_loss(r, Phi, k / m, m) == pytest.approx(per_label, rel=1e-12)


def test_gradient_matches_central_differences():
    Phi, theta, r = _data(1)
    h = 1e-6
    fd = [(bt_loss(r + h * e, Phi, theta, 2) - bt_loss(r - h * e, Phi, theta, 2)) / (2 * h)
          for e in np.eye(3)]
    assert np.allclose(bt_gradient(r, Phi, theta, 2), fd, atol=1e-7)


def test_ridge_fit_agrees_with_bfgs_and_its_certificate_bounds_the_distance():
    Phi, theta, _ = _data(2)
    fit = fit_reward(Phi, theta, 5, ridge=1e-2)
    assert fit.status == "optimal"
    ref = minimize(lambda r: bt_loss(r, Phi, theta, 5) + 5e-3 * r @ r, np.zeros(3),
                   jac=lambda r: bt_gradient(r, Phi, theta, 5) + 1e-2 * r, method="BFGS",
                   options={"gtol": 1e-11})
    # BFGS stops at gradient 1e-11, i.e. within 1e-9 of r* (strong convexity 1e-2)
    assert np.linalg.norm(fit.r - ref.x) <= fit.distance_bound + 1e-11 / 1e-2 + 1e-12


def test_dpo_fit_is_the_reward_fit_rescaled_by_tau():
    rng = np.random.default_rng(3)
    feats = rng.standard_normal((2, 3, 3))
    log_ref = np.log(rng.dirichlet(np.ones(3), size=2))
    pairs = np.array([[0, 0, 1], [0, 1, 2], [1, 0, 2], [1, 2, 1], [0, 2, 0]])
    theta = np.array([1.0, 0.4, 0.8, 0.0, 0.6])
    tau, rho = 0.5, 0.1
    dpo = fit_dpo(feats, log_ref, pairs, theta, 2, tau=tau, ridge=rho)
    rew = fit_reward(dpo_pair_features(feats, pairs), theta, 2, ridge=rho / tau ** 2)
    assert dpo.status == rew.status == "optimal"
    assert np.linalg.norm(tau * dpo.r - rew.r) <= tau * dpo.distance_bound + rew.distance_bound


def test_same_phi_theta_gives_the_same_fit_and_a_different_one_does_not():
    Phi, theta, _ = _data(4, f=2, n=6)
    v = np.linalg.svd(Phi)[2][-1]              # in the null space of Phi
    step = min(theta.min(), 1 - theta.max()) / np.abs(v).max()
    theta_p = theta + 0.9 * step * v
    same = same_effect_fit(Phi, theta, theta_p, 3)
    assert same.premise < 1e-12 and same.same and same.distance < 1e-8
    other = same_effect_fit(Phi, theta, np.clip(theta + 0.3, 0, 1), 3)
    assert other.premise > 0.1 and other.distance > 1e-3  # a real change moves the reward
    assert not other.same and other.distance <= other.distance_bound


@pytest.mark.parametrize("field, kwargs", [
    ("theta", {"theta": np.array([0.5, 1.2])}),
    ("Phi", {"Phi": np.array([[np.nan, 1.0]])}),
    ("m", {"m": 0}),
    ("ridge", {"ridge": 0.0}),
])
def test_bad_input_raises_model_error_naming_the_field(field, kwargs):
    args = {"Phi": np.array([[1.0, -1.0]]), "theta": np.array([0.5, 0.5]), "m": 1,
            "ridge": 1e-2} | kwargs
    with pytest.raises(ModelError) as info:
        fit_reward(args["Phi"], args["theta"], args["m"], args["ridge"])
    assert info.value.field == field


def test_bt_loss_checks_the_range_unless_told_theta_is_any_real():
    Phi, theta, r = _data(5)
    bad = theta.copy()
    bad[2], bad[5] = 1 + 1e-12, -0.25      # LP round-off; an rDPO effective proportion
    with pytest.raises(ModelError) as err:
        bt_loss(r, Phi, bad, 2)
    assert err.value.field == "theta"
    # the proportion form is linear in theta: compare with the formula written out
    u = Phi.T @ r
    direct = 2 * np.sum(np.log1p(np.exp(u)) - bad * u)
    assert bt_loss(r, Phi, bad, 2, check_range=False) == pytest.approx(direct, rel=1e-12)
    for wrong in (np.append(theta, 0.5), np.where(np.arange(8) == 0, np.nan, theta)):
        with pytest.raises(ModelError) as err:
            bt_loss(r, Phi, wrong, 2, check_range=False)
        assert err.value.field == "theta"
