"""Server-to-client lines: one small formatter per message of the protocol.

Every outgoing line is built here, so the wire format of a message can be
found in one place.  Each function returns a complete line, newline included.
"""

from __future__ import annotations

import functools
from typing import Protocol

from mudserver.wire.encoding import enquote, format_line

__all__ = [
    "ELSEWHERE",
    "coord",
    "wel",
    "ent",
    "pos",
    "wlk",
    "delete",
    "say",
    "say_elsewhere",
    "msg",
    "err",
    "ack",
    "bye",
    "system",
    "who",
]


class Located(Protocol):
    """What the formatters need of an entity."""

    id: int
    kind: str
    name: str
    x: float
    y: float
    z: float


class Walking(Located, Protocol):
    """What :func:`wlk` needs: a located entity with a destination and a speed."""

    dest: tuple[float, float, float] | None
    speed: float


def coord(value: float) -> str:
    """Fixed-point with two decimals; never ``-0.00``."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def wel(entity: Located) -> str:
    """``wel id,name,x,y,z``: you are logged in as this entity."""
    return format_line(
        "wel", entity.id, entity.name, coord(entity.x), coord(entity.y), coord(entity.z)
    )


@functools.lru_cache(maxsize=4096)
def _label(kind: str, name: str) -> str:
    """``kind,name`` enquoted: the same for every ``ent`` of an entity, so made once."""
    return f"{enquote(kind)},{enquote(name)}"


def ent(entity: Located) -> str:
    """``ent id,kind,name,x,y,z``: an entity appeared.

    The second line of the crowd's hot path (a view's set changes as players
    mill around): only the numbers are formatted each time.
    """
    return (
        f"ent {entity.id},{_label(entity.kind, entity.name)},"
        f"{coord(entity.x)},{coord(entity.y)},{coord(entity.z)}\n"
    )


def pos(entity: Located) -> str:
    """``pos id,x,y,z``: an entity moved during the last tick.

    Formatted in one go, the hottest line of the server (every walker,
    every tick); a ``-0.00`` can only be a whole coordinate (the id has no
    sign), and the rare line with one is redone the careful way.  The
    ``%`` operator formats it a fifth faster than an f-string (CPython 3.11).
    """
    line = "pos %d,%.2f,%.2f,%.2f\n" % (entity.id, entity.x, entity.y, entity.z)  # noqa: UP031
    if "-0.00" in line:
        return f"pos {entity.id},{coord(entity.x)},{coord(entity.y)},{coord(entity.z)}\n"
    return line


def wlk(entity: Walking) -> str:
    """``wlk id,x,y,z,tx,ty,tz,speed``: an entity walks from here toward a destination.

    Protocol version 2 only.  Sent once per walk, not per tick: a client
    extrapolates the position from it.  Only called for a walking entity.
    Formatted in one go like :func:`pos` (a crowd re-aiming sends many).
    """
    dest = entity.dest
    assert dest is not None
    line = "wlk %d,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f\n" % (  # noqa: UP031
        entity.id,
        entity.x,
        entity.y,
        entity.z,
        dest[0],
        dest[1],
        dest[2],
        entity.speed,
    )
    if "-0.00" in line:
        numbers = (entity.x, entity.y, entity.z, *dest, entity.speed)
        return f"wlk {entity.id},{','.join(coord(n) for n in numbers)}\n"
    return line


def delete(entity_id: int) -> str:
    """``del id``: an entity left."""
    return f"del {entity_id}\n"


def say(entity: Located, text: str) -> str:
    """``say id,name,text``: someone said *text*."""
    return format_line("say", entity.id, entity.name, text)


#: The id a ``say`` carries for a speaker on another shard (entity ids are
#: positive), and a ``msg`` from the game itself rather than from a thing.
ELSEWHERE = 0


def msg(sender_id: int, name: str, text: str) -> str:
    """``msg id,name,text``: entity *sender_id* (``name``) tells you *text*, privately.

    What a thing answers when it is used, or tells one player; id 0 is the
    game itself (a rule, not a thing in the world).
    """
    return format_line("msg", sender_id, name, text)


def say_elsewhere(name: str, text: str) -> str:
    """``say 0,name,text``: *name*, playing on another shard, said *text* world-wide."""
    return format_line("say", ELSEWHERE, name, text)


def err(code: str, message: str) -> str:
    """``err code,message``: a request failed."""
    return format_line("err", code, message)


def ack(command: str) -> str:
    """``ack command``: a command that has no other answer was done (``ack pwd``)."""
    return format_line("ack", command)


def bye(reason: str) -> str:
    """``bye reason``: the server is closing this connection."""
    return format_line("bye", reason)


# -- system messages and who --------------------------------------------------


def system(text: str) -> str:
    """``sys text``: a message from the server or its operator, not from a player.

    Named ``system``, not ``sys``, so as not to shadow the standard module.
    """
    return format_line("sys", text)


def who(online: int, in_view: int, names: list[str]) -> str:
    """``who online,in_view,name,...``: players online, players in view, some of their names."""
    return format_line("who", online, in_view, *names)
