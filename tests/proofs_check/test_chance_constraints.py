"""The chance-constraint proof checks pass, and the same machinery rejects wrong variants."""

from __future__ import annotations

import itertools

import sympy as sp

from proofs_check import checks, identity_check, run
from proofs_check.chance_constraints import (
    HORIZON,
    STATES,
    _by_augmented_recursion,
    _by_enumeration,
    symbolic_flag_model,
)

NAMES = ("augmented_chain_violation_identity", "boole_inequality_two_events")


def test_both_chance_constraint_checks_are_registered_and_pass_with_zero_residual():
    assert set(NAMES) <= set(checks())
    for name in NAMES:
        result = run(name)
        assert result.passed is True
        assert set(result.residual_str) <= set("0[], ")


def test_augmented_identity_covers_every_nonempty_unsafe_set_with_two_entries_each():
    result = run("augmented_chain_violation_identity")
    assert result.residual.shape == (2 * (2 ** len(STATES) - 1), 1)


def test_boole_slack_is_the_intersection_mass_and_nonnegative():
    result = run("boole_inequality_two_events")
    assert result.details["slack"] == "q_1"
    assert result.details["slack_nonnegative"] is True
    assert "le" in result.details["inequality"]


def test_counting_every_unsafe_visit_is_not_the_violation_probability():
    # Wrong identity: Pr(exists t: s_t in U) = E[sum_t 1{s_t in U}] (the Boole sum).
    # It over-counts trajectories that visit U more than once, so the residual is nonzero.
    P, pi, mu0 = symbolic_flag_model()
    U = frozenset({1})
    enum = _by_enumeration(P, pi, mu0, U)
    rho, count = dict(mu0), mu0[1]
    for _ in range(HORIZON):
        rho = {s2: sum(rho[s] * pi[s][a] * P[s, a][s2] for s in STATES for a in (0, 1))
               for s2 in STATES}
        count += rho[1]
    wrong = identity_check("wrong_violation_equals_visit_count", "", enum, count,
                           simplify=sp.expand)
    assert wrong.passed is False
    assert wrong.residual != 0
    # at every symbol = 1/3 the over-count E[count] - Pr is strictly positive
    values = {sym: sp.Rational(1, 3) for sym in wrong.residual.free_symbols}
    assert wrong.residual.subs(values) < 0


def test_flag_that_forgets_an_initial_violation_fails():
    # Wrong augmentation: f_0 = 0 always (s_0 in U not counted) gives a nonzero residual
    # whose value is the mass of trajectories unsafe only at t = 0.
    P, pi, mu0 = symbolic_flag_model()
    U = frozenset({0})
    enum = _by_enumeration(P, pi, mu0, U)
    _flag, cost = _by_augmented_recursion(P, pi, mu0, U)
    wrong = identity_check("wrong_no_initial_flag", "", enum, cost - mu0[0],
                           simplify=sp.expand)
    assert wrong.passed is False
    assert sp.expand(wrong.residual - mu0[0]) == 0


def test_a_wrong_inclusion_exclusion_fails():
    q1, q2, q3 = sp.symbols("q_1 q_2 q_3", nonnegative=True)
    p_a, p_b, p_and, p_or = q1 + q2, q1 + q3, q1, q1 + q2 + q3
    wrong = identity_check("wrong_union", "", p_or, p_a + p_b)  # forgets - Pr(A and B)
    assert wrong.passed is False
    assert wrong.residual == -p_and


def test_enumeration_counts_all_trajectories():
    P, pi, mu0 = symbolic_flag_model()
    everything = _by_enumeration(P, pi, mu0, frozenset(STATES))
    assert sp.expand(everything - 1) == 0  # probabilities of all 27 * 4 paths sum to 1
    assert len(list(itertools.product(STATES, repeat=HORIZON + 1))) == 27
