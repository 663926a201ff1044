"""Figures prefine_residual and safemil_bag_size: files, facts, and checks that can fail."""

from __future__ import annotations

import csv
import dataclasses
from fractions import Fraction

import pytest

import experiments.figures.prefine_residual as pref
import experiments.figures.safemil_bag_size as bag
from experiments.figures import run_figure


def _rows(run):
    with open(run.directory / "data.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("module", [pref, bag])
def test_quick_figure_writes_files_and_its_facts_hold(module, tmp_path):
    run = run_figure(module.FIGURE, tmp_path, quick=True)
    assert {"figure.png", "figure.pdf", "data.csv", "config.json"} <= {
        p.name for p in run.directory.iterdir()}
    rows = _rows(run)
    assert rows and tuple(rows[0]) == module.CSV_HEADER
    if module is pref:
        for r in rows:
            assert float(r["closure_error"]) < 1e-12
            if float(r["eta"]) == 0.0:
                assert float(r["max_abs_residual"]) < 1e-12
                assert float(r["dpo_policy_error"]) < 1e-6
            else:  # stochastic transitions: a clearly nonzero residual and DPO misfit
                assert float(r["max_abs_residual"]) > 1e-2
                assert float(r["dpo_policy_error"]) > 1e-3
    else:
        for r in rows:
            assert float(r["exact_homogeneous"]) == float(r["closed_form"])
        # heterogeneous costs: not 1 - (1 - alpha)^n
        assert any(abs(float(r["exact_heterogeneous"]) - float(r["closed_form"])) > 0.05
                   for r in rows)


def test_safemil_figure_rejects_a_wrong_closed_form(monkeypatch, tmp_path):
    def wrong(alpha, n):
        return 1 - (1 - Fraction(alpha)) ** (n + 1)

    monkeypatch.setattr(bag, "bag_hit_probability", wrong)
    with pytest.raises(bag.OrderCheckFailed):
        bag.safemil_bag_size_data({**bag.FIGURE.quick_config, "seed": 0})


def test_prefine_figure_rejects_a_broken_residual(monkeypatch):
    real = pref.identity_residual

    def broken(mdp, ref, beta):
        res = real(mdp, ref, beta)
        return dataclasses.replace(res, closure_error=res.closure_error + 1e-6)

    monkeypatch.setattr(pref, "identity_residual", broken)
    with pytest.raises(pref.IdentityBroken):
        pref.prefine_residual_data({**pref.FIGURE.quick_config, "seed": 0})
