"""The generic suite: every registered theorem is run by hypothesis (cf. parametrize_with_checks).

A theorem expected to hold must hold on every generated instance; a theorem
registered as violated must be violated by its stored counterexample.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, target

from theory import get, load_counterexample, registry

THEOREMS = registry()


@pytest.mark.parametrize("theorem", THEOREMS, ids=lambda t: t.id)
def test_registered_theorem_behaves_as_declared(theorem):
    if theorem.expected == "violated":
        tid, inst = load_counterexample(theorem.counterexample_path())
        assert tid == theorem.id
        assert theorem.failed_assumptions(inst) == []
        assert not theorem.check(inst).holds
        return

    @given(theorem.instances())
    def holds_on_every_instance(inst):
        for a in theorem.assumptions:
            assume(a.predicate(inst))
        ev = theorem.check(inst)
        target(min(-ev.margin, 1e300), label="-margin")  # seek the tightest instance
        assert ev.holds, (f"{theorem.id}: {ev.lhs!r} {ev.relation} {ev.rhs!r} fails "
                          f"(slack {ev.slack:.3g}, tol {ev.tol:.3g})")

    holds_on_every_instance()


@pytest.mark.parametrize("theorem", THEOREMS, ids=lambda t: t.id)
def test_theorem_metadata_is_complete(theorem):
    # ids follow the notes verbatim (some contain a capital K)
    assert re.fullmatch(r"[a-z0-9_]+(\.[A-Za-z0-9_]+)+", theorem.id)
    assert theorem.source and theorem.statement and theorem.summary
    assert "\n" not in theorem.summary
    if theorem.expected == "violated":
        assert theorem.counterexample_path().is_file()


def test_cited_proof_checks_exist():
    import proofs_check
    known = set(proofs_check.checks())
    for theorem in THEOREMS:
        assert set(theorem.proof_checks) <= known, theorem.id


def test_registry_is_sorted_and_lookup_works():
    ids = [t.id for t in THEOREMS]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert get(ids[0]) is THEOREMS[0]
    with pytest.raises(KeyError, match="no theorem"):
        get("mdp.no_such_theorem")


def test_classical_theorems_are_registered():
    ids = {t.id for t in THEOREMS}
    assert {"mdp.value_equals_occupancy", "mdp.value_iteration_contraction",
            "mdp.performance_difference", "mdp.policy_iteration_bellman_optimal"} <= ids
