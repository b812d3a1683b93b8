"""What every server line carries, described once: formatted by it, parsed by it.

A server line is a code and a fixed list of fields, each of one kind: an
entity id, a count, a coordinate, a text.  Before this module, the server's
formatters (:mod:`mudserver.wire.replies`) wrote each line by hand, and the
client library (:mod:`mudserver.client.messages`) and the GMCP translator
(:mod:`mudserver.wire.gmcp`) each read it back by argument position, three
places that had to agree.  Now all three read :data:`SHAPES`: the formatters
write a line's fields in the order and the way its :class:`Shape` says, and
:meth:`Shape.read` turns the arguments back into typed values, by name.

The hottest lines (``pos``, ``wlk``, ``ent``: every walker, every tick) are
not formatted field by field: :attr:`Shape.template` is a ``%`` format string
made from the fields once, at import, so formatting one is the same single
``%`` operation as the hand-written format it replaces (measured with
``benchmarks/core_tick.py``: see :mod:`mudserver.wire.replies`).

Pure: no I/O, no Twisted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mudserver.wire.encoding import enquote

__all__ = [
    "ACK",
    "BYE",
    "COORD",
    "COUNT",
    "DEL",
    "ENT",
    "ERR",
    "ID",
    "MSG",
    "POS",
    "SAY",
    "SENDER",
    "SHAPES",
    "SPEED",
    "SYS",
    "TEXT",
    "WEL",
    "WHO",
    "WLK",
    "Kind",
    "Shape",
    "coord",
]


def coord(value: float) -> str:
    """Fixed-point with two decimals; never ``-0.00``."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


@dataclass(frozen=True, slots=True)
class Kind:
    """What one field is on the wire: how it is written, and how it is read back.

    ``template`` is the field's piece of a ``%`` format string (``%s`` for a
    text, which the caller enquotes); ``write`` turns a value into its
    argument, enquoted; ``read`` turns a dequoted argument into the value, or
    raises ``ValueError``.
    """

    name: str
    template: str
    write: Callable[[Any], str]
    read: Callable[[str], Any]


def _entity_id(text: str) -> int:
    value = int(text)
    if value < 1 or not text.isdigit():
        raise ValueError(f"not an entity id: {text!r}")
    return value


def _sender(text: str) -> int:
    value = int(text)
    if not text.isdigit():
        raise ValueError(f"not a sender id: {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"not a count: {text!r}")
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


def _speed(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise ValueError(f"not a speed: {text!r}")
    return value


def _text(value: object) -> str:
    return enquote(str(value))


#: An entity's id: a positive integer.
ID = Kind("id", "%d", str, _entity_id)
#: Who a ``say`` or ``msg`` is from: an entity id, or 0 (another shard's
#: player, or the game itself).
SENDER = Kind("sender", "%d", str, _sender)
#: A number of players: zero or more.
COUNT = Kind("count", "%d", str, _count)
#: A coordinate: two decimals on the wire, a finite float once read.
COORD = Kind("coord", "%.2f", coord, _number)
#: A walking speed: like a coordinate, never negative.
SPEED = Kind("speed", "%.2f", coord, _speed)
#: Text: enquoted on the wire, dequoted once read.
TEXT = Kind("text", "%s", _text, str)


@dataclass(frozen=True)
class Shape:
    """One server line: its code, its fields in order, and maybe a tail.

    ``tail`` is a last field that repeats any number of times (the names of
    ``who``); it is read as a tuple.  A line with more arguments than its
    fields (and no tail) is read all the same, the extra ones dropped: a later
    server may append fields, as the protocol allows.
    """

    code: str
    fields: tuple[tuple[str, Kind], ...]
    tail: tuple[str, Kind] | None = None
    #: The ``%`` format string of the whole line, newline included; text
    #: fields are ``%s``, to be given enquoted.
    template: str = field(init=False)

    def __post_init__(self) -> None:
        pieces = ",".join(kind.template for _, kind in self.fields)
        object.__setattr__(self, "template", f"{self.code} {pieces}\n")

    @property
    def names(self) -> tuple[str, ...]:
        """The fields' names, in order (the tail's last)."""
        tail = () if self.tail is None else (self.tail[0],)
        return tuple(name for name, _ in self.fields) + tail

    def format(self, *values: Any) -> str:
        """The line for these values, one per field (then any number for the tail)."""
        fixed = len(self.fields)
        if len(values) < fixed or (self.tail is None and len(values) > fixed):
            raise TypeError(f"{self.code} takes {fixed} values, not {len(values)}")
        args = [kind.write(value) for (_, kind), value in zip(self.fields, values, strict=False)]
        if self.tail is not None:
            args += [self.tail[1].write(value) for value in values[fixed:]]
        return f"{self.code} {','.join(args)}\n"

    def bind(self, **texts: str) -> str:
        """:attr:`template` with some text fields filled in, for the numbers alone.

        ``ENT.bind(kind="npc", name="greeter")`` is ``"ent %d,npc,greeter,%.2f,..."``:
        an entity's ``ent`` lines differ only in their numbers, so its label is
        enquoted once, not at every line.
        """
        pieces = []
        for name, kind in self.fields:
            if name in texts:
                pieces.append(kind.write(texts.pop(name)).replace("%", "%%"))
            else:
                pieces.append(kind.template)
        if texts:
            raise TypeError(f"{self.code} has no text field {', '.join(texts)}")
        return f"{self.code} {','.join(pieces)}\n"

    def read(self, args: Sequence[str]) -> tuple[Any, ...]:
        """Typed values from a line's dequoted arguments; ``ValueError`` if they do not fit."""
        if len(args) < len(self.fields):
            raise ValueError(f"{self.code} needs {len(self.fields)} arguments")
        values = [kind.read(arg) for (_, kind), arg in zip(self.fields, args, strict=False)]
        if self.tail is None:
            return tuple(values)
        reader = self.tail[1].read
        return (*values, tuple(reader(arg) for arg in args[len(self.fields) :]))

    def read_named(self, args: Sequence[str]) -> dict[str, Any]:
        """:meth:`read`, as a dict by field name."""
        return dict(zip(self.names, self.read(args), strict=True))


_XYZ = (("x", COORD), ("y", COORD), ("z", COORD))

#: ``wel id,name,x,y,z``: you are logged in as this entity.
WEL = Shape("wel", (("id", ID), ("name", TEXT), *_XYZ))
#: ``ent id,kind,name,x,y,z``: an entity came into view.
ENT = Shape("ent", (("id", ID), ("kind", TEXT), ("name", TEXT), *_XYZ))
#: ``pos id,x,y,z``: an entity is (version 2: stands) here.
POS = Shape("pos", (("id", ID), *_XYZ))
#: ``wlk id,x,y,z,tx,ty,tz,speed``: an entity walks from here toward there.
WLK = Shape(
    "wlk", (("id", ID), *_XYZ, ("tx", COORD), ("ty", COORD), ("tz", COORD), ("speed", SPEED))
)
#: ``del id``: an entity left your view.
DEL = Shape("del", (("id", ID),))
#: ``say id,name,text``: someone said something (id 0: on another shard).
SAY = Shape("say", (("id", SENDER), ("name", TEXT), ("text", TEXT)))
#: ``msg id,name,text``: a thing tells you something, privately (id 0: the game).
MSG = Shape("msg", (("id", SENDER), ("name", TEXT), ("text", TEXT)))
#: ``err code,message``: a request failed.  The field is ``error``: ``code``
#: is the line's own.
ERR = Shape("err", (("error", TEXT), ("message", TEXT)))
#: ``bye reason``: the server closes this connection.
BYE = Shape("bye", (("reason", TEXT),))
#: ``sys text``: a message from the server or its operator.
SYS = Shape("sys", (("text", TEXT),))
#: ``who online,in_view,name,...``: the answer to ``who``.
WHO = Shape("who", (("online", COUNT), ("in_view", COUNT)), tail=("names", TEXT))
#: ``ack what``: a request that has no other answer was done (``ack pwd``).
ACK = Shape("ack", (("what", TEXT),))

#: Every server line, by code.
SHAPES: dict[str, Shape] = {
    shape.code: shape for shape in (WEL, ENT, POS, WLK, DEL, SAY, MSG, ERR, BYE, SYS, WHO, ACK)
}
