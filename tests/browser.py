"""The browser tests' shared parts: Debian's Chromium under Playwright, and a page on the client.

Debian's ``chromium`` is used through ``executable_path``: Playwright never
downloads a browser.  ``.ci/run`` installs it; without it the browser tests
skip.  Every :class:`Page` records its console errors, uncaught exceptions
and the WebSocket lines it sent, so a test can fail on any of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support import free_port

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = "needs Debian's chromium (apt-get install chromium)"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1100, "height": 700}
PHONE = {"width": 390, "height": 844}


@contextmanager
def launch() -> Iterator[Any]:
    """Debian's Chromium, headless, for one test module (a module-scoped fixture wraps it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def web_option() -> tuple[str, str]:
    """A ``--web`` option on a free loopback port, and the page's address there."""
    port = free_port()
    return f"--web=tcp:{port}:interface=127.0.0.1", f"http://127.0.0.1:{port}/"


class Page:
    """One browser page on the client, with every console error it logs."""

    def __init__(
        self, browser: Any, url: str, viewport: dict[str, int], ignore_https_errors: bool = False
    ) -> None:
        self.context = browser.new_context(
            viewport=viewport, ignore_https_errors=ignore_https_errors
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        #: Addresses of the WebSockets the page opened, and every line it sent on them.
        self.sockets: list[str] = []
        self.sent: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("websocket", self._opened)
        self.page.goto(url)

    def _opened(self, socket: Any) -> None:
        self.sockets.append(socket.url)
        socket.on("framesent", lambda payload: self.sent.append(str(payload)))

    def log_in(self, name: str, password: str) -> None:
        self.page.fill("#login-form input[name=name]", name)
        self.page.fill("#login-form input[name=password]", password)
        self.page.click("#login-form button[type=submit]")

    def wait_playing(self) -> int:
        self.page.wait_for_selector("#map", state="visible", timeout=10_000)
        return int(self.page.evaluate("window.mud.state.ownId"))

    def state(self) -> dict[str, Any]:
        return self.page.evaluate(  # type: ignore[no-any-return]
            "({own: window.mud.state.ownId, entities: window.mud.state.snapshot(),"
            " chat: window.mud.state.chat})"
        )

    def close(self) -> None:
        self.context.close()
