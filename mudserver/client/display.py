"""Server messages in words, for a person watching a terminal.

Movement is summarised, never printed tick by tick.  In protocol version 2
(the default) the server says where a walk goes (``wlk``) and where it ends
(``pos``), so the display prints "bar walks to ..." and then "bar arrived
at ..." (or "bar stands at ..." when the walk stopped short).  In version 1
a walking player produces a ``pos`` line ten times a second; the display
prints an *arrival* only: for your own player when it reaches the
destination you asked for, and for anybody when their ``pos`` lines stop for
a moment (``settle`` seconds, or longer if the server ticks slowly).
Everything else gets one line.

Things (entities of a kind other than ``player``: NPCs, creatures, signs) are
named with their kind, ``greeter [npc] appeared at ...``, and what they tell
you alone (``msg``) reads ``signpost tells you: ...``.  Their walks are not
narrated: a few wandering creatures would bury the chat under "walks to"
lines; ``/who`` shows where they are and where they head.

Text from other players is shown with control characters made visible, so
nobody can send escape sequences to your terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from mudserver.client.messages import (
    Ack,
    Delete,
    Entered,
    Error,
    Message,
    Position,
    Said,
    System,
    Told,
    Unknown,
    Walk,
    Welcome,
    WhoList,
)
from mudserver.wire.replies import coord

__all__ = ["BYE_REASONS", "ERROR_LEADS", "Display", "visible", "where"]

#: Why the server closed the connection, in words (``bye`` reasons).
BYE_REASONS = {
    "quit": "you quit",
    "timeout": "nothing was sent for too long",
    "toolong": "a line was too long",
    "badlogin": "too many failed logins",
    "replaced": "your account logged in from another connection",
    "shutdown": "the server is stopping; your position was saved",
    "kicked": "an operator disconnected you",
    "banned": "you are banned from this server",
}

#: What an ``err`` answered, in words, by its code (the rest are "error").
ERROR_LEADS = {
    "badlogin": "login failed",
    "badproto": "login failed",
    "unavailable": "not now",
    "taken": "sign-up failed",
    "badname": "sign-up failed",
    "closed": "sign-up failed",
    "toomany": "sign-up failed",
    "weakpass": "password too weak",
    "badpass": "password not changed",
    "nosuch": "cannot use that",
    "toofar": "cannot use that",
    "badverb": "cannot use that",
    "broken": "cannot use that",
}

#: The kind of entity a client plays; every other kind is a thing.
PLAYER = "player"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """*text* with control characters shown as ``\\x1b`` and so on."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def where(x: float, y: float, z: float) -> str:
    """A position as the server writes it: ``(1.00, 0.00, 3.00)``."""
    return f"({coord(x)}, {coord(y)}, {coord(z)})"


class Display:
    """Turns messages into lines for *write*; tracks walkers to report arrivals."""

    def __init__(
        self,
        write: Callable[[str], None],
        clock: IReactorTime,
        settle: float = 0.5,
        version: str = "2",
    ) -> None:
        self.write = write
        self.clock = clock
        #: The protocol version of the login: it decides what a ``pos`` means.
        self.version = version
        #: Seconds without ``pos`` after which an entity counts as arrived.
        self.settle = settle
        self.self_id: int | None = None
        self.names: dict[int, str] = {}
        #: The kind of every entity in view that is not a player.
        self.things: dict[int, str] = {}
        #: Where I asked to go, as the server will print it.
        self.destination: tuple[str, str, str] | None = None
        self._where: dict[int, tuple[float, float, float]] = {}
        #: Where each walking entity is headed, from its ``wlk`` (version 2).
        self._walks: dict[int, tuple[float, float, float]] = {}
        self._last_pos: dict[int, float] = {}
        self._timers: dict[int, IDelayedCall] = {}
        self._listing = False
        self._listing_call: IDelayedCall | None = None

    def moving_to(self, x: float, y: float, z: float) -> None:
        """Remember my destination, so my arrival is reported on the spot."""
        self.destination = (coord(x), coord(y), coord(z))

    def show(self, message: Message) -> None:
        match message:
            case Welcome(id=entity_id, name=name):
                self._forget_all()
                self.things.clear()
                self.self_id = entity_id
                self.names[entity_id] = name
                at = where(*message.position)
                self.write(f"logged in as {visible(name)} (entity {entity_id}) at {at}")
                # The ent lines that come with wel list who is already here.
                self._listing = True
                self._listing_call = self.clock.callLater(0, self._end_listing)
            case Entered(id=entity_id, name=name, kind=kind):
                self.names[entity_id] = name
                if kind != PLAYER:
                    self.things[entity_id] = kind
                self._where[entity_id] = message.position
                self._walks.pop(entity_id, None)  # back in view: a wlk follows if it walks
                if entity_id != self.self_id:
                    verb = "is here" if self._listing else "appeared"
                    self.write(f"{self._who(entity_id)} {verb} at {where(*message.position)}")
            case Walk(id=entity_id) | Position(id=entity_id) if entity_id in self.things:
                self._where[entity_id] = message.position  # things' walks go untold
            case Walk(id=entity_id):
                self._walks[entity_id] = message.target
                self._where[entity_id] = message.position
                if entity_id != self.self_id:
                    self.write(f"{self._who(entity_id)} walks to {where(*message.target)}")
            case Position(id=entity_id) if self.version == "1":
                self._moved(entity_id, message.position)
            case Position(id=entity_id):
                self._stood(entity_id, message.position)
            case Delete(id=entity_id):
                self._cancel(entity_id)
                self._where.pop(entity_id, None)
                self._walks.pop(entity_id, None)
                who = self._who(entity_id) if entity_id in self.names else f"entity {entity_id}"
                self.names.pop(entity_id, None)
                self.things.pop(entity_id, None)
                self.write(f"{who} left")
            case Said(id=entity_id, name=name, text=text):
                kind = self.things.get(entity_id)
                label = f"{visible(name)} [{visible(kind)}]" if kind else visible(name)
                self.write(f"{label} says: {visible(text)}")
            case Told(id=0, text=text):
                self.write(f"the game tells you: {visible(text)}")
            case Told(name=name, text=text):
                self.write(f"{visible(name)} tells you: {visible(text)}")
            case Ack(what="pwd"):
                self.write("password changed")
            case System(text=text):
                self.write(f"*** {visible(text)}")
            case WhoList(online=online, in_view=in_view, names=names):
                self.write(self._who_text(online, in_view, names))
            case Error(error=code, message=text):
                lead = ERROR_LEADS.get(code, "error")
                if code == "unavailable" and self.self_id is None:
                    lead = "login failed"
                self.write(f"{lead}: {visible(text)}")
            case Unknown(problem=problem) if problem is not None:
                self.write(f"(ignored a line the client does not understand: {visible(problem)})")

    @staticmethod
    def _who_text(online: int, in_view: int, names: tuple[str, ...]) -> str:
        text = f"{online} player{'' if online == 1 else 's'} online"
        if not in_view:
            return f"{text}; nobody else in view"
        shown = ", ".join(visible(name) for name in names)
        more = f" and {in_view - len(names)} more" if in_view > len(names) else ""
        return f"{text}; in view: {shown}{more}"

    def stop(self) -> None:
        """Cancel pending arrival reports (the connection is over)."""
        self._forget_all()
        if self._listing_call is not None and self._listing_call.active():
            self._listing_call.cancel()

    # -- arrivals ------------------------------------------------------------------

    def _who(self, entity_id: int) -> str:
        """How an entity is named: "you", a player's name, a thing's name and kind."""
        if entity_id == self.self_id:
            return "you"
        name = visible(self.names.get(entity_id, "?"))
        kind = self.things.get(entity_id)
        return f"{name} [{visible(kind)}]" if kind else name

    def _stood(self, entity_id: int, position: tuple[float, float, float]) -> None:
        """Version 2: a ``pos`` means the entity stands there, walk over."""
        self._where[entity_id] = position
        target = self._walks.pop(entity_id, None)
        if entity_id == self.self_id:
            self.destination = None
        # No wlk before it: a walk so short it ended in the tick it began.
        if target is None or _same_spot(target, position):
            self.write(f"{self._who(entity_id)} arrived at {where(*position)}")
        else:
            verb = "stand" if entity_id == self.self_id else "stands"
            self.write(f"{self._who(entity_id)} {verb} at {where(*position)}")

    def _moved(self, entity_id: int, position: tuple[float, float, float]) -> None:
        self._where[entity_id] = position
        now = self.clock.seconds()
        previous = self._last_pos.get(entity_id)
        self._last_pos[entity_id] = now
        self._cancel(entity_id)
        if entity_id == self.self_id and self.destination == tuple(coord(v) for v in position):
            self.destination = None
            self._arrived(entity_id)
            return
        # 2.5 times the gap between two pos lines, in case the server ticks slowly.
        wait = self.settle if previous is None else max(self.settle, 2.5 * (now - previous))
        self._timers[entity_id] = self.clock.callLater(min(wait, 5.0), self._arrived, entity_id)

    def _arrived(self, entity_id: int) -> None:
        self._timers.pop(entity_id, None)
        self._last_pos.pop(entity_id, None)
        position = self._where.get(entity_id)
        if position is None:
            return
        self.write(f"{self._who(entity_id)} arrived at {where(*position)}")

    def _cancel(self, entity_id: int) -> None:
        timer = self._timers.pop(entity_id, None)
        if timer is not None and timer.active():
            timer.cancel()

    def _forget_all(self) -> None:
        for entity_id in list(self._timers):
            self._cancel(entity_id)
        self._last_pos.clear()
        self._walks.clear()

    def _end_listing(self) -> None:
        self._listing = False
        self._listing_call = None


def _same_spot(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    """Equal as the server prints them (two decimals)."""
    return all(coord(u) == coord(v) for u, v in zip(a, b, strict=True))
