"""Write to a TCP transport straight away when nothing is queued ahead.

Twisted's ``transport.write`` only buffers: it registers the socket for
writability (an ``epoll_ctl``), the reactor wakes up, sends, and unregisters
it (another ``epoll_ctl``), all through several layers of Python per write.
A game server writes to every client every tick, so that machinery costs
more than the game.  When the transport has nothing queued, one
``send(2)`` right away delivers the same bytes in the same order; whatever
the kernel does not take is handed to ``transport.write`` as usual, so
buffering, producers and flow control work exactly as before.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import tcp

__all__ = ["write_now"]


def _queued(transport: Any) -> bool:
    """Whether the transport holds unsent data (or we cannot tell).

    These are Twisted's own (undocumented) buffers; a Twisted without them
    makes us answer "queued", which falls back to a plain ``write``.
    """
    try:
        return bool(transport.dataBuffer or transport._tempDataBuffer)
    except AttributeError:
        return True


def write_now(transport: Any, data: bytes) -> None:
    """Send *data* on *transport*, directly if nothing else is waiting to go."""
    if (
        type(transport) is tcp.Server
        and transport.connected
        and not transport.disconnecting
        and not _queued(transport)
        and not getattr(transport, "TLS", False)
    ):
        try:
            sent = transport.socket.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = 0  # transport.write below queues it; the reactor reports the loss
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)
