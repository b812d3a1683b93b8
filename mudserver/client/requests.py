"""The requests both clients send, written once.

:class:`Requests` turns method calls into protocol lines through the one
method each client defines itself, ``send(code, *args)``: the Twisted client
writes to its transport, the blocking client to its socket.  What differs
between them is how one waits for an answer (a Deferred, or blocking), so
the requests that have one (``login``, ``register``, ``change_password``,
``use``) are each client's own, built on :func:`use_args` and
:mod:`mudserver.client.answers`.
"""

from __future__ import annotations

import math
from typing import Protocol

from mudserver.wire.commands import DEFAULT_VERB, VERB_RE

__all__ = ["DEFAULT_USE_WAIT", "HasId", "Requests", "use_args"]

#: Seconds a ``use`` waits for the thing's ``msg`` before it counts as
#: unanswered: the answer comes with the next tick (a tenth of a second by
#: default) plus the round trip, and a thing need not answer at all.
DEFAULT_USE_WAIT = 1.0


class HasId(Protocol):
    """An entity of the mirror (or a message about one): anything with an ``id``."""

    @property
    def id(self) -> int: ...


def use_args(target: int | HasId, verb: str, text: str) -> tuple[int, list[object]]:
    """The thing's id and the arguments of its ``use`` line, checked as the server would.

    The verb is left out when it is the default and there is no text, so a
    plain ``use`` is the shortest line, ``use 7``.  ``ValueError`` for an id
    that is no entity's or a verb the server would refuse (``badarg``).
    """
    entity_id = target if isinstance(target, int) else target.id
    if isinstance(entity_id, bool) or not isinstance(entity_id, int) or entity_id < 1:
        raise ValueError(f"not the id of a thing: {entity_id!r}")
    verb = verb.strip().lower()
    if not VERB_RE.fullmatch(verb):
        raise ValueError(f"a verb is a word of up to 16 letters, digits or _, not {verb!r}")
    if text:
        return entity_id, [entity_id, verb, text]
    return entity_id, [entity_id] if verb == DEFAULT_VERB else [entity_id, verb]


class Requests:
    """``move``, ``say``, ``who`` and ``idle`` for any class with a ``send(code, *args)``."""

    def send(self, code: str, *args: object) -> None:
        raise NotImplementedError

    def move(self, x: float, y: float, z: float) -> None:
        """Walk toward (x, y, z).  No reply: a ``wlk`` (version 2) or ``pos`` lines (1) follow."""
        values = [float(v) for v in (x, y, z)]
        if not all(math.isfinite(v) for v in values):
            raise ValueError("coordinates must be finite numbers")
        self.send("mov", *(repr(v) for v in values))

    def say(self, text: str) -> None:
        """Chat to everybody; the text is enquoted, so any text arrives intact."""
        if not text:
            raise ValueError("say needs some text")
        self.send("say", text)

    def who(self) -> None:
        """Ask who is online and in view; the answer arrives as a ``WhoList``."""
        self.send("who")

    def idle(self) -> None:
        """Send a keepalive now (the clients also do it by themselves)."""
        self.send("idl")
