"""PCM post-processing, rounding to m annotations, the exact integer attack (MILP vs brute
force) and the baseline attacks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers.bt_fit import bt_loss
from solvers.errors import ModelError
from solvers.poisoning import PoisoningInstance, PoisoningResult, min_cost_poisoning
from solvers.poisoning_attacks import random_flips, rlhfpoison_flips
from solvers.poisoning_rounding import (
    brute_force_integer,
    fractional_coordinates,
    milp_integer,
    post_process,
    round_to_grid,
)
from theory.poisoning import poisoning_instances


def _inst(d, m=None):
    return PoisoningInstance(d["Phi"], d["theta_O"], theta_A=d["theta_A"],
                             m=d["m"] if m is None else m)


def test_round_to_grid_gives_multiples_of_one_over_m():
    np.testing.assert_array_equal(round_to_grid(np.array([0.0, 0.11, 0.5, 0.93, 1.0]), 5),
                                  np.array([0.0, 0.2, 0.4, 1.0, 1.0]))


@given(poisoning_instances(), st.integers(1, 5))
def test_rounding_costs_at_most_the_fractional_count_with_a_bounded_residual(d, m):
    inst = _inst(d, m)
    pp = post_process(inst)
    assert pp.n_fractional <= pp.rank
    assert pp.rounded_flips <= pp.count_bound + 1e-7
    assert pp.residual <= pp.residual_bound + 1e-7 <= pp.rank_residual_bound + 2e-7
    assert np.array_equal(pp.theta_round, np.rint(pp.theta_round * m) / m)
    assert pp.lp_flips <= pp.baseline_flips + 1e-7


def test_a_non_vertex_optimum_has_more_fractional_coordinates_than_rank():
    # theta_O = 1 and four identical columns: moving one coordinate (the vertex) and spreading
    # -1/4 over all four cost the same; only the vertex obeys the rank count.
    Phi = np.ones((1, 4))
    inst = PoisoningInstance(Phi, np.ones(4), theta_A=np.array([0.0, 1.0, 1.0, 1.0]))
    pp = post_process(inst)
    assert pp.n_fractional == 0 and pp.residual == 0.0 and pp.rounded_flips == 1.0
    spread = PoisoningResult(inst, "optimal", "l1", 1.0, np.full(4, -0.25), np.full(4, 0.75),
                             1.0, {})
    assert fractional_coordinates(spread).size == 4 > pp.rank
    # and rounding it to m = 1 loses the whole effect: residual 1 with no flip at all
    assert np.linalg.norm(Phi @ (round_to_grid(spread.theta_star, 1) - inst.theta_A)) == 1.0


def test_post_processed_labels_keep_the_loss_and_save_flips_on_a_random_attack():
    rng = np.random.default_rng(0)
    fd, n, m = 4, 120, 5
    Phi = rng.standard_normal((fd, n))
    theta_O = np.ones(n)
    theta_A = random_flips(theta_O, 12, rng)
    inst = PoisoningInstance(Phi, theta_O, theta_A=theta_A, m=m)
    pp = post_process(inst)
    assert pp.flips_saved > 0 and pp.baseline_flips == 60.0
    r = rng.standard_normal(fd)
    assert bt_loss(r, Phi, pp.lp.theta_star, m, check_range=False) == pytest.approx(
        bt_loss(r, Phi, theta_A, m), abs=1e-8)


@given(poisoning_instances(integer=True, hard=True, max_pairs=9), st.integers(1, 2))
def test_milp_and_brute_force_agree_and_sit_between_lp_and_baseline(d, m):
    inst = _inst(d, m)
    bf, mi = brute_force_integer(inst), milp_integer(inst)
    assert bf.status == mi.status == "optimal"  # theta_A itself is on the grid
    assert bf.flips == mi.flips
    np.testing.assert_array_equal(inst.Phi @ (bf.theta - inst.theta_A), 0)
    assert min_cost_poisoning(inst).flips <= bf.flips + 1e-7
    assert bf.flips <= m * np.abs(inst.shift).sum()


def test_integer_gap_counterexample_of_the_notes():
    M = 10
    Phi = np.array([[M, M, M] + [1] * (M - 1)], float)
    theta_A = np.array([1.0, 1.0, 1.0] + [0.0] * (M - 1))
    inst = PoisoningInstance(Phi, np.ones(M + 2), theta_A=theta_A)
    assert min_cost_poisoning(inst).cost == pytest.approx((M - 1) / M)
    assert brute_force_integer(inst).flips == milp_integer(inst).flips == M - 1


def test_brute_force_refuses_non_integer_data_and_large_grids():
    inst = PoisoningInstance(np.array([[0.5, 1.0]]), np.ones(2), theta_A=np.array([0.0, 1.0]))
    with pytest.raises(ModelError):
        brute_force_integer(inst)
    big = PoisoningInstance(np.ones((1, 20)), np.ones(20), theta_A=np.ones(20))
    with pytest.raises(ModelError):
        brute_force_integer(big)


def test_post_process_rejects_off_grid_benign_labels():
    inst = PoisoningInstance(np.ones((1, 3)), np.array([0.5, 1.0, 1.0]),
                             theta_A=np.zeros(3), m=1)
    with pytest.raises(ModelError):
        post_process(inst)


def test_fractional_coordinates_of_an_interior_target():
    rng = np.random.default_rng(2)
    inst = PoisoningInstance(rng.standard_normal((3, 30)), np.ones(30),
                             r_A=rng.standard_normal(3))
    res = min_cost_poisoning(inst)
    assert 1 <= fractional_coordinates(res).size <= 3


# -- baselines ----------------------------------------------------------------------------------
def test_random_flips_flip_exactly_k_pairs_reproducibly():
    a = random_flips(np.ones(50), 7, np.random.default_rng(3))
    b = random_flips(np.ones(50), 7, np.random.default_rng(3))
    assert np.array_equal(a, b) and (a == 0).sum() == 7
    with pytest.raises(ModelError):
        random_flips(np.ones(5), 6, np.random.default_rng(0))
    with pytest.raises(ModelError):
        random_flips(np.full(5, 0.5), 1, np.random.default_rng(0))


def test_rlhfpoison_flips_low_margin_longer_rejected_pairs_by_disparity():
    n = 40
    Phi = np.zeros((1, n))
    Phi[0] = np.arange(n, dtype=float)  # margin |r_O phi_i| = i
    length_diff = np.where(np.arange(n) % 2 == 0, np.arange(n) + 1.0, -1.0)
    out = rlhfpoison_flips(Phi, np.ones(n), np.array([1.0]), length_diff,
                           qf_ratio=0.5, mds_ratio=0.05)
    flipped = np.flatnonzero(out == 0)
    # candidates: even i (20); quality filter keeps the 10 smallest margins: 0, 2, ..., 18;
    # 5 % of 40 = 2 flips with the largest length difference among them: 18 and 16
    assert flipped.tolist() == [16, 18]
    with pytest.raises(ModelError):
        rlhfpoison_flips(Phi, np.ones(n), np.array([1.0]), length_diff, qf_ratio=0.0)
