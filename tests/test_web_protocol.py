"""The protocol over WebSocket, without a browser.

In process (StringTransport, task.Clock): the transport adapter keeps the
line protocol's limits, idle timeout and output buffer.  End to end (twistd):
a WebSocket client and a TCP client play together, and every limit answers
over WebSocket with the same lines as over TCP.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from twisted.internet import defer, task
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionLost
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web.server import Site

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.shell.factory import MudFactory
from mudserver.shell.tap import Options, makeService
from mudserver.shell.web import MudWebSocket, MudWebSocketFactory, text_frames
from tests.harness import Desk
from tests.support import LineClient, free_port, running_server
from tests.wsclient import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    WebSocketClosed,
    WsLineClient,
    client_frame,
    server_frames,
)

# -- in process -------------------------------------------------------------------------

PEER = IPv4Address("TCP", "127.0.0.1", 50123)


class TCPLikeTransport(StringTransport):
    """A StringTransport that, like Twisted's TCP transports, lets a producer be
    unregistered twice (autobahn unregisters on close after the game did)."""

    def unregisterProducer(self) -> None:
        self.producer = None
        self.streaming = None


class Browser:
    """A MudWebSocket on a StringTransport, after the opening handshake."""

    def __init__(self, **settings: float) -> None:
        self.clock = task.Clock()
        self.game = Game(Settings(**settings), save=lambda account: None)

        def authenticate(name: str, password: str) -> defer.Deferred[Account | None]:
            ok = password == "right"
            return defer.succeed(Account(name, {}) if ok else None)

        self.mud = MudFactory(self.game, Desk(authenticate), self.clock)
        self.protocol = MudWebSocketFactory(self.mud).buildProtocol(PEER)
        assert isinstance(self.protocol, MudWebSocket)
        self.transport = TCPLikeTransport(peerAddress=PEER)
        self.protocol.makeConnection(self.transport)
        key = base64.b64encode(os.urandom(16)).decode()
        self.protocol.dataReceived(
            f"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert self.transport.value().startswith(b"HTTP/1.1 101")
        self.transport.clear()

    def send(self, payload: bytes) -> None:
        self.protocol.dataReceived(client_frame(TEXT, payload))

    def received(self) -> list[tuple[int, bytes]]:
        frames = server_frames(self.transport.value())
        self.transport.clear()
        return frames


def test_each_line_is_one_text_message_and_a_message_may_hold_several_lines() -> None:
    browser = Browser()
    browser.send(b"con foo,right,1")
    messages = browser.received()
    assert messages[0] == (TEXT, b"wel 1,foo,0.00,0.00,0.00")
    assert messages[1:] == [(TEXT, b"ent 1,player,foo,0.00,0.00,0.00")]
    browser.send(b"say one\r\nsay two\nsay three")
    assert browser.received() == []  # chat comes back with the next tick
    browser.game.tick(0.1)
    assert browser.received() == [
        (TEXT, b"say 1,foo,one"),
        (TEXT, b"say 1,foo,two"),
        (TEXT, b"say 1,foo,three"),
    ]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_text_frames_carry_lines_of_any_length(size: int) -> None:
    lines = [b"a" * size, "é".encode(), b"pos 1,2.00,3.00,4.00"]
    assert server_frames(text_frames(lines)) == [(TEXT, line) for line in lines]


def test_long_lines_and_torn_writes_arrive_whole() -> None:
    browser = Browser()
    browser.send(b"con foo,right,1")
    browser.received()
    text = "y" * 300 + " é"
    browser.send(f"say {text}".encode())
    browser.game.tick(0.1)
    assert browser.received() == [(TEXT, f"say 1,foo,{text}".encode())]
    lines = browser.protocol.lines
    assert lines is not None
    lines.write(b"pos 1,1.00,")  # a line split over two writes is one message
    assert browser.received() == []
    lines.write(b"0.00,0.00\ndel 2\n")
    assert browser.received() == [(TEXT, b"pos 1,1.00,0.00,0.00"), (TEXT, b"del 2")]


def test_the_idle_timeout_says_bye_then_closes_the_websocket() -> None:
    browser = Browser(idle_timeout=15)
    browser.clock.advance(14)
    assert browser.received() == []
    browser.clock.advance(1)
    (text, bye), (close, code) = browser.received()
    assert (text, bye) == (TEXT, b"bye timeout")
    assert close == CLOSE and code[:2] == b"\x03\xe8"  # 1000: normal closure


def test_a_too_long_message_gets_bye_toolong_before_the_close() -> None:
    browser = Browser(max_line=64)
    browser.send(b"x" * 65)  # within autobahn's cap, over the line limit
    assert browser.received()[0] == (TEXT, b"bye toolong")
    browser = Browser(max_line=64)
    browser.send(b"say " + b"x" * 5000)  # over autobahn's cap: never buffered whole
    frames = browser.received()
    assert frames[0] == (TEXT, b"bye toolong")
    assert frames[1][0] == CLOSE


def test_a_browser_that_does_not_read_is_dropped_without_bye() -> None:
    browser = Browser(max_output=4096)
    browser.send(b"con foo,right,1")
    watcher = browser.transport.producer
    assert watcher is not None, "the output watcher must sit on the real transport"
    watcher.pauseProducing()  # what the TCP transport does when its buffer is full
    session = next(iter(browser.game.sessions))
    assert session.entity is not None
    for _ in range(100):
        browser.game.say(session.entity, "y" * 100)
    assert not browser.transport.disconnected  # queued: nothing written yet
    browser.game.tick(0.1)  # the tick writes 10 KB that the browser does not read
    assert browser.transport.disconnected, "the connection should have been aborted"
    browser.protocol.connectionLost(Failure(ConnectionLost()))
    assert len(browser.game) == 0 and not browser.mud.connections


def test_pings_count_as_lines_and_a_ping_flood_is_dropped() -> None:
    """Only pings within the line budget get a pong; one who keeps pinging gets 'bye flood'."""
    browser = Browser(line_rate=20, line_burst=40, flood_time=5)
    browser.send(b"con foo,right,1")
    browser.received()
    browser.protocol.dataReceived(b"".join(client_frame(PING, b"%d" % i) for i in range(100)))
    frames = browser.received()
    pongs = [payload for opcode, payload in frames if opcode == PONG]
    assert pongs == [b"%d" % i for i in range(39)]  # the con line took one token
    assert (TEXT, b"err toofast,too many lines; this one was dropped") in frames
    for _ in range(12):  # 6 s of pings at 200/s, far over 20/s
        browser.clock.advance(0.5)
        browser.protocol.dataReceived(client_frame(PING, b"p") * 100)
    frames = browser.received()
    assert (TEXT, b"bye flood") in frames and frames[-1][0] == CLOSE
    assert sum(opcode == PONG for opcode, _ in frames) <= 20 * 6 + 1


def test_unasked_pongs_and_endless_fragments_count_as_lines() -> None:
    browser = Browser(line_rate=20, line_burst=5, flood_time=5)
    browser.send(b"con foo,right,1")
    browser.received()
    browser.protocol.dataReceived(client_frame(PONG, b"") * 4)
    # A text message of empty fragments that never ends: each fragment counts.
    browser.protocol.dataReceived(bytes((0x01, 0x80)) + os.urandom(4))  # first, not final
    browser.protocol.dataReceived((bytes((0x00, 0x80)) + b"\0\0\0\0") * 10)
    assert (TEXT, b"err toofast,too many lines; this one was dropped") in browser.received()


def test_a_binary_message_closes_with_1003() -> None:
    browser = Browser()
    browser.send(b"con foo,right,1")
    browser.received()
    browser.protocol.dataReceived(client_frame(BINARY, b"\x00\x01"))
    frames = browser.received()
    assert frames == [(CLOSE, b"\x03\xeb" + b"text frames only")]  # 1003
    assert len(browser.game) == 1  # no line was made of it


def test_login_is_checked_with_reading_paused() -> None:
    browser = Browser()
    pending: defer.Deferred[Account | None] = defer.Deferred()
    browser.mud.login.authenticate = lambda name, password: pending  # type: ignore[method-assign]
    browser.send(b"con foo,right,1")
    assert browser.transport.producerState == "paused"
    browser.send(b"say early")  # already read: held until the login is decided
    pending.callback(Account("foo", {}))
    assert browser.transport.producerState == "producing"
    browser.game.tick(0.1)
    lines = [payload for _, payload in browser.received()]
    assert lines[0].startswith(b"wel ") and lines[-1] == b"say 1,foo,early"


# -- end to end -------------------------------------------------------------------------


def _web_option() -> tuple[str, int]:
    """A ``--web`` option on a free loopback port, and that port."""
    port = free_port()
    return f"--web=tcp:{port}:interface=127.0.0.1", port


def test_a_websocket_player_and_a_tcp_player_see_each_other(tmp_path: Path) -> None:
    option, web = _web_option()
    with running_server(tmp_path, option) as server, WsLineClient(server.host, web) as ws:
        foo = ws.login("foo", "1234")
        assert re.fullmatch(r"wel \d+,foo,0\.00,0\.00,0\.00", foo)
        foo_id = foo.split()[1].split(",")[0]
        with LineClient(server.host, server.port) as tcp:
            bar_id = tcp.login("bar", "4321").split()[1].split(",")[0]
            ws.read_until(lambda line: line.startswith(f"ent {bar_id},player,bar,"))
            ws.send("mov 1,0,0")
            arrived = f"pos {foo_id},1.00,0.00,0.00"
            assert tcp.read_until(lambda line: line == arrived)[-1] == arrived
            seen = ws.read_until(lambda line: line == arrived)
            assert all("\n" not in line for line in seen)
            tcp.send("say hello, world")
            said = f"say {bar_id},bar,hello%2C world"
            assert ws.read_until(lambda line: line == said)[-1] == said
            ws.send("say from the web, 100%")
            said = f"say {foo_id},foo,from the web%2C 100%25"
            assert tcp.read_until(lambda line: line == said)[-1] == said
            ws.send("bye")
            assert ws.read_until(lambda line: line.startswith("bye"))[-1] == "bye quit"
            with pytest.raises(WebSocketClosed):
                ws.read_line()
            assert tcp.read_until(lambda line: line.startswith("del"))[-1] == f"del {foo_id}"


def test_limits_hold_over_websocket(tmp_path: Path) -> None:
    option, web = _web_option()
    with running_server(tmp_path, option, "--max-line=64", "--idle-timeout=1.5") as server:
        base = f"http://{server.host}:{web}"
        with urllib.request.urlopen(f"{base}/", timeout=5) as page:
            assert "<canvas" in page.read().decode()
        with pytest.raises(urllib.error.HTTPError) as listing:
            urllib.request.urlopen(f"{base}/js/", timeout=5)
        assert listing.value.code == 403

        with WsLineClient(server.host, web) as ws:
            ws.send("x" * 300)
            assert ws.read_line() == "bye toolong"
            with pytest.raises(WebSocketClosed):
                ws.read_line()

        with WsLineClient(server.host, web) as ws:
            for _ in range(2):
                assert ws.login("foo", "wrong").startswith("err badlogin,")
            assert ws.login("foo", "wrong").startswith("err badlogin,")
            assert ws.read_line() == "bye badlogin"
            with pytest.raises(WebSocketClosed):
                ws.read_line()

        with WsLineClient(server.host, web) as ws:
            assert ws.login("foo", "1234").startswith("wel ")
            lines = ws.read_until(lambda line: line.startswith("bye"), timeout=5)
            assert lines[-1] == "bye timeout"
            with pytest.raises(WebSocketClosed):
                ws.read_line()


def test_the_web_option_adds_the_site_and_none_leaves_it_out(tmp_path: Path) -> None:
    def services(*argv: str) -> list[object]:
        options = Options()
        options.parseOptions(["--data", str(tmp_path), *argv])
        return list(makeService(options))

    def sites(*argv: str) -> int:
        return sum(isinstance(getattr(s, "factory", None), Site) for s in services(*argv))

    assert sites() == 1
    assert sites("--web", "tcp:0:interface=127.0.0.1") == 1
    assert sites("--web", "none") == 0
