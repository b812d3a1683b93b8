"""A game in process for the game API's tests: real sessions, a runtime, plain numbers for time.

:class:`Playground` builds a :class:`~mudserver.core.game.Game` with a
:class:`~mudserver.game.runtime.Runtime` running the thing classes a test
defines and a world file it writes, logs players in through real
:class:`~mudserver.core.session.Session`\\ s, and steps the world with fixed
``dt``.  What a player's client would read is its :class:`Screen`'s lines.
Game code's time is measured with a clock the test controls
(:attr:`Playground.clock`), so a slow hook needs no sleep.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.core.session import Session
from mudserver.game.loader import GameCode
from mudserver.game.runtime import Runtime
from mudserver.game.thing import Rules, Thing
from mudserver.game.worldfile import read_world

DT = 0.1


class Screen:
    """A client's connection: every line it was sent."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.closed = False
        self._read = 0

    def send(self, text: str) -> None:
        assert text.endswith("\n"), text
        self.lines += text.splitlines()

    def close(self) -> None:
        self.closed = True

    def new(self, *codes: str) -> list[str]:
        """The lines since the last call (only those of *codes*, if given)."""
        fresh, self._read = self.lines[self._read :], len(self.lines)
        return [line for line in fresh if not codes or line.split(" ", 1)[0] in codes]


class FakeClock:
    """A performance counter that moves only when told (``advance``), or by *per_call*."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Playground:
    """A game running *classes* with the world file *world* (TOML text)."""

    def __init__(
        self,
        tmp_path: Path,
        classes: Iterable[type[Thing]] = (),
        world: str = "",
        rules: type[Rules] = Rules,
        **settings: Any,
    ) -> None:
        self.settings = Settings(**settings)
        self.saved: list[Account] = []
        self.clock = FakeClock()
        self.runtime = Runtime(self.settings, self.clock)
        self.game = Game(self.settings, self.saved.append, self.runtime)
        path = tmp_path / "world.toml"
        path.write_text(textwrap.dedent(world))
        by_name = {cls.__name__: cls for cls in classes}
        self.code = GameCode(
            "testgame", by_name, rules, read_world(path, by_name, rules, self.settings.bounds)
        )
        self.runtime.start(self.game, self.code)
        self.now = 0.0

    def login(
        self,
        name: str,
        at: tuple[float, float, float] = (0.0, 0.0, 0.0),
        version: str = "1",
        data: dict[str, Any] | None = None,
    ) -> tuple[Session, Screen]:
        screen = Screen()
        session = Session(self.game, screen, name, host=f"10.0.0.{len(self.game.sessions) + 1}")
        assert session.line_received(f"con {name},pw,{version}".encode(), self.now) is not None
        session.login_checked(Account(name, {}, *at, data=dict(data or {})))
        return session, screen

    def type(self, session: Session, line: str) -> None:
        """*session*'s client sends *line* now."""
        assert session.line_received(line.encode(), self.now) is None

    def tick(self, count: int = 1) -> None:
        for _ in range(count):
            self.now += DT
            self.game.tick(DT)

    def thing(self, key: str) -> Any:
        found = self.runtime.thing(key)
        assert found is not None, key
        return found
