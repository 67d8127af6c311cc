"""The chat: a Gradio Blocks app on top of ``rag.Engine``.

The UI holds no retrieval or answering logic: every answer comes from
``Engine.ask_stream``, every library change from the engine's public library
methods (ingest, find, remove, reindex), through ``ui.library``. This module wires components and renders results
through ``ui.render``, which escapes all briefing text.

Start it with ``rag serve`` (or ``serve(settings)`` from Python).
"""

from __future__ import annotations

import ipaddress
import logging
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr

import rag
from rag.config import Settings
from rag.feedback import record_feedback
from rag.loaders import SUPPORTED
from rag.models import Answer
from rag.users import Users

from . import render
from .library import delete_document, ingest_uploads, reindex_document
from .paths import display_names, public_answer, scrub

log = logging.getLogger("ui")

N_EXAMPLES = 4
EDITORS_ONLY = "Only editors can change the library; this login is a reader's."

# System fonts only: a GoogleFont here would make every browser fetch from Google.
THEME = gr.themes.Soft(
    primary_hue="blue",
    neutral_hue="slate",
    font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)

CSS = """
.src-panel { min-width: 0; overflow-x: hidden; }
#sources, #briefing-viewer { overflow-x: hidden; overflow-wrap: anywhere; }
.sources-q { font-weight: 600; margin-bottom: .4rem; }
.sources-note { font-size: .85em; opacity: .8; margin-bottom: .3rem; }
.sources-note.warn { color: #b45309; opacity: 1; }
.sources-empty { opacity: .75; padding: .6rem 0; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6rem .75rem;
            margin: .5rem 0; background: var(--background-fill-secondary); scroll-margin: 1rem; }
.src-card.flash { animation: flash 1.6s ease-out; }
@keyframes flash { 0% { box-shadow: 0 0 0 3px #f59e0b; } 100% { box-shadow: 0 0 0 0 transparent; } }
.card-head { display: flex; gap: .5rem; align-items: baseline; flex-wrap: wrap; }
.card-n { font-weight: 700; color: var(--color-accent); }
.card-title { font-weight: 600; }
.card-meta { font-size: .85em; opacity: .8; width: 100%; }
.scores { font-size: .8em; opacity: .75; width: 100%; font-family: var(--font-mono); }
.heading { font-size: .85em; font-style: italic; opacity: .8; }
.passage, .briefing-text { white-space: pre-wrap; font-size: .92em; line-height: 1.45; margin: .4rem 0; }
mark.quote, mark.hit { background: #fde68a; color: #111; padding: 0 .1em; border-radius: 2px; }
.open-doc { font-size: .8em; border: 1px solid var(--border-color-primary); border-radius: 6px;
            padding: .15rem .5rem; background: var(--background-fill-primary); cursor: pointer; }
.open-doc:hover { border-color: var(--color-accent); }
details.uncited summary { cursor: pointer; margin: .6rem 0 .2rem; opacity: .85; }
.src-card.uncited { opacity: .9; }
.closest-head { font-weight: 600; color: #b45309; margin: .6rem 0 .2rem; }
.src-card.closest { border: 1px dashed #b45309; background: transparent; }
.card-tag { font-size: .8em; font-weight: 700; color: #b45309; text-transform: uppercase; }
#briefing-viewer { max-height: 65vh; overflow-y: auto; padding-top: 0; }
.briefing-head { position: sticky; top: -1px; z-index: 1; background: var(--background-fill-primary);
                 padding: .3rem 0; border-bottom: 1px solid var(--border-color-primary); }
a.cite-ref { text-decoration: none; font-weight: 600; cursor: pointer; }
"""

# Runs once in the browser: clicking an [n] marker in the chat scrolls its card into
# view (waiting for the panel if the click also selected another answer).
JS = """
() => {
  document.addEventListener('click', (ev) => {
    const ref = ev.target.closest ? ev.target.closest('a.cite-ref') : null;
    if (!ref) return;
    ev.preventDefault();
    const m = (ref.getAttribute('href') || '').match(/#cite-(-?\\d+)-(\\d+)/);
    const id = m ? `cite-${m[1]}-${m[2]}` : `cite-${ref.dataset.turn}-${ref.dataset.n}`;
    let tries = 0;
    const go = () => {
      const card = document.getElementById(id);
      if (card) {
        card.scrollIntoView({behavior: 'smooth', block: 'center', inline: 'nearest'});
        card.classList.remove('flash'); void card.offsetWidth; card.classList.add('flash');
      } else if (tries++ < 50) { setTimeout(go, 100); }
    };
    go();
  }, true);
}
"""

# The sources panel reports clicks on its "Open briefing" buttons to the server.
SOURCES_JS = """
element.addEventListener('click', (ev) => {
  const b = ev.target.closest ? ev.target.closest('button.open-doc') : null;
  if (!b) return;
  trigger('click', {doc_id: b.dataset.doc, start: Number(b.dataset.start), end: Number(b.dataset.end),
                    n: b.dataset.n ? Number(b.dataset.n) : null});
});
"""

SCROLL_TO_HIT = """
() => { setTimeout(() => {
  const hit = document.querySelector('#briefing-viewer mark.hit');
  if (hit) hit.scrollIntoView({behavior: 'smooth', block: 'center', inline: 'nearest'});
}, 150); }
"""

LIBRARY_HEADERS = ["Title", "Date", "Region", "Passages", "Ingested", "File"]
REPORT_HEADERS = ["File", "Status", "Chunks", "Reason"]


def new_session() -> dict:
    """Per-browser-tab state: the raw conversation and each answer, by chat message index."""
    return {"history": [], "answers": {}, "selected": None, "filters": {}}


def filters_from(regions, date_from, date_to, sources) -> dict:
    return {
        "region": list(regions or []),
        "date_from": (date_from or "").strip() or None,
        "date_to": (date_to or "").strip() or None,
        "sources": list(sources or []),
    }


def describe_filters(filters: dict) -> str:
    bits = []
    if filters.get("region"):
        bits.append("region " + ", ".join(filters["region"]))
    if filters.get("date_from") or filters.get("date_to"):
        bits.append(f"dated {filters.get('date_from') or '…'} to {filters.get('date_to') or '…'}")
    if filters.get("sources"):
        bits.append("briefings " + ", ".join(Path(s).name for s in filters["sources"]))
    return ("Filtered to " + "; ".join(bits)) if bits else ""


class ChatApp:
    """The app's behaviour, separate from its layout so each handler can be tested."""

    def __init__(self, settings: Settings, users: Users | None = None) -> None:
        self.settings = settings
        self.users = users if users is not None else Users.from_settings(settings.ui_users, settings.ui_auth)
        self.engine = rag.get_engine(settings)

    # -- who may do what ------------------------------------------------------------
    def can_edit(self, request: gr.Request | None) -> bool:
        """Without logins (loopback, or --no-auth) everyone edits; with them, editors only."""
        if not self.users:
            return True
        return self.users.role(getattr(request, "username", None)) == "editor"

    def _require_editor(self, request: gr.Request | None) -> None:
        # Checked in the handler, so the named API endpoints obey it too, not only the buttons.
        if not self.can_edit(request):
            raise gr.Error(EDITORS_ONLY)

    def names(self) -> dict[str, str]:
        return display_names(d.source for d in self.engine.documents())

    def examples(self) -> list[str]:
        """The configured example questions, else the newest briefings' titles (asking a title finds its lead)."""
        configured = [q.strip() for q in self.settings.ui_examples.split("|") if q.strip()]
        if configured:
            return configured[:N_EXAMPLES]
        docs = sorted(self.engine.documents(), key=lambda d: (d.date or "", d.ingested_at), reverse=True)
        return [d.title for d in docs[:N_EXAMPLES]]

    # -- choices from the index -------------------------------------------------------
    def regions(self) -> list[str]:
        return self.engine.regions()

    def doc_choices(self, by: str = "source") -> list[tuple[str, str]]:
        """(label, value) per briefing; a source value is its display name, which the source filter matches."""
        docs = self.engine.documents()
        names = display_names(d.source for d in docs)
        out = []
        for d in docs:
            label = f"{d.title} ({d.date or 'undated'}, {names[d.source]})"
            out.append((label, names[d.source] if by == "source" else d.doc_id))
        return out

    def library_rows(self) -> list[list[Any]]:
        docs = self.engine.documents()
        names = display_names(d.source for d in docs)
        return [
            [
                d.title,
                d.date or "",
                d.region or "",
                d.n_chunks,
                datetime.fromtimestamp(d.ingested_at).strftime("%Y-%m-%d %H:%M"),
                names[d.source],
            ]
            for d in docs
        ]

    def library_summary(self) -> str:
        docs = self.engine.documents()
        chunks = sum(d.n_chunks for d in docs)
        return f"**{len(docs)} briefings** in the index, {chunks} passages."

    # -- chat -------------------------------------------------------------------------
    def respond(self, message: str, chat: list[dict], session: dict, regions, date_from, date_to, sources):
        """Generator for the chat: streams the answer, then fills the sources panel."""
        session = session or new_session()
        chat = list(chat or [])
        question = " ".join((message or "").split())
        if not question:
            yield gr.update(), chat, gr.update(), session
            return
        chat.append({"role": "user", "content": render.user_markdown(question)})
        chat.append({"role": "assistant", "content": "Searching the briefings…"})
        turn = len(chat) - 1
        yield "", chat, gr.update(), session

        filters = filters_from(regions, date_from, date_to, sources)
        text = ""
        answer: Answer
        try:
            for kind, value in self.engine.ask_stream(question, history=session["history"], filters=filters):
                if kind == "delta":
                    text += value
                    chat[turn] = {"role": "assistant", "content": render.streaming_markdown(text)}
                    yield gr.update(), chat, gr.update(), session
                else:
                    answer = value
        except ValueError as exc:  # a user-facing message: empty or long question, bad date, ...
            chat[turn] = {"role": "assistant", "content": render.error_markdown(f"Could not answer: {scrub(str(exc))}")}
            yield gr.update(), chat, gr.update(), session
            return
        except Exception:  # keep the chat usable whatever happens; the details go to the log, not the browser
            log.error("answering %r failed:\n%s", question, traceback.format_exc())
            chat[turn] = {
                "role": "assistant",
                "content": render.error_markdown(
                    "Something went wrong while answering. The error is in the server log; try again or rephrase."
                ),
            }
            yield gr.update(), chat, gr.update(), session
            return
        data = public_answer(answer.to_dict(), self.names())
        data["filters"] = filters
        cited = {c.n for c in answer.citations}
        content = render.answer_markdown(answer.text, turn, cited) + render.verdict_markdown(
            answer.refused, answer.confidence
        )
        chat[turn] = {"role": "assistant", "content": content}
        session = {
            **session,
            "history": session["history"]
            + [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}],
            "answers": {**session["answers"], turn: data},
            "selected": turn,
        }
        yield gr.update(), chat, render.sources_html(data, turn, describe_filters(filters)), session

    def select_message(self, session: dict, evt: gr.SelectData):
        """Clicking a message shows the sources of that answer (or of the answer to that question)."""
        session = session or new_session()
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        answers = session.get("answers", {})
        turn = index if index in answers else (index + 1 if index + 1 in answers else None)
        if turn is None or turn == session.get("selected"):
            return gr.update(), session
        data = answers[turn]
        session = {**session, "selected": turn}
        return render.sources_html(data, turn, describe_filters(data.get("filters") or {})), session

    def feedback(self, session: dict, evt: gr.LikeData):
        session = session or new_session()
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        data = session.get("answers", {}).get(index)
        if data is None:
            return
        liked = evt.liked
        if liked is True or str(liked).lower() == "like":
            rating = "up"
        elif liked is False or str(liked).lower() == "dislike":
            rating = "down"
        else:  # un-liking, or an option we do not offer
            return
        record_feedback(self.settings, rating, data, {"filters": data.get("filters") or {}})
        gr.Info(
            "Thanks: feedback saved." if rating == "up" else "Thanks: feedback saved; it goes into the evaluation set."
        )

    def clear(self):
        return [], new_session(), render.EMPTY_SOURCES, "", gr.update(open=False, label="Briefing")

    # -- briefing viewer --------------------------------------------------------------
    def briefing(self, doc_id: str, start: int | None = None, end: int | None = None) -> str:
        doc = self.engine.document(doc_id)
        return render.briefing_html(doc, start, end, source=self.names().get(doc.source, "") if doc else "")

    def open_from_sources(self, evt: gr.EventData):
        # The payload of the Sources panel's trigger('click', {...}) is read as
        # attributes (gradio's documented way for gr.HTML events); a key it lacks is None.
        doc_id, n, start, end = (getattr(evt, key, None) for key in ("doc_id", "n", "start", "end"))
        if not doc_id:
            return gr.update(), gr.update()
        doc = self.engine.document(doc_id)
        title = doc.title if doc else "Briefing"
        label = f"Briefing: {title}" + (f"  (source [{n}])" if n else "")
        return self.briefing(doc_id, start, end), gr.update(open=True, label=label)

    # -- library ----------------------------------------------------------------------
    def _library_outputs(self, report_rows: list[list[Any]], message: str):
        docs_by_id = self.doc_choices(by="doc_id")
        return (
            render.md_text(message),  # names and titles inside are briefing text: never Markdown
            gr.update(value=report_rows, visible=bool(report_rows)),
            self.library_rows(),
            self.library_summary(),
            gr.update(choices=docs_by_id, value=None),
            gr.update(choices=self.regions()),
            gr.update(choices=self.doc_choices()),
        )

    def upload(self, files: list[Any] | None, request: gr.Request | None = None, progress=gr.Progress()):
        self._require_editor(request)
        if not files:
            return self._library_outputs([], "Choose one or more files first.")

        def tick(done: int, total: int, name: str) -> None:
            progress((done, max(total, 1)), desc=f"Indexing {name}" if name else "Indexing", unit="files")

        progress(0, desc="Checking the files")
        t0 = time.perf_counter()
        report = ingest_uploads(self.engine, files, progress=tick)
        counts = report.counts()
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to do"
        icon = "⚠️" if report.failed else "✅"
        message = f"{icon} {summary} ({time.perf_counter() - t0:.1f} s)."
        return self._library_outputs(render.report_rows(report), message)

    def delete(self, doc_id: str | None, request: gr.Request | None = None):
        self._require_editor(request)
        if not doc_id:
            return self._library_outputs([], "Pick a briefing to delete.")
        return self._library_outputs([], delete_document(self.engine, doc_id))

    def reindex(self, doc_id: str | None, request: gr.Request | None = None, progress=gr.Progress()):
        self._require_editor(request)
        if not doc_id:
            return self._library_outputs([], "Pick a briefing to re-index.")
        progress(0, desc="Re-indexing")
        report = reindex_document(self.engine, doc_id)
        icon = "⚠️" if report.failed else "✅"
        return self._library_outputs(
            render.report_rows(report),
            f"{icon} re-indexed: " + ", ".join(f"{n} {s}" for s, n in report.counts().items() if n),
        )

    def refresh(self, request: gr.Request | None = None):
        """On page load: the index may have changed since the app was built (uploads, `rag ingest`).

        A reader's page shows no library controls (the handlers refuse them anyway).
        """
        editor = self.can_edit(request)
        return (
            gr.update(choices=self.regions()),
            gr.update(choices=self.doc_choices()),
            self.library_rows(),
            self.library_summary(),
            gr.update(choices=self.doc_choices(by="doc_id")),
            gr.update(examples=[{"text": q} for q in self.examples()]),
            gr.update(visible=editor),
            gr.update(visible=not editor),
        )

    # -- the JSON API -----------------------------------------------------------------
    def api_ask(
        self,
        question: str,
        history: list[dict] | None = None,
        regions: list[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        sources: list[str] | None = None,
        k: int | None = None,
    ) -> dict:
        try:
            answer = self.engine.ask(
                question, history=history or [], filters=filters_from(regions, date_from, date_to, sources), k=k or None
            )
        except ValueError as exc:
            raise gr.Error(scrub(str(exc))) from exc
        return public_answer(answer.to_dict(), self.names())


def build_app(settings: Settings, users: Users | None = None) -> gr.Blocks:
    """The Blocks app; launch it with ``launch_kwargs(settings)``."""
    app = ChatApp(settings, users)

    with gr.Blocks(title="Briefing Q&A", analytics_enabled=False, fill_width=True) as demo:
        session = gr.State(new_session())
        gr.Markdown(
            "## Briefing Q&A\nAnswers come only from the indexed briefings; every sentence is cited. "
            "Click a marker like [1] to see its source."
        )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=380):
                    chatbot = gr.Chatbot(
                        label="Conversation",
                        elem_id="chat",
                        height="62vh",
                        latex_delimiters=[],
                        sanitize_html=True,
                        examples=[{"text": q} for q in app.examples()],
                        placeholder="Ask about the briefings, or pick an example below.",
                        feedback_options=("Like", "Dislike"),
                        buttons=["copy"],
                    )
                    with gr.Row():
                        message = gr.Textbox(
                            placeholder="Ask a question about the briefings…",
                            show_label=False,
                            lines=1,
                            max_lines=4,
                            scale=5,
                            elem_id="question",
                            autofocus=True,
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask-btn")
                    with gr.Row():
                        clear = gr.Button("Clear conversation", size="sm", elem_id="clear-btn")
                    with gr.Accordion("Filters", open=False):
                        with gr.Row():
                            regions = gr.Dropdown(
                                choices=app.regions(),
                                multiselect=True,
                                label="Region",
                                elem_id="f-region",
                                allow_custom_value=True,
                            )
                            sources = gr.Dropdown(
                                choices=app.doc_choices(),
                                multiselect=True,
                                label="Briefings",
                                elem_id="f-docs",
                                allow_custom_value=True,
                            )
                        with gr.Row():
                            date_from = gr.Textbox(label="Dated from", placeholder="YYYY-MM-DD", elem_id="f-from")
                            date_to = gr.Textbox(label="Dated to", placeholder="YYYY-MM-DD", elem_id="f-to")
                        reset_filters = gr.Button("Reset filters", size="sm")
                with gr.Column(scale=2, min_width=320, elem_classes=["src-panel"]):
                    gr.Markdown("### Sources")
                    sources_panel = gr.HTML(
                        render.EMPTY_SOURCES, elem_id="sources", js_on_load=SOURCES_JS, padding=False
                    )
                    with gr.Accordion("Briefing", open=False) as viewer_box:
                        viewer = gr.HTML("", elem_id="briefing-viewer", js_on_load=None)
            with gr.Tab("Library", id="library"):
                summary = gr.Markdown(app.library_summary())
                library = gr.Dataframe(
                    value=app.library_rows(),
                    headers=LIBRARY_HEADERS,
                    type="array",
                    interactive=False,
                    wrap=True,
                    elem_id="library-table",
                    column_widths=["38%", "10%", "12%", "8%", "13%", "19%"],
                )
                readers_note = gr.Markdown(
                    "Logged in as a reader: you can ask questions; an editor adds, re-indexes and deletes briefings.",
                    visible=False,
                )
                with gr.Row() as library_controls:
                    with gr.Column():
                        gr.Markdown(
                            "**Add briefings** (.md .txt .html .pdf .docx, up to "
                            f"{settings.max_file_mb:g} MB each). A file with the name of an earlier upload replaces it."
                        )
                        upload_files = gr.File(
                            file_count="multiple",
                            # No file_types: Gradio would refuse the whole batch for one bad
                            # file; stage_uploads checks each file and reports it by name.
                            label="Files (" + " ".join(sorted(SUPPORTED)) + ")",
                            elem_id="upload",
                        )
                        upload_btn = gr.Button("Add to the index", variant="primary")
                    with gr.Column():
                        gr.Markdown("**One briefing**")
                        doc_pick = gr.Dropdown(
                            choices=app.doc_choices(by="doc_id"),
                            label="Briefing",
                            elem_id="doc-pick",
                            allow_custom_value=True,
                        )
                        with gr.Row():
                            reindex_btn = gr.Button("Re-index")
                            delete_btn = gr.Button("Delete", variant="stop", elem_id="delete-btn")
                library_msg = gr.Markdown("")
                report = gr.Dataframe(
                    headers=REPORT_HEADERS,
                    type="array",
                    interactive=False,
                    visible=False,
                    label="Per-file result",
                    wrap=True,
                )

        # -- chat events -----------------------------------------------------------------
        chat_inputs = [message, chatbot, session, regions, date_from, date_to, sources]
        chat_outputs = [message, chatbot, sources_panel, session]
        send.click(app.respond, chat_inputs, chat_outputs, api_name="chat", concurrency_id="ask", concurrency_limit=2)
        message.submit(app.respond, chat_inputs, chat_outputs, api_visibility="private", concurrency_id="ask")

        def use_example(evt: gr.SelectData):
            value = evt.value
            return value.get("text", "") if isinstance(value, dict) else str(value)

        chatbot.example_select(use_example, None, message, api_visibility="private").then(
            app.respond, chat_inputs, chat_outputs, api_visibility="private", concurrency_id="ask"
        )
        chatbot.select(app.select_message, [session], [sources_panel, session], api_visibility="private")
        chatbot.like(app.feedback, [session], None, api_visibility="private")
        clear.click(app.clear, None, [chatbot, session, sources_panel, viewer, viewer_box], api_visibility="private")
        # The chatbot's own trash button empties the messages; forget the history with them.
        chatbot.clear(app.clear, None, [chatbot, session, sources_panel, viewer, viewer_box], api_visibility="private")
        reset_filters.click(
            lambda: (None, None, "", ""), None, [regions, sources, date_from, date_to], api_visibility="private"
        )

        sources_panel.click(app.open_from_sources, None, [viewer, viewer_box], api_visibility="private").then(
            None, js=SCROLL_TO_HIT
        )

        # -- library events --------------------------------------------------------------
        lib_outputs = [library_msg, report, library, summary, doc_pick, regions, sources]
        upload_btn.click(app.upload, [upload_files], lib_outputs, api_name="upload", concurrency_id="library")
        reindex_btn.click(app.reindex, [doc_pick], lib_outputs, api_name="reindex", concurrency_id="library")
        delete_btn.click(
            app.delete,
            [doc_pick],
            lib_outputs,
            api_name="delete",
            concurrency_id="library",
            js="(d) => (d && confirm('Remove this briefing from the index?')) ? d : null",
        )
        demo.load(
            app.refresh,
            None,
            [regions, sources, library, summary, doc_pick, chatbot, library_controls, readers_note],
            api_visibility="private",
        )

        # -- JSON API --------------------------------------------------------------------
        gr.api(
            app.api_ask,
            api_name="ask",
            concurrency_id="ask",
            api_description="Answer a question from the briefings; returns Answer.to_dict(): "
            "text with [n] markers, refused, citations (n, title, date, region, source, "
            "quote, start, end, passage, ...), passages, timings.",
        )
        gr.api(
            app.briefing,
            api_name="briefing",
            api_description="A whole briefing as escaped HTML, with the span start:end highlighted.",
        )
    demo.chat_app = app  # for tests and the CLI
    return demo


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, users: Users, no_auth: bool = False) -> str | None:
    """Refuse to open the library to a network without logins; returns the warning to print, if any."""
    if users or is_loopback(host):
        return None
    if no_auth:
        return (
            f"WARNING: serving on {host} with no login (--no-auth): anyone who can reach the port can "
            "read, upload, delete and re-index briefings."
        )
    raise ValueError(
        f"--host {host} is reachable from other machines and no login is configured. Create logins with "
        "`rag users add NAME --role editor` and set RAG_UI_USERS to that file (or RAG_UI_AUTH=user:password "
        "for a single editor), or pass --no-auth to serve without a login anyway."
    )


def launch_kwargs(settings: Settings, users: Users) -> dict[str, Any]:
    return {
        "theme": THEME,
        "css": CSS,
        "js": JS,
        "auth": users.check if users else None,
        "auth_message": "Briefing Q&A: log in with your analyst account." if users else None,
        "max_file_size": f"{settings.max_file_mb:g}mb",
        "ssr_mode": False,
        "share": False,
        # Only our own gr.Error messages reach the browser; other exceptions stay in the server log.
        "show_error": False,
        "footer_links": ["api", "settings"],
        "mcp_server": False,
        "pwa": False,
    }


def warm_up(app: ChatApp) -> float:
    """Load the models before the first visitor asks (the first question would wait for them)."""
    t0 = time.perf_counter()
    try:
        app.engine.warm_up()
    except Exception:  # a warm-up failure must not stop the server; the first question will show it
        log.warning("warm-up failed:\n%s", traceback.format_exc())
    return time.perf_counter() - t0


def backend_banner(engine: rag.Engine) -> str:
    """The start-up line on the answering backend: a dead LLM server is said before the first question."""
    if not engine.generative:
        return "answers: extractive (no model server needed)"
    problem = engine.check_llm()
    name = engine.settings.llm
    return (
        f"answers: {name} backend NOT READY: {problem}; until it is, answers are extractive"
        if problem
        else f"answers: {name} backend ready"
    )


def start(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    block: bool = True,
    warm: bool = True,
    quiet: bool = False,
    no_auth: bool = False,
) -> gr.Blocks:
    """Build, warm and launch the app; with ``block=False`` returns once it is serving.

    Raises ValueError, before any model loads, for a bad users file or a
    network-facing host without logins (unless ``no_auth``).
    """
    users = Users.from_settings(settings.ui_users, settings.ui_auth)
    warning = check_exposure(host, users, no_auth)
    if warning:
        log.warning(warning)
        print(warning, flush=True)
    demo = build_app(settings, users)  # the logins read once, before the models load
    if not quiet:
        print(backend_banner(demo.chat_app.engine), flush=True)
    if warm:
        took = warm_up(demo.chat_app)
        if not quiet:
            print(f"models loaded in {took:.1f} s", flush=True)
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=not block,
        quiet=quiet,
        **launch_kwargs(settings, demo.chat_app.users),
    )
    return demo
