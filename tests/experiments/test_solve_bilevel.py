"""print_bilevel: the printed F is the leader value computed independently (soft value iteration
and a rollout sum), the printed gradients are the exact forms and finite differences, they agree,
and a wrong form or wrong finite difference turns the verdict to DISAGREE."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

import experiments.solve_bilevel as sb
from solvers import load_instance
from solvers.bilevel_instance import BilevelInstance
from solvers.configurable_mdp import ConfigurableMDP, LinearReward, SoftmaxKernel
from solvers.hypergradient import BilevelPoint, FiniteDifference
from solvers.soft_dp import soft_value_iteration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bilevel_small.json"


def _softmax_instance() -> tuple[ConfigurableMDP, np.ndarray]:
    rng = np.random.default_rng(3)
    S, A, n = 4, 2, 3
    m = ConfigurableMDP(LinearReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n))),
                        LinearReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n))),
                        SoftmaxKernel(rng.normal(size=(S, A, S)), rng.normal(size=(S, A, S, n))),
                        rng.dirichlet(np.ones(S)), 0.85, 0.75, 0.6, n)
    return m, rng.normal(size=n) / 2


def _independent_F(model: ConfigurableMDP, x: np.ndarray) -> float:
    """Leader value by soft *value* iteration (not the solver's policy iteration) and a
    forward rollout of the state distribution (no linear solve): sum_t gamma_U^t E[r_U]."""
    d = model.at(x)
    pi = soft_value_iteration(d["follower"], model.tau, 1e-12).require().pi
    P, r = d["leader"].dense_P(), d["leader"].r
    dist, F = np.asarray(model.mu0, float).copy(), 0.0
    for t in range(300):  # gamma_U <= 0.8: 0.8^300 ~ 1e-29
        F += model.gamma_U ** t * float(np.einsum("s,sa,sa->", dist, pi, r))
        dist = np.einsum("s,sa,sak->k", dist, pi, P)
    return F


def _run(model, x) -> tuple[str, dict]:
    buf = io.StringIO()
    out = sb.print_bilevel(model, x, buf)
    return buf.getvalue(), out


@pytest.mark.parametrize("which", ["example", "softmax"])
def test_printed_objective_and_gradients_are_right_and_agree(which):
    if which == "example":
        inst = load_instance(EXAMPLE)
        model, x = inst.model, inst.x
    else:
        model, x = _softmax_instance()
    text, out = _run(model, x)
    F = float(re.search(r"F\(x\) = (\S+)", text).group(1))
    # |F - F_indep| <= certified bound (~1e-11) + soft VI error 1e-12 * 2 max|Q_U| /
    # (tau (1 - gamma_U)) + rollout truncation ~1e-29: 1e-9 is a safe ceiling.
    assert abs(F - _independent_F(model, x)) <= max(out["F_error_bound"], 1e-9)
    assert F == out["F"]
    for key in ("implicit", "bc", "score", "finite_difference"):
        assert len(out["gradients"][key]) == model.n
    g = np.array(out["gradients"]["implicit"])
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("implicit ("))
    printed = np.array([float(t) for t in re.search(r"\[(.*)\]", line).group(1).split(",")])
    assert np.allclose(printed, g, rtol=1e-11, atol=0)  # printed to 12 significant digits
    assert out["exact_agree"] and out["fd_agree"]
    assert max(v for k, v in out["disagreement"].items() if "finite" not in k) < 1e-12
    assert max(out["disagreement"].values()) < 1e-6
    assert "verdict: AGREE" in text
    assert len(out["disagreement"]) == 6 and all(k in text for k in out["disagreement"])


def test_a_wrong_exact_form_is_reported_as_disagreement(monkeypatch):
    real = BilevelPoint.gradient

    def skewed(self, method="bc"):
        g = real(self, method)
        return g * 1.001 if method == "score" else g

    monkeypatch.setattr(BilevelPoint, "gradient", skewed)
    inst = load_instance(EXAMPLE)
    text, out = _run(inst.model, inst.x)
    assert not out["exact_agree"]
    assert "verdict: DISAGREE: the exact forms differ" in text


def test_a_wrong_finite_difference_is_reported_as_disagreement(monkeypatch):
    real = sb.finite_difference_hypergradient

    def off(model, x):
        fd = real(model, x)
        return FiniteDifference(fd.grad + 1e-4, fd.h, fd.truncation, fd.rounding)

    monkeypatch.setattr(sb, "finite_difference_hypergradient", off)
    inst = load_instance(EXAMPLE)
    text, out = _run(inst.model, inst.x)
    assert out["exact_agree"] and not out["fd_agree"]
    assert "finite differences differ from the implicit form" in text


def test_summary_of_the_registered_instance_type_matches_print_bilevel():
    inst = load_instance(EXAMPLE)
    assert isinstance(inst, BilevelInstance)
    out = sb.solve_bilevel(inst)
    buf = io.StringIO()
    sb.print_bilevel_summary(out, buf)
    assert buf.getvalue() == _run(inst.model, inst.x)[0]
