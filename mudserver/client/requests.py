"""The requests both clients send, written once.

:class:`Requests` turns method calls into protocol lines through the one
method each client defines itself, ``send(code, *args)``: the Twisted client
writes to its transport, the blocking client to its socket.
"""

from __future__ import annotations

import math

__all__ = ["Requests"]


class Requests:
    """``move``, ``say`` and ``idle`` for any class with a ``send(code, *args)``."""

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

    def idle(self) -> None:
        """Send a keepalive now (the clients also do it by themselves)."""
        self.send("idl")
