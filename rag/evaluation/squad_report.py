"""report.json, report.md and a self-contained report.html for a SQuAD run (rag/evaluation/squad.py).

Formatting, escaping and the stylesheet come from report.py, so both kinds of
report read alike; only the layout differs (no question types, no gold sources).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .report import CSS, esc, fmt, md_cell, risk_coverage_png

MAX_WRONG = 50  # rows of the wrong-answer table; report.json holds them all

LABELS = (
    ("answerable_correct", "Answerable: a gold answer in the answer"),
    ("answerable_wrongly_refused", "Answerable wrongly refused"),
    ("unanswerable_refused", "Unanswerable refused"),
    ("overall", "Overall: answerable correct or unanswerable refused"),
    ("own_context_cited_first", "First citation from the question's own context"),
    ("own_context_cited", "Some citation from the question's own context"),
    ("selective.coverage", "Coverage (share answered)"),
    ("selective.accuracy_answered", "Accuracy of answered questions"),
    ("selective.risk_coverage_area", "Risk-coverage area (accuracy over coverage)"),
    ("selective.confidence_auc", "Confidence AUC (correct vs wrong or answered unanswerable)"),
    ("latency.total.p50", "Latency p50 (ms)"),
    ("latency.total.p95", "Latency p95 (ms)"),
    ("errors", "Questions that raised an error"),
)


def rows(metrics: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(label, name, value) for the metrics this run has."""
    return [(label, name, metrics[name]) for name, label in LABELS if name in metrics]


def title(report: dict[str, Any]) -> str:
    cfg = report["config"]
    return (
        f"{'SQuAD 2.0 sample' if cfg['kind'] == 'squad2' else 'SQuAD v1.1 held-out articles'}, {cfg['mode']} retrieval"
    )


def summary(report: dict[str, Any]) -> str:
    m, cfg = report["metrics"], report["config"]
    return (
        f"{m['questions']} questions ({m['answerable']} answerable) from {cfg['dataset']}, "
        f"{cfg['documents']} documents, "
        f"k = {cfg['k']}, answerer {cfg['settings'].get('llm')}, commit {cfg.get('git_commit')}, {cfg['created']}, "
        f"{cfg['wall_seconds']} s."
    )


def wrong(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in report["questions"] if not r["correct"]]


def _answer_of(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"error: {r['error']}"
    return ("(refused) " if r["refused"] else "") + r["answer"]


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# {title(report)}", "", summary(report), "", "| metric | value |", "|---|---:|"]
    lines += [f"| {label} (`{name}`) | {fmt(value)} |" for label, name, value in rows(report["metrics"])]
    if report.get("by_title"):
        lines += ["", "## By article", "", "| article | questions | answerable correct |", "|---|---:|---:|"]
        lines += [f"| {t} | {v['n']} | {fmt(v['answerable_correct'])} |" for t, v in report["by_title"].items()]
    bad = wrong(report)
    lines += ["", f"## Wrong answers ({len(bad)}{f', first {MAX_WRONG}' if len(bad) > MAX_WRONG else ''})", ""]
    if bad:
        lines += ["| id | question | gold | answer | cited |", "|---|---|---|---|---|"]
        for r in bad[:MAX_WRONG]:
            gold = " / ".join(r["gold"]) or "(unanswerable)"
            lines.append(
                f"| {r['id']} | {md_cell(r['question'])} | {md_cell(gold)} | {md_cell(_answer_of(r)[:300])} "
                f"| {md_cell(', '.join(r['cited']))} |"
            )
    return "\n".join(lines) + "\n"


def to_html(report: dict[str, Any]) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        # No external resources and no script: the report must open offline.
        "<meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{esc(title(report))}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title(report))}</h1><p class='muted'>{esc(summary(report))}</p>",
        "<h2>Metrics</h2><table><tr><th>metric</th><th>name</th><th>value</th></tr>",
    ]
    parts += [
        f"<tr><td>{esc(label)}</td><td><code>{esc(name)}</code></td><td class='num'>{esc(value)}</td></tr>"
        for label, name, value in rows(report["metrics"])
    ]
    parts.append("</table>")
    if report.get("risk_coverage"):
        import matplotlib

        matplotlib.use("Agg")
        png = risk_coverage_png(report["risk_coverage"], report["metrics"])
        parts.append(f"<h2>Risk-coverage</h2><img alt='risk-coverage' src='data:image/png;base64,{png}'>")
    if report.get("by_title"):
        parts.append("<h2>By article</h2><table><tr><th>article</th><th>questions</th><th>answerable correct</th></tr>")
        parts += [
            f"<tr><td>{esc(t)}</td><td class='num'>{v['n']}</td>"
            f"<td class='num'>{esc(v['answerable_correct'])}</td></tr>"
            for t, v in report["by_title"].items()
        ]
        parts.append("</table>")
    parts.append("<h2>Questions</h2><p class='muted'>Click a question for its answer, gold answers and citations.</p>")
    parts.append("<table><tr><th>id</th><th>question</th><th>correct</th><th>ms</th></tr>")
    for r in report["questions"]:
        mark = "<span class='ok'>✓</span>" if r["correct"] else "<span class='bad'>✗</span>"
        gold = " / ".join(r["gold"]) or "(unanswerable)"
        detail = (
            f"<p><b>gold:</b> {esc(gold)}<br><b>own context:</b> {esc(r['doc'])}</p>"
            f"<p><b>answer:</b> {esc(_answer_of(r))}</p>"
            f"<p><b>cited:</b> {esc(', '.join(r['cited']) or '–')}</p>"
        )
        parts.append(
            f"<tr><td>{esc(r['id'])}</td><td><details><summary>{esc(r['question'])}</summary>{detail}</details></td>"
            f"<td>{mark}</td><td class='num'>{esc(r.get('ms'))}</td></tr>"
        )
    parts.append(
        "</table><h2>Configuration</h2><pre>"
        + html.escape(json.dumps(report["config"], indent=1, ensure_ascii=False))
        + "</pre>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_squad_reports(report: dict[str, Any], out: str | Path) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    texts = {"json": json.dumps(report, indent=1, ensure_ascii=False), "md": markdown(report), "html": to_html(report)}
    paths = {kind: out / f"report.{kind}" for kind in texts}
    for kind, text in texts.items():
        paths[kind].write_text(text, encoding="utf-8")
    return paths
