"""The falsifier finds, shrinks and saves counterexamples, and is deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import strategies as st

from solvers import evaluate, uniform_policy
from theory import Evidence, Theorem, check, load_counterexample
from theory.falsify import counterexample_json
from theory.strategies import mdps


def _false_bound(inst):
    """A false 'bound': |V^unif(mu0)| <= 2 (fails once rewards and gamma are large)."""
    m = inst["mdp"]
    return Evidence(abs(evaluate(m, uniform_policy(m)).value), 2.0, "<=")


FALSE = Theorem(
    id="test.false_value_bound", source="test", statement=r"|V| \le 2",
    summary="a deliberately false bound", check=_false_bound,
    instances=lambda: st.fixed_dictionaries({"mdp": mdps(max_S=3, max_A=2)}),
)


def test_falsifier_finds_and_saves_a_shrunk_counterexample(tmp_path):
    res = check(FALSE, examples=300, seed=1, save_dir=tmp_path)
    assert res.status == "violated" and res.violations >= 1 and not res.as_expected
    assert res.min_margin < 0
    assert res.counterexample_path.is_file()
    tid, inst = load_counterexample(res.counterexample_path)
    assert tid == FALSE.id
    ev = FALSE.check(inst)
    assert not ev.holds
    # Shrinking drives the instance toward the simplest violating one: a single state.
    assert inst["mdp"].S == 1


def test_same_seed_same_result_bytes(tmp_path):
    a = check(FALSE, examples=100, seed=7, save_dir=tmp_path / "a")
    b = check(FALSE, examples=100, seed=7, save_dir=tmp_path / "b")
    assert a.to_json() | {"counterexample": None} == b.to_json() | {"counterexample": None}
    assert a.counterexample_path.read_bytes() == b.counterexample_path.read_bytes()


def test_true_statement_reports_tightest_margin():
    def check_nonneg(inst):
        m = inst["mdp"]
        return Evidence(evaluate(m, uniform_policy(m)).value, float(np.max(m.r)) / (1 - m.gamma),
                        "<=", tol=1e-9)

    thm = Theorem(id="test.value_below_max_reward", source="test", statement="V <= rmax/(1-g)",
                  summary="value bounded by max reward", check=check_nonneg,
                  instances=lambda: st.fixed_dictionaries({"mdp": mdps(max_S=3, max_A=2)}))
    res = check(thm, examples=60, seed=0)
    assert res.status == "holds" and res.violations == 0 and res.instances >= 60
    assert 0 <= res.min_margin < 0.5 and res.tightest is not None
    assert res.tightest_evidence.margin == res.min_margin


def test_crashing_check_is_reported_as_error():
    def boom(inst):
        raise ZeroDivisionError("boom")

    thm = Theorem(id="test.crash", source="test", statement="-", summary="crashes", check=boom,
                  instances=lambda: st.fixed_dictionaries({"x": st.integers()}))
    res = check(thm, examples=5)
    assert res.status == "error" and "ZeroDivisionError" in res.error


def test_evidence_slack_margin_and_relation():
    assert Evidence(1.0, 3.0, "<=").slack == 2.0
    assert Evidence(1.0, 3.0, ">=").slack == -2.0 and not Evidence(1.0, 3.0, ">=").holds
    eq = Evidence(10.0, 10.0 + 1e-12, "==", tol=1e-9)
    assert eq.holds and eq.margin == pytest.approx(-1e-13)
    assert not Evidence(math.nan, 1.0, "<=").holds
    # An infinite side: the margin is the limit +-1 of the normalised slack, never NaN.
    assert Evidence(1.0, math.inf, "<=").margin == 1.0 and Evidence(1.0, math.inf, "<=").holds
    assert Evidence(math.inf, 1.0, "<=").margin == -1.0
    assert not Evidence(math.inf, 1.0, "<=").holds
    assert Evidence(-math.inf, 0.0, "==").margin == -1.0
    with pytest.raises(ValueError, match="relation"):
        Evidence(1.0, 2.0, "<")


def test_violated_theorem_needs_a_counterexample():
    with pytest.raises(ValueError, match="counterexample"):
        Theorem(id="t.x", source="s", statement="-", summary="-", check=_false_bound,
                instances=lambda: st.none(), expected="violated")


def test_counterexample_file_refuses_non_finite_numbers(tmp_path):
    p = tmp_path / "c.json"
    p.write_text('{"type": "theorem_instance", "theorem": "x", "instance": {"a": NaN}}')
    with pytest.raises(ValueError, match="NaN"):
        load_counterexample(p)
    text = counterexample_json(FALSE, {"a": 1.5}, None)
    p.write_text(text)
    assert load_counterexample(p) == ("test.false_value_bound", {"a": 1.5})


def test_result_does_not_depend_on_which_local_modules_are_loaded(monkeypatch, tmp_path):
    # hypothesis mixes literals from loaded *local* modules into its draws; check()
    # must neutralise that, or importing e.g. the figure modules would change the
    # instances a seed yields (seen in-process before the fix).
    import sys
    import types

    from theory import get

    theorem = get("mdp.value_iteration_contraction")
    base = check(theorem, examples=5, seed=0).to_json()
    source = tmp_path / "boundlab_fake_local_module.py"
    literals = [round(-1 + 0.0137 * i, 4) for i in range(146)] + list(range(-20, 31))
    source.write_text(f"LITERALS = {literals!r}\n")
    extra = types.ModuleType("boundlab_fake_local_module")
    extra.__file__ = str(source)
    monkeypatch.setitem(sys.modules, "boundlab_fake_local_module", extra)
    assert check(theorem, examples=5, seed=0).to_json() == base


def test_registered_finding_stays_violated_when_a_short_search_misses_it():
    from theory import get

    theorem = get("flip.alg2_per_step_equivalence")
    res = check(theorem, examples=1, seed=0)
    assert res.status == "violated" and res.as_expected and res.violations >= 1
    assert res.counterexample is not None and not theorem.check(res.counterexample).holds


def test_ctrl_c_during_a_search_is_an_interrupt_not_an_error_result():
    # Something inside the search turns the KeyboardInterrupt into another exception (as
    # hypothesis's engine sometimes does): check() must still raise KeyboardInterrupt
    # rather than return an "error" result that a caller would store.
    import os
    import signal

    def _swallowing_check(inst):
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            raise AssertionError("") from None
        return Evidence(0.0, 1.0, "<=")

    thm = Theorem(id="t.interrupted", source="s", statement="-", summary="-",
                  check=_swallowing_check,
                  instances=lambda: st.fixed_dictionaries({"x": st.integers()}))
    with pytest.raises(KeyboardInterrupt):
        check(thm, examples=5)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
