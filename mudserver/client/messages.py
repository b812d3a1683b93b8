"""Server lines as small typed values, so client code never splits strings.

:func:`parse` turns one line from the server (line ending removed) into one
of the frozen dataclasses below: ids become ``int``, coordinates ``float``,
every text argument is dequoted.  How each line's fields are read is not
written here: it is the line's :class:`~mudserver.wire.shapes.Shape`, the
description the server formats the line with.  A line with a code this client does not
know, or a known code it cannot make sense of, becomes :class:`Unknown`
instead of an exception: the protocol says clients must ignore new server
messages, and one odd line must not take a connection down.

Pure: no I/O, no Twisted.  The Twisted client, the blocking client and tests
all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mudserver.wire.encoding import split_line
from mudserver.wire.shapes import SHAPES

__all__ = [
    "Welcome",
    "Entered",
    "Position",
    "Walk",
    "Delete",
    "Said",
    "Told",
    "Error",
    "Bye",
    "System",
    "WhoList",
    "Ack",
    "Unknown",
    "Message",
    "TYPES",
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
    """``say id,name,text``: entity ``id`` said ``text`` (already dequoted).

    ``id`` is 0 for a player on another shard of the same service: not in
    this world, so no entity has that id.
    """

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
class Told:
    """``msg id,name,text``: entity ``id`` (``name``) told you ``text``, privately.

    What a thing answers when you :meth:`~mudserver.client.requests.Requests.use`
    it, or says to you alone.  ``id`` is 0 and ``name`` empty when the game
    itself tells you something.  Named as :class:`Said` is: for what happened.
    """

    code: ClassVar[str] = "msg"
    id: int
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class Ack:
    """``ack what``: the request ``what`` (``pwd``) was done; it has no other answer."""

    code: ClassVar[str] = "ack"
    what: str


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
    Welcome
    | Entered
    | Position
    | Walk
    | Delete
    | Said
    | Told
    | Error
    | Bye
    | System
    | WhoList
    | Ack
    | Unknown
)

#: The typed message of each server line.  Its fields are the line's, as
#: :data:`mudserver.wire.shapes.SHAPES` names them (a test holds them to it),
#: so a line is read by its shape and handed to the class as it is.
TYPES: dict[str, type[Message]] = {
    cls.code: cls
    for cls in (
        Welcome,
        Entered,
        Position,
        Walk,
        Delete,
        Said,
        Told,
        Error,
        Bye,
        System,
        WhoList,
        Ack,
    )
}


def parse(line: str) -> Message:
    """Type one server line (without its line ending).  Never raises.

    A trailing ``\\r`` is tolerated, as the protocol's client checklist asks.
    """
    raw = split_line(line.removesuffix("\r"))
    args = tuple(raw.args())
    cls = TYPES.get(raw.code)
    if cls is None:
        return Unknown(raw.code, args)
    try:
        values = SHAPES[raw.code].read(args)
    except ValueError as e:
        return Unknown(raw.code, args, str(e))
    return cls(*values)
