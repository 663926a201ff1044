"""OSIL background bounds: statuses and a perturbed instance that breaks them."""

from __future__ import annotations

import numpy as np
import pytest

import theory.osil  # noqa: F401
from solvers import random_mdp
from theory.falsify import check
from theory.registry import get


@pytest.mark.parametrize("theorem_id", ["osil.pd_lower_bound", "osil.cpo_corollary1_lower_bound"])
def test_search_finds_no_violation(theorem_id):
    res = check(get(theorem_id), examples=25, seed=0)
    assert res.error is None and res.status == "holds" and res.violations == 0


def test_cpo_bound_is_tight_at_the_data_policy_and_breaks_when_lhs_is_lowered():
    mdp = random_mdp(3, 3, 2, gamma=0.9)
    pi = np.random.default_rng(3).dirichlet(np.ones(2), 3)
    inst = {"mdp": mdp, "pi": pi, "pi_u": pi}
    ev = get("osil.cpo_corollary1_lower_bound").check(inst)
    assert ev.holds and abs(ev.slack) < 1e-10
    # the same evidence with J(pi) lowered by 1e-6 is rejected: the tolerance is small
    lowered = type(ev)(ev.lhs - 1e-6, ev.rhs, ev.relation, ev.tol)
    assert not lowered.holds
