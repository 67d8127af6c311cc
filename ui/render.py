"""HTML and Markdown for the chat, built only from escaped text.

Everything that comes from a briefing (titles, regions, file names, passages,
quotes, the answer itself, which quotes briefings) goes through ``esc`` before
it is placed in markup, so a briefing holding ``<script>`` or
``<img onerror=...>`` is shown as those characters and never runs. The only
tags in the output are the ones written in this module.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from .paths import scrub

CITE = re.compile(r"\[(\d{1,3})\]")

# Characters that Markdown (and the chat's KaTeX) would read as syntax. Not ``>``: it
# becomes ``&gt;`` below, which starts no blockquote, and ``\&gt;`` would show as "&gt;".
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~$])")


def esc(value: Any) -> str:
    """Text as HTML text: ``<``, ``>``, ``&`` and both quotes escaped."""
    return html.escape("" if value is None else str(value), quote=True)


def md_text(value: str) -> str:
    """Text for the Markdown chat: HTML-escaped, then Markdown syntax neutralised."""
    return esc(_MD_SPECIAL.sub(r"\\\1", "" if value is None else str(value)))


def file_name(source: str) -> str:
    return Path(source or "").name


# -- the answer in the chat ---------------------------------------------------------


def answer_markdown(text: str, turn: int | None = None, cited: set[int] | None = None) -> str:
    """The answer as chat Markdown, each ``[n]`` a link to source card ``n``.

    ``turn`` is the chat message index of the answer, so a marker in an older
    answer opens that answer's cards. Markers without a citation stay text.
    """
    out: list[str] = []
    pos = 0
    for match in CITE.finditer(text or ""):
        out.append(md_text(text[pos : match.start()]))
        n = int(match.group(1))
        if turn is not None and (cited is None or n in cited):
            out.append(
                f'<a class="cite-ref" href="#cite-{turn}-{n}" data-turn="{turn}" data-n="{n}" '
                f'title="Show source {n}">[{n}]</a>'
            )
        else:
            out.append(md_text(match.group(0)))
        pos = match.end()
    out.append(md_text((text or "")[pos:]))
    return "".join(out)


def verdict_markdown(refused: bool, confidence: float) -> str:
    """The line under an answer that tells answered from refused at a glance."""
    if refused:
        return "\n\n🚫 **Not answered** · the closest evidence is in the sources panel, marked as not answering"
    return f"\n\n✅ *Answered from the cited sentences · confidence {confidence:.2f}*"


def streaming_markdown(partial: str) -> str:
    return answer_markdown(partial) + " ▌"


def error_markdown(message: str) -> str:
    return "⚠️ " + md_text(message)


def user_markdown(question: str) -> str:
    return md_text(question)


# -- the sources panel -------------------------------------------------------------


def _highlight(passage: str, quote: str) -> str:
    """The passage with ``quote`` marked; if the quote is not inside it, quote first."""
    if quote:
        at = passage.find(quote)
        if at >= 0:
            return esc(passage[:at]) + f'<mark class="quote">{esc(quote)}</mark>' + esc(passage[at + len(quote) :])
        return f'<mark class="quote">{esc(quote)}</mark><span class="rest">{esc(passage)}</span>'
    return esc(passage)


def _meta(title: str, date: str | None, region: str | None, source: str) -> str:
    bits = [
        f'<span class="date">{esc(date)}</span>' if date else "",
        f'<span class="region">{esc(region)}</span>' if region else "",
        f'<span class="file" title="{esc(source)}">{esc(file_name(source))}</span>',
    ]
    return f'<div class="card-title">{esc(title)}</div><div class="card-meta">{" · ".join(b for b in bits if b)}</div>'


def _quoted_sentence(c: dict, n_attr: str = "") -> str:
    """A citation's (or closest sentence's) passage with the quote marked, and the button that opens it."""
    return (
        f'<div class="passage">{_highlight(c.get("passage") or "", c.get("quote") or "")}</div>'
        f'<button class="open-doc" type="button" data-doc="{esc(c.get("doc_id", ""))}" '
        f'data-start="{int(c.get("start", 0))}" data-end="{int(c.get("end", 0))}"{n_attr}>'
        f"Open briefing at this sentence</button>"
    )


def citation_card(c: dict, turn: int) -> str:
    n = int(c["n"])
    n_attr = f' data-n="{n}"'
    meta = _meta(c["title"], c.get("date"), c.get("region"), c["source"])
    return (
        f'<div class="src-card" id="cite-{turn}-{n}" data-n="{n}">'
        f'<div class="card-head"><span class="card-n">[{n}]</span>{meta}</div>'
        f"{_quoted_sentence(c, n_attr)}</div>"
    )


def closest_card(c: dict) -> str:
    """A sentence a refusal found nearest: styled apart from citations, no ``[n]``."""
    return (
        f'<div class="src-card closest">'
        f'<div class="card-head"><span class="card-tag">closest, not an answer</span>'
        f'{_meta(c["title"], c.get("date"), c.get("region"), c["source"])}</div>'
        f"{_quoted_sentence(c)}</div>"
    )


def passage_card(p: dict) -> str:
    ranks = [f"score {float(p.get('score') or 0):.3f}", f"rank {p.get('rank')}"]
    if p.get("dense_rank") is not None:
        ranks.append(f"dense #{p['dense_rank']}")
    if p.get("bm25_rank") is not None:
        ranks.append(f"BM25 #{p['bm25_rank']}")
    heading = f'<div class="heading">{esc(p["heading"])}</div>' if p.get("heading") else ""
    return (
        f'<div class="src-card uncited" data-chunk="{esc(p.get("chunk_id", ""))}">'
        f'<div class="card-head">{_meta(p["title"], p.get("date"), p.get("region"), p["source"])}'
        f'<div class="scores">{esc(" · ".join(ranks))}</div></div>'
        f'{heading}<div class="passage">{esc(p.get("text") or "")}</div>'
        f'<button class="open-doc" type="button" data-doc="{esc(p.get("doc_id", ""))}" '
        f'data-start="{int(p.get("start", 0))}" data-end="{int(p.get("end", 0))}">Open briefing here</button>'
        f"</div>"
    )


EMPTY_SOURCES = (
    '<div class="sources-empty">Ask a question: the passages behind each answer appear here, '
    "with the quoted sentences highlighted.</div>"
)


def sources_html(answer: dict | None, turn: int | None, filters_note: str = "") -> str:
    """The sources panel for one answer (``Answer.to_dict()``)."""
    if not answer:
        return EMPTY_SOURCES
    turn = -1 if turn is None else turn
    parts = [f'<div class="sources" data-turn="{turn}">']
    parts.append(f'<div class="sources-q">Sources for: <q>{esc(answer.get("question", ""))}</q></div>')
    if answer.get("standalone_question") and answer["standalone_question"] != answer.get("question"):
        parts.append(f'<div class="sources-note">searched as: {esc(answer["standalone_question"])}</div>')
    if filters_note:
        parts.append(f'<div class="sources-note">{esc(filters_note)}</div>')
    for note in answer.get("notes") or []:
        parts.append(f'<div class="sources-note warn">{esc(note)}</div>')
    citations = answer.get("citations") or []
    closest = answer.get("closest") or []
    if citations:
        parts += [citation_card(c, turn) for c in citations]
    elif answer.get("refused"):
        parts.append('<div class="sources-empty">No passage in the briefings supports an answer.</div>')
    if closest:
        parts.append(
            '<div class="closest-head">Closest evidence: these sentences come nearest, '
            "but do not answer the question</div>"
        )
        parts += [closest_card(c) for c in closest]
    cited_chunks = {c.get("chunk_id") for c in citations + closest}
    others = [p for p in answer.get("passages") or [] if p.get("chunk_id") not in cited_chunks]
    if others:
        label = "closest passages" if not citations else "more retrieved passages, not cited"
        is_open = " open" if not citations else ""
        parts.append(
            f'<details class="uncited"{is_open}><summary>{len(others)} {label}</summary>'
            + "".join(passage_card(p) for p in others)
            + "</details>"
        )
    parts.append("</div>")
    return "".join(parts)


def briefing_html(doc: Any, start: int | None = None, end: int | None = None, source: str = "") -> str:
    """A whole briefing (``Document``) as text, the span ``start:end`` marked; ``source`` is its display name."""
    if doc is None:
        return '<div class="sources-empty">That briefing is no longer in the index.</div>'
    text = doc.text or ""
    head = f'<div class="briefing-head">{_meta(doc.title, doc.date, doc.region, source or file_name(doc.source))}</div>'
    if start is not None and end is not None and 0 <= start < end <= len(text):
        body = (
            esc(text[:start]) + f'<mark class="hit" id="briefing-hit">{esc(text[start:end])}</mark>' + esc(text[end:])
        )
    else:
        body = esc(text)
    return f'<div class="briefing" data-doc="{esc(doc.doc_id)}">{head}<div class="briefing-text">{body}</div></div>'


def report_rows(report: Any) -> list[list[Any]]:
    """Rows for the per-file ingest table: file names only, no server path even inside a reason."""
    return [[file_name(f.path), f.status, f.chunks or "", scrub(f.reason)] for f in report.files]
