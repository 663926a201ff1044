"""The report: findings are not failures, tables escape their cells, HTML is self-contained."""

from __future__ import annotations

import base64
import sys
import types
from pathlib import Path

from experiments.cli import main
from experiments.figures import FigureRun, get_figure
from experiments.report import ReportData, render_html, render_markdown, status_label

PNG = b"\x89PNG\r\n\x1a\nnot-really-a-png"


def _check(tid: str, expected: str, status: str, **extra) -> dict:
    return {"id": tid, "source": "Paper | Thm 1", "expected": expected, "instances": 10,
            "violations": int(status == "violated"), "min_margin": -0.0, "status": status,
            "counterexample": "counterexamples/x.json" if status == "violated" else None,
            "error": None, **extra}


def _data(tmp_path: Path, proofs_pass: bool = True, failing: bool = True) -> ReportData:
    fig_dir = tmp_path / "vi_error"
    fig_dir.mkdir(parents=True)
    (fig_dir / "figure.png").write_bytes(PNG)
    run = FigureRun(get_figure("vi_error"), fig_dir, {"figure.png": fig_dir / "figure.png"},
                    "0" * 64, cached=False)
    checks = [_check("a.holds", "holds", "holds"), _check("b.finding", "violated", "violated")]
    if failing:
        checks.append(_check("c.broken", "holds", "violated"))
    proofs = [{"name": "p", "statement": r"a<b \| c", "residual": "0", "passed": proofs_pass}]
    return ReportData(checks=checks, proofs=proofs, figures=[run],
                      settings={"quick": True, "seed": 0, "examples": 10,
                                "versions": {"boundlab": "0"}})


def test_status_labels_separate_findings_from_failures():
    assert status_label(_check("x", "holds", "holds")) == "holds"
    assert status_label(_check("x", "violated", "violated")) == "finding"
    assert status_label(_check("x", "holds", "violated")).startswith("FAILED")
    assert status_label(_check("x", "holds", "error")).startswith("FAILED")
    assert status_label(_check("x", "violated", "holds")).startswith("FAILED")


def test_overall_ok_needs_expected_statuses_and_passing_proofs(tmp_path):
    assert not _data(tmp_path / "1").ok
    assert _data(tmp_path / "2", failing=False).ok
    assert not _data(tmp_path / "3", failing=False, proofs_pass=False).ok
    assert [c["id"] for c in _data(tmp_path / "4").findings] == ["b.finding"]


def test_markdown_has_the_theorem_table_findings_and_figure(tmp_path):
    md = render_markdown(_data(tmp_path), tmp_path)
    assert ("| id | source | expected | instances tried | violations | tightest margin | "
            "status |") in md
    assert "| b.finding | Paper \\| Thm 1 | violated | 10 | 1 | 0 | finding |" in md
    assert "FAILED: violated (expected holds)" in md and "## Failures" in md
    assert "![vi_error](vi_error/figure.png)" in md and get_figure("vi_error").caption in md
    assert "-0" not in md.split("## Theorems")[1].split("## Findings")[0]


def test_html_is_self_contained_and_escaped(tmp_path):
    page = render_html(_data(tmp_path), tmp_path)
    assert f"data:image/png;base64,{base64.b64encode(PNG).decode()}" in page
    for external in ("src=\"http", "href=\"http", "<link", "<script", "src=\"vi_error"):
        assert external not in page
    assert "a&lt;b" in page and 'class="finding"' in page and 'class="failed"' in page


def test_reproduce_fails_when_a_proof_check_fails(tmp_path, monkeypatch, capsys):
    fake = types.ModuleType("proofs_check")
    fake.__file__ = str(tmp_path / "fake_proofs" / "__init__.py")
    (tmp_path / "fake_proofs").mkdir()

    class Broken:
        def to_json(self):
            return {"name": "broken_identity", "statement": "x = x + 1", "residual": "-1",
                    "passed": False}

    fake.checks = lambda: ("broken_identity",)
    fake.run = lambda name: Broken()
    fake.run_all = lambda: [Broken()]
    monkeypatch.setitem(sys.modules, "proofs_check", fake)
    out = tmp_path / "out"
    # a slice (one theorem, the broken proof check, no figure) keeps this test fast
    assert main(["reproduce", "--quick", "--examples", "5", "--select",
                 "mdp.value_equals_occupancy", "--select", "broken_identity",
                 "--out", str(out)]) == 1
    md = (out / "report.md").read_text()
    assert "| broken_identity | $x = x + 1$ | -1 | NO |" in md and "Overall: FAILURES" in md


def test_report_bytes_do_not_depend_on_where_the_output_lives(tmp_path):
    # the same results rendered under two directories: no absolute path, time or host leaks
    import socket

    ra, rb = tmp_path / "a", tmp_path / "elsewhere" / "b"
    a, b = _data(ra), _data(rb)
    md_a, md_b = render_markdown(a, ra), render_markdown(b, rb)
    assert md_a == md_b and str(tmp_path) not in md_a
    assert render_html(a, ra) == render_html(b, rb)
    host = socket.gethostname()
    assert len(host) < 6 or host not in md_a  # (a very short host name could occur by chance)
