"""Figure four_rooms_incentives: data file curves, the oracle's ascent, the monotonicity check."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from experiments.figures.four_rooms_incentives import (
    FIGURE,
    AscentNotMonotone,
    four_rooms_rows,
)

SMALL = {**FIGURE.quick_config, "samples": [100], "iterations": 4, "seed": 0}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("four_rooms")
    paths = FIGURE.run(SMALL, out)
    with open(paths["csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    return paths, rows


def curve(rows, method, samples=""):
    sel = [r for r in rows if r["method"] == method and r["samples"] == samples]
    sel.sort(key=lambda r: int(r["iteration"]))
    return (np.array([float(r["F"]) for r in sel]), np.array([float(r["F_err"]) for r in sel]))


def test_files_are_written_and_every_curve_is_present(data):
    paths, rows = data
    assert {"png", "pdf", "csv"} <= set(paths)
    assert all(p.stat().st_size > 0 for p in paths.values())
    have = {(r["method"], r["samples"]) for r in rows}
    assert have == {("oracle", ""), ("bchg", "100"), ("hpgd", "100"), ("naive", "100")}
    for key in have:
        F, _ = curve(rows, *key)
        assert len(F) == SMALL["iterations"] + 1


def test_exact_ascent_is_nondecreasing_and_ends_above_its_start(data):
    _, rows = data
    F, err = curve(rows, "oracle")
    # step 10 < 2/L at tau = 0.003: each step may only lose the certified error of F
    assert np.all(np.diff(F) >= -(err[1:] + err[:-1]))
    assert F[-1] > F[0] + 1e-3


def test_every_curve_starts_at_the_same_exact_objective(data):
    _, rows = data
    F0 = {m: curve(rows, m, "" if m == "oracle" else "100")[0][0]
          for m in ("oracle", "bchg", "hpgd", "naive")}
    assert max(F0.values()) - min(F0.values()) == 0.0


def test_naive_gradient_does_not_improve_on_the_detour_start(data):
    """The direct term only shrinks the incentive cost and ignores the follower's response;
    from the detour start it lowers F, while the oracle raises it."""
    _, rows = data
    naive, _ = curve(rows, "naive", "100")
    oracle, _ = curve(rows, "oracle")
    assert naive[-1] < naive[0] < oracle[-1]


def test_an_overshooting_step_is_caught():
    bad = {**SMALL, "taus": [0.001], "steps": [50.0], "iterations": 10}
    with pytest.raises(AscentNotMonotone):
        four_rooms_rows(bad)


def test_quick_config_covers_the_stated_grid():
    assert set(FIGURE.config["taus"]) == {0.001, 0.003, 0.005}
    assert FIGURE.config["samples"] == [100, 200, 400, 1000]
    assert len(FIGURE.quick_config["taus"]) == 1
    assert len(FIGURE.config["steps"]) == len(FIGURE.config["taus"])
