"""Configurable MDP parameterisations: Jacobians against complex-step derivatives, validation."""

from __future__ import annotations

import numpy as np
import pytest

from solvers.configurable_mdp import (
    ConfigurableMDP,
    FixedKernel,
    LinearReward,
    SoftmaxKernel,
    TanhReward,
    incentive_table,
)
from solvers.errors import ModelError

rng = np.random.default_rng(0)
S, A, n = 3, 2, 2


def _complex_step(f, x):
    h = 1e-30
    return np.stack([f(x + 1j * h * np.eye(x.size)[i]).imag / h for i in range(x.size)], -1)


def model(**kw) -> ConfigurableMDP:
    args = dict(r_F=TanhReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n))),
                r_U=LinearReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n))),
                kernel=SoftmaxKernel(rng.normal(size=(S, A, S)), rng.normal(size=(S, A, S, n))),
                mu0=np.ones(S) / S, gamma_F=0.9, gamma_U=0.8, tau=0.5, n=n)
    args.update(kw)
    return ConfigurableMDP(**args)


def test_jacobians_match_complex_step_derivatives():
    x = rng.normal(size=n)
    rF = TanhReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n)), scale=2.0)
    assert np.abs(rF.jacobian(x) - _complex_step(rF.value, x)).max() < 1e-13
    sup = rng.random((S, A, S)) < 0.7
    sup[..., 0] = True
    kern = SoftmaxKernel(rng.normal(size=(S, A, S)), rng.normal(size=(S, A, S, n)), sup)

    def P(z):  # complex-safe softmax on the support
        logits = np.where(sup, kern.logits + kern.Psi @ z, -np.inf)
        e = np.where(sup, np.exp(logits - logits.real.max(axis=2, keepdims=True)), 0)
        return e / e.sum(axis=2, keepdims=True)

    assert np.abs(kern.jacobian(x) - _complex_step(P, x)).max() < 1e-13
    assert np.allclose(kern.value(x).sum(axis=2), 1) and (kern.value(x)[~sup] == 0).all()


def test_incentive_table_puts_one_parameter_on_each_marked_pair():
    sup = np.array([[True, False], [False, True], [False, False]])
    r = incentive_table(np.zeros((S, A)), sup, scale=-0.2)
    assert r.n == 2
    assert np.array_equal(r.value(np.array([1.0, 2.0])), [[-0.2, 0], [0, -0.4], [0, 0]])
    with pytest.raises(ModelError, match="support"):
        incentive_table(np.zeros((S, A)), np.zeros((S, A), bool))


def test_at_returns_follower_and_leader_models_with_their_discounts():
    m = model()
    d = m.at(np.zeros(n))
    assert d["follower"].gamma == 0.9 and d["leader"].gamma == 0.8
    assert d["J_P"].shape == (S, A, S, n) and d["J_rF"].shape == (S, A, n)
    assert model(kernel=FixedKernel(np.ones((S, A, S)) / S)).at(np.zeros(n))["J_P"] is None


class _WrongShape(LinearReward):
    def jacobian(self, x):
        return self.Phi[..., :1]


def test_jacobian_of_the_wrong_shape_is_rejected_naming_it():
    bad = _WrongShape(np.zeros((S, A)), np.ones((S, A, n)))
    with pytest.raises(ModelError) as err:
        model(r_U=bad)
    assert err.value.field == "J_rU"


@pytest.mark.parametrize("field,value", [("gamma_F", 1.0), ("gamma_U", -0.1), ("tau", 0.0),
                                         ("n", 0)])
def test_bad_discount_temperature_or_dimension_is_rejected(field, value):
    with pytest.raises(ModelError) as err:
        model(**{field: value})
    assert err.value.field == field


def test_bad_x_is_rejected():
    with pytest.raises(ModelError) as err:
        model().at(np.zeros(n + 1))
    assert err.value.field == "x"
