"""Game code must not take the server down: raising hooks, repeated failures, slow hooks, caps.

A hook that raises is logged once with the thing, the hook and the
traceback, counted, and after repeated failures switched off (the thing
stands); the tick and every other thing go on.  A slow tick names its
slowest kinds.  What players see is asserted, as in the other game tests.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mudserver.game import Player, Thing
from tests.gamekit import Playground


class Faulty(Thing):
    """Raises in its timer and in use; walks back and forth meanwhile."""

    kind = "creature"
    speed: float = 1.0
    bells = 0

    def on_spawn(self) -> None:
        self.every(0.5, self.tock)
        self.walk_to(50, 0)

    def tock(self) -> None:
        self.bells += 1
        raise RuntimeError(f"tock {self.bells} broke")

    def on_use(self, player: Player, verb: str, text: str) -> str:
        raise KeyError("no answer")


class Healthy(Thing):
    """Counts its timer's calls: the others must go on."""

    bells = 0

    def on_spawn(self) -> None:
        self.every(0.5, self.tock)

    def tock(self) -> None:
        self.bells += 1


class Slow(Thing):
    """Each step takes 30 ms of the (fake) clock."""

    def step(self, dt: float) -> None:
        clock = self.world.clock  # type: ignore[attr-defined]
        clock.advance(0.030)


def test_a_failing_timer_is_logged_once_counted_and_switched_off_and_the_thing_stands(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    game = Playground(
        tmp_path,
        (Faulty, Healthy),
        '[things.bad]\nclass = "Faulty"\nat = [0, 0]\n'
        '[things.good]\nclass = "Healthy"\nat = [1, 0]\n',
    )
    _, screen = game.login("foo", version="2")
    bad, good = game.thing("bad"), game.thing("good")
    with caplog.at_level(logging.ERROR, "mudserver.game"):
        game.tick(40)
    assert bad.bells == 3  # switched off after three failures in a row
    assert good.bells == 8  # the others go on, as does the tick
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "hook tock raised" in tracebacks[0].getMessage()
    assert "RuntimeError: tock 1 broke" in caplog.text
    assert "switched off for this thing" in caplog.text
    assert game.runtime.guard.errors[("Faulty", "tock")] == 3
    assert game.runtime.guard.switched_off == 1
    assert not bad.walking  # it stands
    assert f"pos {bad.id}," in "\n".join(screen.new("pos"))  # and clients are told where


def test_a_failing_use_answers_broken_then_stays_broken(tmp_path: Path) -> None:
    game = Playground(tmp_path, (Faulty,), '[things.bad]\nclass = "Faulty"\nat = [0, 0]\n')
    session, screen = game.login("foo")
    screen.new()
    bad = game.thing("bad").id
    for _ in range(4):
        game.type(session, f"use {bad}")
    assert screen.new("err") == ["err broken,bad does not respond"] * 4
    assert game.runtime.guard.is_off(game.thing("bad"), "on_use")
    assert session.state.value == "playing"


def test_a_slow_tick_logs_the_slowest_kinds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    game = Playground(
        tmp_path, (Slow,), '[things.slow]\nclass = "Slow"\nat = [0, 0]\n', game_budget=0.02
    )
    game.runtime.clock = game.clock  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, "mudserver.game"):
        game.tick()
    assert "game code took 30.0 ms in one tick (budget 20.0 ms); slowest: Slow 30.0 ms" in (
        caplog.text
    )
    assert game.runtime.last_spent == pytest.approx({"Slow": 0.030})


def test_many_failing_things_log_a_few_tracebacks_not_all(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    many = "".join(f'[things.b{i}]\nclass = "Faulty"\nat = [{i}, 0]\n' for i in range(20))
    game = Playground(tmp_path, (Faulty,), many)
    with caplog.at_level(logging.ERROR, "mudserver.game"):
        game.tick(5)
    assert len([r for r in caplog.records if r.exc_info]) == 3
    assert game.runtime.guard.errors[("Faulty", "tock")] == 20
