"""SACPO figures: files written, numbers behind the curves, the checks inside them can fail."""

from __future__ import annotations

import csv

import pytest

import experiments.figures.sacpo_bounds_vs_coverage as cov
import experiments.figures.sacpo_pareto_path as path
from experiments.figures import run_figure


def _rows(run):
    with open(run.directory / "data.csv") as fh:
        return list(csv.DictReader(fh))


def test_pareto_path_writes_files_and_stepwise_equals_joint(tmp_path):
    run = run_figure(path.FIGURE, tmp_path, quick=True)
    assert {"figure.png", "figure.pdf", "data.csv"} <= set(run.files)
    rows = _rows(run)
    joint = {r["lam"]: (float(r["reward"]), float(r["safety"])) for r in rows
             if r["path"] == "joint"}
    step = {r["lam"]: (float(r["reward"]), float(r["safety"])) for r in rows
            if r["path"] == "stepwise"}
    assert joint.keys() == step.keys()
    for k in joint:
        assert joint[k] == pytest.approx(step[k], abs=1e-12)
    safety = [joint[k][1] for k in sorted(joint, key=float)]
    assert safety == sorted(safety)  # G(pi_lam) nondecreasing along the path


def test_pareto_path_raises_when_the_stepwise_policy_is_wrong(monkeypatch):
    monkeypatch.setattr(path, "stepwise_sacpo", lambda pi_ref, r, g, beta, lam:
                        path.gibbs_policy(pi_ref, r + 1.1 * lam * g, beta))
    with pytest.raises(path.PathMismatch):
        path.pareto_data({**path.FIGURE.quick_config, "seed": 0})


def test_coverage_figure_marks_the_counterexample_and_the_printed_bound_fails_there(tmp_path):
    run = run_figure(cov.FIGURE, tmp_path, quick=True)
    rows = {float(r["m"]): r for r in _rows(run)}
    ce = rows[6.0]
    assert round(float(ce["thm3_lhs"]), 3) == 0.879 and round(float(ce["thm3_rhs"]), 3) == 0.257
    for r in rows.values():
        assert float(r["thm3_lhs"]) <= float(r["thm3_rhs_pre"]) * (1 + 1e-9)
        assert float(r["thm2_lhs"]) <= float(r["thm2_rhs_pre"]) * (1 + 1e-9) + 1e-12


def test_coverage_check_trips_on_a_wrong_corrected_bound(monkeypatch):
    import dataclasses

    real = cov.sacpo_bounds
    monkeypatch.setattr(cov, "sacpo_bounds", lambda p, e: dataclasses.replace(
        real(p, e), thm3_rhs_pre=0.0))
    with pytest.raises(cov.BoundViolated):
        cov.coverage_data({**cov.FIGURE.quick_config, "seed": 0})
