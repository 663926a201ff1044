"""Poisoning figures (F-A1..F-A5): files written, the numbers in data.csv obey the bounds, the
in-figure checks can fail, same seed same bytes."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest

import experiments.figures.poisoning_cost_vs_pairs as cost
import experiments.figures.poisoning_features as feat
import experiments.figures.poisoning_rounding as rnd
from experiments.figures import run_figure


def _rows(run):
    with open(run.directory / "data.csv") as fh:
        return list(csv.DictReader(fh))


def test_cost_figure_writes_files_and_its_rows_obey_the_chain(tmp_path):
    run = run_figure(cost.FIGURE, tmp_path, quick=True)
    assert {p.name for p in run.directory.iterdir()} >= {"figure.png", "figure.pdf",
                                                         "data.csv", "config.json"}
    rows = _rows(run)
    assert {r["attack"] for r in rows} == {"random", "rlhfpoison"}
    for r in rows:
        lb, opt, ub, base = (float(r[k]) for k in ("lb", "opt", "ub", "baseline"))
        assert lb <= opt + 1e-6 <= ub + 2e-6 <= base + 3e-6
    # hard flips: Theorem 3's segment collapses to the baseline
    assert all(float(r["ub"]) == pytest.approx(float(r["baseline"])) for r in rows)


def test_cost_figure_check_trips_on_a_wrong_lower_bound(monkeypatch):
    real = cost.projection_lower_bound

    def inflated(inst, norm="l1"):
        lb = real(inst, norm)
        return type(lb)(10 * lb.value + 1, lb.lam, lb.proj_shift, lb.norm)

    monkeypatch.setattr(cost, "projection_lower_bound", inflated)
    with pytest.raises(cost.ClaimViolated):
        cost.cost_rows({"feat_dim": 2, "ratios": [3], "seeds": 1, "flip_frac": 0.3, "seed": 0})


def test_rounding_figure_residual_shrinks_with_m_and_respects_its_bound(tmp_path):
    rows = _rows(run_figure(rnd.FIGURE, tmp_path, quick=True))
    for r in rows:
        assert float(r["residual_rel"]) <= float(r["residual_bound_rel"]) + 1e-9
        assert float(r["extra_flips"]) <= int(r["rank"]) + 1e-6
        assert int(r["n_fractional"]) <= int(r["rank"])
    med = {m: np.median([float(r["residual_rel"]) for r in rows if int(r["m"]) == m])
           for m in (1, 20)}
    assert med[20] < med[1]


def test_rounding_figure_check_trips_when_the_vertex_is_not_used(monkeypatch):
    real = rnd.post_process

    def many_fractional(inst):
        pp = real(inst)
        import dataclasses
        return dataclasses.replace(pp, n_fractional=pp.rank + 1)

    monkeypatch.setattr(rnd, "post_process", many_fractional)
    with pytest.raises(rnd.ClaimViolated):
        rnd.rounding_rows({"feat_dim": 2, "n_pairs": 20, "ms": [1], "seeds": 1,
                           "flip_frac": 0.2, "seed": 0})


def test_feature_figure_is_monotone_and_reproducible(tmp_path):
    a = run_figure(feat.FIGURE, tmp_path / "a", quick=True)
    b = run_figure(feat.FIGURE, tmp_path / "b", quick=True)
    assert (a.directory / "data.csv").read_bytes() == (b.directory / "data.csv").read_bytes()
    rows = _rows(a)
    for kind in ("random_flips", "interior"):
        for s in {r["seed"] for r in rows}:
            opts = [float(r["opt"]) for r in rows if r["kind"] == kind and r["seed"] == s]
            assert all(x <= y + 1e-6 for x, y in itertools.pairwise(opts))
    assert all(float(r["knapsack"]) <= float(r["opt"]) + 1e-6 for r in rows)


def test_feature_figure_check_trips_on_a_decreasing_cost(monkeypatch):
    calls = iter(range(1000))
    monkeypatch.setattr(feat, "_opt", lambda inst: 100.0 - next(calls))
    with pytest.raises(feat.ClaimViolated):
        feat.feature_rows({"max_feat_dim": 2, "n_pairs": 10, "seeds": 1, "seed": 0})
