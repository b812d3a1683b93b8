"""Tests for mudserver.core.game and mudserver.core.session: the sans-IO heart of the server.

Sessions talk to a fake Peer that records what would go on the wire, saves go
to a recording callable, and logins are checked against a real FileStore
and reported with ``session.login_checked`` exactly as the Twisted shell does.
Assertions are on the wire lines a client would read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.core.session import LoginAttempt, Session, State
from mudserver.store.files import FileStore
from mudserver.store.passwords import ScryptParams
from mudserver.wire.encoding import split_line

CHEAP = ScryptParams(n=2**4)


class FakePeer:
    """Stands in for the connection: records every send() and close()."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed = 0
        self._read = 0

    def send(self, text: str) -> None:
        assert text.endswith("\n"), f"incomplete line sent: {text!r}"
        self.sent.append(text)

    def close(self) -> None:
        self.closed += 1

    def lines(self) -> list[str]:
        """Every line sent so far, without line ends."""
        return "".join(self.sent).split("\n")[:-1]

    def new_lines(self) -> list[str]:
        """The lines sent since the last call."""
        lines = self.lines()
        fresh, self._read = lines[self._read :], len(lines)
        return fresh

    def new_sends(self) -> list[str]:
        """The send() calls made since the last call of new_lines/new_sends."""
        count, calls = 0, []
        for text in self.sent:
            n = text.count("\n")
            if count >= self._read:
                calls.append(text)
            count += n
        self._read = count
        return calls


class SaveRecorder:
    """The game's save callable: keeps every Account snapshot handed to it."""

    def __init__(self, then: Callable[[Account], object] | None = None) -> None:
        self.saved: list[Account] = []
        self._then = then

    def __call__(self, account: Account) -> None:
        self.saved.append(account)
        if self._then is not None:
            self._then(account)

    def positions(self, name: str) -> list[tuple[float, float, float]]:
        return [(a.x, a.y, a.z) for a in self.saved if a.name == name]


class Table:
    """A game, its account store and helpers to connect and log in."""

    def __init__(self, store: FileStore, settings: Settings, save: SaveRecorder) -> None:
        self.store = store
        self.saves = save
        self.game = Game(settings, save)
        self._now = 0.0

    def clock(self) -> float:
        """The time of the next line: a second after the last, under every rate limit."""
        self._now += 1.0
        return self._now

    def connect(self, label: str = "test") -> tuple[Session, FakePeer]:
        peer = FakePeer()
        return Session(self.game, peer, label), peer

    def send(self, session: Session, line: str | bytes) -> LoginAttempt | None:
        data = line.encode("utf-8") if isinstance(line, str) else line
        attempt = session.line_received(data, self.clock())
        if attempt is not None:
            # What the shell does (in a thread): check the password, report back.
            session.login_checked(self.store.authenticate(attempt.name, attempt.password))
        return attempt

    def login(self, name: str, password: str, label: str = "test") -> tuple[Session, FakePeer]:
        session, peer = self.connect(label)
        self.send(session, f"con {name},{password},1")
        assert session.state is State.PLAYING, peer.lines()
        return session, peer


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    store = FileStore(tmp_path, CHEAP)
    store.create("foo", "1234")
    store.create("bar", "4321")
    return store


@pytest.fixture
def saves() -> SaveRecorder:
    return SaveRecorder()


@pytest.fixture
def table(store: FileStore, saves: SaveRecorder) -> Table:
    return Table(store, Settings(), saves)


def err_code(line: str) -> str:
    raw = split_line(line)
    assert raw.code == "err", line
    code, message = raw.args()
    assert message
    return code


def pos_sends(peer: FakePeer) -> list[str]:
    return [text for text in peer.new_sends() if "pos " in text]


# -- login -------------------------------------------------------------------------------


def test_login_sends_wel_then_ent_for_every_entity(table: Table) -> None:
    foo, foo_peer = table.login("foo", "1234")
    assert foo_peer.new_lines() == ["wel 1,foo,0.00,0.00,0.00", "ent 1,player,foo,0.00,0.00,0.00"]

    bar, bar_peer = table.login("bar", "4321")
    lines = bar_peer.new_lines()
    assert lines[0] == "wel 2,bar,0.00,0.00,0.00"
    assert sorted(lines[1:]) == [
        "ent 1,player,foo,0.00,0.00,0.00",
        "ent 2,player,bar,0.00,0.00,0.00",
    ]
    # Others are told about the newcomer with the next tick, once.
    assert foo_peer.new_lines() == []
    table.game.tick(0.1)
    assert foo_peer.new_lines() == ["ent 2,player,bar,0.00,0.00,0.00"]
    assert bar_peer.new_lines() == []
    table.game.tick(0.1)
    assert foo_peer.new_lines() == []
    assert len(table.game) == 2
    assert table.game.player("FOO") is foo and table.game.player("bar") is bar


def test_login_starts_where_the_account_was_saved(table: Table) -> None:
    table.store.create("baz", "pw", 1.5, -2.0, 3.004)
    _, peer = table.login("baz", "pw")
    assert peer.new_lines() == [
        "wel 1,baz,1.50,-2.00,3.00",
        "ent 1,player,baz,1.50,-2.00,3.00",
    ]


def test_login_name_is_case_insensitive_and_wel_shows_the_stored_spelling(table: Table) -> None:
    table.store.create("MixedCase", "pw")
    _, peer = table.login("mixedCASE", "pw")
    assert peer.new_lines()[0] == "wel 1,MixedCase,0.00,0.00,0.00"
    _, peer = table.login("FOO", "1234")
    assert peer.new_lines()[0] == "wel 2,foo,0.00,0.00,0.00"


def test_con_returns_a_login_attempt_and_nothing_happens_until_it_is_checked(
    table: Table,
) -> None:
    session, peer = table.connect()
    _, other_peer = table.login("bar", "4321")
    other_peer.new_lines()
    attempt = session.line_received(b"con foo,12%2C34,1", table.clock())
    assert attempt == LoginAttempt("foo", "12,34")
    table.game.tick(0.1)  # where an arrival would reach the others
    assert peer.lines() == [] and other_peer.new_lines() == []
    assert len(table.game) == 1


def test_a_login_checked_after_the_connection_was_lost_does_nothing(
    table: Table, saves: SaveRecorder
) -> None:
    session, peer = table.connect()
    _, bar_peer = table.login("bar", "4321")
    bar_peer.new_lines()
    saves.saved.clear()
    attempt = session.line_received(b"con foo,1234,1", table.clock())
    assert attempt is not None
    session.connection_lost()
    session.login_checked(table.store.authenticate(attempt.name, attempt.password))
    table.game.tick(0.1)  # where an arrival would reach the others
    assert peer.lines() == [] and peer.closed == 0
    assert bar_peer.new_lines() == []
    assert saves.saved == []
    assert table.game.player("foo") is None and len(table.game) == 1
    assert session not in table.game.sessions


# -- movement ----------------------------------------------------------------------------


def test_mov_then_ticks_send_pos_to_every_player_once_per_tick(table: Table) -> None:
    foo, foo_peer = table.login("foo", "1234")
    _, bar_peer = table.login("bar", "4321")
    _, anon_peer = table.connect()  # connected, not logged in: sees nothing
    table.game.tick(0.1)  # foo hears of bar's arrival
    foo_peer.new_lines(), bar_peer.new_lines()

    assert table.send(foo, "mov 1,0,0") is None
    assert foo_peer.new_lines() == []  # no direct reply

    table.game.tick(0.1)
    for peer in (foo_peer, bar_peer):
        assert pos_sends(peer) == ["pos 1,0.50,0.00,0.00\n"]
    table.game.tick(0.1)
    for peer in (foo_peer, bar_peer):
        assert pos_sends(peer) == ["pos 1,1.00,0.00,0.00\n"]
    # Arrived: no more pos lines.
    for _ in range(5):
        table.game.tick(0.1)
    assert foo_peer.new_sends() == [] and bar_peer.new_sends() == []
    assert anon_peer.sent == []


def test_all_pos_lines_of_a_tick_arrive_in_one_send(table: Table) -> None:
    foo, foo_peer = table.login("foo", "1234")
    bar, bar_peer = table.login("bar", "4321")
    table.game.tick(0.1)  # foo hears of bar's arrival
    foo_peer.new_lines(), bar_peer.new_lines()
    table.send(foo, "mov 0,-1,0")
    table.send(bar, "MOV 0, 0, 1")
    table.game.tick(0.1)
    for peer in (foo_peer, bar_peer):
        sends = pos_sends(peer)
        assert len(sends) == 1
        assert sorted(sends[0].splitlines()) == [
            "pos 1,0.00,-0.50,0.00",
            "pos 2,0.00,0.00,0.50",
        ]


def test_a_diagonal_walk_of_5_units_sends_10_distinct_pos_lines(table: Table) -> None:
    foo, peer = table.login("foo", "1234")
    peer.new_lines()
    table.send(foo, "mov 3,4,0")
    for _ in range(20):
        table.game.tick(0.1)
    lines = peer.new_lines()
    assert lines[-1] == "pos 1,3.00,4.00,0.00"
    assert len(lines) == 10 and len(set(lines)) == 10


def test_an_idle_game_ticks_silently(table: Table) -> None:
    _, foo_peer = table.login("foo", "1234")
    foo_peer.new_lines()
    for _ in range(10):
        table.game.tick(0.1)
    assert foo_peer.new_sends() == []


def test_a_new_mov_replaces_the_destination(table: Table) -> None:
    foo, foo_peer = table.login("foo", "1234")
    foo_peer.new_lines()
    table.send(foo, "mov 10,0,0")
    table.game.tick(0.1)
    table.send(foo, "mov 0.5,1,0")
    table.game.tick(0.1)
    table.game.tick(0.1)
    table.game.tick(0.1)
    assert foo_peer.new_lines() == [
        "pos 1,0.50,0.00,0.00",
        "pos 1,0.50,0.50,0.00",
        "pos 1,0.50,1.00,0.00",
    ]


def test_pos_never_shows_negative_zero(table: Table) -> None:
    foo, foo_peer = table.login("foo", "1234")
    foo_peer.new_lines()
    table.send(foo, "mov -0.001,0,-0.004")
    table.game.tick(0.1)
    assert foo_peer.new_lines() == ["pos 1,0.00,0.00,0.00"]


def test_mov_bounds_come_from_the_settings(store: FileStore, saves: SaveRecorder) -> None:
    table = Table(store, Settings(bounds=10.0), saves)
    foo, peer = table.login("foo", "1234")
    peer.new_lines()
    table.send(foo, "mov 10.5,0,0")
    assert [err_code(line) for line in peer.new_lines()] == ["badarg"]
    table.send(foo, "mov 10,0,-10")
    table.game.tick(100.0)
    assert peer.new_lines() == ["pos 1,10.00,0.00,-10.00"]


# -- chat --------------------------------------------------------------------------------


def test_say_reaches_everyone_including_the_speaker(table: Table) -> None:
    _, foo_peer = table.login("foo", "1234")
    bar, bar_peer = table.login("bar", "4321")
    _, anon_peer = table.connect()
    table.game.tick(0.1)  # foo hears of bar's arrival
    foo_peer.new_lines(), bar_peer.new_lines()
    table.send(bar, "say hello, world")
    # Chat rides along with the next tick, for the speaker too.
    assert foo_peer.new_lines() == [] and bar_peer.new_lines() == []
    table.game.tick(0.1)
    for peer in (foo_peer, bar_peer):
        assert peer.new_lines() == ["say 2,bar,hello%2C world"]
    table.send(bar, "say 100%25 sure%0Aok")
    table.game.tick(0.1)
    for peer in (foo_peer, bar_peer):
        assert peer.new_lines() == ["say 2,bar,100%25 sure%0Aok"]
    table.send(bar, "say 100% sure")
    table.game.tick(0.1)
    for peer in (foo_peer, bar_peer):
        assert peer.new_lines() == ["say 2,bar,100%25 sure"]
    assert anon_peer.sent == []


def test_the_says_of_a_tick_arrive_in_order_in_one_send(table: Table) -> None:
    foo, foo_peer = table.login("foo", "1234")
    bar, bar_peer = table.login("bar", "4321")
    table.game.tick(0.1)
    foo_peer.new_lines(), bar_peer.new_lines()
    table.send(foo, "say one")
    table.send(bar, "say two")
    table.send(foo, "say three")
    table.game.tick(0.1)
    for peer in (foo_peer, bar_peer):
        assert peer.new_sends() == ["say 1,foo,one\nsay 2,bar,two\nsay 1,foo,three\n"]


def test_say_length_comes_from_the_settings(store: FileStore, saves: SaveRecorder) -> None:
    table = Table(store, Settings(max_say=3), saves)
    foo, peer = table.login("foo", "1234")
    peer.new_lines()
    table.send(foo, "say abcd")
    assert [err_code(line) for line in peer.new_lines()] == ["badarg"]
    table.game.tick(0.1)
    assert peer.new_lines() == []  # the refused say is not sent later either
    table.send(foo, "say abc")
    table.game.tick(0.1)
    assert peer.new_lines() == ["say 1,foo,abc"]


# -- leaving -----------------------------------------------------------------------------


def test_bye_when_playing_sends_bye_quit_closes_and_others_get_del(table: Table) -> None:
    foo, foo_peer = table.login("foo", "1234")
    _, bar_peer = table.login("bar", "4321")
    table.game.tick(0.1)  # foo hears of bar's arrival
    foo_peer.new_lines(), bar_peer.new_lines()
    assert table.send(foo, "bye") is None
    assert foo_peer.new_lines() == ["bye quit"]  # an answer: at once
    assert foo_peer.closed == 1
    assert bar_peer.new_lines() == []  # another's departure: with the next tick
    table.game.tick(0.1)
    assert bar_peer.new_lines() == ["del 1"]
    assert foo not in table.game.sessions and table.game.player("foo") is None
    # Nothing more reaches the closed connection.
    table.send(foo, "say hi")
    table.game.tick(0.1)
    assert foo_peer.new_lines() == [] and foo_peer.closed == 1


def test_bye_before_login_sends_bye_quit_and_closes(table: Table) -> None:
    session, peer = table.connect()
    table.send(session, "BYE")
    assert peer.lines() == ["bye quit"]
    assert peer.closed == 1
    assert session not in table.game.sessions


def test_connection_lost_tells_the_others_and_sends_nothing(table: Table) -> None:
    foo, foo_peer = table.login("foo", "1234")
    _, bar_peer = table.login("bar", "4321")
    table.game.tick(0.1)  # foo hears of bar's arrival
    foo_peer.new_lines(), bar_peer.new_lines()
    foo.connection_lost()
    assert foo_peer.new_lines() == [] and foo_peer.closed == 0
    assert bar_peer.new_lines() == []
    table.game.tick(0.1)
    assert bar_peer.new_lines() == ["del 1"]
    assert foo_peer.new_lines() == []
    assert len(table.game) == 1


def test_ids_are_new_at_each_login(table: Table) -> None:
    foo, _ = table.login("foo", "1234")
    table.send(foo, "bye")
    _, peer = table.login("foo", "1234")
    assert peer.new_lines() == ["wel 2,foo,0.00,0.00,0.00", "ent 2,player,foo,0.00,0.00,0.00"]


# -- persistence --------------------------------------------------------------------------


def test_saved_at_login_and_at_leave_where_it_stood(table: Table, saves: SaveRecorder) -> None:
    foo, _ = table.login("foo", "1234")
    assert saves.positions("foo") == [(0.0, 0.0, 0.0)]
    table.send(foo, "mov 10,0,0")
    table.game.tick(0.1)
    table.send(foo, "bye")
    assert saves.positions("foo") == [(0.0, 0.0, 0.0), (0.5, 0.0, 0.0)]
    assert all(isinstance(a, Account) for a in saves.saved)
    # Snapshots: later changes do not alter what was handed over.
    assert saves.saved[0] is not saves.saved[1]
    assert saves.saved[0] is not foo.account


def test_a_real_store_brings_a_player_back_where_it_left(store: FileStore) -> None:
    table = Table(store, Settings(), SaveRecorder(then=store.save))
    foo, _ = table.login("foo", "1234")
    table.send(foo, "mov 1.5,0,-2")
    for _ in range(10):
        table.game.tick(0.1)
    table.send(foo, "bye")
    account = store.load("foo")
    assert account is not None and (account.x, account.y, account.z) == (1.5, 0.0, -2.0)
    _, peer = table.login("foo", "1234")
    assert peer.new_lines()[0] == "wel 2,foo,1.50,0.00,-2.00"


def test_autosave_saves_only_players_that_moved(table: Table, saves: SaveRecorder) -> None:
    foo, _ = table.login("foo", "1234")
    table.login("bar", "4321")
    saves.saved.clear()
    assert table.game.autosave() == 0
    assert saves.saved == []

    table.send(foo, "mov 10,0,0")
    table.game.tick(0.1)
    assert table.game.autosave() == 1
    assert [(a.name, a.x) for a in saves.saved] == [("foo", 0.5)]
    assert table.game.autosave() == 0  # nothing changed since
    table.game.tick(0.1)
    assert table.game.autosave() == 1
    assert saves.positions("foo") == [(0.5, 0.0, 0.0), (1.0, 0.0, 0.0)]
    assert saves.positions("bar") == []


def test_autosave_in_parts_saves_each_mover_in_exactly_one_part(
    table: Table, saves: SaveRecorder
) -> None:
    foo, _ = table.login("foo", "1234")
    bar, _ = table.login("bar", "4321")
    assert foo.entity is not None and bar.entity is not None
    assert foo.entity.id % 2 != bar.entity.id % 2  # one in each part
    table.send(foo, "mov 10,0,0")
    table.send(bar, "mov 0,10,0")
    table.game.tick(0.1)
    saves.saved.clear()
    first = table.game.autosave(foo.entity.id % 2, 2)
    assert (first, [a.name for a in saves.saved]) == (1, ["foo"])
    second = table.game.autosave(bar.entity.id % 2, 2)
    assert (second, [a.name for a in saves.saved]) == (1, ["foo", "bar"])
    assert table.game.autosave() == 0  # both saved where they stand


def test_save_failed_makes_the_next_autosave_retry(table: Table, saves: SaveRecorder) -> None:
    table.login("foo", "1234")
    table.login("bar", "4321")
    saves.saved.clear()
    table.game.save_failed("FOO")
    table.game.save_failed("nobody")  # not playing: nothing to retry
    assert table.game.autosave() == 1
    assert [a.name for a in saves.saved] == ["foo"]
    assert table.game.autosave() == 0


# -- takeover -----------------------------------------------------------------------------


def test_takeover_replaces_the_old_session(table: Table, saves: SaveRecorder) -> None:
    old, old_peer = table.login("foo", "1234", "first")
    _, bar_peer = table.login("bar", "4321")
    table.send(old, "mov 10,0,0")
    table.game.tick(0.1)  # the old player stands at 0.5 and is still walking
    old_peer.new_lines(), bar_peer.new_lines()
    saves.saved.clear()

    new, new_peer = table.login("FOO", "1234", "second")

    assert old_peer.new_lines() == ["bye replaced"]
    assert old_peer.closed == 1
    assert old.state is State.CLOSED and old not in table.game.sessions
    assert bar_peer.new_lines() == []
    table.game.tick(0.1)  # the old entity is gone: it does not walk on this tick
    assert bar_peer.new_lines() == ["del 1", "ent 3,player,foo,0.50,0.00,0.00"]
    # The new session continues from where the old player stood, not from the file.
    lines = new_peer.new_lines()
    assert lines[0] == "wel 3,foo,0.50,0.00,0.00"
    assert sorted(lines[1:]) == [
        "ent 2,player,bar,0.00,0.00,0.00",
        "ent 3,player,foo,0.50,0.00,0.00",
    ]
    on_disk = table.store.load("foo")
    assert on_disk is not None and (on_disk.x, on_disk.y, on_disk.z) == (0.0, 0.0, 0.0)
    assert table.game.player("foo") is new
    # The old state was saved, then the new login.
    assert saves.positions("foo") == [(0.5, 0.0, 0.0), (0.5, 0.0, 0.0)]
    assert len(table.game) == 2
    # The old entity is gone: it does not keep walking.
    table.game.tick(0.1)
    assert bar_peer.new_lines() == [] and new_peer.new_lines() == []
    assert old_peer.new_lines() == [] and old_peer.closed == 1


# -- errors -------------------------------------------------------------------------------


def test_unknown_command_is_badcmd(table: Table) -> None:
    session, peer = table.connect()
    table.send(session, "jmp 1")
    foo, foo_peer = table.login("foo", "1234")
    foo_peer.new_lines()
    table.send(foo, "xyz")
    assert [err_code(line) for line in peer.lines() + foo_peer.new_lines()] == ["badcmd"] * 2
    assert peer.closed == 0 and foo_peer.closed == 0


@pytest.mark.parametrize(
    "line", [b"\xff\xfe", b"say \xff", b"mov 1,2", b"idl x", b"bye now", b"con foo,1234"]
)
def test_bad_arguments_are_badarg_before_and_after_login(table: Table, line: bytes) -> None:
    session, peer = table.connect()
    assert session.line_received(line, table.clock()) is None
    foo, foo_peer = table.login("foo", "1234")
    foo_peer.new_lines()
    assert foo.line_received(line, table.clock()) is None
    assert [err_code(x) for x in peer.lines() + foo_peer.new_lines()] == ["badarg"] * 2
    assert peer.closed == 0 and foo_peer.closed == 0
    assert foo.state is State.PLAYING and session.state is State.NEW


def test_unknown_user_and_wrong_password_get_the_identical_line(table: Table) -> None:
    answers = []
    for con in ("con foo,wrong,1", "con nobody,1234,1", "con ../foo,1234,1", "con foo,,1"):
        session, peer = table.connect()
        table.send(session, con)
        answers.append(peer.lines())
        assert session.state is State.NEW and peer.closed == 0
    assert answers[0] == ["err badlogin,unknown user or wrong password"]
    assert all(a == answers[0] for a in answers)
    assert len(table.game) == 0


def test_wrong_protocol_version_is_badproto(table: Table) -> None:
    session, peer = table.connect()
    assert session.line_received(b"con foo,1234,3", table.clock()) is None
    assert session.line_received(b"con foo,1234,", table.clock()) is None
    assert [err_code(line) for line in peer.lines()] == ["badproto", "badproto"]
    assert session.state is State.NEW
    table.send(session, "con foo,1234,1")
    assert session.state is State.PLAYING


@pytest.mark.parametrize("line", ["mov 1,0,0", "say hi", "MOV 1,2,3"])
def test_mov_and_say_before_login_are_notlogged(table: Table, line: str) -> None:
    _, bar_peer = table.login("bar", "4321")
    bar_peer.new_lines()
    session, peer = table.connect()
    table.send(session, line)
    table.send(session, "con foo,wrong,1")
    table.send(session, line)
    codes = [err_code(x) for x in peer.lines()]
    assert codes == ["notlogged", "badlogin", "notlogged"]
    table.game.tick(0.1)
    assert bar_peer.new_lines() == []


def test_con_after_login_is_already(table: Table) -> None:
    foo, peer = table.login("foo", "1234")
    peer.new_lines()
    assert foo.line_received(b"con bar,4321,1", table.clock()) is None
    assert foo.line_received(b"con foo,1234,1", table.clock()) is None
    assert [err_code(line) for line in peer.new_lines()] == ["already", "already"]
    assert table.game.player("bar") is None and table.game.player("foo") is foo


def test_idl_gets_no_answer(table: Table) -> None:
    session, peer = table.connect()
    table.send(session, "idl")
    foo, foo_peer = table.login("foo", "1234")
    foo_peer.new_lines()
    table.send(foo, "IDL")
    table.game.tick(0.1)
    assert peer.lines() == [] and foo_peer.new_lines() == []


@pytest.mark.parametrize("limit", [1, 3])
def test_too_many_failed_logins_end_with_bye_badlogin(
    store: FileStore, saves: SaveRecorder, limit: int
) -> None:
    table = Table(store, Settings(max_failed_logins=limit), saves)
    session, peer = table.connect()
    for _ in range(limit - 1):
        table.send(session, "con foo,wrong,1")
        assert peer.new_lines() == ["err badlogin,unknown user or wrong password"]
        assert peer.closed == 0
    table.send(session, "con nobody,wrong,1")
    assert peer.new_lines() == ["err badlogin,unknown user or wrong password", "bye badlogin"]
    assert peer.closed == 1
    assert session not in table.game.sessions
    # The connection is over: nothing further is read or answered.
    assert session.line_received(b"con foo,1234,1", table.clock()) is None
    assert peer.new_lines() == [] and peer.closed == 1
    assert len(table.game) == 0


def test_a_login_may_succeed_after_fewer_failures_than_the_limit(table: Table) -> None:
    session, peer = table.connect()
    table.send(session, "con foo,wrong,1")
    table.send(session, "con foo,wrong,1")
    table.send(session, "con foo,1234,1")
    assert [split_line(x).code for x in peer.lines()] == ["err", "err", "wel", "ent"]
    assert peer.closed == 0


# -- framing ------------------------------------------------------------------------------


def test_empty_lines_are_ignored_and_a_trailing_cr_is_stripped(table: Table) -> None:
    session, peer = table.connect()
    assert session.line_received(b"", table.clock()) is None
    assert session.line_received(b"\r", table.clock()) is None
    assert session.line_received(b"idl\r", table.clock()) is None
    assert peer.lines() == []
    # "1\r" would be a wrong protocol version, "hi\r" would be said as "hi%0D".
    table.send(session, b"con foo,1234,1\r")
    assert session.state is State.PLAYING
    peer.new_lines()
    table.send(session, b"say hi\r")
    table.send(session, b"")
    table.game.tick(0.1)
    assert peer.new_lines() == ["say 1,foo,hi"]
    table.send(session, b"bye\r")
    assert peer.new_lines() == ["bye quit"] and peer.closed == 1


# -- shutdown -----------------------------------------------------------------------------


def test_shutdown_says_bye_to_every_session_and_saves_every_player(
    table: Table, saves: SaveRecorder
) -> None:
    foo, foo_peer = table.login("foo", "1234")
    _, bar_peer = table.login("bar", "4321")
    _, anon_peer = table.connect()
    checking, checking_peer = table.connect()
    # Its password is being checked:
    assert checking.line_received(b"con foo,1234,1", table.clock()) is not None
    table.send(foo, "mov 10,0,0")
    table.game.tick(0.1)
    saves.saved.clear()

    table.game.shutdown()

    for peer in (foo_peer, bar_peer, anon_peer, checking_peer):
        assert peer.lines()[-1] == "bye shutdown"
        assert peer.lines().count("bye shutdown") == 1
        assert peer.closed == 1
    assert anon_peer.lines() == ["bye shutdown"] and checking_peer.lines() == ["bye shutdown"]
    assert sorted((a.name, a.x, a.y, a.z) for a in saves.saved) == [
        ("bar", 0.0, 0.0, 0.0),
        ("foo", 0.5, 0.0, 0.0),
    ]
    assert table.game.sessions == set() and len(table.game) == 0
    assert len(table.game.world) == 0
    # A password check finishing after shutdown changes nothing.
    checking.login_checked(table.store.authenticate("foo", "1234"))
    assert checking_peer.lines() == ["bye shutdown"] and len(table.game) == 0
