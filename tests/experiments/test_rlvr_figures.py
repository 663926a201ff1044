"""The BNPO variance-surface and G2D pair-yield figures: files, data and the checks inside."""

from __future__ import annotations

import csv

import pytest

import experiments.figures.bnpo_variance_surface as surface
import experiments.figures.g2d_pair_yield as pairs
from experiments.figures import run_figure


@pytest.mark.parametrize("fig", [surface.FIGURE, pairs.FIGURE], ids=lambda f: f.name)
def test_figure_writes_files_and_is_byte_reproducible(fig, tmp_path):
    a = run_figure(fig, tmp_path / "a", quick=True)
    b = run_figure(fig, tmp_path / "b", quick=True)
    for name in ("figure.png", "figure.pdf", "data.csv", "config.json"):
        assert (a.directory / name).read_bytes() == (b.directory / name).read_bytes(), name
    assert run_figure(fig, tmp_path / "a", quick=True).cached


def test_surface_minimum_over_the_grid_is_near_the_formula(tmp_path):
    run = run_figure(surface.FIGURE, tmp_path, quick=True)
    with open(run.directory / "data.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["variance"]]
    for a0, b0 in surface.FIGURE.quick_config["priors"]:
        sel = [r for r in rows if float(r["alpha0"]) == a0 and float(r["beta0"]) == b0]
        best = min(sel, key=lambda r: float(r["variance"]))
        step = max(float(sel[1]["beta"]) - float(sel[0]["beta"]), 0.1)
        assert abs(float(best["alpha"]) - (1 + a0 / 3)) <= step
        assert abs(float(best["beta"]) - (1 + b0 / 3)) <= step


def test_surface_check_trips_on_a_wrong_optimum(monkeypatch):
    monkeypatch.setattr(surface, "optimal_beta_parameters", lambda a0, b0: (1.0, 1.0))
    with pytest.raises(surface.OptimumNotMinimal):
        surface.variance_surface_data({**surface.FIGURE.quick_config, "seed": 0})


def test_pair_yield_monte_carlo_check_trips_on_a_wrong_formula(monkeypatch):
    monkeypatch.setattr(pairs, "expected_cross_pairs", lambda p, G: G * G * p * (1 - p))
    with pytest.raises(pairs.MonteCarloMismatch):
        pairs.pair_yield_data({**pairs.FIGURE.quick_config, "seed": 0})
