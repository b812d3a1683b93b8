"""Server lines as small typed values, so client code never splits strings.

:func:`parse` turns one line from the server (line ending removed) into one
of the frozen dataclasses below: ids become ``int``, coordinates ``float``,
every text argument is dequoted.  A line with a code this client does not
know, or a known code it cannot make sense of, becomes :class:`Unknown`
instead of an exception: the protocol says clients must ignore new server
messages, and one odd line must not take a connection down.

Pure: no I/O, no Twisted.  The Twisted client, the blocking client and tests
all use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from mudserver.wire.encoding import split_line

__all__ = [
    "Welcome",
    "Entered",
    "Position",
    "Walk",
    "Delete",
    "Said",
    "Error",
    "Bye",
    "System",
    "WhoList",
    "Unknown",
    "Message",
    "parse",
]

Point = tuple[float, float, float]


class _Located:
    """The ``position`` of a message that carries x, y and z."""

    __slots__ = ()
    x: float
    y: float
    z: float

    @property
    def position(self) -> Point:
        return (self.x, self.y, self.z)


@dataclass(frozen=True, slots=True)
class Welcome(_Located):
    """``wel id,name,x,y,z``: the login worked; you are entity ``id``."""

    code: ClassVar[str] = "wel"
    id: int
    name: str
    x: float
    y: float
    z: float


@dataclass(frozen=True, slots=True)
class Entered(_Located):
    """``ent id,kind,name,x,y,z``: an entity came into view, or was there at login.

    Named for what happened, not for the thing: the entity itself, as the
    client keeps it, is :class:`mudserver.client.mirror.Entity`.
    """

    code: ClassVar[str] = "ent"
    id: int
    kind: str
    name: str
    x: float
    y: float
    z: float


@dataclass(frozen=True, slots=True)
class Position(_Located):
    """``pos id,x,y,z``: where an entity is.

    In protocol version 1 it comes every tick while the entity moves; in
    version 2 it means the entity stands there (its walk ended or was cut
    short).
    """

    code: ClassVar[str] = "pos"
    id: int
    x: float
    y: float
    z: float


@dataclass(frozen=True, slots=True)
class Walk(_Located):
    """``wlk id,x,y,z,tx,ty,tz,speed`` (version 2): entity ``id`` is at x,y,z
    now and walks straight to tx,ty,tz at ``speed`` units per second.

    One line per walk instead of one ``pos`` per tick: the client works out
    the position in between (:meth:`mudserver.client.mirror.Entity.position_at`).
    """

    code: ClassVar[str] = "wlk"
    id: int
    x: float
    y: float
    z: float
    tx: float
    ty: float
    tz: float
    speed: float

    @property
    def target(self) -> Point:
        return (self.tx, self.ty, self.tz)


@dataclass(frozen=True, slots=True)
class Delete:
    """``del id``: an entity left the world; its id is never used again."""

    code: ClassVar[str] = "del"
    id: int


@dataclass(frozen=True, slots=True)
class Said:
    """``say id,name,text``: entity ``id`` said ``text`` (already dequoted)."""

    code: ClassVar[str] = "say"
    id: int
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class Error:
    """``err code,message``: a request failed.  Programs look at ``error`` only."""

    code: ClassVar[str] = "err"
    error: str
    message: str


@dataclass(frozen=True, slots=True)
class Bye:
    """``bye reason``: the server is about to close the connection."""

    code: ClassVar[str] = "bye"
    reason: str


@dataclass(frozen=True, slots=True)
class System:
    """``sys text``: a message from the server or its operator (an announcement)."""

    code: ClassVar[str] = "sys"
    text: str


@dataclass(frozen=True, slots=True)
class WhoList:
    """``who online,in_view,name,...``: the answer to ``who``.

    ``names`` are some of the players in view, nearest first; the server
    sends a bounded number, so ``len(names)`` may be less than ``in_view``.
    """

    code: ClassVar[str] = "who"
    online: int
    in_view: int
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unknown:
    """A line this client cannot type: a newer message, or a malformed one.

    ``problem`` is ``None`` for a code this client has never heard of (to be
    ignored, as the protocol asks) and says what was wrong otherwise.
    """

    code: str
    args: tuple[str, ...]
    problem: str | None = None


Message = (
    Welcome | Entered | Position | Walk | Delete | Said | Error | Bye | System | WhoList | Unknown
)


def _id(text: str) -> int:
    value = int(text)
    if value < 1 or not text.isdigit():
        raise ValueError(f"not an entity id: {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"not a count: {text!r}")
    return int(text)


def _who(*args: str) -> WhoList:
    return WhoList(_count(args[0]), _count(args[1]), tuple(args[2:]))


def _num(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


def _speed(text: str) -> float:
    value = _num(text)
    if value < 0:
        raise ValueError(f"not a speed: {text!r}")
    return value


#: code -> (class, converters of the leading arguments).  Extra trailing
#: arguments are ignored, so a later server may append fields.
_LAYOUT: dict[str, tuple[Callable[..., Message], tuple[Callable[[str], object], ...]]] = {
    "wel": (Welcome, (_id, str, _num, _num, _num)),
    "ent": (Entered, (_id, str, str, _num, _num, _num)),
    "pos": (Position, (_id, _num, _num, _num)),
    "wlk": (Walk, (_id, _num, _num, _num, _num, _num, _num, _speed)),
    "del": (Delete, (_id,)),
    "say": (Said, (_id, str, str)),
    "err": (Error, (str, str)),
    "bye": (Bye, (str,)),
    "sys": (System, (str,)),
}


def parse(line: str) -> Message:
    """Type one server line (without its line ending).  Never raises.

    A trailing ``\\r`` is tolerated, as the protocol's client checklist asks.
    """
    raw = split_line(line.removesuffix("\r"))
    args = tuple(raw.args())
    if raw.code == "who":  # the one message with a variable number of arguments
        if len(args) < 2:
            return Unknown(raw.code, args, "who needs 2 arguments")
        try:
            return _who(*args)
        except ValueError as e:
            return Unknown(raw.code, args, str(e))
    layout = _LAYOUT.get(raw.code)
    if layout is None:
        return Unknown(raw.code, args)
    cls, converters = layout
    if len(args) < len(converters):
        return Unknown(raw.code, args, f"{raw.code} needs {len(converters)} arguments")
    try:
        values = [convert(a) for convert, a in zip(converters, args, strict=False)]
    except ValueError as e:
        return Unknown(raw.code, args, str(e))
    return cls(*values)
