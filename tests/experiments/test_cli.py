"""The boundlab CLI: commands, JSON lines, exit codes, bad input, determinism and caching."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from experiments.cli import main
from solvers import dumps_instance, random_mdp
from theory import Evidence, Theorem
from theory.strategies import mdps

registry_module = importlib.import_module("theory.registry")  # not the registry() function

DESIGN_KEYS = {"id", "source", "expected", "instances", "violations", "min_margin", "status",
               "counterexample"}


def test_theorems_lists_every_registered_id(capsys):
    from theory import registry

    assert main(["theorems"]) == 0
    out = capsys.readouterr().out
    for t in registry():
        assert t.id in out


#: Theorems whose instance strategy is a finite list (hypothesis stops when it is exhausted).
FINITE_INSTANCE_SETS = {"markov_game.naive_pgd_bias": 2}  # DiscreteToy4 R2 p=0.55, R1 p=0.3


def test_check_json_reports_every_theorem_as_registered(capsys, tmp_path):
    assert main(["check", "--json", "--examples", "5", "--out", str(tmp_path)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    from theory import registry

    assert [x["id"] for x in lines] == [t.id for t in registry()]
    for x in lines:
        assert DESIGN_KEYS <= set(x)
        assert x["status"] == x["expected"]  # registered findings count as expected
        if x["status"] == "holds":
            # A witness theorem over a finite instance set is exhausted before 5 examples.
            expected_n = FINITE_INSTANCE_SETS.get(x["id"], 5)
            assert x["violations"] == 0 and x["instances"] == expected_n
            assert x["counterexample"] is None
        else:
            assert x["violations"] >= 1 and Path(x["counterexample"]).is_file()


def test_check_unknown_id_is_a_usage_error(capsys, tmp_path):
    assert main(["check", "mdp.nope", "--out", str(tmp_path)]) == 2
    assert "no theorem" in capsys.readouterr().err


def test_bad_usage_returns_2_instead_of_raising(capsys):
    assert main(["check", "--examples", "many"]) == 2
    assert main(["nonsense"]) == 2
    assert main(["--help"]) == 0
    assert main(["check", "--examples", "0"]) == 2


def _false_theorem(expected: str, counterexample: str | None = None) -> Theorem:
    def check(inst):
        return Evidence(float(inst["mdp"].S), 1.5, "<=")  # false as soon as S >= 2

    return Theorem(id="test.states_at_most_one", source="test", statement="S <= 1.5",
                   summary="false on purpose", check=check, expected=expected,
                   counterexample=counterexample,
                   instances=lambda: st.fixed_dictionaries({"mdp": mdps(max_S=3, max_A=1)}))


@pytest.fixture
def with_theorem(monkeypatch):
    def install(theorem: Theorem) -> None:
        monkeypatch.setitem(registry_module._REGISTRY, theorem.id, theorem)

    return install


def test_unexpected_violation_fails_the_check_and_saves_a_counterexample(
        capsys, tmp_path, with_theorem):
    with_theorem(_false_theorem("holds"))
    rc = main(["check", "test.states_at_most_one", "--json", "--examples", "50",
               "--out", str(tmp_path)])
    line = json.loads(capsys.readouterr().out)
    assert rc == 1 and line["status"] == "violated" and line["violations"] >= 1
    cex = Path(line["counterexample"])
    assert cex.is_file()
    # the saved counterexample is shrunk to the smallest violating model and re-checks
    assert main(["solve", str(cex), "--json"]) == 0
    solved = json.loads(capsys.readouterr().out)
    assert solved["evidence"]["lhs"] == 2.0 and solved["evidence"]["holds"] is False


def test_registered_finding_is_not_a_failure(capsys, tmp_path, with_theorem, monkeypatch):
    import theory.core
    from theory.falsify import counterexample_json

    theorem = _false_theorem("violated", counterexample="states.json")
    monkeypatch.setattr(theory.core, "COUNTEREXAMPLE_DIR", tmp_path / "stored")
    (tmp_path / "stored").mkdir()
    stored = {"mdp": random_mdp(0, 2, 1)}  # S = 2 > 1.5
    (tmp_path / "stored" / "states.json").write_text(
        counterexample_json(theorem, stored, theorem.check(stored)))
    with_theorem(theorem)
    rc = main(["check", "test.states_at_most_one", "--examples", "1", "--out", str(tmp_path)])
    assert rc == 0
    assert "finding" in capsys.readouterr().out


def test_solve_mdp_prints_value_policy_and_certificate(capsys, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(dumps_instance(random_mdp(0, 4, 2, K=1)))
    assert main(["solve", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "optimal" and len(out["actions"]) == 4
    assert out["certificate"]["ok"] and out["certificate"]["exact"]
    assert out["value_iteration"]["agrees"] and len(out["cost_values"]) == 1
    assert main(["solve", str(path)]) == 0
    assert "certificate: ok" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "needle"),
    [('{"type": "mdp", "S": 1, "A": 1, "gamma": 1.5, "P": [[[1.0]]], "r": [[0]], "mu0": [1]}',
      "gamma"),
     ('{"type": "mdp", "P": [[[0.5]]], "r": [[0]], "mu0": [1], "gamma": 0.5}', "P[0, 0, :]"),
     ('{"type": "ccmdp"}', "type"),
     ('{"type": "cmdp", "P": [[[1.0]]], "r": [[0]], "mu0": [1], "gamma": 0.5, '
      '"costs": [[[1.0]]], "thresholds": [1, 2]}', "thresholds has shape (2,)"),
     ("not json", "not valid JSON")],
)
def test_solve_bad_file_exits_2_naming_the_problem(capsys, tmp_path, text, needle):
    path = tmp_path / "bad.json"
    path.write_text(text)
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


#: A slice of the whole run (CI's first README command runs all of it): the MDP theorems,
#: a finding, one figure and one proof check.
SLICE = ["--select", "mdp.*", "--select", "flip.thm5_conservative", "--select", "vi_error",
         "--select", "boole_inequality*"]


def test_reproduce_is_byte_identical_and_resumes_from_cache(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["reproduce", "--quick", "--examples", "5", *SLICE, "--out", str(a)]) == 0
    assert main(["reproduce", "--quick", "--examples", "5", *SLICE, "--out", str(b)]) == 0
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    assert {"report.md", "report.html"} <= {p.name for p in files_a}
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    before = {rel: (a / rel).read_bytes() for rel in files_a}
    capsys.readouterr()
    assert main(["reproduce", "--quick", "--examples", "5", *SLICE, "--out", str(a)]) == 0
    err = capsys.readouterr().err
    assert "(cached)" in err and "vi_error: cached" in err
    assert {rel: (a / rel).read_bytes() for rel in files_a} == before
    html = (a / "report.html").read_text()
    assert "data:image/png;base64," in html and "<img" in html and "src=\"vi_error" not in html
    md = (a / "report.md").read_text()
    assert "| mdp.performance_difference |" in md and "vi_error/figure.png" in md


def test_corrupted_cache_entry_is_recomputed_not_read(tmp_path, capsys):
    assert main(["check", "mdp.value_equals_occupancy", "--examples", "5", "--json",
                 "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    (record,) = (tmp_path / "checks" / "mdp.value_equals_occupancy").glob("*.json")
    text = record.read_text()
    record.write_text(text.replace('"violations": 0', '"violations": 7'))
    assert main(["check", "mdp.value_equals_occupancy", "--examples", "5", "--json",
                 "--out", str(tmp_path)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["cached"] is False and line["violations"] == 0


def test_console_entry_point_runs_as_a_module(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments", "theorems"], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[2], check=False)
    assert proc.returncode == 0 and "mdp.performance_difference" in proc.stdout


def _cmdp_file(tmp_path, budget: float) -> Path:
    from solvers.instances import CMDPProblem

    path = tmp_path / "c.json"
    path.write_text(dumps_instance(CMDPProblem(random_mdp(3, 3, 2, K=1), [budget])))
    return path


def test_solve_cmdp_reports_value_multipliers_and_an_exact_certificate(capsys, tmp_path):
    from solvers import evaluate
    from solvers.enumeration import best_episode_mixture, deterministic_policy_values

    m = random_mdp(3, 3, 2, K=1)
    _, pts = deterministic_policy_values(m)
    budget = float(np.median(pts[:, 1]))
    assert main(["solve", str(_cmdp_file(tmp_path, budget)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "optimal" and out["certificate"]["ok"] and out["certificate"]["exact"]
    # independent: best episode mixture of the enumerated deterministic policies
    assert out["value"] == pytest.approx(best_episode_mixture(pts, [budget]), abs=1e-8)
    assert evaluate(m, np.array(out["policy"])).cost_values[0] <= budget + 1e-8


def test_solve_infeasible_cmdp_prints_the_certificate_plainly(capsys, tmp_path):
    assert main(["solve", str(_cmdp_file(tmp_path, -1.0))]) == 0
    out = capsys.readouterr().out
    assert "status: infeasible" in out and "no policy meets the budgets" in out
    assert "certified" in out and "NOT certified" not in out


# -- solve: "ccmdp" instances ----------------------------------------------------------------
def _ccmdp_file(tmp_path, delta, **kw):
    from solvers.instances import CCMDPProblem

    m = random_mdp(1, 3, 2, horizon=3)
    path = tmp_path / "cc.json"
    path.write_text(dumps_instance(CCMDPProblem(m, np.array([1]), delta, **kw)))
    return path


@pytest.mark.parametrize("kw", [{}, {"surrogate": "boole"}])
def test_solve_ccmdp_prints_value_violation_and_certificate(capsys, tmp_path, kw):
    path = _ccmdp_file(tmp_path, 1.0, **kw)
    assert main(["solve", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["type"] == "ccmdp" and out["status"] == "optimal"
    assert 0.0 <= out["violation_probability"] <= 1.0 and out["certificate"]["ok"]
    width = 6 if not kw else 3  # augmented (s, f) states or original states
    assert np.array(out["policy"]).shape == (3, width, 2)
    assert main(["solve", str(path)]) == 0
    text = capsys.readouterr().out
    assert "exact violation probability" in text and "certificate: ok" in text


def test_solve_ccmdp_reports_infeasibility_plainly(capsys, tmp_path):
    # this dense random model enters state 1 with probability >= 0.27 under every policy
    path = _ccmdp_file(tmp_path, 0.0)
    assert main(["solve", str(path)]) == 0
    text = capsys.readouterr().out
    assert "status: infeasible" in text
    assert "infeasible: even the safest policy has constraint value 0.270983" in text
    assert "(certified" in text


# -- solve: poisoning (poisoning notes §5) -------------------------------------------------------
def _write_poisoning(tmp_path, **kw):
    d = {"type": "poisoning", "Phi": [[1, 2, -1, 0.5, 1], [0, 1, 1, -1, 2]],
         "theta_O": [1, 1, 1, 1, 1], "theta_A": [0, 1, 0, 1, 1], "m": 5, "cost": "l1",
         "counts": None}
    d.update(kw)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(d))
    return path


def test_solve_poisoning_prints_opt_flips_bounds_and_an_exact_certificate(capsys, tmp_path):
    path = _write_poisoning(tmp_path)
    assert main(["solve", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "optimal" and out["certificate"]["ok"] and out["certificate"]["exact"]
    # by hand: b = Phi shift = (0, -1); zeta = -1/3 on pairs 2 and 4 gives Phi zeta = b at
    # cost 2/3, and lam = (1/3, -2/3) has |Phi^T lam|_inf = 1 with b^T lam = 2/3 (a dual
    # certificate), so OPT = 2/3
    assert out["opt"] == pytest.approx(2 / 3, abs=1e-12)
    assert np.abs(np.array([[1, 2, -1, 0.5, 1], [0, 1, 1, -1, 2]]).T
                  @ np.array(out["duals"]["lam"])).max() == pytest.approx(1.0)
    assert out["lower_bound"] <= out["opt"] + 1e-9 <= out["upper_bound"] + 2e-9
    assert out["flips"] == pytest.approx(5 * out["opt"]) and out["baseline_flips"] == 10.0
    assert main(["solve", str(path)]) == 0
    text = capsys.readouterr().out
    assert "OPT =" in text and "LB (Thm 2)" in text and "certificate: ok (exact rational)" in text


def test_solve_poisoning_unreachable_target_prints_a_farkas_certificate(capsys, tmp_path):
    path = _write_poisoning(tmp_path, theta_A=None, target_moment=[100, 0])
    assert main(["solve", str(path)]) == 0
    text = capsys.readouterr().out
    assert "infeasible" in text and "Farkas" in text and "(certified, exact)" in text


def test_solve_poisoning_with_more_features_than_pairs_says_no_saving(capsys, tmp_path):
    path = _write_poisoning(tmp_path, Phi=[[1, 0], [0, 1], [1, 1]], theta_O=[1, 1],
                            theta_A=[0, 0.5])
    assert main(["solve", str(path)]) == 0
    assert "no saving is possible" in capsys.readouterr().out


def test_solve_poisoning_bad_file_exits_2(capsys, tmp_path):
    path = _write_poisoning(tmp_path, theta_O=[1, 1, 2, 1, 1])
    assert main(["solve", str(path)]) == 2
    assert "theta_O" in capsys.readouterr().err


def test_execution_options_are_validated(capsys, tmp_path):
    assert main(["check", "--workers", "0", "--out", str(tmp_path)]) == 2
    assert main(["check", "--shard-size", "0", "--out", str(tmp_path)]) == 2
    assert main(["figures", "--workers", "-1", "--out", str(tmp_path)]) == 2
    assert "--workers = -1" in capsys.readouterr().err
    assert main(["reproduce", "--select", "no.such.*", "--out", str(tmp_path)]) == 2
    assert "matches no theorem" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_large_check_is_sharded_and_merged(capsys, tmp_path):
    # 7 examples in shards of at most 3: 3 shards of 3, 2, 2 examples
    args = ["check", "ccmdp.union_bound", "--examples", "7", "--shard-size", "3", "--json",
            "--out", str(tmp_path)]
    assert main(args) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["shards"] == 3 and line["examples"] == 7 and line["cached"] is False
    shards = [json.loads(p.read_text())["payload"]["result"]
              for p in (tmp_path / "checks" / "ccmdp.union_bound" / "shards").glob("*.json")]
    assert sorted(s["examples"] for s in shards) == [2, 2, 3]
    assert len({s["seed"] for s in shards}) == 3  # each shard its own seed
    assert line["instances"] == sum(s["instances"] for s in shards)
    assert line["min_margin"] == min(s["min_margin"] for s in shards)
    assert main(args) == 0 and json.loads(capsys.readouterr().out)["cached"] is True
