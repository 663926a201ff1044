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


# -- cliffwalking_ccmdp: why gymnasium's setting is flat, and the setting that binds ----------
CLIFF_SMALL = {"slippery": True, "horizon": 15, "cliff": "absorbing", "fall_reward": -1.0,
               "gamma_u": None, "deltas": [0.0, 0.25, 0.5, 1.0]}


def test_every_risky_cliff_action_is_dominated_by_a_safe_one():
    dom = cw.dominating_safe_actions(cw.cliff_table(True))
    assert len(dom) == 33 and all(b is not None for b in dom.values())
    # edge cell (2, 5): "right" = {right, up, fall} is dominated by "up" = {up, left, right}
    assert dom[(2 * 12 + 5, 1)] == 0
    # the check can fail: give the risky action an outcome no safe action has
    table = cw.cliff_table(True)
    table[29][1] = [(1 / 3, cw.GOAL, -1, True), (1 / 3, 17, -1, False),
                    (1 / 3, cw.START, -100, False)]
    assert cw.dominating_safe_actions(table)[(29, 1)] is None


def test_cliff_absorbing_constraint_binds_and_gym_semantics_are_flat():
    rows = cw.cliffwalking_data(CLIFF_SMALL)
    main = sorted((r for r in rows if r[1] == "main" and r[2] == "exact"), key=lambda r: r[3])
    gym = [r for r in rows if r[1] == "gym_reset"]
    values = np.array([r[5] for r in main])
    assert np.all(np.diff(values) >= -cw.TOL)  # nondecreasing in delta
    assert values[-1] - values[0] > 10.0  # and strictly increasing: risk buys value
    top = main[-1][6]  # the largest fall probability of any policy (delta = 1)
    for r in main:
        assert r[6] <= r[3] + cw.TOL
        if r[3] < top:  # binding range: the optimum uses all the risk it may
            assert r[6] == pytest.approx(r[3], abs=cw.TOL)
            assert r[3] == 0.0 or r[8] > 1.0  # positive multiplier dJ/d(delta)
    assert max(r[5] for r in gym) - min(r[5] for r in gym) <= cw.TOL
    assert all(r[6] == 0.0 for r in gym)


def test_cliff_data_check_rejects_a_policy_that_breaks_delta(monkeypatch):
    from types import SimpleNamespace
    real = cw.solve_ccmdp

    def leaky(mdp, unsafe, delta, **kw):
        r = real(mdp, unsafe, delta, **kw)
        if kw or r.status != "optimal":
            return r
        return SimpleNamespace(**{k: getattr(r, k) for k in (
            "status", "value", "constraint_value", "lam", "min_constraint_value")},
            violation_probability=r.violation_probability + 1e-3)
    monkeypatch.setattr(cw, "solve_ccmdp", leaky)
    with pytest.raises(cw.CliffCheckFailed, match="violates delta"):
        cw.cliffwalking_data({**CLIFF_SMALL, "deltas": [0.5]})


def _lagrangian_dp(mdp, unsafe, lam, delta):
    """max_pi E[sum r] - lam (Pr(fall) - delta) by backward DP on (t, s, f), f_H costs lam."""
    P, r, H = mdp.dense_P(), mdp.r, mdp.horizon
    enter = unsafe.astype(float)
    V = np.stack([np.zeros(mdp.S), np.full(mdp.S, -lam)])  # V_H(s, f) = -lam f
    for _ in range(H):
        # f = 0: the flag becomes 1{s' in U}; f = 1 stays 1
        q0 = r + P @ ((1 - enter) * V[0] + enter * V[1])
        q1 = r + P @ V[1]
        V = np.stack([q0.max(axis=1), q1.max(axis=1)])
    s0 = int(np.argmax(mdp.mu0))
    return float(V[1 if unsafe[s0] else 0][s0]) + lam * delta


def test_cliff_lp_optimum_equals_the_lagrangian_dual_by_dp():
    """Strong duality with the LP's multiplier, weak duality for every other lam."""
    mdp, unsafe, _ = cw.cliff_ccmdp(True, 20, -1.0, "absorbing")
    res = solve_ccmdp(mdp, unsafe, 0.3)
    assert res.status == "optimal" and res.lam > 1.0
    # DP sums of <= 20 terms of size <= 20 with lam <= 20: rounding ~1e-12; the LP is
    # feasible to 1e-9 relative, so 1e-6 absolute is generous and still catches 1e-3 errors
    assert _lagrangian_dp(mdp, unsafe, res.lam, 0.3) == pytest.approx(res.value, abs=1e-6)
    for lam in (0.0, 0.5 * res.lam, 0.9 * res.lam, 1.1 * res.lam, 2 * res.lam):
        assert _lagrangian_dp(mdp, unsafe, lam, 0.3) >= res.value - 1e-6
    assert _lagrangian_dp(mdp, unsafe, 0.0, 0.3) > res.value + 1.0  # unconstrained is better


def test_cliff_lp_policy_simulated_in_gymnasium_matches_value_and_violation():
    """Run the LP policy in gymnasium's own env (a fall ends the episode, reward -1)."""
    gym = pytest.importorskip("gymnasium")
    H, delta, n = 20, 0.3, 3000
    mdp, unsafe, _ = cw.cliff_ccmdp(True, H, -1.0, "absorbing")
    res = solve_ccmdp(mdp, unsafe, delta)
    other = solve_ccmdp(mdp, unsafe, 0.2)  # a neighbouring solution the z-test must reject
    assert res.status == other.status == "optimal"
    cum = np.cumsum(res.policy[:, : mdp.S], axis=2)  # flag 0 half: before the first fall
    rng = np.random.default_rng(11)
    env = gym.make("CliffWalking-v1", is_slippery=True)
    env.reset(seed=11)
    core = env.unwrapped
    returns, falls = np.zeros(n), np.zeros(n)
    for i in range(n):
        s, _ = core.reset()
        for t in range(H):
            a = int(np.searchsorted(cum[t, s], rng.random() * cum[t, s, -1], side="right"))
            s, rew, terminated, _, _ = core.step(min(a, 3))
            returns[i] -= 1.0  # -1 per step, the fall step included (fall_reward = -1)
            if rew == -100:
                falls[i] = 1.0
                break
            if terminated:
                break
    env.close()

    def z(sample, mean):
        return (sample.mean() - mean) / (sample.std(ddof=1) / np.sqrt(n))
    # |z| < 4.5: a false alarm has probability ~7e-6 (and the seed is fixed)
    assert abs(z(returns, res.value)) < 4.5
    assert abs(z(falls, res.violation_probability)) < 4.5
    assert abs(z(returns, other.value)) > 4.5 and abs(z(falls, other.violation_probability)) > 4.5


def test_cliff_unknown_fall_semantics_is_a_model_error():
    from solvers.errors import ModelError
    with pytest.raises(ModelError, match="cliff = 'teleport'"):
        cw.cliff_ccmdp(True, 5, cliff="teleport")
