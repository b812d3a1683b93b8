"""GMCP: the game's protocol lines, restated as MUD clients' structured messages.

A GMCP message is ``IAC SB GMCP <Package.Name> <JSON> IAC SE`` (Telnet
option 201).  MUD clients (Mudlet, TinTin++) hand the JSON to scripts, so a
map or a status line needs no parsing of text.  Rather than a second output
path through the game, :class:`GmcpChannel` reads the very lines a session
sends (``wel``, ``ent``, ``del``, ``pos``, ``wlk``, ``say``, ``msg``,
``bye``) and translates them, reading each line's fields by name through its
:class:`~mudserver.wire.shapes.Shape`, the description the line was formatted
with; every other code passes without a message.  The shell runs
it only for connections that enabled GMCP, so nobody else pays for it.

Messages (all numbers are JSON numbers; see docs/protocol.md, "GMCP"):

- ``Char.Name {"id": 2, "name": "foo"}`` after login (``wel``).
- ``Char.Position {"x": .., "y": .., "z": ..}``: where the player is (after
  ``wel``, and on the player's own ``pos``); for the player's own ``wlk`` it
  also has ``tx``/``ty``/``tz`` (where the walk ends) and ``speed``.
- ``Room.Entity.Add {"id", "kind", "name", "x", "y", "z"}`` (``ent``).
- ``Room.Entity.Remove {"id"}`` (``del``).
- ``Room.Entity.Walk {"id", "x", "y", "z", "tx", "ty", "tz", "speed"}`` (``wlk``).
- ``Room.Entity.Stand {"id", "x", "y", "z"}`` (``pos``: stands there, in
  protocol version 2; in version 1 it comes every tick while it moves).
- ``Comm.Channel.Text {"channel": "say", "talker": "bar", "id": 1, "text": ".."}``
  (``say``), and the same on channel ``msg`` for what a thing tells the
  player alone (``msg``; id 0 and talker ``""``: the game itself).
- ``Core.Goodbye "reason"`` (``bye``).

From the client, ``Core.Hello`` is recorded, ``Core.Supports.Set``/``Add``/
``Remove`` choose the packages sent (until a client sends ``Set``, all are),
and ``Core.Ping`` is answered with ``Core.Ping``; anything else is ignored.
"""

from __future__ import annotations

import json
from typing import Any

from mudserver.wire.encoding import split_line
from mudserver.wire.shapes import SHAPES
from mudserver.wire.telnet import GMCP, subnegotiation

__all__ = ["GmcpChannel", "encode", "decode"]

#: Longest client name/version kept from ``Core.Hello``, and most packages
#: kept from ``Core.Supports``: a client must not grow our memory.
_MAX_TEXT = 64
_MAX_PACKAGES = 64


def encode(package: str, data: Any = None) -> bytes:
    """One GMCP message as Telnet bytes (0xFF cannot occur: the JSON is ASCII)."""
    body = package if data is None else f"{package} {json.dumps(data, separators=(',', ':'))}"
    return subnegotiation(GMCP, body.encode("ascii"))


def decode(payload: bytes) -> tuple[str, Any]:
    """Split a received GMCP payload into package and data (``None`` without data).

    Raises ``ValueError`` for a payload that is not UTF-8 or not JSON.
    """
    text = payload.decode("utf-8")
    package, _, rest = text.strip().partition(" ")
    rest = rest.strip()
    return package, (json.loads(rest) if rest else None)


class GmcpChannel:
    """One connection's GMCP: what the client supports, and the translator."""

    def __init__(self) -> None:
        #: Packages the client said it supports (lower-case names), or
        #: ``None`` until it sends ``Core.Supports.Set``: then everything goes.
        self.supports: set[str] | None = None
        #: From ``Core.Hello``: the client's name and version, for the log.
        self.client = ""
        #: The player's own entity id, learnt from ``wel``.
        self.self_id: int | None = None

    # -- from the client -----------------------------------------------------------

    def received(self, payload: bytes) -> bytes:
        """Handle one message from the client; return bytes to send back (maybe none)."""
        try:
            package, data = decode(payload)
        except ValueError:
            return b""  # a broken message is ignored, like an unknown one
        match package.lower():
            case "core.hello" if isinstance(data, dict):
                name, version = data.get("client", ""), data.get("version", "")
                self.client = f"{name} {version}".strip()[:_MAX_TEXT]
            case "core.supports.set" if isinstance(data, list):
                self.supports = set()
                self._add(data)
            case "core.supports.add" if isinstance(data, list):
                if self.supports is None:
                    self.supports = set()
                self._add(data)
            case "core.supports.remove" if isinstance(data, list) and self.supports:
                for item in data:
                    if isinstance(item, str) and item.split():
                        self.supports.discard(item.split()[0].lower())
            case "core.ping":
                return encode("Core.Ping")
        return b""

    def _add(self, items: list[Any]) -> None:
        assert self.supports is not None
        for item in items:
            if len(self.supports) >= _MAX_PACKAGES:
                return
            if isinstance(item, str) and item.split():
                self.supports.add(item.split()[0].lower()[:_MAX_TEXT])

    def wants(self, package: str) -> bool:
        """Whether *package* (e.g. ``Room.Entity.Add``) goes to this client.

        ``Core`` always does; otherwise the package or any module above it
        (``Room.Entity``, ``Room``) must have been listed.
        """
        if self.supports is None:
            return True
        parts = package.lower().split(".")
        if parts[0] == "core":
            return True
        return any(".".join(parts[:n]) in self.supports for n in range(1, len(parts) + 1))

    # -- to the client -------------------------------------------------------------

    def translate(self, text: str) -> bytes:
        """The GMCP messages for the protocol lines in *text* (complete lines)."""
        out = bytearray()
        # Split at LF only: str.splitlines() would also split at U+0085,
        # U+2028..., which a say text may hold unescaped.
        for line in text.split("\n"):
            if not line:
                continue
            try:
                for package, data in self._messages(line):
                    if self.wants(package):
                        out += encode(package, data)
            except (ValueError, IndexError):
                continue  # not a line we understand: no message, as for unknown codes
        return bytes(out)

    def _messages(self, line: str) -> list[tuple[str, Any]]:
        """The messages for one line, its fields read by their names (its shape)."""
        raw = split_line(line)
        code = raw.code
        if code not in _CODES:
            return []
        data = SHAPES[code].read_named(raw.args())
        if code in _ROOM:
            found: list[tuple[str, Any]] = [(_ROOM[code], data)]
            if code in ("pos", "wlk") and data["id"] == self.self_id:
                found.append(("Char.Position", {k: v for k, v in data.items() if k != "id"}))
            return found
        if code in _CHANNELS:
            talker = {"channel": code, "talker": data["name"], "id": data["id"]}
            return [("Comm.Channel.Text", {**talker, "text": data["text"]})]
        if code == "wel":
            self.self_id = data["id"]
            return [
                ("Char.Name", {"id": data["id"], "name": data["name"]}),
                ("Char.Position", {"x": data["x"], "y": data["y"], "z": data["z"]}),
            ]
        return [("Core.Goodbye", data["reason"])]  # bye


#: The package of each line about an entity in view; its data is the line's
#: fields, by their names in :mod:`mudserver.wire.shapes`.
_ROOM = {
    "ent": "Room.Entity.Add",
    "del": "Room.Entity.Remove",
    "wlk": "Room.Entity.Walk",
    "pos": "Room.Entity.Stand",
}
#: Lines that are words to the player: ``Comm.Channel.Text``, on a channel
#: named after the line (``say``: heard by all near; ``msg``: to you alone).
_CHANNELS = frozenset({"say", "msg"})
_CODES = frozenset({*_ROOM, *_CHANNELS, "wel", "bye"})
