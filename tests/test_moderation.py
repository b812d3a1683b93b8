"""Tests for mudserver.core.moderation and the game's side of the console.

Sans-IO: a real Game with sessions on fake peers, logins reported with
``login_checked`` as the shell does; assertions are on the lines a client
would read.  The countdown is driven by ``task.Clock``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import task
from twisted.internet.testing import StringTransport

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core import moderation
from mudserver.core.game import WHO_MAX_NAMES, Game
from mudserver.core.session import Session, State
from mudserver.limits.bans import BanError
from mudserver.shell.countdown import Countdown
from mudserver.shell.factory import MudFactory
from mudserver.wire.encoding import split_line

from .test_game import FakePeer, SaveRecorder


def login(
    game: Game, name: str, at: tuple[float, float, float] = (0, 0, 0), host: str = "127.0.0.1"
) -> tuple[Session, FakePeer]:
    """A playing session for *name*, without a password check."""
    peer = FakePeer()
    session = Session(game, peer, f"{host}:1", host=host)
    assert session.line_received(f"con {name},pw,1".encode(), now=1.0) is not None
    session.login_checked(Account(name, {}, *at))
    assert session.state is State.PLAYING
    peer.new_lines()
    return session, peer


@pytest.fixture
def saves() -> SaveRecorder:
    return SaveRecorder()


@pytest.fixture
def game(saves: SaveRecorder) -> Game:
    return Game(Settings(), saves)


def test_who_rows_list_every_player_with_address_version_position_and_idle(game: Game) -> None:
    login(game, "zed", (1, 2, 3), host="192.0.2.1")
    bar, _ = login(game, "bar", (4, 5, 6))
    bar.line_received(b"idl", now=7.0)
    rows = moderation.who_rows(game, now=10.0)
    assert [(r.name, r.host, r.version, (r.x, r.y, r.z), r.idle) for r in rows] == [
        ("bar", "127.0.0.1", "1", (4, 5, 6), 3.0),
        ("zed", "192.0.2.1", "1", (1, 2, 3), 9.0),
    ]


def test_kick_says_why_then_bye_kicked_and_saves_where_it_stood(
    game: Game, saves: SaveRecorder
) -> None:
    _, peer = login(game, "foo", (3, 4, 0))
    assert moderation.kick(game, "FOO", "griefing")
    assert peer.new_lines() == ["sys kicked: griefing", "bye kicked"]
    assert peer.closed == 1
    assert saves.positions("foo")[-1] == (3, 4, 0)
    assert game.player("foo") is None
    assert not moderation.kick(game, "foo")


def test_a_name_ban_kicks_the_player_and_refuses_its_next_con(game: Game) -> None:
    _, peer = login(game, "foo")
    ban, closed = moderation.ban(game, "Foo", now=100.0, duration=60.0, reason="spam")
    assert (ban.kind, ban.target, ban.until) == ("name", "foo", 160.0)
    assert closed == ["foo"]
    assert peer.new_lines() == ["sys banned: spam", "bye banned"]
    again = FakePeer()
    session = Session(game, again, "x", host="127.0.0.1")
    assert session.line_received(b"con foo,pw,1", now=120.0) is None
    assert again.lines() == ["bye banned"]
    assert session.state is State.CLOSED
    # Expired: the con goes on to the password check.
    later = Session(game, FakePeer(), "y", host="127.0.0.1")
    assert later.line_received(b"con foo,pw,1", now=160.0) is not None


def test_an_address_ban_closes_every_connection_from_it(game: Game) -> None:
    _, inside = login(game, "foo", host="10.1.2.3")
    _, outside = login(game, "bar", host="192.0.2.1")
    lurker_peer = FakePeer()
    Session(game, lurker_peer, "l", host="10.9.9.9")  # connected, not logged in
    _, closed = moderation.ban(game, "10.0.0.0/8", now=0.0)
    assert sorted(closed) == ["10.9.9.9", "foo"]
    assert inside.new_lines() == ["bye banned"]
    assert lurker_peer.lines() == ["bye banned"]
    assert outside.new_lines() == []


def test_a_bad_ban_target_changes_nothing(game: Game) -> None:
    with pytest.raises(BanError):
        moderation.ban(game, "bad!", now=0.0)
    assert len(game.bans) == 0


def test_announce_reaches_every_player_on_the_next_tick(game: Game) -> None:
    _, foo = login(game, "foo")
    _, bar = login(game, "bar", (5000, 0, 0))  # far out of view: still told
    assert moderation.announce(game, "restart at 18:00, 50% off") == 2
    game.tick(0.1)
    assert foo.new_lines() == ["sys restart at 18:00%2C 50%25 off"]
    assert [split_line(x).args() for x in bar.new_lines()] == [["restart at 18:00, 50% off"]]


def test_who_from_a_player_counts_everyone_and_names_those_in_view(game: Game) -> None:
    foo, peer = login(game, "foo")
    login(game, "near", (10, 0, 0))
    login(game, "nearer", (5, 0, 0))
    login(game, "far", (5000, 0, 0))
    game.tick(0.1)
    peer.new_lines()
    foo.line_received(b"who", now=2.0)
    assert peer.new_lines() == ["who 4,2,nearer,near"]


def test_who_in_a_crowd_of_2000_is_bounded() -> None:
    """2,000 players of the longest names, a hundred and more of them in view.

    The crowd cap is lifted, as an operator may: who stays bounded by itself.
    """
    game = Game(Settings(max_in_view=5000), SaveRecorder())
    # 24 characters, the longest name there is; 10 units apart, 45 to a row.
    sessions = [
        login(game, f"crowd_player_name_{i:06}", ((i % 45) * 10, (i // 45) * 10, 0))
        for i in range(2000)
    ]
    me, peer = sessions[0]
    me.line_received(b"who", now=2.0)
    (line,) = peer.new_lines()
    online, in_view, *names = split_line(line).args()
    assert online == "2000"
    assert int(in_view) > 3 * WHO_MAX_NAMES
    assert len(names) == WHO_MAX_NAMES
    # However big the crowd: "who ", two numbers of at most 10 digits, the names.
    assert len(line) <= 4 + 2 * 11 + WHO_MAX_NAMES * 25


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(-300, 300), st.integers(-300, 300)), max_size=60))
def test_who_names_at_most_the_bound_nearest_first(spots: list[tuple[int, int]]) -> None:
    game = Game(Settings(), SaveRecorder())
    me, peer = login(game, "me")
    for i, (x, y) in enumerate(spots):
        login(game, f"p{i}", (x, y, 0))
    me.line_received(b"who", now=2.0)
    (line,) = peer.new_lines()
    online, in_view, *names = split_line(line).args()
    assert int(online) == len(spots) + 1
    assert len(names) == min(int(in_view), WHO_MAX_NAMES)
    distances = [spots[int(n[1:])][0] ** 2 + spots[int(n[1:])][1] ** 2 for n in names]
    assert distances == sorted(distances)


def test_who_shares_the_say_limit(game: Game) -> None:
    foo, peer = login(game, "foo")
    for _ in range(game.settings.say_burst):
        foo.line_received(b"who", now=2.0)
    foo.line_received(b"say hi", now=2.0)
    foo.line_received(b"who", now=2.0)
    lines = peer.new_lines()
    assert lines[: game.settings.say_burst] == ["who 1,0"] * game.settings.say_burst
    assert [split_line(x).args()[0] for x in lines[game.settings.say_burst :]] == [
        "toofast",
        "toofast",
    ]
    foo.line_received(b"who", now=3.0)  # a second later, one more
    assert peer.new_lines() == ["who 1,0"]


def test_who_takes_no_arguments(game: Game) -> None:
    foo, peer = login(game, "foo")
    foo.line_received(b"who is there", now=2.0)
    assert split_line(peer.new_lines()[0]).code == "err"


# -- the countdown -----------------------------------------------------------------


def test_countdown_marks() -> None:
    assert moderation.countdown(45) == [45, 30, 10, 5]
    assert moderation.countdown(60) == [60, 30, 10, 5]
    assert moderation.countdown(3) == [3]
    assert moderation.countdown(0) == []
    assert moderation.countdown_text(120, "update") == "server shutting down in 2 minutes: update"
    assert moderation.countdown_text(1) == "server shutting down in 1 second"


def test_the_countdown_announces_then_stops(game: Game) -> None:
    _, peer = login(game, "foo")
    clock, stopped = task.Clock(), []
    countdown = Countdown(game, clock, lambda: stopped.append(clock.seconds()))
    countdown.start(60, "new version")
    heard: list[tuple[float, str]] = []
    for step in [0.0] + [1.0] * 60:
        clock.advance(step)
        game.tick(1.0)
        heard += [(clock.seconds(), split_line(x).args()[0]) for x in peer.new_lines()]
    assert heard == [
        (0.0, "server shutting down in 60 seconds: new version"),
        (30.0, "server shutting down in 30 seconds: new version"),
        (50.0, "server shutting down in 10 seconds: new version"),
        (55.0, "server shutting down in 5 seconds: new version"),
    ]
    assert stopped == [60.0]
    assert not countdown.running


def test_cancel_stops_the_countdown(game: Game) -> None:
    _, peer = login(game, "foo")
    clock, stopped = task.Clock(), []
    countdown = Countdown(game, clock, lambda: stopped.append(True))
    assert not countdown.cancel()
    countdown.start(30)
    clock.advance(25)
    assert countdown.cancel()
    clock.advance(100)
    game.tick(0.1)
    assert stopped == []
    assert [split_line(x).args()[0] for x in peer.new_lines()] == [
        "server shutting down in 30 seconds",
        "server shutting down in 10 seconds",
        "server shutting down in 5 seconds",
        "shutdown cancelled",
    ]


def test_a_new_shutdown_replaces_the_countdown(game: Game) -> None:
    clock, stopped = task.Clock(), []
    countdown = Countdown(game, clock, lambda: stopped.append(clock.seconds()))
    countdown.start(60)
    countdown.start(5)
    clock.pump([1.0] * 100)
    assert stopped == [5.0]


# -- a banned address at connect --------------------------------------------------


def test_a_banned_address_is_refused_at_connect(game: Game, tmp_path: Path) -> None:
    clock = task.Clock()
    clock.advance(1000)
    factory = MudFactory(game, lambda name, password: None, clock)  # type: ignore[arg-type,return-value]
    game.bans.add("192.0.2.0/24", now=0.0, duration=2000.0)
    from twisted.internet.address import IPv4Address

    refused = factory.buildProtocol(IPv4Address("TCP", "192.0.2.9", 1234))
    transport = StringTransport()
    assert refused is not None
    refused.makeConnection(transport)
    assert transport.value() == b"bye banned\n"
    assert transport.disconnecting
    assert factory.limits.open == 0  # never counted against the limits
    clock.advance(1000)  # the ban expired
    allowed = factory.buildProtocol(IPv4Address("TCP", "192.0.2.9", 1234))
    assert type(allowed).__name__ == "MudProtocol"


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf"), 86_401.0])
def test_a_countdown_must_be_finite_and_at_most_a_day(game: Game, seconds: float) -> None:
    countdown = Countdown(game, task.Clock(), lambda: None)
    with pytest.raises(ValueError, match="countdown"):
        countdown.start(seconds)
    assert not countdown.running
