"""The GMCP translator and the MSSP formats, sans-IO."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from mudserver.wire import mssp
from mudserver.wire.encoding import format_line
from mudserver.wire.gmcp import GmcpChannel, decode, encode

GMCP_MESSAGE = re.compile(rb"\xff\xfa\xc9(.*?)\xff\xf0", flags=re.S)


def messages(data: bytes) -> list[tuple[str, Any]]:
    """Decode every GMCP subnegotiation in *data* (0xFF never occurs in the JSON)."""
    return [decode(body) for body in GMCP_MESSAGE.findall(data)]


def test_a_session_translated() -> None:
    g = GmcpChannel()
    text = (
        "wel 2,foo,1.00,0.00,0.00\n"
        "ent 1,player,bar,3.00,4.00,0.00\n"
        "ent 2,player,foo,1.00,0.00,0.00\n"
    )
    assert messages(g.translate(text)) == [
        ("Char.Name", {"id": 2, "name": "foo"}),
        ("Char.Position", {"x": 1.0, "y": 0.0, "z": 0.0}),
        ("Room.Entity.Add", {"id": 1, "kind": "player", "name": "bar", "x": 3.0, "y": 4.0, "z": 0}),
        ("Room.Entity.Add", {"id": 2, "kind": "player", "name": "foo", "x": 1.0, "y": 0.0, "z": 0}),
    ]
    walk = {"x": 1.0, "y": 0.0, "z": 0.0, "tx": 5.0, "ty": 0.0, "tz": 0.0, "speed": 5.0}
    assert messages(g.translate("wlk 2,1.00,0.00,0.00,5.00,0.00,0.00,5.00\n")) == [
        ("Room.Entity.Walk", {"id": 2, **walk}),
        ("Char.Position", walk),
    ]
    assert messages(g.translate("pos 1,3.50,4.00,0.00\npos 2,5.00,0.00,0.00\n")) == [
        ("Room.Entity.Stand", {"id": 1, "x": 3.5, "y": 4.0, "z": 0.0}),
        ("Room.Entity.Stand", {"id": 2, "x": 5.0, "y": 0.0, "z": 0.0}),
        ("Char.Position", {"x": 5.0, "y": 0.0, "z": 0.0}),
    ]
    assert messages(g.translate("say 1,bar,hi%2C foo \u00e9\ndel 1\nbye quit\n")) == [
        ("Comm.Channel.Text", {"channel": "say", "talker": "bar", "id": 1, "text": "hi, foo é"}),
        ("Room.Entity.Remove", {"id": 1}),
        ("Core.Goodbye", "quit"),
    ]


def test_a_things_private_message_has_a_channel_of_its_own() -> None:
    g = GmcpChannel()
    g.translate("wel 2,foo,0.00,0.00,0.00\n")
    text = "ent 7,thing,signpost,3.00,0.00,0.00\nmsg 7,signpost,North%2C the meadow\nmsg 0,,hi\n"
    assert messages(g.translate(text)) == [
        (
            "Room.Entity.Add",
            {"id": 7, "kind": "thing", "name": "signpost", "x": 3.0, "y": 0, "z": 0},
        ),
        (
            "Comm.Channel.Text",
            {"channel": "msg", "talker": "signpost", "id": 7, "text": "North, the meadow"},
        ),
        ("Comm.Channel.Text", {"channel": "msg", "talker": "", "id": 0, "text": "hi"}),
    ]
    g.received(b'Core.Supports.Set ["Room 1"]')
    assert g.translate("msg 7,signpost,hi\n") == b""


def test_unknown_and_broken_lines_pass_without_a_message() -> None:
    g = GmcpChannel()
    text = "err badcmd,what?\nzzz 1,2\npos x,1,2,3\nent 1\nwlk 1,nan,0,0,0,0,0,1\nsay\n"
    assert g.translate(text) == b""


@given(st.text(max_size=200))
@example("\x85 and \u2028")  # found by hypothesis: line breaks to str.splitlines()
def test_any_text_translates_to_valid_json(text: str) -> None:
    g = GmcpChannel()
    line = format_line("say", 7, "ÿ\xff", text)
    out = g.translate(line)
    ((package, data),) = messages(out)
    assert package == "Comm.Channel.Text" and data["text"] == text
    assert out.count(b"\xff") == 2  # IAC SB ... IAC SE: the JSON is ASCII


def test_supports_choose_the_packages() -> None:
    g = GmcpChannel()
    assert g.received(b'Core.Hello {"client": "Mudlet", "version": "4.17"}') == b""
    assert g.client == "Mudlet 4.17"
    g.received(b'Core.Supports.Set ["Char 1", "Room.Entity 1"]')
    out = messages(g.translate("wel 1,foo,0,0,0\nent 1,player,foo,0,0,0\nsay 1,foo,x\nbye quit\n"))
    assert [p for p, _ in out] == ["Char.Name", "Char.Position", "Room.Entity.Add", "Core.Goodbye"]
    g.received(b'Core.Supports.Add ["Comm.Channel 1"]')
    g.received(b'Core.Supports.Remove ["Char"]')
    out = messages(g.translate("pos 1,1,0,0\nsay 1,foo,x\n"))
    assert [p for p, _ in out] == ["Room.Entity.Stand", "Comm.Channel.Text"]


def test_ping_is_answered_and_junk_ignored() -> None:
    g = GmcpChannel()
    assert g.received(b"Core.Ping") == encode("Core.Ping")
    assert g.received(b"Core.Supports.Set [not json") == b""
    assert g.received(b"\xff\xfe") == b""
    assert g.received(b'Core.Supports.Set {"a": 1}') == b""
    assert g.supports is None


def test_supports_stay_bounded() -> None:
    g = GmcpChannel()
    g.received(b"Core.Supports.Set " + json.dumps([f"P{i} 1" for i in range(1000)]).encode())
    assert g.supports is not None and len(g.supports) == 64


def found(**kwargs: Any) -> list[tuple[str, str]]:
    values: dict[str, Any] = dict(
        name="Test Mud", players=3, started=1_700_000_000.7, port=4000, codebase="mudserver 0.1.0"
    )
    return mssp.variables(**(values | kwargs))


def test_mssp_variables() -> None:
    variables = dict(found(hostname="mud.example.org"))
    assert variables["NAME"] == "Test Mud"
    assert variables["PLAYERS"] == "3"
    assert variables["UPTIME"] == "1700000000"
    assert variables["PORT"] == "4000"
    assert variables["CODEBASE"] == "mudserver 0.1.0"
    assert variables["CRAWL DELAY"] == "-1"
    assert variables["HOSTNAME"] == "mud.example.org"
    assert "HOSTNAME" not in dict(found())


def test_mssp_telnet_payload_and_plain_reply() -> None:
    variables = [("NAME", "Test Mud"), ("PLAYERS", "3")]
    assert mssp.telnet_payload(variables) == b"\x01NAME\x02Test Mud\x01PLAYERS\x023"
    assert mssp.plain_reply(variables) == (
        b"\r\nMSSP-REPLY-START\r\nNAME\tTest Mud\r\nPLAYERS\t3\r\nMSSP-REPLY-END\r\n"
    )
