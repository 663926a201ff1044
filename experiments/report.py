"""report.md and a self-contained report.html: theorem table, findings, proof checks, figures.

Both files depend only on the results (no timestamps, no timings), so the same
seed gives the same bytes.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .figures import FigureRun
from .store import atomic_write_text

__all__ = ["ReportData", "status_label", "write_report"]


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows."""

    checks: Sequence[dict[str, Any]]
    proofs: Sequence[dict[str, Any]]
    figures: Sequence[FigureRun]
    settings: dict[str, Any]

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if c["status"] != c["expected"]]

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if c["expected"] == "violated" == c["status"]]

    @property
    def ok(self) -> bool:
        return not self.failures and all(p["passed"] for p in self.proofs)


def status_label(c: dict[str, Any]) -> str:
    """"holds", "finding" (violated, as registered), or "FAILED: <status>"."""
    if c["status"] == c["expected"]:
        return "finding" if c["status"] == "violated" else "holds"
    return f"FAILED: {c['status']} (expected {c['expected']})"


def _margin(c: dict[str, Any]) -> str:
    m = c.get("min_margin")
    return "n/a" if m is None else f"{m + 0.0:.3g}"  # + 0.0 turns -0.0 into 0


def _rows(data: ReportData) -> list[list[str]]:
    return [[c["id"], c["source"], c["expected"], str(c["instances"]), str(c["violations"]),
             _margin(c), status_label(c)] for c in data.checks]


_HEAD = ["id", "source", "expected", "instances tried", "violations", "tightest margin",
         "status"]


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(data: ReportData, root: Path) -> str:
    """The report as Markdown (figures linked by relative path)."""
    s = data.settings
    out = ["# boundlab report", ""]
    out.append(f"Mode: {'quick' if s['quick'] else 'full'}; seed {s['seed']}; "
               f"{s['examples']} examples per theorem; versions: "
               + ", ".join(f"{k} {v}" for k, v in sorted(s["versions"].items())) + ".")
    out.append("")
    n_ok = len(data.checks) - len(data.failures)
    out.append(f"**{n_ok}/{len(data.checks)} theorems as registered** "
               f"({len(data.findings)} findings), "
               f"**{sum(p['passed'] for p in data.proofs)}/{len(data.proofs)} proof checks "
               f"passed**, {len(data.figures)} figure(s). Overall: "
               f"{'OK' if data.ok else 'FAILURES (see below)'}.")
    out += ["", "## Theorems", "",
            "Margin = normalised slack (rhs - lhs for <=; -|lhs - rhs| for ==) of the tightest "
            "instance found; a theorem holds on an instance when slack >= -tol, with tol "
            "justified by the numerics in each check.", ""]
    out.append("| " + " | ".join(_HEAD) + " |")
    out.append("|" + " --- |" * len(_HEAD))
    for row in _rows(data):
        out.append("| " + " | ".join(_md_escape(x) for x in row) + " |")
    out += ["", "## Findings: published statements registered as violated", ""]
    if data.findings:
        for c in data.findings:
            line = (f"- `{c['id']}` ({_md_escape(c['source'])}): "
                    f"counterexample `{c['counterexample']}`")
            ev = c.get("counterexample_evidence")
            if ev:
                line += (f" (lhs {ev['lhs']:.6g} {ev['relation']} rhs {ev['rhs']:.6g} fails, "
                         f"slack {ev['slack']:.3g})")
            if c.get("corrected"):
                line += f"; corrected statement: `{c['corrected']}`"
            out.append(line)
    else:
        out.append("None registered yet.")
    if data.failures:
        out += ["", "## Failures", ""]
        for c in data.failures:
            detail = c.get("error") or f"counterexample `{c.get('counterexample')}`"
            out.append(f"- `{c['id']}`: {status_label(c)}; {detail}")
    out += ["", "## Proof checks (sympy)", "", "| name | statement | residual | passed |",
            "| --- | --- | --- | --- |"]
    for p in data.proofs:
        out.append(f"| {p['name']} | ${_md_escape(p['statement'])}$ | "
                   f"{_md_escape(p['residual'])} | {'yes' if p['passed'] else 'NO'} |")
    out += ["", "## Figures", ""]
    for run in data.figures:
        rel = run.directory.relative_to(root).as_posix()
        out += [f"### {run.figure.name}", "",
                f"![{run.figure.name}]({rel}/figure.png)", "",
                run.figure.caption.replace("\n", " "), "",
                f"Data: `{rel}/data.csv`; config and seed: `{rel}/config.json` "
                f"(hash `{run.hash[:12]}`).", ""]
    return "\n".join(out).rstrip() + "\n"


_CSS = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;}"
        "table{border-collapse:collapse;font-size:90%;}td,th{border:1px solid #bbb;"
        "padding:.25em .5em;text-align:left;}th{background:#eee;}"
        ".finding{color:#8a5a00;font-weight:bold;}.failed{color:#b00;font-weight:bold;}"
        "img{max-width:100%;}code{background:#f4f4f4;}")


def render_html(data: ReportData, root: Path) -> str:
    """The report as one HTML file with every figure embedded (base64 PNG)."""
    e = html.escape
    s = data.settings
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<title>boundlab report</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>boundlab report</h1>",
             f"<p>Mode: {'quick' if s['quick'] else 'full'}; seed {s['seed']}; "
             f"{s['examples']} examples per theorem; versions: "
             + e(", ".join(f"{k} {v}" for k, v in sorted(s["versions"].items()))) + ".</p>",
             f"<p><strong>Overall: {'OK' if data.ok else 'FAILURES'}</strong> "
             f"({len(data.checks) - len(data.failures)}/{len(data.checks)} theorems as "
             f"registered, {len(data.findings)} findings).</p>",
             "<h2>Theorems</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in _HEAD)
             + "</tr>"]
    for row, c in zip(_rows(data), data.checks, strict=True):
        label = status_label(c)
        cls = "finding" if label == "finding" else ("failed" if label.startswith("FAILED")
                                                     else "")
        cells = "".join(f"<td>{e(x)}</td>" for x in row[:-1])
        parts.append(f"<tr>{cells}<td class=\"{cls}\">{e(row[-1])}</td></tr>")
    parts.append("</table><h2>Findings</h2>")
    if data.findings:
        parts.append("<ul>" + "".join(
            f"<li><code>{e(c['id'])}</code> ({e(c['source'])}): counterexample "
            f"<code>{e(str(c['counterexample']))}</code>"
            + (f"; corrected: <code>{e(c['corrected'])}</code>" if c.get("corrected") else "")
            + "</li>" for c in data.findings) + "</ul>")
    else:
        parts.append("<p>None registered yet.</p>")
    parts.append("<h2>Proof checks (sympy)</h2><table><tr><th>name</th><th>statement</th>"
                 "<th>residual</th><th>passed</th></tr>")
    for p in data.proofs:
        parts.append(f"<tr><td>{e(p['name'])}</td><td><code>{e(p['statement'])}</code></td>"
                     f"<td>{e(p['residual'])}</td><td>{'yes' if p['passed'] else 'NO'}</td></tr>")
    parts.append("</table><h2>Figures</h2>")
    for run in data.figures:
        png = base64.b64encode((run.directory / "figure.png").read_bytes()).decode("ascii")
        rel = run.directory.relative_to(root).as_posix()
        parts.append(f"<h3>{e(run.figure.name)}</h3><figure><img alt=\"{e(run.figure.name)}\" "
                     f"src=\"data:image/png;base64,{png}\"><figcaption>{e(run.figure.caption)} "
                     f"Data: <code>{e(rel)}/data.csv</code>.</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(data: ReportData, root: str | Path) -> tuple[Path, Path]:
    """Write ``root/report.md`` and ``root/report.html`` atomically."""
    root = Path(root)
    md = atomic_write_text(root / "report.md", render_markdown(data, root))
    page = atomic_write_text(root / "report.html", render_html(data, root))
    return md, page
