"""report.json, report.md and a self-contained report.html (plots inlined as base64 PNG)."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from .metrics import CONVERSATION_METRICS, STAGES, lower_is_better

HEADLINE = (
    ("key_accuracy_answerable", "Key accuracy (answerable)"),
    ("key_accuracy", "Key accuracy (all; refusal correct for unanswerable)"),
    ("hit_at_k", "Gold source hit@k"),
    ("mrr", "Gold source MRR"),
    ("evidence_recall", "Evidence recall (retrieved passages)"),
    ("citation_precision", "Citation precision"),
    ("citation_precision_quote", "Citation precision, quote only"),
    ("citation_recall", "Citation recall"),
    ("quote_validity", "Quote validity"),
    ("unanswerable_refused", "Unanswerable refused"),
    ("answerable_wrongly_refused", "Answerable wrongly refused"),
    ("selective.coverage", "Coverage (share answered)"),
    ("selective.accuracy_answered", "Accuracy of answered questions"),
    ("selective.risk_coverage_area", "Risk-coverage area (accuracy over coverage)"),
    ("selective.confidence_auc", "Confidence AUC (correct vs wrong or answered unanswerable)"),
)


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def write_reports(report: dict[str, Any], out: str | Path) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    paths["md"].write_text(markdown(report), encoding="utf-8")
    paths["html"].write_text(to_html(report), encoding="utf-8")
    return paths


def failures(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in report["questions"] if "error" in r or not r["metrics"]["key_correct"]]


def _latency_rows(metrics: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(s, metrics.get(f"latency.{s}.p50"), metrics.get(f"latency.{s}.p95")) for s in STAGES]


# -- markdown --------------------------------------------------------------------
def md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(report: dict[str, Any]) -> str:
    m, cfg = report["metrics"], report["config"]
    lines = [
        "# Evaluation report",
        "",
        f"{m['questions']} questions from `{cfg['questions_file']}`, {cfg['documents']} indexed documents, "
        f"k = {cfg['k']}, answerer `{cfg['settings'].get('llm')}`, commit `{cfg.get('git_commit')}`, {cfg['created']}.",
        "",
        "| metric | value |",
        "|---|---:|",
    ]
    lines += [f"| {label} (`{name}`) | {fmt(m.get(name))} |" for name, label in HEADLINE]
    if m.get("errors"):
        lines.append(f"| questions that raised an error | {m['errors']} |")
    lines += [
        "",
        "## By question type",
        "",
        "| type | n | key accuracy | hit@k | MRR | refused |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for t, row in report["by_type"].items():
        lines.append(
            f"| {t} | {row['n']} | {fmt(row['key_accuracy'])} | {fmt(row['hit_at_k'])} | {fmt(row['mrr'])} "
            f"| {fmt(row['refused'])} |"
        )
    if m.get("follow_up.questions"):
        lines += [
            "",
            "## Follow-up questions (with a history) and first questions",
            "",
            "| | n | key accuracy | answerable | unanswerable refused | wrongly refused |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for part in ("follow_up", "first"):
            lines.append(
                f"| {part.replace('_', '-')} | "
                + " | ".join(fmt(m.get(f"{part}.{n}")) for n in CONVERSATION_METRICS)
                + " |"
            )
    lines += ["", "## Latency (ms)", "", "| stage | p50 | p95 |", "|---|---:|---:|"]
    lines += [f"| {s} | {fmt(a)} | {fmt(b)} |" for s, a, b in _latency_rows(m)]
    if report.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {md_cell(w)}" for w in report["warnings"]]
    bad = failures(report)
    lines += ["", f"## Wrong answers ({len(bad)})", ""]
    if bad:
        lines += ["| id | type | question | gold | answer | missing |", "|---|---|---|---|---|---|"]
        for r in bad:
            ans = r.get("error") or r["answer"]["text"]
            missing = ", ".join(r.get("metrics", {}).get("missing_keys", []))
            lines.append(
                f"| {r['id']} | {r['type']} | {md_cell(r['gold']['question'])} | {md_cell(r['gold']['answer'])} | "
                f"{md_cell(ans[:300])} | {md_cell(missing)} |"
            )
    return "\n".join(lines) + "\n"


# -- plots -----------------------------------------------------------------------
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(report: dict[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    by_type = report["by_type"]
    types = list(by_type)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    values = [by_type[t]["key_accuracy"] or 0.0 for t in types]
    bars = ax.bar(types, values, color="#3b6ea5")
    for bar, t in zip(bars, types, strict=True):
        ax.annotate(
            f"n={by_type[t]['n']}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("key accuracy")
    ax.set_title("Accuracy by question type")
    ax.tick_params(axis="x", rotation=30)
    out["accuracy_by_type"] = _png(fig)

    ok = [r for r in report["questions"] if "error" not in r]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    data = [[float(r["timings"].get(s, 0.0)) for r in ok] for s in STAGES]
    if any(data):
        ax.boxplot(data, showfliers=True)
        ax.set_xticks(range(1, len(STAGES) + 1), STAGES)
    ax.set_ylabel("ms")
    ax.set_title("Latency per stage")
    out["latency"] = _png(fig)

    k = report["config"]["k"]
    ranks = [r["metrics"].get("gold_rank") for r in ok if r["answerable"]]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    labels = [str(i) for i in range(1, k + 1)] + ["miss"]
    counts = [sum(1 for x in ranks if x == i) for i in range(1, k + 1)] + [sum(1 for x in ranks if x is None)]
    ax.bar(labels, counts, color=["#3b6ea5"] * k + ["#c0504d"])
    ax.set_xlabel("rank of the first passage from a gold source")
    ax.set_ylabel("questions")
    ax.set_title("Retrieval rank of the gold source")
    out["gold_rank"] = _png(fig)
    if report.get("risk_coverage"):
        out["risk_coverage"] = risk_coverage_png(report["risk_coverage"], report["metrics"])
    return out


def risk_coverage_png(curve: list[tuple[float, float]], metrics: dict[str, Any], prefix: str = "selective.") -> str:
    """Accuracy of the answered questions against the share answered, most confident first."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot([c for c, _ in curve], [a for _, a in curve], color="#3b6ea5")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("accuracy of answered")
    ax.set_title(
        f"Risk-coverage (area {fmt(metrics.get(prefix + 'risk_coverage_area'))}, "
        f"confidence AUC {fmt(metrics.get(prefix + 'confidence_auc'))})"
    )
    return _png(fig)


# -- html ------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1150px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right}
.ok{color:#1a7f37}.bad{color:#c62828}.muted{color:#777}
img{max-width:100%;border:1px solid #eee;margin:6px 0}
details{margin:2px 0}summary{cursor:pointer}
.plots{display:flex;flex-wrap:wrap;gap:12px}
"""


def esc(x: Any) -> str:
    return html.escape(fmt(x) if not isinstance(x, str) else x)


def to_html(report: dict[str, Any]) -> str:
    m, cfg = report["metrics"], report["config"]
    imgs = plots(report)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        # No external resources: the report must open offline.
        "<meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        "<title>Evaluation report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Evaluation report</h1>",
        f"<p class='muted'>{esc(m['questions'])} questions from <code>{esc(cfg['questions_file'])}</code>; "
        f"{esc(cfg['documents'])} indexed documents; k = {esc(cfg['k'])}; "
        f"answerer <code>{esc(str(cfg['settings'].get('llm')))}</code>; "
        f"commit <code>{esc(str(cfg.get('git_commit')))}</code>; {esc(cfg['created'])}</p>",
        "<h2>Metrics</h2><table><tr><th>metric</th><th>name</th><th>value</th></tr>",
    ]
    for name, label in HEADLINE:
        parts.append(
            f"<tr><td>{esc(label)}</td><td><code>{esc(name)}</code></td><td class='num'>{esc(m.get(name))}</td></tr>"
        )
    parts.append("</table>")
    parts.append("<div class='plots'>")
    for key, alt in (
        ("accuracy_by_type", "Accuracy by question type"),
        ("gold_rank", "Retrieval rank of the gold source"),
        ("latency", "Latency per stage"),
    ):
        parts.append(f"<img alt='{alt}' src='data:image/png;base64,{imgs[key]}'>")
    parts.append("</div>")
    parts.append(
        "<h2>By question type</h2><table><tr><th>type</th><th>n</th><th>key accuracy</th><th>hit@k</th>"
        "<th>MRR</th><th>refused</th></tr>"
    )
    for t, row in report["by_type"].items():
        parts.append(
            f"<tr><td>{esc(t)}</td><td class='num'>{row['n']}</td><td class='num'>{esc(row['key_accuracy'])}</td>"
            f"<td class='num'>{esc(row['hit_at_k'])}</td><td class='num'>{esc(row['mrr'])}</td>"
            f"<td class='num'>{esc(row['refused'])}</td></tr>"
        )
    parts.append("</table><h2>Latency (ms)</h2><table><tr><th>stage</th><th>p50</th><th>p95</th></tr>")
    for s, a, b in _latency_rows(m):
        parts.append(f"<tr><td>{s}</td><td class='num'>{esc(a)}</td><td class='num'>{esc(b)}</td></tr>")
    parts.append("</table>")
    if report.get("warnings"):
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{esc(w)}</li>" for w in report["warnings"]) + "</ul>")
    parts.append(
        "<h2>Questions</h2><p class='muted'>Click a question for the answer, its citations and the gold data.</p>"
    )
    parts.append(
        "<table><tr><th>id</th><th>type</th><th>question</th><th>correct</th><th>gold rank</th>"
        "<th>cit. prec.</th><th>ms</th></tr>"
    )
    for r in report["questions"]:
        met = r.get("metrics", {})
        good = "error" not in r and met.get("key_correct")
        mark = f"<span class='{'ok' if good else 'bad'}'>{'✓' if good else '✗'}</span>"
        body = _question_detail(r)
        parts.append(
            f"<tr><td>{esc(r['id'])}</td><td>{esc(r['type'])}</td>"
            f"<td><details><summary>{esc(r['gold']['question'])}</summary>{body}</details></td>"
            f"<td>{mark}</td><td class='num'>{esc(met.get('gold_rank'))}</td>"
            f"<td class='num'>{esc(met.get('citation_precision'))}</td>"
            f"<td class='num'>{esc((r.get('timings') or {}).get('total'))}</td></tr>"
        )
    parts.append("</table>")
    parts.append("<h2>Configuration</h2><pre>" + html.escape(json.dumps(cfg, indent=1, ensure_ascii=False)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _question_detail(r: dict[str, Any]) -> str:
    g = r["gold"]
    out = []
    if g.get("history"):
        out.append(
            "<p class='muted'>history: "
            + " / ".join(esc(f"{t['role']}: {t['content']}") for t in g["history"])
            + "</p>"
        )
    out.append(
        f"<p><b>gold:</b> {esc(g['answer'])}<br><b>keys:</b> {esc(', '.join(g['must_include']) or '–')}"
        f"<br><b>sources:</b> {esc(', '.join(g['sources']) or '–')}</p>"
    )
    if "error" in r:
        return "".join(out) + f"<p class='bad'>error: {esc(r['error'])}</p>"
    a, met = r["answer"], r["metrics"]
    out.append(f"<p><b>answer{' (refused)' if a['refused'] else ''}:</b> {esc(a['text'])}</p>")
    if met.get("missing_keys"):
        out.append(f"<p class='bad'>missing: {esc(', '.join(met['missing_keys']))}</p>")
    judged = {j["n"]: j for j in met.get("citations", [])}
    quotes = {x["n"]: x for x in met.get("quotes", [])}
    for c in a.get("citations", []):
        j, qv = judged.get(c["n"]), quotes.get(c["n"], {})
        verdict = (
            ""
            if j is None
            else (
                " <span class='ok'>supports gold</span>"
                if j["correct"]
                else " <span class='bad'>not gold evidence</span>"
            )
        )
        valid = "" if qv.get("valid", True) else " <span class='bad'>quote not verbatim</span>"
        out.append(
            f"<p>[{c['n']}] {esc(Path(c['source']).name)}:{c['start']}-{c['end']}{verdict}{valid}"
            f"<br>“{esc(c['quote'])}”</p>"
        )
    return "".join(out)


# -- compare ---------------------------------------------------------------------
def compare(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any, float | None, str]]:
    """(metric, A, B, B - A, verdict) for every metric in either report."""
    names = list(dict.fromkeys([*a["metrics"], *b["metrics"]]))
    rows = []
    for name in names:
        va, vb = a["metrics"].get(name), b["metrics"].get(name)
        delta = None
        verdict = ""
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and not isinstance(va, bool):
            delta = round(vb - va, 4)
            if name.rsplit(".", 1)[-1] not in ("questions", "k", "errors") and abs(delta) > 1e-9:
                better = delta < 0 if lower_is_better(name) else delta > 0
                verdict = "better" if better else "worse"
        rows.append((name, va, vb, delta, verdict))
    return rows
