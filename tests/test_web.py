"""The browser client in a real, headless Chromium driven by Playwright.

Debian's ``chromium`` is used through ``executable_path``: Playwright never
downloads a browser.  ``.ci/run`` installs it; without it these tests skip.
Every page fails its test on any console error or uncaught exception.
"""

from __future__ import annotations

import math
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mudserver.store.files import FileStore
from mudserver.store.passwords import ScryptParams
from mudserver.wire.encoding import dequote, enquote
from tests.support import REPO, LineClient, free_port, running_server
from tests.tlscert import make_certificate

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"
)
playwright = pytest.importorskip("playwright.sync_api")

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


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
        #: Addresses of the WebSockets the page opened.
        self.sockets: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("websocket", lambda ws: self.sockets.append(ws.url))
        self.page.goto(url)

    def log_in(self, name: str, password: str) -> None:
        self.page.fill("input[name=name]", name)
        self.page.fill("input[name=password]", password)
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


#: Records [ms, x, y] of where the page draws entity `id`, each frame, until
#: 20 s have passed, in window.frames_of_foo.
SAMPLE_FRAMES = """(id) => {
  const frames = (window.frames_of_foo = []);
  const start = performance.now();
  const sample = (now) => {
    const e = window.mud.state.entities[id];
    if (e) {
      const p = window.mud.state.drawnPosition(e, now);
      frames.push([now, p.x, p.y]);
    }
    if (now - start < 20000) requestAnimationFrame(sample);
  };
  requestAnimationFrame(sample);
}"""


def assert_walked_smoothly(
    frames: list[list[float]], to: tuple[float, float], speed: float
) -> None:
    """The drawn walk moved toward *to* in many small steps and ended there.

    Each frame's step must fit the walking speed (with slack for frame timing
    and the fading of a correction), so a jump of half a tick's walk between
    two frames fails: that is what drawing only the server's reports looks like.
    """
    moving = [(t, x, y) for t, x, y in frames if (x, y) != (0, 0)]
    assert moving, "foo was never drawn away from the origin"
    assert (moving[-1][1], moving[-1][2]) == pytest.approx(to, abs=1e-6)
    on_the_way = [(t, x, y) for t, x, y in moving if (x, y) != pytest.approx(to, abs=1e-6)]
    assert len(on_the_way) >= 10, f"only {len(on_the_way)} frames between start and end"
    previous = (frames[0][0], 0.0, 0.0)
    for t, x, y in moving:
        dt = max(t - previous[0], 1.0) / 1000
        step = math.hypot(x - previous[1], y - previous[2])
        assert step <= 3 * speed * dt + 1e-6, f"jumped {step:.2f} in {dt * 1000:.0f} ms at {t}"
        assert x >= previous[1] - 1e-9 and y >= previous[2] - 1e-9, "walked backwards"
        previous = (t, x, y)


def _web(tmp_path: Path) -> tuple[str, str]:
    port = free_port()
    return f"--web=tcp:{port}:interface=127.0.0.1", f"http://127.0.0.1:{port}/"


def test_two_browsers_and_a_socket_client_play_together(tmp_path: Path, browser: Any) -> None:
    shutil.copytree(REPO / "data", tmp_path / "data")
    FileStore(tmp_path / "data", ScryptParams(n=2**4)).create("baz", "pw")
    option, url = _web(tmp_path)
    with running_server(tmp_path, option) as server:
        foo, bar = Page(browser, url, DESKTOP), Page(browser, url, PHONE)
        with LineClient(server.host, server.port) as raw:
            foo.log_in("foo", "1234")
            foo_id = foo.wait_playing()
            bar.log_in("bar", "4321")
            bar_id = bar.wait_playing()
            assert raw.login("baz", "pw").startswith("wel ")

            # bar's page records where it draws foo, every animation frame.
            bar.page.evaluate(SAMPLE_FRAMES, foo_id)
            # foo clicks 120 px east and 72 px north of itself, the centre of its map.
            box = foo.page.locator("#map").bounding_box()
            centre_x, centre_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            foo.page.mouse.click(centre_x + 120, centre_y - 72)
            target = foo.page.evaluate("window.mud.view.target")
            x, y = target["x"], target["y"]
            assert x > 4 and y > 2, f"clicked east and north of the origin, got {target}"

            # bar's page shows foo walking there smoothly, frame by frame, then arrived.
            bar.page.wait_for_function(
                "([id, x, y]) => { const e = window.mud.state.entities[id];"
                " const f = window.frames_of_foo.at(-1);"
                " return e && e.x === x && e.y === y && f"
                " && Math.abs(f[1] - x) < 1e-6 && Math.abs(f[2] - y) < 1e-6; }",
                arg=[foo_id, x, y],
                timeout=10_000,
            )
            frames = bar.page.evaluate("window.frames_of_foo")
            assert_walked_smoothly(frames, (x, y), speed=5.0)
            seen = {e["id"]: e for e in bar.state()["entities"]}
            assert seen[foo_id]["name"] == "foo" and seen[bar_id]["name"] == "bar"
            # A version 1 client sees the same walk as one pos per tick.
            arrived = f"pos {foo_id},{x:.2f},{y:.2f},0.00"
            assert raw.read_until(lambda line: line == arrived)[-1] == arrived

            # bar, on a phone, says something; foo's chat log shows it.
            chat_input = bar.page.locator("#chat-input")
            assert chat_input.is_visible() and bar.page.locator("#map").is_visible()
            input_box = chat_input.bounding_box()
            assert input_box["y"] + input_box["height"] <= PHONE["height"]
            assert bar.page.locator("#map").bounding_box()["height"] > 200
            chat_input.fill("hello, world: 100% from a phone")
            chat_input.press("Enter")
            last = foo.page.locator("#chat-log li").last
            playwright.expect(last).to_have_text("bar hello, world: 100% from a phone")
            said = f"say {bar_id},bar,hello%2C world: 100%25 from a phone"
            assert raw.read_until(lambda line: line == said)[-1] == said
            assert foo.state()["chat"][-1] == {
                "id": bar_id,
                "name": "bar",
                "text": "hello, world: 100% from a phone",
                "own": False,
            }

            shot = tmp_path / "browser.png"
            foo.page.screenshot(path=str(shot))
            bar.page.screenshot(path=str(tmp_path / "browser-phone.png"))
            print(f"screenshots: {shot} and {tmp_path / 'browser-phone.png'}")
        assert foo.errors == [] and bar.errors == []
        foo.close()
        bar.close()


def test_a_wrong_password_and_a_closed_server_show_on_the_page(
    tmp_path: Path, browser: Any
) -> None:
    option, url = _web(tmp_path)
    with running_server(tmp_path, option) as server:
        page = Page(browser, url, DESKTOP)
        page.log_in("foo", "wrong")
        error = page.page.locator("#login-error")
        playwright.expect(error).to_have_text("Unknown user or wrong password.")
        assert page.page.locator("#status").get_attribute("data-state") == "connected"

        page.log_in("foo", "1234")
        first_id = page.wait_playing()
        assert not error.is_visible()

        # Taken over from a socket client: the page says so, and Reconnect takes it back.
        notice = page.page.locator("#notice")
        with LineClient(server.host, server.port) as raw:
            assert raw.login("foo", "1234").startswith("wel ")
            playwright.expect(notice).to_contain_text("You logged in somewhere else.")
            page.page.click("#reconnect")
            assert raw.read_until(lambda line: line.startswith("bye"))[-1] == "bye replaced"
        page.page.wait_for_function(f"window.mud.state.ownId > {first_id}")
        playwright.expect(notice).to_be_hidden()

        server.stop()  # SIGTERM: every client gets 'bye shutdown', then the process exits
        playwright.expect(notice).to_be_visible()
        playwright.expect(notice).to_contain_text("shutting down")
        playwright.expect(page.page.locator("#status")).to_have_attribute(
            "data-state", "disconnected"
        )
        assert page.page.locator("#reconnect").is_visible()
        assert page.errors == []
        page.close()


def test_the_page_over_https_plays_over_wss(tmp_path: Path, browser: Any) -> None:
    """An https page talks wss to its own address; the self-signed test certificate
    is accepted with ignore_https_errors (nothing else about TLS is relaxed)."""
    cert = make_certificate(tmp_path)
    port = free_port()
    with running_server(tmp_path, f"--web={cert.endpoint(port)}") as server:
        page = Page(browser, f"https://localhost:{port}/", DESKTOP, ignore_https_errors=True)
        page.log_in("foo", "1234")
        own = page.wait_playing()
        assert page.page.evaluate("location.protocol") == "https:"
        assert page.sockets == [f"wss://localhost:{port}/ws"]
        with LineClient(server.host, server.port) as raw:
            raw.login("bar", "4321")
            page.page.wait_for_function(
                "() => Object.values(window.mud.state.entities).some(e => e.name === 'bar')",
                timeout=5_000,
            )
            raw.send("say hello over tls")
            last = page.page.locator("#chat-log li").last
            playwright.expect(last).to_have_text("bar hello over tls")
        assert own > 0 and page.errors == []
        page.close()


TRICKY = [
    "",
    "plain",
    "100% sure, 5\n",
    "%",
    "%zz",
    "%2c",
    "%2541",
    "%E9",
    "é ü 日本 🙂",
    "a,b,,c",
    "\r\n\t\x00\x1f\x7f",
    "%%41%4",
]


def test_the_page_modules_match_the_server(tmp_path: Path, browser: Any) -> None:
    """codec.js mirrors mudserver.wire.encoding; world.js draws between two
    version 1 ticks and along a version 2 walk."""
    rng = random.Random(6)
    alphabet = "%,aZ09 \n\r\x00\x7fé日🙂AF"
    samples = TRICKY + ["".join(rng.choices(alphabet, k=rng.randint(0, 12))) for _ in range(300)]
    option, url = _web(tmp_path)
    with running_server(tmp_path, option):
        page = Page(browser, url, DESKTOP)
        got = page.page.evaluate(
            "async (samples) => { const c = await import('./js/codec.js');"
            " return samples.map((s) => [c.enquote(s), c.dequote(s)]); }",
            samples,
        )
        assert got == [[enquote(s), dequote(s)] for s in samples]
        drawn = page.page.evaluate(
            """async () => {
              const { WorldState } = await import('./js/world.js');
              const w = new WorldState();
              w.receive('wel 7,foo,0.00,0.00,0.00', 0);
              w.receive('pos 7,0.50,0.00,1.00', 1000);
              const at = (t) => w.drawnPosition(w.entities[7], t);
              const half = at(1050), end = at(1100);
              w.receive('pos 7,1.00,0.00,1.00', 1100);
              return [half, end, at(1150), w.snapshot()];
            }"""
        )
        assert drawn[0] == {"x": 0.25, "y": 0, "z": 0.5}  # halfway through a 100 ms tick
        assert drawn[1] == {"x": 0.5, "y": 0, "z": 1}
        assert drawn[2] == {"x": 0.75, "y": 0, "z": 1}
        assert drawn[3] == [{"id": 7, "name": "foo", "kind": "player", "x": 1, "y": 0, "z": 1}]
        walked = page.page.evaluate(
            """async () => {
              const { WorldState } = await import('./js/world.js');
              const w = new WorldState();
              w.receive('wel 7,foo,0.00,0.00,0.00', 0);
              w.receive('ent 8,player,bar,0.00,0.00,0.00', 0);
              // 0,0,0 -> 3,4,0 is 5 units: 1 s at 5 units/s.
              w.receive('wlk 8,0.00,0.00,0.00,3.00,4.00,0.00,5.00', 1000);
              const at = (t) => w.drawnPosition(w.entities[8], t);
              const walking = [at(1000), at(1500), at(2000), at(9000)];
              // A new target from a point the page has not drawn yet: no jump,
              // the gap fades out within a tick.
              w.receive('wlk 8,3.00,4.00,0.00,3.00,0.00,0.00,5.00', 9000);
              w.receive('wlk 8,3.00,3.00,0.00,3.00,0.00,0.00,5.00', 9100);
              // A frame stamped before the message came (requestAnimationFrame's time).
              const turned = [at(9100), at(9150), at(9200), at(9080)];
              w.receive('pos 8,3.00,2.00,0.00', 9200);  // stands: slides there
              return [walking, turned, at(9250), at(9500), w.snapshot()[1]];
            }"""
        )
        close = pytest.approx
        assert walked[0] == [
            {"x": 0, "y": 0, "z": 0},
            close({"x": 1.5, "y": 2, "z": 0}),
            {"x": 3, "y": 4, "z": 0},
            {"x": 3, "y": 4, "z": 0},  # never past the target
        ]
        assert walked[1] == [
            close({"x": 3, "y": 3.5, "z": 0}),  # still drawn where it was, not at 3.0
            close({"x": 3, "y": 3.0, "z": 0}),  # 2.75 on the walk, plus half the gap
            close({"x": 3, "y": 2.5, "z": 0}),  # a tick later: the walk's own position
            close({"x": 3, "y": 3.5, "z": 0}),  # where it was drawn, never beyond
        ]
        assert walked[2] == close({"x": 3, "y": 2.25, "z": 0})  # halfway to where it stands
        assert walked[3] == {"x": 3, "y": 2, "z": 0}
        assert walked[4] == {"id": 8, "name": "bar", "kind": "player", "x": 3, "y": 2, "z": 0}
        assert page.errors == []
        page.close()
