"""Every registered proof check passes, and the machinery can fail on a wrong identity."""

from __future__ import annotations

import json

import pytest
import sympy as sp

import proofs_check
from proofs_check import ProofCheck, Registry, checks, identity_check, run, run_all
from proofs_check.two_state import ACTIONS, STATES, two_state_mdp

CITED_BY_THEORY = ("discounted_constant_reward_geometric_series",
                   "performance_difference_two_state")


@pytest.mark.parametrize("name", checks())
def test_every_registered_check_passes_with_an_exactly_zero_residual(name):
    result = run(name)
    assert isinstance(result, ProofCheck)
    assert result.name == name
    assert result.passed is True
    assert proofs_check.is_exact_zero(result.residual)
    assert set(result.residual_str) <= set("0[], ")
    assert result.statement and result.details["relation"] == "=="
    # the docstring states the identity and cites its source
    doc = proofs_check.REGISTRY.get(name).__doc__
    assert "References" in doc and "math::" in doc


def test_check_names_are_unique_sorted_and_include_the_cited_ones():
    names = checks()
    assert list(names) == sorted(set(names))
    assert set(CITED_BY_THEORY) <= set(names)
    assert {"occupancy_flow_constraints", "bellman_contraction_two_state"} <= set(names)


def test_run_all_returns_every_check_in_name_order():
    results = run_all()
    assert [r.name for r in results] == list(checks())
    assert all(r.passed for r in results)


def test_every_proof_check_cited_by_a_theorem_is_registered():
    theory = pytest.importorskip("theory")
    cited = {n for t in theory.registry() for n in t.proof_checks}
    assert cited <= set(checks()), f"unregistered: {sorted(cited - set(checks()))}"


def test_to_json_is_plain_json_with_the_four_fields():
    out = run("performance_difference_two_state").to_json()
    assert set(out) == {"name", "statement", "residual", "passed"}
    assert json.loads(json.dumps(out)) == out
    assert out["residual"] == "0" and out["passed"] is True


# -- the machinery can fail -----------------------------------------------------------
def test_a_wrong_geometric_series_fails_with_a_nonzero_residual():
    gamma = sp.Symbol("gamma", positive=True)
    c = sp.Symbol("c", real=True)
    t = sp.Symbol("t", integer=True, nonnegative=True)
    wrong = identity_check("wrong_geometric_series", r"\sum_t\gamma^t c=c/(1+\gamma)",
                           sp.summation(gamma**t * c, (t, 0, sp.oo)), c / (1 + gamma),
                           assume=sp.Q.lt(gamma, 1))
    assert wrong.passed is False
    assert wrong.residual != 0
    # c/(1-gamma) - c/(1+gamma) = 2 c gamma / (1 - gamma^2)
    assert sp.cancel(wrong.residual - 2 * c * gamma / (1 - gamma**2)) == 0
    assert wrong.to_json()["passed"] is False


def test_a_geometric_series_without_the_convergence_assumption_does_not_pass():
    gamma, c = sp.Symbol("gamma", positive=True), sp.Symbol("c", real=True)
    t = sp.Symbol("t", integer=True, nonnegative=True)
    unresolved = identity_check("no_assumption", "", sp.summation(gamma**t * c, (t, 0, sp.oo)),
                                c / (1 - gamma))
    assert unresolved.passed is False  # the Piecewise divergence branch is still there


def test_a_performance_difference_with_the_wrong_advantage_fails():
    M = two_state_mdp()
    pi = M.policy("pi")
    lhs = M.initial_value(M.value(pi)) - M.initial_value(M.value(M.policy("pi'")))
    d, adv = M.occupancy(pi), M.advantage(pi)  # A^pi instead of A^pi'
    rhs = sum(d[s, a] * adv[s, a] for s in STATES for a in ACTIONS) / (1 - M.gamma)
    wrong = identity_check("wrong_pdl", "", M.to_sympy(lhs), M.to_sympy(rhs))
    assert wrong.passed is False
    assert wrong.residual != 0
    assert M.to_sympy(rhs) == 0  # E_{d^pi}[A^pi] = 0, so the 'identity' claims V^pi = V^pi'


def test_flow_constraints_fail_for_an_occupancy_from_the_untransposed_solve():
    M = two_state_mdp()
    pi = M.policy("pi")
    Pp = M.P_pi(pi)
    # wrong: (1 - gamma) (I - gamma P_pi)^{-1} mu0 instead of the transposed system
    g = M.gamma
    det = (1 - g * Pp[0][0]) * (1 - g * Pp[1][1]) - g**2 * Pp[0][1] * Pp[1][0]
    m0, m1 = M.mu0(0), M.mu0(1)
    ds = ((1 - g) * ((1 - g * Pp[1][1]) * m0 + g * Pp[0][1] * m1) / det,
          (1 - g) * ((1 - g * Pp[0][0]) * m1 + g * Pp[1][0] * m0) / det)
    lhs = [ds[t] for t in STATES]
    rhs = [(1 - g) * M.mu0(t) + g * sum(M.P(s, a, t) * ds[s] * pi[s, a]
                                        for s in STATES for a in ACTIONS) for t in STATES]
    wrong = identity_check("wrong_flow", "", M.to_sympy(lhs), M.to_sympy(rhs))
    assert wrong.passed is False
    assert any(entry != 0 for entry in wrong.residual)


def test_an_identity_check_cannot_claim_to_pass_with_a_nonzero_residual():
    x = sp.Symbol("x")
    with pytest.raises(ValueError, match="residual"):
        ProofCheck(name="liar", statement="x = 0", residual=x, passed=True)
    with pytest.raises(ValueError, match="residual"):
        ProofCheck(name="modest", statement="0 = 0", residual=sp.S.Zero, passed=False)


def test_identity_check_rejects_sides_of_different_shapes():
    with pytest.raises(ValueError, match="shape"):
        identity_check("mismatch", "", [1, 2], [1, 2, 3])


def test_a_mutable_matrix_residual_is_frozen_and_printed_on_one_line():
    result = ProofCheck(name="v", statement="", residual=sp.Matrix([0, 0]), passed=True)
    assert isinstance(result.residual, sp.ImmutableMatrix)
    assert result.residual_str == "[0, 0]"
    hash(result)


# -- the registry ---------------------------------------------------------------------
def test_run_of_an_unknown_name_raises_key_error_listing_the_known_names():
    with pytest.raises(KeyError, match="no proof check 'no_such_check'") as info:
        run("no_such_check")
    for name in checks():
        assert name in str(info.value)


def test_registering_a_name_twice_raises_value_error():
    reg = Registry()

    @reg.register("one")
    def first() -> ProofCheck:
        return ProofCheck("one", "1 = 1", sp.S.Zero, True)

    with pytest.raises(ValueError, match="registered twice"):
        reg.register("one")(lambda: ProofCheck("one", "1 = 1", sp.S.Zero, True))
    with pytest.raises(ValueError, match="registered twice"):
        proofs_check.register(checks()[0])(first)
    assert reg.checks() == ("one",)


def test_a_check_must_return_a_proof_check_under_its_own_name():
    reg = Registry()
    reg.register("a")(lambda: ProofCheck("b", "", sp.S.Zero, True))
    with pytest.raises(TypeError, match="named 'a'"):
        reg.run("a")
