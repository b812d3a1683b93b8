"""What a shard's listener hears reaches its handlers: takeovers, and the channels given.

:class:`ShardWatch` on a fake listener (no PostgreSQL): the console's and the
ban table's channels, passed at construction as a :class:`Hearing` made with
the game, go to their handlers; a new listening connection (one that may
have missed notifications) calls ``listening``; a listener on channels
nobody handles is refused at construction.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.shell.shard import Hearing, ShardWatch
from mudserver.store.ownership import SAY_CHANNEL, TAKEOVER_CHANNEL
from tests.test_game import SaveRecorder


class FakeListener:
    """Gives one batch of (connection count, notifications) per wait, then stops the watch."""

    def __init__(self, channels: tuple[str, ...], batches: list[tuple[int, list[Any]]]) -> None:
        self.channels = channels
        self.batches = batches
        self.connects = 0
        self.closed = False
        self.stop: Callable[[], object] = lambda: None

    def wait(self, timeout: float) -> list[tuple[str, str]]:
        if not self.batches:
            self.stop()
            return []
        self.connects, payloads = self.batches.pop(0)
        return payloads

    def close(self) -> None:
        self.closed = True


def watch_of(listener: FakeListener, hearing: Hearing | None) -> ShardWatch:
    reactor = SimpleNamespace(callFromThread=lambda f, *args: f(*args))
    shard: Any = SimpleNamespace(name="a", reactor=reactor)
    game = Game(Settings(), SaveRecorder())
    watch = ShardWatch(shard, listener, game, hearing)  # type: ignore[arg-type]
    listener.stop = watch._stopping.set
    return watch


def test_heard_channels_reach_their_handlers_and_a_new_connection_calls_listening() -> None:
    heard: list[tuple[str, str]] = []
    listened: list[int] = []
    listener = FakeListener(
        (TAKEOVER_CHANNEL, "console", "bans"),
        [
            (1, [("console", "c1"), ("bans", "b1")]),  # the first connection
            (1, [("bans", "b2"), ("nobody", "x")]),  # the same one: a channel nobody handles
            (2, []),  # a new connection, after the old one was lost
        ],
    )
    hearing = Hearing(
        {
            "console": lambda payload: heard.append(("console", payload)),
            "bans": lambda payload: heard.append(("bans", payload)),
        },
        listening=lambda: listened.append(listener.connects),
    )
    watch_of(listener, hearing)._listen()
    assert heard == [("console", "c1"), ("bans", "b1"), ("bans", "b2")]
    assert listened == [1, 2]
    assert listener.closed


def test_a_listener_must_listen_on_exactly_what_is_handled() -> None:
    hearing = Hearing({"console": lambda payload: None})
    for channels in [
        (TAKEOVER_CHANNEL,),  # misses the console
        ("console",),  # misses the takeovers
        (TAKEOVER_CHANNEL, "console", "unhandled"),
    ]:
        with pytest.raises(ValueError, match="must listen on"):
            watch_of(FakeListener(channels, []), hearing)
    watch_of(FakeListener((TAKEOVER_CHANNEL, SAY_CHANNEL, "console"), []), hearing)
    watch_of(FakeListener((TAKEOVER_CHANNEL,), []), None)
