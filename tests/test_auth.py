"""Logins and roles: the users file, `rag users`, the exposure check, and a real
server with logins on, driven by ``gradio_client`` and a headless Chromium.

Readers ask; only editors upload, delete and re-index, and that is enforced in
the server-side handlers, so the named API endpoints obey it too.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from typer.testing import CliRunner

import rag
from rag.cli import app
from rag.llm.server import free_port
from rag.users import Users, add_user, hash_password, read_users, verify_password
from ui.app import EDITORS_ONLY, ChatApp, check_exposure, start
from ui.paths import display_names, public_answer, scrub

ROOT = Path(__file__).resolve().parents[1]
BRIEFING = ROOT / "corpus" / "briefings" / "01-china-russia-joint-air-patrol.md"
READER, EDITOR = ("rita", "reader-pass-1"), ("ed", "editor-pass-2")


# -- passwords and the users file -------------------------------------------------------


def test_hash_is_salted_scrypt_and_verifies_only_the_password() -> None:
    one, two = hash_password("s3cret"), hash_password("s3cret")
    assert one.startswith("scrypt$") and one != two, "a random salt per hash"
    assert ":" not in one and "s3cret" not in one
    assert verify_password("s3cret", one) and not verify_password("s3cret ", one) and not verify_password("", one)
    assert not verify_password("s3cret", "scrypt$broken") and not verify_password("s3cret", "md5$x")


def test_users_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text(f"# comment\n\nana:editor:{hash_password('x')}\nbob:admin:{hash_password('y')}\n")
    with pytest.raises(ValueError, match=rf"{path} line 4: .*reader or editor"):
        read_users(path)
    with pytest.raises(ValueError, match="does not exist"):
        read_users(tmp_path / "missing")
    with pytest.raises(ValueError, match="role"):
        add_user(tmp_path / "u2", "ana", "owner", "pw")
    with pytest.raises(ValueError, match="user name"):
        add_user(tmp_path / "u2", "ana:x", "reader", "pw")


def test_cli_users_add_list_remove(tmp_path: Path) -> None:
    path = tmp_path / "users"
    runner = CliRunner()
    added = runner.invoke(
        app,
        ["users", "add", "ana", "--role", "editor", "--file", str(path), "--password-stdin"],
        input="correct horse\n",
    )
    assert added.exit_code == 0, added.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, "the users file is private"
    assert "correct horse" not in path.read_text()
    assert (
        runner.invoke(app, ["users", "add", "bob", "--file", str(path), "--password-stdin"], input="pw2\n").exit_code
        == 0
    )
    users = Users.from_settings(str(path), "")
    assert users.check("ana", "correct horse") and users.role("ana") == "editor" and users.role("bob") == "reader"
    assert not users.check("ana", "wrong") and not users.check("nobody", "correct horse")
    listed = runner.invoke(app, ["users", "list", "--file", str(path)])
    assert listed.exit_code == 0 and "ana\teditor" in listed.output and "scrypt" not in listed.output
    assert runner.invoke(app, ["users", "remove", "bob", "--file", str(path)]).exit_code == 0
    assert runner.invoke(app, ["users", "remove", "bob", "--file", str(path)]).exit_code == 1
    assert read_users(path).keys() == {"ana"}
    assert "scrypt" not in repr(read_users(path)["ana"])


# -- exposure -------------------------------------------------------------------------


def test_network_host_needs_a_login() -> None:
    none, some = Users({}), Users.from_settings("", "ana:pw")
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert check_exposure(host, none) is None
    with pytest.raises(ValueError, match="rag users add"):
        check_exposure("0.0.0.0", none)
    assert "WARNING" in check_exposure("0.0.0.0", none, no_auth=True)
    assert check_exposure("0.0.0.0", some) is None


def test_rag_serve_refuses_a_network_host_without_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RAG_UI_AUTH", raising=False)
    monkeypatch.delenv("RAG_UI_USERS", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--index", str(tmp_path / "idx")])
    output = " ".join(result.output.split())  # rich wraps lines
    assert result.exit_code == 2 and "no login is configured" in output and "--no-auth" in output


# -- what the browser sees of paths --------------------------------------------------------


def test_display_names_are_unique_tails_and_scrub_removes_paths() -> None:
    names = display_names(["/srv/a/report.md", "/srv/b/report.md", "/srv/a/other.md"])
    assert names == {
        "/srv/a/report.md": "a/report.md",
        "/srv/b/report.md": "b/report.md",
        "/srv/a/other.md": "other.md",
    }
    data = public_answer({"citations": [{"source": "/srv/a/report.md"}], "passages": [{"source": "/gone/x.md"}]}, names)
    assert data["citations"][0]["source"] == "a/report.md" and data["passages"][0]["source"] == "x.md"
    assert scrub("x.md: could not be read (PermissionError: [Errno 13] Permission denied: '/srv/a/x.md')") == (
        "x.md: could not be read (PermissionError: [Errno 13] Permission denied: 'x.md')"
    )


# -- a real server with logins on ----------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("auth")
    docs = base / "briefings"
    docs.mkdir()
    shutil.copy(BRIEFING, docs / BRIEFING.name)
    users = base / "users"
    add_user(users, *READER[:1], "reader", READER[1])
    add_user(users, *EDITOR[:1], "editor", EDITOR[1])
    settings = rag.Settings.from_env(
        index_dir=str(base / "index"), ui_users=str(users), ui_auth="", feedback_path=str(base / "feedback.jsonl")
    )
    assert rag.get_engine(settings).ingest([str(docs)]).ok
    port = free_port()
    demo = start(settings, host="127.0.0.1", port=port, block=False, quiet=True, warm=False)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "settings": settings, "base": base, "demo": demo}
    finally:
        demo.close()


def _client(server, auth=None) -> Client:
    return Client(server["url"], auth=auth, verbose=False, download_files=False)


def _doc_ids(server) -> set[str]:
    return {d.doc_id for d in rag.get_engine(server["settings"]).index.documents()}


def test_no_or_wrong_credentials_are_refused(server) -> None:
    import httpx
    from gradio_client.exceptions import AuthenticationError

    with pytest.raises(AuthenticationError, match="credentials were not provided"):
        _client(server)
    for auth in ((READER[0], "not-the-password"), ("mallory", READER[1])):
        with pytest.raises(ValueError, match="Could not login"):
            _client(server, auth)
    # Every route, not only the page: the config, the API description and a call.
    assert httpx.get(server["url"] + "config").status_code == 401
    assert httpx.get(server["url"] + "gradio_api/info").status_code == 401
    assert httpx.post(server["url"] + "gradio_api/call/ask", json={"data": ["Who?"]}).status_code == 401


def test_reader_asks_but_cannot_change_the_library(server, tmp_path: Path) -> None:
    client = _client(server, READER)
    answer = client.predict("Who joined the joint air patrol and where?", api_name="/ask")
    assert not answer["refused"] and answer["citations"], answer["text"]
    assert str(server["base"]) not in json.dumps(answer), "no server path in /ask"
    assert answer["citations"][0]["source"] == BRIEFING.name
    before = _doc_ids(server)
    extra = tmp_path / "extra.md"
    extra.write_text("# Extra briefing\n\nDate: 2024-05-01\n\nA coastguard cutter towed a drifting barge into port.\n")
    for call in (
        lambda: client.predict([handle_file(str(extra))], api_name="/upload"),
        lambda: client.predict(next(iter(before)), api_name="/delete"),
        lambda: client.predict(next(iter(before)), api_name="/reindex"),
    ):
        with pytest.raises(Exception, match=EDITORS_ONLY):
            call()
    assert _doc_ids(server) == before, "a reader changed the index"
    assert not (Path(server["settings"].index_dir) / "uploads" / "extra.md").exists()


def test_editor_can_change_the_library(server, tmp_path: Path) -> None:
    client = _client(server, EDITOR)
    extra = tmp_path / "cutter.md"
    extra.write_text(
        "# Cutter tows barge\n\nDate: 2024-05-02\n\n"
        "A coastguard cutter towed a drifting grain barge into Port Talbot.\n"
    )
    message = client.predict([handle_file(str(extra))], api_name="/upload")[0]
    assert "1 added" in message, message
    doc = next(d for d in rag.get_engine(server["settings"]).index.documents() if d.title == "Cutter tows barge")
    assert stat.S_IMODE(os.stat(doc.source).st_mode) == 0o600
    assert "Deleted" in client.predict(doc.doc_id, api_name="/delete")[0]
    assert doc.doc_id not in _doc_ids(server)


def test_app_handlers_refuse_a_reader_directly(server) -> None:
    """The same check without HTTP: the handler, not the button, decides."""
    import gradio as gr

    chat = ChatApp(server["settings"])
    request = type("R", (), {"username": READER[0]})()
    with pytest.raises(gr.Error, match=EDITORS_ONLY):
        chat.delete(next(iter(_doc_ids(server))), request)
    assert chat.can_edit(type("R", (), {"username": EDITOR[0]})()) and not chat.can_edit(None)


@pytest.mark.slow
def test_browser_asks_for_a_login_first(server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from .test_ui import _chromium

    def login(name: str, password: str) -> None:
        driver.get(server["url"])
        box = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "input[type=password]"))
        assert not driver.find_elements(By.CSS_SELECTOR, "#question textarea"), "the chat shows before a login"
        driver.find_element(By.CSS_SELECTOR, "input[type=text], input:not([type])").send_keys(name)
        box.send_keys(password)
        driver.find_element(By.TAG_NAME, "button").click()

    driver, profile = _chromium()
    wait = WebDriverWait(driver, 60)
    try:
        login(READER[0], "wrong")
        time.sleep(1.5)
        assert not driver.find_elements(By.CSS_SELECTOR, "#question textarea"), "a wrong password got in"
        login(*READER)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#question textarea"))
        driver.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Library')]").click()
        wait.until(lambda d: "Logged in as a reader" in d.page_source)
        assert not [b for b in driver.find_elements(By.ID, "delete-btn") if b.is_displayed()], "a reader sees Delete"
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_errors_reach_the_browser_without_paths_or_traces(server, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected failure inside answering: the chat says so, the details stay in the server log."""
    chat = ChatApp(server["settings"])

    def broken(*args, **kwargs):  # a stand-in for a failure we cannot provoke on purpose (a disk error mid-answer)
        raise OSError(f"[Errno 5] Input/output error: '{server['base']}/index/chroma/data.bin'")
        yield  # pragma: no cover

    monkeypatch.setattr(chat.engine, "ask_stream", broken)
    *_, (_, messages, _, _) = chat.respond("Who joined the patrol?", [], None, [], "", "", [])
    shown = messages[-1]["content"]
    assert (
        "went wrong" in shown and str(server["base"]) not in shown and "Errno" not in shown and "Traceback" not in shown
    )

    def refused(*args, **kwargs):  # our own ValueError naming a file: kept, with the path cut to its name
        raise ValueError(f"filter sources={server['base']}/x.md matches nothing")
        yield  # pragma: no cover

    monkeypatch.setattr(chat.engine, "ask_stream", refused)
    *_, (_, messages, _, _) = chat.respond("Who joined the patrol?", [], None, [], "", "", [])
    assert "x.md" in messages[-1]["content"] and str(server["base"]) not in messages[-1]["content"]
