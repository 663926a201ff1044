"""The two CCMDP figures: flip_fig2c_envelope and cliffwalking_ccmdp."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from experiments.figures import cliffwalking_ccmdp as cw
from experiments.figures import flip_fig2c_envelope as env
from solvers.ccmdp_solve import solve_ccmdp


def test_envelope_quick_writes_files_and_j_mix_dominates_j_det(tmp_path):
    paths = env.run({**env.FIGURE.quick_config, "seed": 0}, tmp_path)
    assert {"png", "pdf", "csv"} <= set(paths) and all(p.exists() for p in paths.values())
    rows = list(csv.DictReader(open(paths["csv"])))
    det = {r["delta"]: float(r["value"]) for r in rows if r["kind"] == "j_det"}
    mix = {r["delta"]: float(r["value"]) for r in rows if r["kind"] == "j_mix"}
    assert det.keys() == mix.keys() and len(det) >= 5
    assert all(mix[k] >= det[k] - env.TOL for k in det)
    assert any(mix[k] > det[k] + 1e-3 for k in det)  # the flipping gain is visible


def test_envelope_check_rejects_a_wrong_majorant(monkeypatch):
    """If the deterministic points were lower (a perturbed J_det), the check must fire."""
    real = env.least_concave_majorant
    monkeypatch.setattr(env, "least_concave_majorant",
                        lambda x, y, d, **k: real(x, np.asarray(y) - 1e-3, d, **k))
    with pytest.raises(env.EnvelopeMismatch):
        env.envelope_data({**env.FIGURE.quick_config, "n_delta": 3})


def test_cliff_replica_matches_gymnasium_when_installed():
    gym = pytest.importorskip("gymnasium")
    for slippery in (False, True):
        e = gym.make("CliffWalking-v1", is_slippery=slippery)
        table = {s: {a: [(float(p), int(s2), float(r), bool(t)) for p, s2, r, t in v]
                     for a, v in acts.items()} for s, acts in e.unwrapped.P.items()}
        e.close()
        assert table == cw.cliff_table(slippery)


def test_cliff_fell_state_is_an_exact_copy_and_marks_every_fall():
    mdp, unsafe, _ = cw.cliff_ccmdp(False, 13)
    P = mdp.dense_P()
    assert np.array_equal(P[48], P[36]) and np.array_equal(mdp.r[48], mdp.r[36])
    # "right" from the start walks into the cliff: the fall is marked, reward -100
    assert P[36, 1, 48] == 1.0 and mdp.r[36, 1] == -100
    # the deterministic shortest path along the edge reaches the goal in 13 steps safely
    res = solve_ccmdp(mdp, unsafe, 0.0)
    assert res.status == "optimal" and res.value == pytest.approx(-13.0)
    assert res.violation_probability == 0.0


def test_cliff_quick_data_is_consistent(tmp_path):
    paths = cw.run({**cw.FIGURE.quick_config, "seed": 0}, tmp_path)
    rows = list(csv.DictReader(open(paths["csv"])))
    assert {r["method"] for r in rows} == {"exact", "boole", "h_unsafe"}
    for r in rows:
        if r["status"] == "optimal" and r["method"] != "h_unsafe":
            assert float(r["violation"]) <= float(r["delta"]) + cw.TOL
        assert not math.isnan(float(r["constraint_value"]))
