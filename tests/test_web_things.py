"""The browser client with things and accounts, in Chromium: the sample game and the forms.

One server runs the sample game (``--game=sample``: Ada, a signpost, sheep,
Brom, an apple tree, Rex) for the module.  A page logs in and must show the
things drawn by kind, apart from players, use one with a click when it is
near, walk toward one that is far, and put the answers in the chat.  The
create-account form must catch two different passwords before sending
anything; another test signs up, changes the password and logs in with it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM, DESKTOP, NO_CHROMIUM, PHONE, Page, launch, web_option
from tests.support import SHARED_SERVER, ServerProcess, running_server

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    """The sample game, quick walkers, and the page's address."""
    option, url = web_option()
    tmp = tmp_path_factory.mktemp("sample")
    with running_server(tmp, option, "--game=sample", "--speed=20", *SHARED_SERVER) as server:
        yield server, url


#: The colours things.js draws each kind with, and the players' (view.js).
COLORS = {"npc": (0x70, 0x48, 0xE8), "thing": (0xB7, 0x79, 0x1F), "own": (0xD9, 0x48, 0x0F)}

#: Where the page drew the entity called `name` last frame, if the map shows it,
#: and whether a click there hits exactly that thing (nothing drawn on top of it).
WHERE_DRAWN = """async (name) => {
  const { thingAt } = await import('./js/things.js');
  const found = window.mud.view.drawn.find((d) => d.entity.name === name);
  if (!found) return null;
  const hit = thingAt(window.mud.view.drawn, found.x, found.y);
  return { id: found.entity.id, x: found.x, y: found.y, clean: !!hit && hit.name === name };
}"""

#: The colour of the map's pixel at CSS point (x, y).
PIXEL = """([x, y]) => {
  const canvas = document.getElementById('map');
  const r = window.devicePixelRatio || 1;
  return Array.from(canvas.getContext('2d').getImageData(x * r, y * r, 1, 1).data.slice(0, 3));
}"""


def drawn(page: Page, name: str, timeout: float = 10.0) -> dict[str, Any]:
    """Where *name* is drawn, once a click there would hit it alone."""
    deadline = time.monotonic() + timeout
    while True:
        found = page.page.evaluate(WHERE_DRAWN, name)
        if found is not None and found["clean"]:
            return found  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"{name} is not drawn where a click finds it: {found}"
        page.page.wait_for_timeout(50)


def click(page: Page, name: str) -> int:
    """Click the thing called *name* on the map, as a person would; its id."""
    found = drawn(page, name)
    box = page.page.locator("#map").bounding_box()
    page.page.mouse.click(box["x"] + found["x"], box["y"] + found["y"])
    return int(found["id"])


def sent(page: Page, line: str, timeout: float = 5.0) -> None:
    """Wait until the page has sent *line* (Playwright reports frames as they go)."""
    deadline = time.monotonic() + timeout
    while line not in page.sent:
        assert time.monotonic() < deadline, f"{line!r} not sent: {page.sent}"
        page.page.wait_for_timeout(20)


def near_color(actual: list[int], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - w) <= 12 for a, w in zip(actual, wanted, strict=True))


def chat_line(page: Page, text: str) -> Any:
    return page.page.locator("#chat-log li", has_text=text)


def test_the_page_modules_for_things_and_accounts(
    sample: tuple[ServerProcess, str], browser: Any
) -> None:
    """things.js, account.js and world.js's msg, run in the page."""
    page = Page(browser, sample[1], DESKTOP)
    got = page.page.evaluate(
        """async () => {
          const t = await import('./js/things.js');
          const a = await import('./js/account.js');
          const { WorldState } = await import('./js/world.js');
          const w = new WorldState();
          w.receive('wel 1,foo,0.00,0.00,0.00', 0);
          w.receive('ent 7,thing,signpost,-3.00,2.00,0.00', 0);
          w.receive('ent 8,npc,Ada,4.00,3.00,0.00', 0);
          w.receive('msg 7,signpost,North%2C the meadow.', 0);
          w.receive('say 8,Ada,Hello%2C foo!', 0);
          w.receive('msg 0,,Welcome.', 0);
          const drawn = [
            { entity: w.entities[1], x: 100, y: 100 },
            { entity: w.entities[7], x: 130, y: 100 },
            { entity: w.entities[8], x: 100, y: 140 },
          ];
          const name = (e) => (e ? e.name : null);
          return {
            chat: w.chat,
            hits: [[128, 104], [100, 100], [100, 121], [100, 123], [300, 300]].map(
              ([x, y]) => name(t.thingAt(drawn, x, y))),
            near: t.clickOnThing({ x: 0, y: 0 }, { id: 7, x: -3, y: 2 }),
            far: t.clickOnThing({ x: 0, y: 0 }, { id: 9, x: 12, y: -5 }),
            shapes: ['npc', 'creature', 'thing', 'dragon'].map((k) => t.styleOf(k).shape),
            problems: [['abc', 'abd'], ['', ''], ['same one', 'same one']].map(
              ([p, q]) => a.passwordProblem(p, q)),
            errors: [['taken', 'x'], ['weakpass', 'at least 8 characters'], ['badcmd', 'no']].map(
              ([c, m]) => a.errorText(c, m)),
          };
        }"""
    )
    assert got["chat"] == [
        {"id": 7, "name": "signpost", "text": "North, the meadow.", "own": False}
        | {"kind": "thing", "private": True},
        {"id": 8, "name": "Ada", "text": "Hello, foo!", "own": False}
        | {"kind": "npc", "private": False},
        {"id": 0, "name": "", "text": "Welcome.", "own": False, "kind": "game", "private": True},
    ]
    # The own player is no thing; Ada is 19 px from (100, 121), beyond the 18 px a tap may miss by.
    assert got["hits"] == ["signpost", None, None, "Ada", None]
    assert got["near"] == {"use": 7}
    assert got["far"]["walk"] == pytest.approx({"x": 12 * 11 / 13, "y": -5 * 11 / 13})
    assert got["shapes"] == ["diamond", "triangle", "square", "hexagon"]
    assert got["problems"] == [
        "The two passwords differ: type the same one twice.",
        "Type a password.",
        None,
    ]
    assert got["errors"] == [
        "That name is taken: choose another.",
        "at least 8 characters",  # the server says how long; the page repeats it
        "This server does not know that yet: it is too old for it.",
    ]
    assert page.errors == []
    page.close()


def test_things_are_drawn_by_kind_and_used_with_a_click(
    sample: tuple[ServerProcess, str], browser: Any, tmp_path: Path
) -> None:
    url = sample[1]
    page = Page(browser, url, DESKTOP)

    # The create-account form beside the login: two passwords that differ never leave the page.
    signup = page.page.locator("#signup-form")
    expect(signup.locator("h2")).to_have_text("Create account")
    signup.locator("input[name=name]").fill("newbie")
    signup.locator("input[name=password]").fill("one password")
    signup.locator("input[name=again]").fill("another one")
    signup.locator("button[type=submit]").click()
    expect(page.page.locator("#signup-error")).to_have_text(
        "The two passwords differ: type the same one twice."
    )
    assert page.sockets == [] and page.sent == []
    page.page.screenshot(path=str(tmp_path / "browser-signup.png"))
    phone = Page(browser, url, PHONE)
    for form in ("#login-form", "#signup-form"):
        box = phone.page.locator(form).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], form
    phone.page.screenshot(path=str(tmp_path / "browser-signup-phone.png"), full_page=True)
    phone.close()

    page.log_in("foo", "1234")
    own = page.wait_playing()
    # The sample's things arrive as entities of their kinds, and are drawn apart from players.
    page.page.wait_for_function(
        "() => ['Ada', 'signpost', 'Brom', 'apple tree', 'Rex', 'sheep'].every("
        " (n) => Object.values(window.mud.state.entities).some((e) => e.name === n))"
    )
    kinds = {e["name"]: e["kind"] for e in page.state()["entities"]}
    assert kinds["Ada"] == kinds["Brom"] == "npc" and kinds["foo"] == "player"
    assert kinds["signpost"] == kinds["apple tree"] == "thing" and kinds["sheep"] == "creature"
    for name, color in [("signpost", "thing"), ("Ada", "npc"), ("foo", "own")]:
        found = page.page.evaluate(WHERE_DRAWN, name)
        pixel = page.page.evaluate(PIXEL, [found["x"], found["y"]])
        assert near_color(pixel, COLORS[color]), f"{name} drawn {pixel}, not {color}"
    # What things and the game tell this player alone goes to the chat, marked as such.
    expect(chat_line(page, "game → you Welcome to the sample world!")).to_have_class("msg")
    expect(chat_line(page, "Ada → you Welcome, foo! I am Ada.")).to_have_count(1)

    # The signpost stands within reach: a click uses it, and its words come to the chat.
    sign = click(page, "signpost")
    expect(chat_line(page, "signpost → you North-west: the meadow.")).to_have_count(1)
    sent(page, f"use {sign}")

    # The apple tree is 12.8 away: a click walks there, stopping 2 short, and uses nothing.
    tree = click(page, "apple tree")
    target = page.page.evaluate("window.mud.view.target")
    sent(page, f"mov {target['x']:.2f},{target['y']:.2f},0.00")
    assert f"use {tree}" not in page.sent
    tree_at = next(e for e in page.state()["entities"] if e["id"] == tree)
    assert math.dist((target["x"], target["y"]), (tree_at["x"], tree_at["y"])) == pytest.approx(
        2, abs=0.02
    )
    page.page.wait_for_function(
        "([id, x, y]) => { const e = window.mud.state.entities[id];"
        " return e && !e.walk && Math.abs(e.x - x) < 0.01 && Math.abs(e.y - y) < 0.01; }",
        arg=[own, target["x"], target["y"]],
    )
    click(page, "apple tree")
    expect(chat_line(page, "apple tree → you You have 0 apples.")).to_have_count(1)
    # An apple lies near the tree (it drops one as it starts): a click picks it up, and it goes.
    apple = click(page, "apple")
    expect(chat_line(page, "apple → you You pick up the apple. You have 1 apples.")).to_have_count(
        1
    )
    page.page.wait_for_function(f"() => !window.mud.state.entities[{apple}]")

    page.page.click("#zoom-out")  # the picture for the docs: more of the place
    page.page.wait_for_timeout(300)
    shot = tmp_path / "browser-things.png"
    page.page.screenshot(path=str(shot))
    print(f"screenshots: {shot}, {tmp_path / 'browser-signup.png'}")
    assert page.errors == []
    page.close()


def test_sign_up_then_change_the_password(browser: Any, tmp_path: Path) -> None:
    option, url = web_option()
    with running_server(tmp_path, option, *SHARED_SERVER):
        page = Page(browser, url, DESKTOP)
        form = page.page.locator("#signup-form")
        form.locator("input[name=name]").fill("webnewbie")
        for field in ("password", "again"):
            form.locator(f"input[name={field}]").fill("first password")
        form.locator("button[type=submit]").click()
        page.wait_playing()
        expect(page.page.locator("#whoami")).to_have_text("webnewbie")
        assert page.sent[0] == "new webnewbie,first password,2"

        # The password dialog: a mismatch is caught in the page, a wrong password by the server.
        page.page.click("#password")
        dialog = page.page.locator("#password-dialog")
        expect(dialog).to_be_visible()
        fill = dialog.locator("input[name=old]"), dialog.locator("input[name=new]")
        fill[0].fill("first password")
        fill[1].fill("second password")
        dialog.locator("input[name=again]").fill("second passwort")
        dialog.locator("button[type=submit]").click()
        expect(page.page.locator("#password-error")).to_have_text(
            "The two passwords differ: type the same one twice."
        )
        assert not any(line.startswith("pwd ") for line in page.sent)
        fill[0].fill("not my password")
        dialog.locator("input[name=again]").fill("second password")
        dialog.locator("button[type=submit]").click()
        expect(page.page.locator("#password-error")).to_have_text("The current password is wrong.")
        page.page.screenshot(path=str(tmp_path / "browser-password.png"))
        fill[0].fill("first password")
        dialog.locator("button[type=submit]").click()
        expect(dialog).to_be_hidden()
        expect(page.page.locator("#chat-log li").last).to_have_text(
            "server Your password was changed."
        )

        # Out and in again with the new password; the name cannot be taken twice.
        page.page.click("#logout")
        page.log_in("webnewbie", "second password")
        page.wait_playing()
        other = Page(browser, url, PHONE)
        other_form = other.page.locator("#signup-form")
        other_form.locator("input[name=name]").fill("WebNewbie")
        for field in ("password", "again"):
            other_form.locator(f"input[name={field}]").fill("another password")
        other_form.locator("button[type=submit]").click()
        expect(other.page.locator("#signup-error")).to_have_text(
            "That name is taken: choose another."
        )
        assert page.errors == [] and other.errors == []
        other.close()
        page.close()
