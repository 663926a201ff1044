"""The relative-budget theorems hold on generated instances and catch perturbed quantities."""

from __future__ import annotations

import pytest

import theory.relative_budget as rb
import theory.relative_budget_dynamics as rbd
from solvers.time_to_solution import GammaTime
from theory import check, get

IDS = ("relative_budget.closed_forms", "relative_budget.geometric_sum",
       "relative_budget.monte_carlo", "relative_budget.scale_invariance",
       "relative_budget.regime_limits", "relative_budget.variance_peak",
       "relative_budget.binary_variance_peak", "relative_budget.regime_slopes",
       "relative_budget.linear_growth", "relative_budget.linear_growth_slope")


@pytest.mark.parametrize("tid", IDS)
def test_theorem_holds_on_generated_instances(tid):
    res = check(get(tid), examples=12, seed=0)
    assert res.status == "holds" and res.violations == 0, res.error


def test_a_wrong_closed_form_is_caught(monkeypatch):
    real = GammaTime.reward_mean
    monkeypatch.setattr(GammaTime, "reward_mean", lambda self, H: real(self, H) * (1 + 1e-6))
    ev = rb._check_closed_forms({"shape": 2.0, "xi": 1.3, "H": 100.0})
    assert not ev.holds


def test_a_wrong_exponent_is_caught(monkeypatch):
    monkeypatch.setattr(rbd, "regime_exponent", lambda regime, k: -1.4 * k)
    assert not rbd._check_slopes({"shape": 2.0, "kappa": 0.25, "regime": "deficient"}).holds


def test_a_biased_sampler_is_caught_by_monte_carlo(monkeypatch):
    monkeypatch.setattr(GammaTime, "sample", lambda self, n, rng: rng.gamma(
        self.shape, 1.05 / self.rate, size=n))
    ev = rb._check_monte_carlo({"law": "gamma", "shape": 2.0, "xi": 1.0, "kappa": 0.25,
                                "seed": 1})
    assert not ev.holds


def test_the_variance_peaks_match_the_notes_table_to_two_decimals():
    # notes §2.4 table: 1.13, 1.33, 1.38, 1.37 for k = 1, 2, 4, 8 (ours: 1.127, 1.329, 1.389,
    # 1.370; k = 4 rounds to 1.39, 0.0085 above the table's 1.38 -- reported, not forced)
    for k, table in ((1, 1.13), (2, 1.33), (4, 1.38), (8, 1.37)):
        assert abs(rb.variance_peak(k) - table) < 0.01


def test_a_slow_growth_rule_breaks_linear_growth(monkeypatch):
    import solvers.relative_budget as srb
    real = srb.iterate_budget

    def slow(*a, **kw):
        tr = real(*a, **kw)
        import dataclasses
        return dataclasses.replace(tr, xi=tr.xi[0] + 0.9 * (tr.xi - tr.xi[0]))

    monkeypatch.setattr(rbd, "iterate_budget", slow)
    assert not rbd._check_growth({"shape": 2.0, "xi0": 1.0, "n_iter": 100,
                                 "mode": "idealised"}).holds
