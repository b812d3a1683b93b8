"""``sys`` and ``who`` in the project's clients: the library, the terminal and the browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mudserver.client import parse
from mudserver.client.messages import Bye, System, Unknown, WhoList
from tests.support import REPO, ServerProcess, running_server
from tests.test_terminal import make_display


def admin(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mudserver.tools.admin", f"--data={server.data}", *args],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=15,
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("sys restart at 18:00%2C 100%25 sure", System("restart at 18:00, 100% sure")),
        ("who 3,2,bar,b%2Cz", WhoList(3, 2, ("bar", "b,z"))),
        ("who 1,0", WhoList(1, 0, ())),
        ("who 2000,1999,a,b", WhoList(2000, 1999, ("a", "b"))),
        ("bye kicked", Bye("kicked")),
    ],
)
def test_the_library_types_sys_and_who(line: str, expected: object) -> None:
    assert parse(line) == expected


@pytest.mark.parametrize("line", ["who", "who 1", "who x,1", "who 1,-1,a"])
def test_a_malformed_who_is_unknown_not_an_exception(line: str) -> None:
    message = parse(line)
    assert isinstance(message, Unknown) and message.problem


def test_the_terminal_display_shows_sys_and_who() -> None:
    display, lines, _ = make_display()
    display.show(System("server shutting down in 60 seconds\x1b[2J"))
    display.show(WhoList(1, 0, ()))
    display.show(WhoList(30, 25, ("bar", "baz")))
    assert lines == [
        "*** server shutting down in 60 seconds\\x1b[2J",
        "1 player online; nobody else in view",
        "30 players online; in view: bar, baz and 23 more",
    ]


def test_the_terminal_client_sends_who_and_shows_announcements(server: ServerProcess) -> None:
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        sys.executable,
        [
            *("-m", "mudserver.client", "--host", server.host, "--port", str(server.port)),
            *("--user", "foo", "--password", "1234"),
        ],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        encoding="utf-8",
        timeout=10,
    )
    try:
        child.expect("logged in as foo")
        child.sendline("who")
        child.expect(r"\d+ players? online")
        assert admin(server, "announce", "tea, now").returncode == 0
        child.expect_exact("*** tea, now")
        assert admin(server, "kick", "foo").returncode == 0
        child.expect(pexpect.EOF)
        assert "an operator disconnected you" in child.before
    finally:
        child.close(force=True)


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.test_web import CHROMIUM_ARGS

    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_the_browser_shows_sys_lines_and_who_in_the_chat(tmp_path: Path, browser: Any) -> None:
    from playwright.sync_api import expect

    from tests.test_web import DESKTOP, Page, _web

    shutil.copytree(REPO / "data", tmp_path / "data")
    option, url = _web(tmp_path)
    with running_server(tmp_path, option) as server:
        page = Page(browser, url, DESKTOP)
        page.log_in("foo", "1234")
        page.wait_playing()
        assert admin(server, "announce", "restart <b>soon</b>, 100%").returncode == 0
        last = page.page.locator("#chat-log li").last
        expect(last).to_have_text("server restart <b>soon</b>, 100%")
        expect(last).to_have_class("sys")
        page.page.fill("#chat-input", "/who")
        page.page.press("#chat-input", "Enter")
        expect(last).to_have_text("server 1 online; nobody else in view")
        assert admin(server, "kick", "foo").returncode == 0
        expect(page.page.locator("#notice")).to_contain_text("An operator disconnected you.")
        assert page.errors == []
        page.close()
