"""rDPO theorems: unbiasedness and the corrected existence hold; the naive one is a finding."""

from __future__ import annotations

import numpy as np

import theory.rdpo
from solvers.rdpo import RdpoCertificate
from theory.falsify import check, load_counterexample
from theory.registry import get


def test_unbiasedness_and_corrected_existence_hold_on_the_search():
    for tid in ("rdpo.unbiased", "rdpo.existence_corrected"):
        res = check(get(tid), examples=25, seed=0)
        assert res.error is None and res.status == "holds" and res.violations == 0, tid


def test_naive_existence_is_violated_by_its_stored_one_pair_counterexample():
    t = get("rdpo.existence")
    res = check(t, examples=25, seed=0)
    assert res.status == "violated" and res.as_expected
    _, inst = load_counterexample(t.counterexample_path())
    ev = t.check(inst)
    assert not ev.holds and inst["Phi"].shape == (1, 1)
    assert ev.details["loss_t100"] < ev.details["loss_t10"] < ev.details["loss_t1"]
    assert t.corrected == "rdpo.existence_corrected"


def test_unbiasedness_fails_when_the_loss_assumes_the_wrong_flip_rate():
    t = get("rdpo.unbiased")
    inst = {"Phi": np.array([[1.0, -2.0]]), "theta": np.array([0.5, 1.0]), "m": 2,
            "eps": 0.2, "r": np.array([0.7])}
    ev = t.check(inst)
    assert ev.holds and ev.tol < 1e-12
    clean = ev.rhs
    mismatched, _ = theory.rdpo._expected_robust_loss(inst, loss_eps=0.25)
    assert abs(mismatched - clean) > 1e3 * ev.tol  # the check's tolerance would catch it


def test_corrected_existence_agrees_on_an_exact_boundary_instance():
    t = get("rdpo.existence_corrected")
    # theta_tilde = 1 exactly (eps = 0, hard label): boundary, no minimiser; both sides agree
    ev = t.check({"Phi": np.array([[1.0]]), "theta": np.array([1.0]), "m": 1, "eps": 0.0,
                  "r": np.array([0.0])})
    assert ev.holds and ev.lhs == 0.0 and ev.details["ray_descends"]


def test_corrected_existence_catches_a_wrong_lp_decision(monkeypatch):
    from solvers.rdpo import rdpo_existence

    def flipped(*args, **kwargs):
        res = rdpo_existence(*args, **kwargs)
        status = "no_minimiser" if res.status == "exists" else "exists"
        return type(res)(status, res.depth, res.dual_value, res.p, res.u, res.theta_tilde,
                         res.Phi, res.counts)

    monkeypatch.setattr(theory.rdpo, "rdpo_existence", flipped)
    monkeypatch.setattr(type(rdpo_existence(np.eye(1), np.ones(1), 0.0)), "verify",
                        lambda self: RdpoCertificate(ok=True, primal_residual=0.0,
                                                     primal_depth=0.0, dual_norm1=1.0,
                                                     slope=0.0, gap=0.0, tolerance=0.0))
    t = get("rdpo.existence_corrected")
    soft = {"Phi": np.array([[1.0, 2.0]]), "theta": np.array([0.5, 0.25]), "m": 4,
            "eps": 0.1, "r": np.array([0.0])}
    hard = {"Phi": np.array([[1.0]]), "theta": np.array([1.0]), "m": 1, "eps": 0.1,
            "r": np.array([0.0])}
    assert not t.check(soft).holds  # ray along the (meaningless) dual direction fails
    assert not t.check(hard).holds  # the ridge path runs off to infinity
