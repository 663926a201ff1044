"""bilevel_scaling figure: the files and the structure of data.csv (timings are not checked: the
machine is shared), the three methods' gradients agree where computed, the lean leader value
equals the solver's F, and the in-figure agreement check trips on a wrong finite difference."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import experiments.figures.bilevel_scaling as bs
from experiments.figures import run_figure
from solvers.hypergradient import bilevel_point

TINY = {"S": 12, "A": 3, "successors": 4, "ns": [1, 3], "gamma": 0.8, "tau": 1.0, "N": 200,
        "repeats": 1, "h": 1e-4, "fd_rel_tol": 1e-6, "z_max": 5.0, "seed": 0}


def test_quick_figure_writes_files_and_a_complete_table(tmp_path):
    run = run_figure(bs.FIGURE, tmp_path, quick=True)
    assert {p.name for p in run.directory.iterdir()} >= {"figure.png", "figure.pdf",
                                                         "data.csv", "config.json"}
    with open(run.directory / "data.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == bs.CSV_HEADER
    ns = bs.FIGURE.quick_config["ns"]
    assert [(int(r["n"]), r["method"]) for r in rows] == [(n, m) for n in ns
                                                          for m in bs.METHODS]
    for r in rows:
        lo, med, hi = float(r["min_s"]), float(r["median_s"]), float(r["max_s"])
        assert 0 < lo <= med <= hi and int(r["repeats"]) == 3
        agree = float(r["agreement"])
        if r["method"] == "exact":
            assert agree == 0.0
        elif r["method"] == "finite_difference":
            assert agree <= 1e-6  # relative sup-norm error against the exact gradient
        else:
            assert agree <= 5.0  # largest |z| of the sampled mean


def test_lean_leader_value_and_central_differences_match_the_solver():
    model, x = bs.scaling_model(12, 3, 3, 3, 4, 0, 0.8, 1.0)
    p = bilevel_point(model, x, None)
    # two certified solves to ~1e-11 and two independent linear solves: 1e-9 is generous
    assert abs(bs.leader_value(model, x) - p.F) < 1e-9
    g = bs.central_difference(model, x, 1e-4)
    exact = p.gradient("implicit")
    assert np.abs(g - exact).max() <= 1e-6 * np.abs(exact).max()
    # features are nested: the n = 1 model is the n = 3 model with x_2 = x_3 = 0
    m1, x1 = bs.scaling_model(12, 3, 1, 3, 4, 0, 0.8, 1.0)
    x0 = np.array([x1[0], 0.0, 0.0])
    assert bs.leader_value(m1, x1) == pytest.approx(bs.leader_value(model, x0), abs=1e-12)


def test_agreement_check_trips_on_a_wrong_finite_difference(monkeypatch):
    bs.scaling_rows(TINY)  # the honest run passes
    real = bs.central_difference
    monkeypatch.setattr(bs, "central_difference", lambda m, x, h: real(m, x, h) * 1.001)
    with pytest.raises(bs.GradientsDisagree, match="finite differences"):
        bs.scaling_rows(TINY)


def test_agreement_check_trips_on_a_biased_sampled_estimator(monkeypatch):
    real = bs.sampled_hypergradient

    def biased(point, N, rng):
        s = real(point, N, rng)
        return type(s)(s.method, s.samples + 0.5, s.direct, s.indirect, s.H)

    monkeypatch.setattr(bs, "sampled_hypergradient", biased)
    with pytest.raises(bs.GradientsDisagree, match="standard errors"):
        bs.scaling_rows(TINY)
