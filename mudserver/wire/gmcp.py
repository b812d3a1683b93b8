"""GMCP: the game's protocol lines, restated as MUD clients' structured messages.

A GMCP message is ``IAC SB GMCP <Package.Name> <JSON> IAC SE`` (Telnet
option 201).  MUD clients (Mudlet, TinTin++) hand the JSON to scripts, so a
map or a status line needs no parsing of text.  Rather than a second output
path through the game, :class:`GmcpChannel` reads the very lines a session
sends (``wel``, ``ent``, ``del``, ``pos``, ``wlk``, ``say``, ``bye``) and
translates them; every other code passes without a message.  The shell runs
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
- ``Comm.Channel.Text {"channel": "say", "talker": "bar", "id": 1, "text": ".."}``.
- ``Core.Goodbye "reason"`` (``bye``).

From the client, ``Core.Hello`` is recorded, ``Core.Supports.Set``/``Add``/
``Remove`` choose the packages sent (until a client sends ``Set``, all are),
and ``Core.Ping`` is answered with ``Core.Ping``; anything else is ignored.
"""

from __future__ import annotations

import json
from typing import Any

from mudserver.wire.encoding import split_line
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


def _num(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return value


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
        raw = split_line(line)
        code = raw.code
        if code not in _CODES:
            return []
        args = raw.args()
        if code == "pos":
            eid, x, y, z = int(args[0]), _num(args[1]), _num(args[2]), _num(args[3])
            found: list[tuple[str, Any]] = [
                ("Room.Entity.Stand", {"id": eid, "x": x, "y": y, "z": z})
            ]
            if eid == self.self_id:
                found.append(("Char.Position", {"x": x, "y": y, "z": z}))
            return found
        if code == "wlk":
            eid = int(args[0])
            x, y, z, tx, ty, tz, speed = (_num(a) for a in args[1:8])
            walk = {"x": x, "y": y, "z": z, "tx": tx, "ty": ty, "tz": tz, "speed": speed}
            found = [("Room.Entity.Walk", {"id": eid, **walk})]
            if eid == self.self_id:
                found.append(("Char.Position", walk))
            return found
        if code == "ent":
            eid, kind, name = int(args[0]), args[1], args[2]
            x, y, z = _num(args[3]), _num(args[4]), _num(args[5])
            entity = {"id": eid, "kind": kind, "name": name, "x": x, "y": y, "z": z}
            return [("Room.Entity.Add", entity)]
        if code == "del":
            return [("Room.Entity.Remove", {"id": int(args[0])})]
        if code == "say":
            talker = {"channel": "say", "talker": args[1], "id": int(args[0])}
            return [("Comm.Channel.Text", {**talker, "text": args[2]})]
        if code == "wel":
            eid, name = int(args[0]), args[1]
            x, y, z = _num(args[2]), _num(args[3]), _num(args[4])
            self.self_id = eid
            return [
                ("Char.Name", {"id": eid, "name": name}),
                ("Char.Position", {"x": x, "y": y, "z": z}),
            ]
        return [("Core.Goodbye", args[0] if args else "")]  # bye


_CODES = frozenset({"pos", "wlk", "ent", "del", "say", "wel", "bye"})
