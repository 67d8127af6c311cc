"""The chat's pieces without a server: escaping, upload names, feedback, the streaming seam."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import rag  # noqa: F401  (before gradio: offline settings)
from rag.feedback import record_feedback
from rag.models import Answer, Citation
from rag.users import Users
from ui import render
from ui.app import describe_filters, filters_from, launch_kwargs
from ui.library import safe_upload_name, stage_uploads

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def _citation(**over) -> dict:
    c = dict(
        n=1,
        source="/data/evil <b>.md",
        title=f"T {SCRIPT}",
        date="2024-01-02",
        region=IMG,
        passage=f"Before. The words {SCRIPT} were painted. After {IMG}.",
        quote=f"The words {SCRIPT} were painted.",
        start=8,
        end=40,
        score=0.9,
        doc_id='x" onmouseover="alert(1)',
        chunk_id="c1",
    )
    c.update(over)
    return c


def _no_live_html(out: str) -> None:
    low = out.lower()
    assert "<script" not in low and "<img" not in low and "<b>" not in low, out
    assert 'onmouseover="' not in low


def test_sources_panel_escapes_everything_from_the_briefing() -> None:
    answer = {
        "question": f"q {SCRIPT}",
        "standalone_question": "",
        "text": "x [1]",
        "refused": False,
        "notes": [IMG],
        "citations": [_citation()],
        "passages": [
            dict(
                chunk_id="c2",
                doc_id="d2",
                source="/a/b.md",
                title=SCRIPT,
                date=None,
                region=None,
                heading=IMG,
                text=f"uncited {SCRIPT}",
                start=0,
                end=5,
                score=0.5,
                rank=2,
            )
        ],
    }
    out = render.sources_html(answer, 3, describe_filters(filters_from([IMG], "", "", [])))
    _no_live_html(out)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert '<mark class="quote">The words &lt;script&gt;alert(1)&lt;/script&gt; were painted.</mark>' in out
    assert 'id="cite-3-1"' in out
    assert "<details" in out and "score 0.500" in out


def test_quote_outside_its_passage_is_still_shown_marked() -> None:
    out = render.sources_html({"question": "q", "citations": [_citation(passage="unrelated", quote=SCRIPT)]}, 1)
    _no_live_html(out)
    assert f'<mark class="quote">{render.esc(SCRIPT)}</mark>' in out


def test_briefing_view_marks_the_span_and_escapes() -> None:
    text = f"# T\n\nIntro {IMG}. The quote {SCRIPT} here. End."
    start = text.index("The quote")
    end = text.index(" End.")
    doc = SimpleNamespace(doc_id="d", source="/x/y.md", title=SCRIPT, date=None, region=None, text=text)
    out = render.briefing_html(doc, start, end)
    _no_live_html(out)
    assert '<mark class="hit" id="briefing-hit">The quote &lt;script&gt;alert(1)&lt;/script&gt; here.</mark>' in out
    assert "<mark" not in render.briefing_html(doc, 5, 2)  # a bad span shows the text unmarked
    assert "no longer in the index" in render.briefing_html(None)


def test_answer_markdown_links_markers_and_neutralises_markup() -> None:
    md = render.answer_markdown(f"They wrote {SCRIPT} and *bold* [1] then [7].", turn=5, cited={1})
    _no_live_html(md)
    assert '<a class="cite-ref" href="#cite-5-1"' in md
    assert "\\[7\\]" in md  # no citation 7: left as text
    assert "\\*bold\\*" in md
    assert "&#x27;" in render.md_text("it's") and "\\#" not in render.md_text("it's")
    assert render.md_text("a -> b") == "a \\-&gt; b"  # shown as "a -> b", not "a -&gt; b"
    assert render.streaming_markdown("partial [1").endswith("▌")


@pytest.mark.parametrize(
    ("client_name", "expected"),
    [
        ("../../x.md", "x.md"),
        ("/etc/passwd", "passwd"),
        ("C:\\Users\\me\\Report 1.MD", "Report 1.md"),
        (".bashrc.md", "bashrc.md"),
        ("..", "upload"),
        ("a<b>|c;rm -rf.txt", "a_b_c_rm -rf.txt"),
        ("", "upload"),
    ],
)
def test_upload_names_are_made_safe(client_name: str, expected: str) -> None:
    assert safe_upload_name(client_name) == expected


def test_stage_uploads_checks_type_size_and_stays_inside(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    good = src / "good.md"
    good.write_text("# Good\n\nText.")
    big = src / "big.txt"
    big.write_bytes(b"x" * 2_000_000)
    (src / "bad.exe").write_bytes(b"MZ")
    (src / "fake.docx").write_text("not a zip")
    (src / "empty.md").write_text("")
    items = [
        {"path": str(good), "orig_name": "../../../../good.md"},
        str(big),
        str(src / "bad.exe"),
        str(src / "fake.docx"),
        str(src / "empty.md"),
    ]
    staged = stage_uploads(items, str(tmp_path / "index"), max_file_mb=1)
    assert staged.stored == [tmp_path / "index" / "uploads" / "good.md"]
    reasons = {f.path: f.reason for f in staged.rejected}
    assert "over the 1 MB limit" in reasons["big.txt"]
    assert "unsupported type" in reasons["bad.exe"]
    assert "not a real .docx" in reasons["fake.docx"]
    assert "empty" in reasons["empty.md"]
    assert sorted(p.name for p in (tmp_path / "index" / "uploads").iterdir()) == ["good.md"]
    assert not (tmp_path / "good.md").exists()


def test_feedback_is_appended_as_json_lines(tmp_path: Path) -> None:
    settings = rag.Settings(index_dir=str(tmp_path), feedback_path="")
    answer = Answer(
        "Who?", "A did it. [1]", False, [Citation(1, "/s.md", "T", None, None, "p", "A did it.", 0, 9, 0.9)]
    )
    record_feedback(settings, "up", answer.to_dict())
    record_feedback(settings, "down", answer.to_dict(), {"filters": {"region": ["X"]}})
    lines = [json.loads(x) for x in (tmp_path / "feedback.jsonl").read_text().splitlines()]
    assert [x["rating"] for x in lines] == ["up", "down"]
    assert lines[0]["question"] == "Who?" and lines[0]["answer"] == "A did it. [1]"
    assert lines[0]["citations"][0]["quote"] == "A did it."
    assert lines[1]["filters"] == {"region": ["X"]}


def test_launch_settings() -> None:
    users = Users.from_settings("", "ana:s3:cret")
    assert users.check("ana", "s3:cret") and not users.check("ana", "s3") and users.role("ana") == "editor"
    with pytest.raises(ValueError, match="RAG_UI_AUTH"):
        Users.from_settings("", "nopassword")
    kwargs = launch_kwargs(rag.Settings(ui_auth="ana:pw"), users)
    assert kwargs["auth"] == users.check and kwargs["share"] is False and kwargs["ssr_mode"] is False
    assert kwargs["show_error"] is False, "only our own gr.Error messages may reach the browser"
    assert launch_kwargs(rag.Settings(), Users({}))["auth"] is None
    # The theme's public dump lists the stylesheets every browser would fetch (a GoogleFont adds Google's).
    stylesheets = kwargs["theme"].to_dict()["theme"]["_stylesheets"]
    assert stylesheets == [], stylesheets


def test_refusal_shows_closest_evidence_apart_from_citations() -> None:
    """A refusal's closest sentences are marked as not answering, escaped, and never numbered as citations."""
    answer = {"question": "q", "refused": True, "citations": [], "closest": [_citation()], "passages": []}
    out = render.sources_html(answer, 2)
    _no_live_html(out)
    assert "Closest evidence" in out and 'class="src-card closest"' in out and "closest, not an answer" in out
    assert 'id="cite-2-1"' not in out and "card-n" not in out  # no [n] card: it supports nothing
    assert f'<mark class="quote">The words {render.esc(SCRIPT)} were painted.</mark>' in out
    assert "Not answered" in render.verdict_markdown(True, 0.12)
    assert "confidence 0.87" in render.verdict_markdown(False, 0.8712)
