"""MudProtocol's Telnet: offers, MSSP and GMCP over StringTransport and task.Clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mudserver.config import Presentation, Settings
from mudserver.store.files import FileStore
from mudserver.wire.gmcp import decode
from mudserver.wire.telnet import DO, DONT, GMCP, IAC, MSSP, NOP, WILL, WONT, subnegotiation
from tests.harness import CHEAP, Client, Harness
from tests.test_gmcp_mssp import GMCP_MESSAGE, messages

OFFERS = bytes([IAC, WILL, MSSP, IAC, WILL, GMCP])


def cmd(verb: int, option: int) -> bytes:
    return bytes([IAC, verb, option])


def harness_with_accounts(tmp_path: Path, settings: Settings) -> Harness:
    """A harness whose store holds foo/1234 and bar/4321."""
    store = FileStore(tmp_path / "data", CHEAP)
    store.create("foo", "1234")
    store.create("bar", "4321")
    return Harness(settings, store=store)


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = harness_with_accounts(tmp_path, Settings())
    harness.factory.presentation = Presentation(name="Test Mud", hostname="mud.example.org")
    yield harness
    harness.lose_all()
    assert harness.clock.getDelayedCalls() == []


def take(client: Client) -> bytes:
    data = client.transport.value()
    client.transport.clear()
    client._seen = 0
    return data


def gmcp_client(h: Harness) -> Client:
    client = h.connect()
    client.send(cmd(DO, GMCP))
    assert take(client) == cmd(WILL, GMCP) + cmd(WILL, MSSP)
    return client


def test_a_plain_client_sees_no_telnet_at_all(h: Harness) -> None:
    client = h.connect()
    assert take(client) == b""
    client.send("con foo,1234,1")
    h.tick()
    assert b"\xff" not in take(client)


def test_telnet_users_see_only_refusals_as_before(h: Harness) -> None:
    client = h.connect()
    client.send(bytes([IAC, NOP]) + cmd(WILL, 24) + cmd(DO, 3))
    assert take(client) == cmd(DONT, 24) + cmd(WONT, 3)


def test_mssp_on_do(h: Harness) -> None:
    h.player("bar", "4321")
    client = h.connect()
    client.send(cmd(DO, MSSP))
    data = take(client)
    assert data.startswith(cmd(WILL, MSSP) + cmd(WILL, GMCP))
    data = data.removeprefix(cmd(WILL, MSSP) + cmd(WILL, GMCP))
    body = data.removeprefix(b"\xff\xfaF").removesuffix(b"\xff\xf0")
    assert data != body
    variables = dict(pair.split(b"\x02") for pair in body.split(b"\x01")[1:])
    assert variables[b"NAME"] == b"Test Mud"
    assert variables[b"PLAYERS"] == b"1"
    assert variables[b"UPTIME"] == b"0"  # task.Clock starts at 0
    assert variables[b"HOSTNAME"] == b"mud.example.org"
    assert variables[b"CODEBASE"].startswith(b"mudserver")
    assert int(variables[b"PORT"]) > 0
    client.send(cmd(DONT, GMCP))
    assert take(client) == b""
    assert client.protocol.gmcp is None


def test_offer_at_connect(h: Harness) -> None:
    h.factory.presentation = Presentation(telnet_offer="connect")
    client = h.connect()
    assert take(client) == OFFERS


def test_plain_mssp_request_before_login(h: Harness) -> None:
    client = h.connect()
    client.send(b"MSSP-REQUEST\r\n")
    reply = take(client).decode()
    assert reply.startswith("\r\nMSSP-REPLY-START\r\nNAME\tTest Mud\r\nPLAYERS\t0\r\n")
    assert reply.endswith("\r\nMSSP-REPLY-END\r\n")
    assert "err" not in reply
    assert client.login("foo", "1234").startswith("wel ")


def test_mssp_requests_count_against_the_flood_limit(tmp_path: Path) -> None:
    h = harness_with_accounts(tmp_path, Settings(line_burst=5, flood_time=1.0))
    client = h.connect()
    for _ in range(200):
        client.send(b"MSSP-REQUEST\n")
        h.clock.advance(0.01)
    assert client.closing
    assert b"bye flood" in take(client)
    h.lose_all()


def test_gmcp_mirrors_the_session(h: Harness) -> None:
    foo = gmcp_client(h)
    foo.send(subnegotiation(GMCP, b'Core.Hello {"client":"TinTin++","version":"2.02"}'))
    foo.send(subnegotiation(GMCP, b'Core.Supports.Set ["Char 1","Room 1","Comm 1"]'))
    foo.send("con foo,1234,1")
    data = take(foo)
    assert data.startswith(b"wel 1,foo,0.00,0.00,0.00\nent 1,player,foo,0.00,0.00,0.00\n")
    assert [p for p, _ in messages(data)] == ["Char.Name", "Char.Position", "Room.Entity.Add"]
    bar, _ = h.player("bar", "4321")
    foo.send("mov 1,0,0")
    bar.send("say hi")
    h.tick()
    data = take(foo)
    found = messages(data)
    assert (
        "Room.Entity.Add",
        {"id": 2, "kind": "player", "name": "bar", "x": 0, "y": 0, "z": 0},
    ) in (found)
    assert ("Char.Position", {"x": 0.5, "y": 0.0, "z": 0.0}) in found
    assert ("Comm.Channel.Text", {"channel": "say", "talker": "bar", "id": 2, "text": "hi"}) in (
        found
    )
    bar.send("bye")
    h.tick()
    assert ("Room.Entity.Remove", {"id": 2}) in messages(take(foo))
    # bar never asked: plain lines only.
    assert b"\xff" not in bar.transport.value()
    assert foo.protocol.gmcp is not None and foo.protocol.gmcp.client == "TinTin++ 2.02"


def test_gmcp_enabled_after_login_catches_up(h: Harness) -> None:
    foo, _ = h.player("foo", "1234")
    take(foo)
    foo.send(cmd(DO, GMCP))
    data = take(foo)
    assert data.startswith(cmd(WILL, GMCP) + cmd(WILL, MSSP))
    assert messages(data) == [
        ("Char.Name", {"id": 1, "name": "foo"}),
        ("Char.Position", {"x": 0.0, "y": 0.0, "z": 0.0}),
    ]


def test_gmcp_off_again_stops_it(h: Harness) -> None:
    foo = gmcp_client(h)
    foo.send(cmd(DONT, GMCP))
    assert take(foo) == cmd(WONT, GMCP)
    foo.send("con foo,1234,1")
    assert b"\xff" not in take(foo)


def test_gmcp_ping(h: Harness) -> None:
    foo = gmcp_client(h)
    foo.send(subnegotiation(GMCP, b"Core.Ping"))
    assert [decode(m) for m in GMCP_MESSAGE.findall(take(foo))] == [("Core.Ping", None)]


def test_gmcp_output_counts_against_the_unread_limit(tmp_path: Path) -> None:
    h = harness_with_accounts(tmp_path, Settings(max_output=70_000))

    def lines_until_dropped(client: Client) -> int:
        client.send("con foo,1234,1")
        client.protocol.watcher.pauseProducing()  # the client stopped reading
        sent = 0
        while not client.aborted and sent < 1000:
            client.protocol.send("say 1,foo," + "x" * 100 + "\n")
            sent += 1
        assert client.aborted
        client.connection_lost()
        return sent

    plain = lines_until_dropped(h.connect())
    with_gmcp = lines_until_dropped(gmcp_client(h))
    # A say line is ~110 bytes of text plus ~130 of GMCP, all of it counted.
    assert with_gmcp < plain * 0.6
    h.lose_all()


def test_gmcp_messages_count_against_the_flood_limit(tmp_path: Path) -> None:
    h = harness_with_accounts(tmp_path, Settings(line_burst=5, flood_time=1.0))
    foo = gmcp_client(h)
    for _ in range(200):
        foo.send(subnegotiation(GMCP, b"Core.Ping"))
        h.clock.advance(0.01)
    assert foo.closing
    assert b"bye flood" in take(foo)
    h.lose_all()
