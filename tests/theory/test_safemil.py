"""SafeMIL theorems: statuses, exactness, and an assumption that matters."""

from __future__ import annotations

import pytest

import theory.safemil  # noqa: F401
from theory.falsify import check
from theory.registry import get


@pytest.mark.parametrize("theorem_id", ["safemil.lemma1_bag_probability",
                                        "safemil.thm1_score_order"])
def test_search_finds_no_violation(theorem_id):
    res = check(get(theorem_id), examples=25, seed=0)
    assert res.error is None and res.status == "holds" and res.violations == 0
    assert res.instances >= 20


def test_checks_are_exact_rational_equalities():
    ev = get("safemil.thm1_score_order").check(
        {"alpha_num": 1, "alpha_den": 3, "n_bag": 5, "cost_nonpref": 4,
         "costs_pref": [1, 3], "weights_pref": [1, 2]})
    assert ev.details["exact_equal"] and ev.tol == 0.0 and ev.holds


def test_thm1_fails_without_the_separation_assumption():
    t = get("safemil.thm1_score_order")
    inst = {"alpha_num": 1, "alpha_den": 2, "n_bag": 3, "cost_nonpref": 4,
            "costs_pref": [6], "weights_pref": [1]}
    assert t.failed_assumptions(inst) == ["preferred_below_nonpreferred"]
    assert not t.check(inst).holds  # preferred costs above C_N: the order flips
