"""Caps on open connections, in total and per address (sans-IO).

Thousands of idle sockets from one host, or from many, must not use up the
server's file descriptors and memory.  The shell asks :meth:`admit` for each
new connection and calls :meth:`release` when an admitted one closes; a
refused connection is told ``bye full`` and closed at once.

(Twisted's ``LimitConnectionsByPeer`` would do the per-address part, but it
does not work on Python 3, and it could not say ``bye full``.)
"""

from __future__ import annotations

__all__ = ["ConnectionLimits"]


class ConnectionLimits:
    """Counts open connections per host and refuses those over a cap."""

    def __init__(self, total: int, per_host: int) -> None:
        if total < 1 or per_host < 1:
            raise ValueError("connection limits must be at least 1")
        self.total = total
        self.per_host = per_host
        self.open = 0
        #: Open connections by host; a host with none has no entry.
        self.by_host: dict[str, int] = {}

    def admit(self, host: str) -> bool:
        """Count a new connection from *host*, unless a cap is reached."""
        count = self.by_host.get(host, 0)
        if self.open >= self.total or count >= self.per_host:
            return False
        self.open += 1
        self.by_host[host] = count + 1
        return True

    def release(self, host: str) -> None:
        """An admitted connection from *host* closed."""
        count = self.by_host.get(host, 0)
        if count <= 0:
            return
        self.open -= 1
        if count == 1:
            del self.by_host[host]
        else:
            self.by_host[host] = count - 1
