"""Hostile input against one MudProtocol on a StringTransport, time on a task.Clock.

What a client sees on the wire is asserted: flood control (``err toofast``,
``bye flood``), the ``say`` limit, login throttling, connection caps
(``bye full``), and garbage of every kind answered by well-formed lines and
never by an exception or an error in the log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mudserver.config import Settings
from tests.harness import FakeLogins, Harness, is_error, log_events, without_telnet_replies

#: A server line: known code, optional args with no raw control characters.
SERVER_LINE = re.compile(r"(wel|ent|pos|del|say|msg|err|ack|bye)( [^\x00-\x1f\x7f]*)?")
ERR_CODES = {
    "badcmd", "badarg", "badlogin", "badproto", "notlogged", "already", "toofast",
    "nosuch", "taken", "badname", "weakpass", "toomany", "badpass",
}  # fmt: skip
#: The plain-text MSSP reply a line ``MSSP-REQUEST`` gets (wire/mssp.py): no protocol line.
MSSP_REPLY = re.compile(rb"\r\nMSSP-REPLY-START\r\n.*?MSSP-REPLY-END\r\n", re.S)
BYE_REASONS = {"quit", "timeout", "toolong", "badlogin", "replaced", "shutdown", "flood", "full"}


def with_limits(**limits: Any) -> Harness:
    """A game with these limits; passwords checked by a stand-in that counts the checks."""
    return Harness(Settings(**limits), start=1000.0)


def checks(harness: Harness) -> int:
    """How many passwords were checked so far."""
    assert isinstance(harness.authenticate, FakeLogins)
    return len(harness.authenticate.checks)


@pytest.fixture
def errors() -> Iterator[list[dict[str, Any]]]:
    """Log events at level error or above, and logged failures, while the test runs."""
    with log_events(is_error) as found:
        yield found


# -- flood control -----------------------------------------------------------------


def test_burst_over_the_limit_is_dropped_with_one_warning() -> None:
    server = with_limits()
    client = server.connect()
    client.send(*["con foo,1234,1"], *["mov 1,0,0"] * 39, *["say dropped"] * 20)
    server.advance()  # a say that got through would arrive now
    lines = client.lines()
    assert lines[0].startswith("wel ")
    assert [line for line in lines if line.startswith("err ")] == [
        "err toofast,too many lines; this one was dropped"
    ]
    assert not any(line.startswith("say ") for line in lines)
    assert not client.closing
    server.clock.advance(1.0)
    client.send("say back again")
    server.advance()
    assert "say 1,foo,back again" in client.lines()


def test_sustained_flood_gets_bye_flood_and_others_keep_playing() -> None:
    server = with_limits()
    good, bad = server.connect("10.0.0.1"), server.connect("10.0.0.2")
    good.send("con foo,1234,1", "mov 1000,0,0")
    good.lines()
    for _ in range(600):  # 100 lines a second for 6 seconds
        bad.send("xyz")
        server.advance(0.01)
        if bad.closing:
            break
    received = bad.lines()
    assert received[-1] == "bye flood"
    assert 4 <= received.count("err toofast,too many lines; this one was dropped") <= 6
    assert 5.0 <= server.clock.seconds() - 1000.0 <= 5.6
    assert len([line for line in good.lines() if line.startswith("pos 1,")]) >= 500


def test_bare_line_ends_count_toward_the_limit() -> None:
    server = with_limits()
    client = server.connect()
    client.protocol.dataReceived(b"\r\n" * 40 + b"\n" + b"idl\n")
    assert client.lines() == ["err toofast,too many lines; this one was dropped"]


def test_say_has_its_own_tighter_limit() -> None:
    server = with_limits(say_rate=1.0, say_burst=3)
    client = server.connect()
    client.send("con foo,1234,1")
    client.lines()
    client.send(*[f"say {i}" for i in range(5)])
    # The refusals answer the client's own lines at once; the says that got
    # through come back with the next tick.
    assert client.lines() == ["err toofast,too much chat; this say was dropped"] * 2
    server.advance()
    assert client.lines() == ["say 1,foo,0", "say 1,foo,1", "say 1,foo,2"]
    server.clock.advance(0.9)  # a second since the burst: one say more
    client.send("say 5", "say 6")
    assert client.lines() == ["err toofast,too much chat; this say was dropped"]
    server.advance()
    assert client.lines() == ["say 1,foo,5"]


# -- login throttling ----------------------------------------------------------------


def test_account_throttle_blocks_the_account_from_anywhere_but_not_others() -> None:
    server = with_limits(login_failures_per_account=3, max_failed_logins=100)
    guesser = server.connect("10.0.0.66")
    guesser.send(*[f"con foo,guess{i},1" for i in range(3)])
    assert guesser.lines() == ["err badlogin,unknown user or wrong password"] * 3
    checked = checks(server)
    guesser.send("con foo,1234,1")
    assert guesser.lines() == ["err toofast,too many failed logins; try again later"]
    owner = server.connect("10.0.0.1")
    owner.send("con FOO,1234,1")
    assert owner.lines() == ["err toofast,too many failed logins; try again later"]
    assert checks(server) == checked  # refused before the password was checked
    other = server.connect("10.0.0.2")
    other.send("con bar,4321,1")
    assert other.lines()[0].startswith("wel ")
    server.clock.advance(60.0)
    later = server.connect("10.0.0.1", 40001)
    later.send("con foo,1234,1")
    assert later.lines()[0].startswith("wel ")


def test_host_throttle_blocks_the_address_but_not_others() -> None:
    server = with_limits(login_failures_per_ip=4, max_failed_logins=2)
    for i in range(2):  # two connections, two failures each: bye badlogin on both
        guesser = server.connect("10.0.0.66", 40000 + i)
        guesser.send(f"con nobody{i},x,1", f"con someone{i},x,1")
        assert guesser.lines()[-1] == "bye badlogin"
    guesser = server.connect("10.0.0.66", 40002)
    guesser.send("con bar,4321,1")
    assert guesser.lines() == ["err toofast,too many failed logins; try again later"]
    other = server.connect("10.0.0.2")
    other.send("con bar,4321,1")
    assert other.lines()[0].startswith("wel ")


def test_throttled_attempts_do_not_count_toward_bye_badlogin() -> None:
    server = with_limits(login_failures_per_account=1, max_failed_logins=3)
    client = server.connect()
    client.send("con foo,wrong,1")
    client.send(*["con foo,1234,1"] * 10)
    lines = client.lines()
    assert (
        lines
        == ["err badlogin,unknown user or wrong password"]
        + ["err toofast,too many failed logins; try again later"] * 10
    )
    assert not client.closing


# -- connection limits -------------------------------------------------------------------


def test_connections_over_the_caps_get_bye_full() -> None:
    server = with_limits(max_connections=3, max_connections_per_ip=2)
    a1, a2 = server.connect("10.0.0.1", 1), server.connect("10.0.0.1", 2)
    a3 = server.connect("10.0.0.1", 3)
    assert a3.transport.value() == b"bye full\n" and a3.closing
    b1 = server.connect("10.0.0.2", 1)
    c1 = server.connect("10.0.0.3", 1)
    assert c1.transport.value() == b"bye full\n" and c1.closing
    assert len(server.game.sessions) == 3  # refused ones never become sessions
    for client in (a1, a2, b1):
        assert client.transport.value() == b"" and not client.closing
    a1.protocol.connectionLost(None)
    c2 = server.connect("10.0.0.3", 2)
    c2.send("con foo,1234,1")
    assert c2.lines()[0].startswith("wel ")


# -- garbage -------------------------------------------------------------------------------

GARBAGE = [
    b"\x00\x00\x00",
    b"con \x00foo,1234,1",
    b"\xff\xfb\x01\xff\xfd\x03",  # telnet IAC WILL ECHO, IAC DO SGA
    b"\xc3\x28",  # invalid UTF-8
    b"\xed\xa0\x80",  # a UTF-16 surrogate in UTF-8
    b"mov 1\r2,3",  # a lone CR inside a line
    b"\r\r\r",
    b"mov " + b"9" * 500 + b",0,0",
    b"mov 1" + b"0" * 400 + b",0,0",
    b"mov nan,0,0",
    b"mov inf,-inf,0",
    b"mov 1e999,0,0",
    b"mov 0x10,0,0",
    b"mov 1_000,0,0",
    b"mov " + b"1," * 5000 + b"1",
    b"con " + b"a," * 5000 + b"1",
    b"say " + b"%" * 3000,
    b"MOV",
    b"say",
    b"con",
    b"\x1b[31mred\x1b[0m",
]

#: Garbage-looking but valid: ``float("1_000")`` is 1000.0, and the protocol
#: takes any syntax ``float()`` accepts.
VALID_MOVES = {b"mov 1_000,0,0"}


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_gets_a_clear_err_or_nothing(garbage: bytes, errors: list[dict[str, Any]]) -> None:
    server = with_limits(max_line=20_000)
    client = server.connect()
    client.protocol.dataReceived(b"con foo,1234,1\n")
    client.lines()
    client.protocol.dataReceived(garbage + b"\n")
    lines = client.lines()
    assert len(lines) <= 1
    for line in lines:
        assert re.fullmatch(r"err (badcmd|badarg|already),[^\x00-\x1f\x7f]{1,200}", line), line
    assert not client.closing
    client.send("say still here")
    server.advance()
    # Only what float() reads as a number walks (protocol section 7).
    walk = ["pos 1,0.50,0.00,0.00"] if garbage in VALID_MOVES else []
    assert client.lines() == ["say 1,foo,still here", *walk]
    assert errors == []


#: Fragments that reach deeper states than random bytes would.
FRAGMENTS = [
    b"con foo,1234,1\n",
    b"con foo,bad,1\n",
    b"con bar,4321,1\n",
    b"new foo,long enough,1\n",
    b"new newbie,long enough,2\n",
    b"new bad name,long enough,1\n",
    b"new short,pw,1\n",
    b"pwd 1234,long enough\n",
    b"pwd wrong,long enough\n",
    b"mov 1,2,3\n",
    b"mov nan,0,0\n",
    b"say hi, there\n",
    b"idl\n",
    b"bye\n",
    b"\r\n",
    b"\xff\xfb\x01",
    b"\x00",
    b"%",
    b",",
    b"x" * 1100,
]


@st.composite
def hostile_streams(draw: st.DrawFn) -> list[tuple[bytes, float]]:
    """Arbitrary bytes mixed with protocol fragments, cut at arbitrary points."""
    pieces = draw(st.lists(st.one_of(st.binary(max_size=64), st.sampled_from(FRAGMENTS))))
    stream = b"".join(pieces)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    return [(chunk, draw(st.sampled_from([0.0, 0.0, 0.05, 1.0]))) for chunk in chunks]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=hostile_streams())
def test_arbitrary_bytes_never_raise_and_get_well_formed_replies(
    stream: list[tuple[bytes, float]],
) -> None:
    with log_events(is_error) as found:
        server = with_limits(line_burst=10, line_rate=5.0, flood_time=2.0)
        client, watcher = server.connect("10.0.0.1", 1), server.connect("10.0.0.2", 2)
        watcher.send("con bar,4321,1")
        for chunk, pause in stream:
            client.protocol.dataReceived(chunk)
            if pause:
                server.advance(pause)
        output = without_telnet_replies(client.transport.value() + watcher.transport.value())
        output = MSSP_REPLY.sub(b"", output)
    assert found == []
    assert output.endswith(b"\n")
    for line in output.decode("utf-8").splitlines():
        match = SERVER_LINE.fullmatch(line)
        assert match, line
        code, rest = match.group(1), (match.group(2) or "")[1:]
        if code == "err":
            assert rest.split(",")[0] in ERR_CODES, line
        if code == "bye":
            assert rest in BYE_REASONS, line
