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

from collections.abc import Callable
from typing import Any

from twisted.internet import tcp

__all__ = ["direct_writer"]


def direct_writer(transport: Any) -> Callable[[bytes], None]:
    """A ``write(data)`` for *transport* that sends at once when it can.

    Made once per connection: what does not change (the kind of transport,
    its socket's ``send``) is looked up here, not on every write.  The
    checks that remain read Twisted's own (undocumented) buffers; a
    transport without them, or of another kind, just gets ``write``.
    """
    if type(transport) is not tcp.Server or not (
        hasattr(transport, "dataBuffer") and hasattr(transport, "_tempDataBuffer")
    ):
        return transport.write  # type: ignore[no-any-return]
    send, write = transport.socket.send, transport.write

    def write_now(data: bytes) -> None:
        t = transport
        if t.dataBuffer or t._tempDataBuffer or t.disconnecting or not t.connected or t.TLS:
            write(data)
            return
        try:
            sent = send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = 0  # write below queues it; the reactor reports the loss
        if sent != len(data):
            write(data[sent:])

    return write_now
