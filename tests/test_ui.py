"""The chat end to end: a real Gradio server on a loopback port, driven by
``gradio_client`` and by a real headless Chromium.

One server for the module (the models load once); every test talks to it
over HTTP. While it runs, an audit hook records every socket the process
opens, and the last test asserts that none left the loopback interface.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

import rag
from rag.llm.server import free_port
from ui.app import start

from .fixtures.hardening import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus" / "briefings"
PATROL = "Who joined the patrol and where?"

FILES = [
    "01-china-russia-joint-air-patrol.md",  # East Asia
    "10-iran-russia-china-gulf-of-oman-drill.md",  # Middle East
    "19-russia-northern-fleet-barents-sea-exercise.md",  # Arctic
]
OUTPUT = ROOT / "test-output"

# TEST-NET-3 (RFC 5737): nothing answers there, and the page's request log would show a fetch.
BAIT = "![x](http://203.0.113.9/bait.png)"
EVIL = f"""# Harbour Notice <script>alert(1)</script> {BAIT} for Port Evilton

Date: 2024-05-01
Region: Testland <img src=x onerror=alert(1)>

## Incident

The harbour master of Port Evilton reported that the words <script>alert(1)</script> were painted on the \
pier wall overnight.
Divers inspecting the quay found the tag <img src=x onerror=alert(1)> chalked beside the mooring posts.
"""

# -- network audit -----------------------------------------------------------------

_AUDIT = {"on": False, "remote": []}


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _audit(event: str, args: tuple) -> None:
    if not _AUDIT["on"]:
        return
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and not _is_loopback(str(address[0])):
            _AUDIT["remote"].append(("connect", address))
    elif event == "socket.getaddrinfo":
        host = args[0]
        host = host.decode() if isinstance(host, bytes) else host
        if host and not _is_loopback(str(host)):
            _AUDIT["remote"].append(("getaddrinfo", host))


sys.addaudithook(_audit)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("ui")
    docs = base / "briefings"
    docs.mkdir()
    for name in FILES:
        shutil.copy(CORPUS / name, docs / name)
    settings = rag.Settings.from_env(
        index_dir=str(base / "index"), feedback_path=str(base / "feedback.jsonl"), ui_auth=""
    )
    _AUDIT["on"] = True
    report = rag.get_engine(settings).ingest([str(docs)])
    assert report.ok, report.failed
    port = free_port()
    demo = start(settings, host="127.0.0.1", port=port, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        yield {"url": url, "settings": settings, "base": base, "demo": demo}
    finally:
        demo.close()
        _AUDIT["on"] = False


@pytest.fixture(scope="module")
def client(server) -> Client:
    return Client(server["url"], verbose=False, download_files=False)


def _chat(client: Client, question: str, *, regions=(), date_from="", date_to="", sources=()):
    """One turn through the chat endpoint (same session as earlier turns of this client)."""
    _, chat, panel = client.predict(question, [], list(regions), date_from, date_to, list(sources), api_name="/chat")
    last = chat[-1]
    content = last["content"]
    text = "".join(part.get("text", "") for part in content) if isinstance(content, list) else str(content)
    return text, panel


def _mentions(text: str) -> None:
    low = text.lower()
    assert re.search(r"\bchin(a|ese)\b", low), text
    assert "russia" in low, text
    assert "east china sea" in low, text


# -- the JSON API -----------------------------------------------------------------------


def test_ask_api_returns_answer_with_citations(client: Client) -> None:
    data = client.predict(PATROL, api_name="/ask")
    assert not data["refused"], data["text"]
    assert data["citations"], data
    _mentions(data["text"] + " " + " ".join(c["quote"] for c in data["citations"]))
    for c in data["citations"]:
        assert f"[{c['n']}]" in data["text"]
        assert c["quote"] in c["passage"]
        assert {"title", "date", "region", "source", "start", "end"} <= set(c)
    assert any(Path(c["source"]).name == FILES[0] for c in data["citations"])


def test_ask_api_follow_up_with_history(client: Client) -> None:
    first = client.predict(PATROL, api_name="/ask")
    history = [{"role": "user", "content": PATROL}, {"role": "assistant", "content": first["text"]}]
    data = client.predict("Which aircraft took part?", history=history, sources=[FILES[0]], k=4, api_name="/ask")
    assert "patrol" in data["standalone_question"].lower(), data["standalone_question"]
    # history, filter and k reach the engine (whether it answers is the engine's business)
    assert data["passages"] and len(data["passages"]) <= 4
    assert all(Path(p["source"]).name == FILES[0] for p in data["passages"] + data["citations"])


def test_ask_api_reports_bad_input_as_an_error(client: Client) -> None:
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", api_name="/ask")
    # a history of plain strings, not turns, is named as the field that is wrong
    with pytest.raises(Exception, match="history: turn 0"):
        client.predict("Which aircraft took part?", history=[PATROL, "China and Russia."], api_name="/ask")


# -- the chat --------------------------------------------------------------------------


def test_chat_answers_with_markers_and_sources(client: Client) -> None:
    text, panel = _chat(client, PATROL)
    assert re.search(r'<a class="cite-ref" href="#cite-\d+-1"', text), text
    _mentions(re.sub(r"<[^>]+>", "", text))
    assert '<mark class="quote">' in panel
    assert FILES[0] in panel
    assert "open-doc" in panel  # the "open briefing" button
    assert "more retrieved passages" in panel  # uncited passages, collapsed


def test_follow_up_question(server) -> None:
    client = Client(server["url"], verbose=False)  # a fresh session: the history is only this conversation
    _chat(client, PATROL)
    # Ambiguous on its own ("took part" in what?): only the conversation says it is the patrol.
    text, panel = _chat(client, "Which aircraft took part?")
    # The patrol table's bomber row. A near tie (0.883 vs 0.878) with the A-50 row once flipped with
    # the server's first question: batch-dependent unit vectors, cached (test_answering covers it).
    assert "cite-ref" in text and re.search(r"tu\\?-95ms", text.lower()), text
    assert FILES[0] in panel
    # The engine was given the history: it searched with the earlier question folded in.
    assert "searched as:" in panel and "patrol" in panel.split("searched as:")[1].lower(), panel


def test_filter_by_region(client: Client) -> None:
    inside = client.predict(PATROL, regions=["East Asia"], api_name="/ask")
    assert inside["citations"] and all(c["region"] == "East Asia" for c in inside["citations"])
    outside = client.predict(PATROL, regions=["Arctic"], api_name="/ask")
    # FILES[2] is the Arctic briefing: the filtered answer searches it alone, and finds it.
    assert outside["passages"], outside
    assert {c["region"] for c in outside["citations"] + outside["passages"]} == {"Arctic"}, outside
    assert {Path(p["source"]).name for p in outside["passages"]} == {FILES[2]}, outside["passages"]
    text, panel = _chat(client, PATROL, regions=["Arctic"])
    assert FILES[0] not in panel
    assert "Filtered to region Arctic" in panel


def test_errors_show_in_the_chat_and_it_stays_usable(server) -> None:
    client = Client(server["url"], verbose=False)
    text, _ = _chat(client, "x" * 2100)
    assert text.startswith("⚠️") and "limit" in text, text
    text, _ = _chat(client, PATROL, date_from="2024-13-45")
    assert text.startswith("⚠️") and "date" in text, text
    text, panel = _chat(client, PATROL)
    assert "cite-ref" in text and "<mark" in panel


# -- library -------------------------------------------------------------------------------


def _value(output):
    """A component output as the client sees it: a plain value, or a gr.update dict."""
    return output.get("value") if isinstance(output, dict) and output.get("__type__") == "update" else output


def _upload(client: Client, *paths: Path):
    message, report, library, summary, *_ = client.predict([handle_file(str(p)) for p in paths], api_name="/upload")
    report = _value(report)
    rows = {row[0]: row for row in report["data"]} if report and report.get("data") else {}
    return message, rows, library["data"]


def test_upload_a_briefing(server, client: Client, tmp_path: Path) -> None:
    new = tmp_path / "Barents notes.md"
    new.write_text((CORPUS / "20-svalbard-undersea-cable-damage.md").read_text(encoding="utf-8"), encoding="utf-8")
    junk = tmp_path / "tool.exe"
    junk.write_bytes(b"MZ\x90\x00")
    fake_pdf = tmp_path / "fake.pdf"
    fake_pdf.write_text("not a pdf")
    message, rows, library = _upload(client, new, junk, fake_pdf)
    assert rows["Barents notes.md"][1] == "added", rows
    assert rows["tool.exe"][1] == "failed" and "unsupported type" in rows["tool.exe"][3]
    assert rows["fake.pdf"][1] == "failed" and "not a real .pdf" in rows["fake.pdf"][3]
    assert "1 added" in message and "2 failed" in message
    uploads = Path(server["settings"].index_dir) / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["Barents notes.md"]
    assert any(row[5] == "Barents notes.md" for row in library)
    answer = client.predict("What was damaged near Svalbard?", sources=["Barents notes.md"], api_name="/ask")
    assert answer["citations"] and all(Path(c["source"]).name == "Barents notes.md" for c in answer["citations"])


def test_script_briefing_is_shown_as_text(server, client: Client, tmp_path: Path) -> None:
    evil = tmp_path / "evil.md"
    evil.write_text(EVIL, encoding="utf-8")
    _, rows, _ = _upload(client, evil)
    assert rows["evil.md"][1] == "added", rows
    text, panel = _chat(client, "What was painted on the pier wall in Port Evilton?", sources=["evil.md"])
    for html_out in (text, panel):
        assert "<script" not in html_out.lower() and "<img" not in html_out.lower(), html_out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in panel
    assert "&lt;img src=x onerror=alert(1)&gt;" in panel
    doc = next(d for d in rag.get_engine(server["settings"]).index.documents() if d.source.endswith("evil.md"))
    page = client.predict(doc.doc_id, 0, 10, api_name="/briefing")
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert '<mark class="hit" id="briefing-hit">' in page

    # Library messages carry the title as text: no Markdown image, no tag (a second copy is deleted).
    twin = tmp_path / "evil twin.md"
    twin.write_text(EVIL.replace("Port Evilton", "Port Eviltwin"), encoding="utf-8")
    _upload(client, twin)
    doc = next(d for d in rag.get_engine(server["settings"]).index.documents() if d.source.endswith("evil twin.md"))
    message, *_ = client.predict(doc.doc_id, api_name="/delete")
    assert message.startswith("Deleted") and BAIT not in message and "<script" not in message, message
    assert "\\!\\[x\\]\\(http" in message and "&lt;script&gt;" in message, message


def test_reindex_and_delete_one_briefing(server, client: Client, tmp_path: Path) -> None:
    doomed = tmp_path / "doomed.md"
    doomed.write_text((CORPUS / "21-dominica-rss-election-deployment.md").read_text(encoding="utf-8"), encoding="utf-8")
    _upload(client, doomed)
    engine = rag.get_engine(server["settings"])
    doc = next(d for d in engine.index.documents() if d.source.endswith("doomed.md"))
    message, report, *_ = client.predict(doc.doc_id, api_name="/reindex")
    report = _value(report)
    assert "updated" in message and report["data"][0][1] == "updated", (message, report)
    doc = next(d for d in engine.index.documents() if d.source.endswith("doomed.md"))
    message, _, library, *_ = client.predict(doc.doc_id, api_name="/delete")
    assert message.startswith("Deleted"), message
    assert not any(row[5] == "doomed.md" for row in library["data"])
    assert not (Path(server["settings"].index_dir) / "uploads" / "doomed.md").exists()


def test_empty_chat_examples_come_from_the_indexed_briefings(server) -> None:
    """Not the sample corpus's questions: the newest titles of this index, or a configured list."""
    import httpx

    from ui.app import ChatApp

    config = httpx.get(server["url"] + "config", timeout=10).json()
    (chat,) = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "chat"]
    shown = [e["text"] for e in chat["props"]["examples"]]
    titles = {d.title for d in rag.get_engine(server["settings"]).index.documents()}
    assert shown and set(shown) <= titles, shown
    configured = ChatApp(server["settings"].with_(ui_examples="Who patrolled? | What was seized?|"))
    assert configured.examples() == ["Who patrolled?", "What was seized?"]


def test_start_banner_says_whether_the_backend_answers(server) -> None:
    from ui.app import backend_banner

    assert "extractive" in backend_banner(rag.get_engine(server["settings"]))
    dead = server["settings"].with_(
        llm="openai", llm_url=f"http://127.0.0.1:{free_port()}/v1", llm_model="m", llm_timeout=2.0
    )
    banner = backend_banner(rag.Engine(dead))
    assert "NOT READY" in banner and "cannot be reached" in banner, banner


def test_theme_loads_no_external_fonts(server) -> None:
    import httpx

    css = httpx.get(server["url"] + "theme.css", timeout=10).text
    assert "fonts.googleapis" not in css and "fonts.gstatic" not in css
    page = httpx.get(server["url"], timeout=10).text
    assert "fonts.googleapis" not in page and "cdn.jsdelivr" not in page


# -- the browser ---------------------------------------------------------------------------


def _chromium():
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        skip_or_fail(
            "browser test skipped: Debian chromium and chromium-driver are not installed "
            "(`make browser` installs them as root: apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver  # a declared test dependency
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="ui-chromium-")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--disable-default-apps",
        "--disable-extensions",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # An explicit driver path: selenium-manager never runs, so nothing is downloaded.
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    return driver, profile


def _quoted_in(quote: str, answer: str) -> bool:
    """A sentence is quoted as is; a table row is written out as "Column: cell; ..." in the answer."""
    if quote.startswith("|"):
        return all(cell.strip() in answer for cell in quote.strip("| ").split("|"))
    return bool(quote) and quote in answer


@pytest.mark.slow
def test_browser_chat_shows_markers_and_highlighted_quote(server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver, profile = _chromium()
    try:
        driver.get(server["url"])
        box = WebDriverWait(driver, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, "#question textarea"))
        box.send_keys(PATROL)
        driver.find_element(By.ID, "ask-btn").click()
        WebDriverWait(driver, 90).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#sources mark.quote"))
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chat a.cite-ref"))

        answer = driver.find_elements(By.CSS_SELECTOR, "#chat .message-row, #chat [data-testid='bot']")[-1].text
        _mentions(answer)
        markers = driver.find_elements(By.CSS_SELECTOR, "#chat a.cite-ref")
        assert all(re.fullmatch(r"\[\d+\]", m.text) for m in markers), [m.text for m in markers]
        quotes = [m.text for m in driver.find_elements(By.CSS_SELECTOR, "#sources mark.quote")]
        assert quotes and all(_quoted_in(q, answer) for q in quotes), (quotes, answer)

        driver.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.5)
        OUTPUT.mkdir(exist_ok=True)
        driver.save_screenshot(str(OUTPUT / "ui-chat.png"))

        # [n] brings its card into view; the card opens the whole briefing at the quote.
        markers[0].click()
        card_id = "cite-" + markers[0].get_attribute("href").split("#cite-")[1]
        WebDriverWait(driver, 10).until(
            lambda d: d.execute_script(
                "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
                "return r.top >= 0 && r.bottom <= window.innerHeight + 1;",
                card_id,
            )
        )
        driver.find_element(By.CSS_SELECTOR, f"#{card_id} button.open-doc").click()
        hit = WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#briefing-viewer mark.hit"))[
            0
        ]
        assert hit.text == quotes[0]
        time.sleep(1.0)  # let the smooth scroll settle before the picture
        driver.save_screenshot(str(OUTPUT / "ui-briefing.png"))

        # Thumbs up on the answer lands in the feedback file.
        feedback = Path(server["settings"].feedback_path)
        before = len(feedback.read_text().splitlines()) if feedback.exists() else 0
        like = driver.find_elements(By.CSS_SELECTOR, "#chat button[aria-label='Like'], #chat button[title='Like']")
        assert like, "no thumbs-up button on the answer"
        like[-1].click()
        WebDriverWait(driver, 15).until(lambda d: feedback.exists() and len(feedback.read_text().splitlines()) > before)
        record = json.loads(feedback.read_text().splitlines()[-1])
        assert record["rating"] == "up" and record["question"] == PATROL and record["citations"]

        # The library table shows the injected title as text; nothing is fetched for it (checked below).
        driver.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Library')]").click()
        WebDriverWait(driver, 30).until(lambda d: "Port Evilton" in d.find_element(By.ID, "library-table").text)
        table = driver.find_element(By.ID, "library-table")
        assert BAIT in table.text and "<script>alert(1)</script>" in table.text, table.text
        assert not table.find_elements(By.CSS_SELECTOR, "img"), "a title became an image"

        # Nothing the page loaded came from beyond this machine.
        remote = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
                url = (msg["params"].get("request") or {}).get("url") or msg["params"].get("url", "")
                m = re.match(r"^(?:https?|wss?)://\[?([^/\]:]+)", url)
                if m and not _is_loopback(m.group(1)):
                    remote.append(url)
        assert not remote, remote
        assert not [e for e in driver.get_log("browser") if "alert" in e.get("message", "")]
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# -- last: the process itself ---------------------------------------------------------------


def test_no_connection_left_the_machine(server) -> None:
    assert not _AUDIT["remote"], _AUDIT["remote"]
