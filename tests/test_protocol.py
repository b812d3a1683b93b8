"""MudFactory/MudProtocol over an in-memory transport and a fake clock.

Each test drives real :class:`~mudserver.core.game.Game` and
:class:`~mudserver.store.files.FileStore` objects through the Twisted protocol
with ``StringTransport`` and ``task.Clock``, and asserts on the bytes a client
would see.  No reactor runs: timers fire only when a test advances the clock,
and the game ticks only when a test calls :meth:`Harness.tick` (there is no
``GameService`` here).  What other players cause (``say``, and the ``ent`` and
``del`` of arrivals and departures) is delivered with the next tick, so tests
tick before they look for it; answers to a client's own commands come at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer
from twisted.internet.error import ConnectionAborted

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.shell.protocol import OUTPUT_OVERFLOW, OutputWatcher
from mudserver.store.files import FileStore
from tests.harness import CHEAP, PASSWORDS, Harness, PendingLogins, log_events


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Build harnesses; at teardown every connection is lost and no timer may remain."""
    made: list[Harness] = []

    def make(**kwargs: Any) -> Harness:
        store = FileStore(tmp_path / str(len(made)) / "data", CHEAP)
        for name, password in PASSWORDS.items():
            store.create(name, password)
        harness = Harness(kwargs.pop("settings", Settings()), store=store, **kwargs)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.lose_all()
        assert harness.clock.getDelayedCalls() == []
        assert harness.game.sessions == set()
        assert harness.factory.connections == set()


@pytest.fixture
def h(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()


def saved_position(h: Harness, name: str) -> list[float]:
    assert h.store is not None
    data = json.loads((h.store.users_dir / f"{name}.json").read_text())
    return data["position"]


# -- commands ------------------------------------------------------------------------


def test_con_sends_wel_and_ents_and_announces(h: Harness) -> None:
    foo = h.connect()
    foo.send("con foo,1234,1")
    assert foo.lines() == ["wel 1,foo,0.00,0.00,0.00", "ent 1,player,foo,0.00,0.00,0.00"]
    bar = h.connect()
    bar.send("con bar,4321,1")
    lines = bar.lines()
    assert lines[0] == "wel 2,bar,0.00,0.00,0.00"
    assert sorted(lines[1:]) == [
        "ent 1,player,foo,0.00,0.00,0.00",
        "ent 2,player,bar,0.00,0.00,0.00",
    ]
    assert foo.lines() == []  # bar's arrival comes with the next tick
    h.tick()
    assert foo.lines() == ["ent 2,player,bar,0.00,0.00,0.00"]
    assert bar.lines() == []
    assert not foo.closing and not bar.closing


def test_con_name_is_case_insensitive_and_code_too(h: Harness) -> None:
    foo = h.connect()
    foo.send("CON FOO,1234,1")
    assert foo.lines()[0] == "wel 1,foo,0.00,0.00,0.00"


def test_mov_walks_and_everybody_sees_pos(h: Harness) -> None:
    foo, fid = h.player("foo", "1234")
    bar, bid = h.player("bar", "4321")
    h.tick()
    assert foo.lines() == [f"ent {bid},player,bar,0.00,0.00,0.00"]
    foo.send("mov 1,0,0")
    assert foo.lines() == [] and bar.lines() == []  # no direct reply
    h.tick()
    assert foo.lines() == bar.lines() == [f"pos {fid},0.50,0.00,0.00"]
    h.tick()
    assert foo.lines() == bar.lines() == [f"pos {fid},1.00,0.00,0.00"]
    h.tick()
    assert foo.lines() == bar.lines() == []  # arrived: no more pos


def test_mov_is_case_insensitive(h: Harness) -> None:
    foo, fid = h.player("foo", "1234")
    foo.send("MOV 0,-1,0")
    h.tick()
    assert foo.lines() == [f"pos {fid},0.00,-0.50,0.00"]


def test_say_goes_to_everybody_with_commas(h: Harness) -> None:
    foo, _ = h.player("foo", "1234")
    bar, bid = h.player("bar", "4321")
    h.tick()
    foo.lines()
    bar.send("say hello, world")
    assert bar.lines() == foo.lines() == []  # not before the next tick
    h.tick()
    assert bar.lines() == foo.lines() == [f"say {bid},bar,hello%2C world"]


def test_says_and_moves_of_one_tick_reach_others_in_one_write(h: Harness) -> None:
    foo, fid = h.player("foo", "1234")
    bar, _ = h.player("bar", "4321")
    h.tick()
    foo.lines(), bar.lines()
    foo_writes, bar_writes = len(foo.transport.writes), len(bar.transport.writes)
    foo.send("say one")
    foo.send("mov 1,0,0")
    foo.send("say two")
    assert len(foo.transport.writes) == foo_writes  # nothing before the tick
    assert len(bar.transport.writes) == bar_writes
    h.tick()
    expected = f"say {fid},foo,one\nsay {fid},foo,two\npos {fid},0.50,0.00,0.00\n".encode()
    assert bar.transport.writes[bar_writes:] == [expected]
    assert foo.transport.writes[foo_writes:] == [expected]  # the speaker too
    h.tick()
    assert bar.transport.writes[bar_writes + 1 :] == [f"pos {fid},1.00,0.00,0.00\n".encode()]


def test_idl_does_nothing_visible(h: Harness) -> None:
    anon = h.connect()
    anon.send("idl")
    foo, _ = h.player("foo", "1234")
    foo.send("idl")
    h.tick()
    assert anon.lines() == foo.lines() == []
    assert not anon.closing and not foo.closing


def test_bye_not_logged_in(h: Harness) -> None:
    anon = h.connect()
    anon.send("bye")
    assert anon.lines() == ["bye quit"]
    assert anon.closing


def test_bye_logged_in_tells_others_and_saves(h: Harness) -> None:
    foo, fid = h.player("foo", "1234")
    bar, _ = h.player("bar", "4321")
    foo.send("mov 0.5,0,0")
    h.tick()
    foo.lines(), bar.lines()
    foo.send("bye")
    assert foo.lines() == ["bye quit"]
    assert foo.closing and not foo.aborted
    assert saved_position(h, "foo") == [0.5, 0.0, 0.0]
    assert bar.lines() == []  # the del comes with the next tick
    h.tick()
    assert bar.lines() == [f"del {fid}"]
    assert foo.lines() == []
    foo.connection_lost()
    h.tick()
    assert bar.lines() == []  # no second del


def test_lines_after_bye_in_same_packet_are_ignored(h: Harness) -> None:
    foo, fid = h.player("foo", "1234")
    bar, _ = h.player("bar", "4321")
    h.tick()
    foo.lines(), bar.lines()
    foo.send(b"bye\nsay too late\n")
    assert foo.lines() == ["bye quit"]
    h.tick()
    assert bar.lines() == [f"del {fid}"]  # and no say
    assert foo.lines() == []


# -- err codes -------------------------------------------------------------------------


def test_err_badcmd_keeps_connection(h: Harness) -> None:
    anon = h.connect()
    anon.send("xyz 1,2")
    (line,) = anon.lines()
    assert line.startswith("err badcmd,")
    assert not anon.closing


@pytest.mark.parametrize(
    "line",
    [
        b"mov 1,2",
        b"mov 1,2,3,4",
        b"mov a,b,c",
        b"mov nan,0,0",
        b"mov inf,0,0",
        b"mov 1e999,0,0",
        b"mov 10000.5,0,0",
        b"mov 0,0,-10001",
        b"say",
        b"say ",
        b"say " + b"x" * 501,
        b"idl now",
        b"bye now",
        b"say \xfe\xfe",
        b"\xc3\x28",
        b"mov 1,2,\xe9",
    ],
)
def test_err_badarg_keeps_connection(h: Harness, line: bytes) -> None:
    foo, _ = h.player("foo", "1234")
    foo.send(line + b"\n")
    (reply,) = foo.lines()
    assert reply.startswith("err badarg,")
    assert not foo.closing
    foo.send("say still here")
    h.tick()
    assert foo.lines() == ["say 1,foo,still here"]


@pytest.mark.parametrize("line", [b"con foo,1234", b"con foo,1234,1,2", b"con \xff,1234,1"])
def test_err_badarg_for_malformed_con(h: Harness, line: bytes) -> None:
    anon = h.connect()
    anon.send(line + b"\n")
    (reply,) = anon.lines()
    assert reply.startswith("err badarg,")
    assert anon.login("foo", "1234").startswith("wel ")


@pytest.mark.parametrize(
    "line", ["con foo,4321,1", "con nobody,1234,1", "con ../foo,1234,1", "con ,,1"]
)
def test_err_badlogin(h: Harness, line: str) -> None:
    anon = h.connect()
    anon.send(line)
    (reply,) = anon.lines()
    assert reply.startswith("err badlogin,")
    assert not anon.closing
    anon.send("mov 1,0,0")
    assert anon.lines()[0].startswith("err notlogged,")
    assert len(h.game) == 0


def test_err_badproto(h: Harness) -> None:
    anon = h.connect()
    anon.send("con foo,1234,3")
    (reply,) = anon.lines()
    assert reply.startswith("err badproto,")
    assert not anon.closing
    assert anon.login("foo", "1234").startswith("wel ")


@pytest.mark.parametrize("line", ["mov 1,0,0", "say hello"])
def test_err_notlogged(h: Harness, line: str) -> None:
    anon = h.connect()
    anon.send(line)
    (reply,) = anon.lines()
    assert reply.startswith("err notlogged,")
    assert not anon.closing


@pytest.mark.parametrize("line", ["con foo,1234,1", "con bar,4321,1", "con bar,wrong,1"])
def test_err_already(h: Harness, line: str) -> None:
    foo, _ = h.player("foo", "1234")
    foo.send(line)
    (reply,) = foo.lines()
    assert reply.startswith("err already,")
    assert not foo.closing
    assert len(h.game) == 1


# -- bye reasons ---------------------------------------------------------------------


def test_bye_timeout(h: Harness) -> None:
    anon = h.connect()
    foo, fid = h.player("foo", "1234")
    bar, _ = h.player("bar", "4321")
    h.tick()
    foo.lines(), bar.lines()
    h.clock.advance(14)
    bar.send("idl")
    h.clock.advance(1.01)
    assert anon.lines() == ["bye timeout"] and anon.closing
    assert foo.lines() == ["bye timeout"] and foo.closing
    assert bar.lines() == [] and not bar.closing
    h.tick()
    assert bar.lines() == [f"del {fid}"] and not bar.closing
    assert len(h.game) == 1


def test_received_line_resets_idle_timer(h: Harness) -> None:
    foo, _ = h.player("foo", "1234")
    h.clock.advance(14)
    foo.send("idl")
    h.clock.advance(14)
    assert foo.lines() == [] and not foo.closing
    h.clock.advance(1.01)
    assert foo.lines() == ["bye timeout"]


def test_partial_line_does_not_reset_idle_timer(h: Harness) -> None:
    anon = h.connect()
    h.clock.advance(14)
    anon.send(b"id")
    h.clock.advance(1.01)
    assert anon.lines() == ["bye timeout"]


def test_idle_timeout_setting_is_used(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(settings=Settings(idle_timeout=2.5))
    anon = h.connect()
    h.clock.advance(2.4)
    assert anon.lines() == []
    h.clock.advance(0.2)
    assert anon.lines() == ["bye timeout"]


LIMIT = 64


@pytest.fixture
def short(make_harness: Callable[..., Harness]) -> Harness:
    """Lines are limited to LIMIT bytes."""
    return make_harness(settings=Settings(max_line=LIMIT))


def exact_say(size: int) -> bytes:
    """A ``say`` line of exactly *size* bytes, line end excluded."""
    return b"say " + b"a" * (size - 4)


@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_line_of_exactly_max_line_is_accepted(short: Harness, end: bytes) -> None:
    foo, fid = short.player("foo", "1234")
    foo.send(exact_say(LIMIT) + end)
    assert foo.lines() == []
    short.tick()
    assert foo.lines() == [f"say {fid},foo," + "a" * (LIMIT - 4)]
    assert not foo.closing


@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_line_over_max_line_is_toolong(short: Harness, end: bytes) -> None:
    foo, fid = short.player("foo", "1234")
    bar, _ = short.player("bar", "4321")
    short.tick()
    foo.lines(), bar.lines()
    foo.send(exact_say(LIMIT + 1) + end + b"say after\n")
    assert foo.lines() == ["bye toolong"]
    assert foo.closing
    short.tick()
    assert bar.lines() == [f"del {fid}"]  # no say from before or after
    assert foo.lines() == []


def test_line_over_max_line_with_default_limit(h: Harness) -> None:
    anon = h.connect()
    anon.send(b"x" * 1025 + b"\n")
    assert anon.lines() == ["bye toolong"]
    assert anon.closing


def test_partial_line_over_limit_is_toolong(short: Harness) -> None:
    anon = short.connect()
    anon.send(b"x" * (2 * LIMIT))  # no line end ever comes
    assert anon.lines() == ["bye toolong"]
    assert anon.closing


def test_partial_line_fed_bytewise_is_toolong_without_line_end(short: Harness) -> None:
    anon = short.connect()
    sent = 0
    while not anon.closing and sent < 2 * LIMIT:
        anon.send(b"x")
        sent += 1
    assert anon.lines() == ["bye toolong"]
    # One byte of slack: a line of LIMIT bytes may still be followed by CR LF.
    assert LIMIT + 1 <= sent <= LIMIT + 2


def test_max_line_plus_cr_fed_bytewise_is_accepted(short: Harness) -> None:
    foo, fid = short.player("foo", "1234")
    for byte in exact_say(LIMIT) + b"\r\n":
        foo.send(bytes([byte]))
    short.tick()
    assert foo.lines() == [f"say {fid},foo," + "a" * (LIMIT - 4)]


def test_bye_badlogin_after_three_failures(h: Harness) -> None:
    anon = h.connect()
    anon.send("con foo,wrong,1")
    anon.send("con bar,wrong,1")
    assert [line.split(",")[0] for line in anon.lines()] == ["err badlogin"] * 2
    assert not anon.closing
    anon.send(b"con nobody,x,1\ncon foo,1234,1\n")
    lines = anon.lines()
    assert [line.split(",")[0] for line in lines] == ["err badlogin", "bye badlogin"]
    assert anon.closing
    assert len(h.game) == 0


def test_two_failures_then_success(h: Harness) -> None:
    anon = h.connect()
    anon.send("con foo,wrong,1")
    anon.send("con foo,wrong,1")
    anon.lines()
    assert anon.login("foo", "1234") == "wel 1,foo,0.00,0.00,0.00"


def test_bye_replaced(h: Harness) -> None:
    old, old_id = h.player("foo", "1234")
    bar, _ = h.player("bar", "4321")
    old.send("mov 1,0,0")
    h.tick()
    h.tick()
    old.lines(), bar.lines()
    new = h.connect()
    new.send("con foo,1234,1")
    assert old.lines() == ["bye replaced"]
    assert old.closing
    wel = new.lines()[0]
    new_id = new.entity_id(wel)
    assert new_id != old_id
    assert wel == f"wel {new_id},foo,1.00,0.00,0.00"
    assert saved_position(h, "foo") == [1.0, 0.0, 0.0]
    assert bar.lines() == []  # the takeover reaches others with the next tick
    h.tick()
    assert bar.lines() == [f"del {old_id}", f"ent {new_id},player,foo,1.00,0.00,0.00"]
    assert old.lines() == [] and new.lines() == []
    old.connection_lost()
    h.tick()
    assert bar.lines() == [] and new.lines() == []
    new.send("mov 1,1,0")
    h.tick()
    assert bar.lines() == [f"pos {new_id},1.00,0.50,0.00"]


def test_bye_shutdown(h: Harness) -> None:
    anon = h.connect()
    foo, _ = h.player("foo", "1234")
    bar, _ = h.player("bar", "4321")
    foo.send("mov 0,0,2")
    h.tick()
    for c in (anon, foo, bar):
        c.lines()
    h.game.shutdown()
    for c in (anon, foo, bar):
        assert c.lines()[-1] == "bye shutdown"
        assert c.closing
    assert len(h.game) == 0
    assert saved_position(h, "foo") == [0.0, 0.0, 0.5]


# -- framing ---------------------------------------------------------------------------


def test_crlf_and_lf_both_accepted(h: Harness) -> None:
    foo, fid = h.player("foo", "1234")
    foo.send(b"say one\r\nsay two\n")
    h.tick()
    assert foo.lines() == [f"say {fid},foo,one", f"say {fid},foo,two"]


def test_empty_lines_ignored(h: Harness) -> None:
    anon = h.connect()
    anon.send(b"\n\r\n\n\r\n")
    assert anon.lines() == []
    assert not anon.closing


def test_bytewise_delivery(h: Harness) -> None:
    foo = h.connect()
    for byte in b"con foo,1234,1\r\nmov 1,0,0\nsay hi\r\n":
        foo.send(bytes([byte]))
    assert foo.lines() == ["wel 1,foo,0.00,0.00,0.00", "ent 1,player,foo,0.00,0.00,0.00"]
    h.tick()
    assert foo.lines() == ["say 1,foo,hi", "pos 1,0.50,0.00,0.00"]


def test_utf8_split_across_reads(h: Harness) -> None:
    foo, fid = h.player("foo", "1234")
    for byte in "say héllo ✓\n".encode():
        foo.send(bytes([byte]))
    h.tick()
    assert foo.lines() == [f"say {fid},foo,héllo ✓"]


def test_several_lines_in_one_read(h: Harness) -> None:
    foo = h.connect()
    foo.send(b"con foo,1234,1\nidl\nsay a\nxyz\nsay b\n")
    lines = foo.lines()
    assert lines[:2] == ["wel 1,foo,0.00,0.00,0.00", "ent 1,player,foo,0.00,0.00,0.00"]
    assert len(lines) == 3 and lines[2].startswith("err badcmd,")  # at once
    h.tick()
    assert foo.lines() == ["say 1,foo,a", "say 1,foo,b"]  # in order, with the tick


# -- pipelining across a pending login ------------------------------------------------


@pytest.fixture
def slow(make_harness: Callable[..., Harness]) -> tuple[Harness, PendingLogins]:
    logins = PendingLogins()
    return make_harness(authenticate=logins), logins


def finish(h: Harness, logins: PendingLogins) -> None:
    assert h.store is not None
    logins.answer(h.store.authenticate)


def test_pipelined_mov_waits_for_login(slow: tuple[Harness, PendingLogins]) -> None:
    h, logins = slow
    foo = h.connect()
    foo.send(b"con foo,1234,1\nmov 1,0,0\n")
    assert len(logins.pending) == 1
    assert foo.received() == b""  # no err notlogged: the mov waits
    assert foo.transport.producerState == "paused"
    foo.send(b"say queued\n")  # more input while paused is kept, in order
    h.tick()
    assert foo.received() == b""
    finish(h, logins)
    assert foo.lines() == ["wel 1,foo,0.00,0.00,0.00", "ent 1,player,foo,0.00,0.00,0.00"]
    assert foo.transport.producerState == "producing"
    h.tick()
    assert foo.lines() == ["say 1,foo,queued", "pos 1,0.50,0.00,0.00"]


def test_pipelined_mov_after_failed_login_is_notlogged(
    slow: tuple[Harness, PendingLogins],
) -> None:
    h, logins = slow
    anon = h.connect()
    anon.send(b"con foo,bad,1\nmov 1,0,0\ncon foo,1234,1\nsay hi\n")
    assert anon.received() == b""
    finish(h, logins)
    lines = anon.lines()
    assert [line.split(",")[0] for line in lines] == ["err badlogin", "err notlogged"]
    finish(h, logins)
    assert anon.lines() == ["wel 1,foo,0.00,0.00,0.00", "ent 1,player,foo,0.00,0.00,0.00"]
    h.tick()
    assert anon.lines() == ["say 1,foo,hi"]


def test_pipelined_lines_after_last_failed_login_are_dropped(
    slow: tuple[Harness, PendingLogins],
) -> None:
    h, logins = slow
    anon = h.connect()
    anon.send(b"con a,b,1\ncon a,b,1\ncon a,b,1\ncon foo,1234,1\n")
    for _ in range(3):
        finish(h, logins)
    lines = anon.lines()
    assert [line.split(",")[0] for line in lines] == ["err badlogin"] * 3 + ["bye badlogin"]
    assert logins.pending == []
    assert anon.closing


def test_disconnect_during_login_leaves_no_ghost(slow: tuple[Harness, PendingLogins]) -> None:
    h, logins = slow
    bar = h.connect()
    bar.send("con bar,4321,1")
    finish(h, logins)
    bar.lines()
    foo = h.connect()
    foo.send(b"con foo,1234,1\nmov 1,0,0\n")
    foo.connection_lost()
    finish(h, logins)
    h.tick()  # what others are told of arrivals comes with a tick
    assert foo.received() == b""
    assert bar.lines() == []
    assert len(h.game) == 1
    assert len(h.clock.getDelayedCalls()) == 1  # bar's idle timer only


def test_idle_timer_stops_during_login_and_timeout_leaves_no_ghost(
    slow: tuple[Harness, PendingLogins],
) -> None:
    h, logins = slow
    foo = h.connect()
    foo.send("con foo,1234,1")
    assert h.clock.getDelayedCalls() == []  # no idle timer while the check runs
    h.clock.advance(60)  # a long queue of logins ahead of this one
    assert foo.received() == b"" and not foo.closing
    finish(h, logins)
    assert foo.lines() == ["wel 1,foo,0.00,0.00,0.00", "ent 1,player,foo,0.00,0.00,0.00"]
    h.clock.advance(14.99)  # the idle timeout counts from the end of the check
    assert foo.lines() == [] and not foo.closing
    h.clock.advance(0.02)
    assert foo.lines() == ["bye timeout"] and foo.closing
    assert len(h.game) == 0 and h.game.player("foo") is None
    h.tick()
    assert foo.lines() == []


def test_authenticator_error_is_a_failed_login(make_harness: Callable[..., Harness]) -> None:
    def broken(name: str, password: str) -> defer.Deferred[Account | None]:
        return defer.fail(RuntimeError("disk on fire"))

    h = make_harness(authenticate=broken)
    anon = h.connect()
    anon.send("con foo,1234,1")
    (line,) = anon.lines()
    assert line.startswith("err badlogin,")
    assert not anon.closing
    anon.send("idl")  # reading resumed after the failed check
    assert anon.lines() == []


# -- output a client does not read ---------------------------------------------------


@pytest.fixture
def tight(make_harness: Callable[..., Harness]) -> Harness:
    # Chat floods fill the output here; flood control is tested elsewhere.
    settings = Settings(max_output=4096, say_burst=1000, line_burst=1000)
    return make_harness(settings=settings, transport_buffer_size=1024)


def test_output_watcher_is_the_streaming_producer(tight: Harness) -> None:
    anon = tight.connect()
    assert isinstance(anon.transport.producer, OutputWatcher)
    assert anon.transport.streaming is True


def test_client_that_never_reads_is_dropped(tight: Harness) -> None:
    foo, fid = tight.player("foo", "1234")
    bar, bid = tight.player("bar", "4321")
    foo.lines(), bar.lines()
    watcher = bar.transport.producer
    assert isinstance(watcher, OutputWatcher)
    watcher.pauseProducing()  # the transport says: bar's socket buffer is full
    foo.send("mov 1000,0,0")
    written_while_paused = 0
    for _ in range(1000):
        before = len(bar.received())
        tight.tick()
        if bar.aborted:
            break
        written_while_paused += len(bar.received()) - before
    assert bar.aborted, "a client that does not read must be dropped"
    # Not before the limit: the transport held 1024 bytes, user space the rest.
    assert 1024 + written_while_paused <= 4096
    assert written_while_paused > 4096 - 1024 - 100
    assert b"bye " not in bar.received()  # dropped without a bye
    # The reactor delivers connectionLost after an abort.
    foo.lines()
    bar.connection_lost(ConnectionAborted)
    assert tight.game.player("bar") is None
    assert tight.game.stats.disconnects == {OUTPUT_OVERFLOW: 1}  # as the metrics show it
    assert foo.lines() == []  # bar's departure comes with the next tick
    tight.tick()
    del_line, pos_line = foo.lines()
    assert del_line == f"del {bid}" and pos_line.startswith(f"pos {fid},")
    for _ in range(3):
        tight.tick()
        (line,) = foo.lines()
        assert line.startswith(f"pos {fid},")
    assert not foo.closing and not foo.aborted


def test_client_dropped_by_say_flood(tight: Harness) -> None:
    foo, _ = tight.player("foo", "1234")
    bar, bid = tight.player("bar", "4321")
    bar.transport.producer.pauseProducing()
    for _ in range(20):
        foo.send("say " + "x" * 400)
        tight.tick()
        if bar.aborted:
            break
    assert bar.aborted
    foo.lines()
    bar.connection_lost(ConnectionAborted)
    tight.tick()
    assert foo.lines() == [f"del {bid}"]
    foo.send("say ok")
    tight.tick()
    assert foo.lines() == ["say 1,foo,ok"]


def test_client_that_catches_up_is_not_dropped(tight: Harness) -> None:
    foo, _ = tight.player("foo", "1234")
    bar, _ = tight.player("bar", "4321")
    watcher = bar.transport.producer
    for _ in range(5):
        watcher.pauseProducing()
        before = len(bar.received())
        for _ in range(5):
            foo.send("say " + "x" * 400)
            tight.tick()
        # 5 * ~410 bytes < 4096 - 1024, but 25 of them would not be
        assert 2000 < len(bar.received()) - before < 4096 - 1024
        watcher.resumeProducing()  # the socket drained
    assert not bar.aborted and not bar.closing
    assert tight.game.player("bar") is not None


def test_unpaused_output_is_never_dropped(tight: Harness) -> None:
    foo, _ = tight.player("foo", "1234")
    bar, _ = tight.player("bar", "4321")
    for _ in range(50):
        foo.send("say " + "x" * 400)
        tight.tick()
    assert len(bar.received()) > 4096 * 4
    assert not bar.aborted


# -- timers ----------------------------------------------------------------------------


def test_close_grace_aborts_a_connection_that_stays(h: Harness) -> None:
    foo, _ = h.player("foo", "1234")
    foo.send("bye")
    assert foo.closing and not foo.aborted
    h.clock.advance(9.9)
    assert not foo.aborted
    h.clock.advance(0.2)
    assert foo.aborted
    assert foo.lines() == ["bye quit"]  # no bye timeout on top
    assert h.clock.getDelayedCalls() == []


def test_close_grace_setting_is_used(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(settings=Settings(close_grace=0.5))
    anon = h.connect()
    anon.send("bye")
    h.clock.advance(0.4)
    assert not anon.aborted
    h.clock.advance(0.2)
    assert anon.aborted


@pytest.mark.parametrize(
    "how",
    ["open", "logged-in", "after-bye", "after-timeout", "after-shutdown", "after-toolong"],
)
def test_connection_lost_cancels_all_timers(h: Harness, how: str) -> None:
    foo = h.connect()
    if how != "open":
        foo.login("foo", "1234")
    if how == "after-bye":
        foo.send("bye")
    elif how == "after-timeout":
        h.clock.advance(16)
    elif how == "after-shutdown":
        h.game.shutdown()
    elif how == "after-toolong":
        foo.send(b"x" * 2000)
    assert h.clock.getDelayedCalls() != []
    foo.connection_lost()
    assert h.clock.getDelayedCalls() == []
    assert h.game.sessions == set()
    assert h.factory.connections == set()


def test_disconnect_saves_and_tells_others(h: Harness) -> None:
    foo, fid = h.player("foo", "1234")
    bar, _ = h.player("bar", "4321")
    foo.send("mov 0,1.5,0")
    for _ in range(3):
        h.tick()
    bar.lines()
    foo.connection_lost()
    assert saved_position(h, "foo") == [0.0, 1.5, 0.0]
    assert bar.lines() == []  # the del comes with the next tick
    h.tick()
    assert bar.lines() == [f"del {fid}"]
    again = h.connect()
    assert again.login("foo", "1234").endswith(",foo,0.00,1.50,0.00")


def test_factory_when_all_closed(h: Harness) -> None:
    foo = h.connect()
    fired: list[object] = []
    h.factory.when_all_closed().addCallback(fired.append)
    assert fired == []
    foo.connection_lost()
    assert fired == [None]


def test_drop_is_logged_once(tight: Harness) -> None:
    foo, _ = tight.player("foo", "1234")
    bar, _ = tight.player("bar", "4321")
    bar.transport.producer.pauseProducing()
    with log_events() as events:
        # Chat for one tick's write that overflows bar, then another tick
        # before the reactor runs connectionLost: bar is written to again.
        foo.send(("say " + "x" * 400 + "\n").encode() * 20)
        tight.tick()
        assert bar.aborted
        foo.send("say more")
        tight.tick()
    assert bar.aborted
    drops = [e for e in events if "output not read" in str(e.get("log_format", ""))]
    assert len(drops) == 1
