"""Who may connect, and what the connections share: :class:`MudFactory`.

It builds a :class:`~mudserver.shell.protocol.MudProtocol` per connection and
carries what they share (the game, the clock, the logins, the server's
name for MUD clients), refuses a banned address or one over the
connection caps with a one-line :class:`RefusedProtocol`, logs refusals at a
bounded rate, and tells the service when the last connection has closed.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from mudserver.config import Presentation
from mudserver.core.game import Game
from mudserver.limits.connlimit import ConnectionLimits
from mudserver.shell.protocol import LoginService, MudProtocol

__all__ = ["REFUSAL_LOG_INTERVAL", "MudFactory", "RefusedProtocol"]

#: Seconds between two log lines about refused connections.
REFUSAL_LOG_INTERVAL = 10.0


def _codebase() -> str:
    try:
        return f"mudserver {metadata.version('mudserver')}"
    except metadata.PackageNotFoundError:
        return "mudserver"  # run from a checkout that was never installed


class RefusedProtocol(Protocol):
    """A connection refused at once: ``bye full`` (over the limits) or ``bye banned``.

    Aborted if still open after *grace* seconds: over TLS the close waits
    for the handshake, and a client that never makes one would otherwise
    hold its socket for good, uncounted by the limits that refused it.
    """

    def __init__(self, clock: IReactorTime, grace: float, reason: str = "full") -> None:
        self.reason = reason
        self._clock = clock
        self._grace = grace
        self._abort: IDelayedCall | None = None

    def connectionMade(self) -> None:
        self.transport.write(f"bye {self.reason}\n".encode())
        self.transport.loseConnection()
        self._abort = self._clock.callLater(self._grace, self.transport.abortConnection)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self._abort is not None and self._abort.active():
            self._abort.cancel()


class MudFactory(Factory):
    """Builds a :class:`MudProtocol` per connection and tracks them."""

    protocol = MudProtocol
    log = Logger()
    noisy = False  # one log line per connection is the protocol's job

    def __init__(
        self,
        game: Game,
        login: LoginService,
        clock: IReactorTime,
        transport_buffer_size: int = 64 * 1024,
        presentation: Presentation | None = None,
    ) -> None:
        self.game = game
        #: Where passwords are checked: :class:`~mudserver.shell.login.Logins`.
        self.login = login
        self.clock = clock
        #: Name and Telnet policy shown to MUD clients and crawlers.
        self.presentation = presentation or Presentation()
        #: When the server started, on the clock's scale (Unix time for the reactor).
        self.started = clock.seconds()
        #: ``mudserver 0.1.0``, for MSSP's ``CODEBASE``.
        self.codebase = _codebase()
        #: The transport's own buffer size (Twisted's ``FileDescriptor.bufferSize``).
        self.transport_buffer_size = transport_buffer_size
        self.connections: set[MudProtocol] = set()
        self._all_closed: list[defer.Deferred[None]] = []
        settings = game.settings
        self.limits = ConnectionLimits(settings.max_connections, settings.max_connections_per_ip)
        #: Connections refused since the last log line about it.
        self._refused = 0
        self._refused_logged = float("-inf")

    def buildProtocol(self, addr: Any) -> Protocol | None:
        """A :class:`MudProtocol`, or a :class:`RefusedProtocol` if banned or over the limits.

        A banned address is refused before it counts against the limits, and
        only at debug level: a banned flooder must not flood the log.
        """
        host = str(getattr(addr, "host", addr))
        if self.game.bans.address_banned(host, self.clock.seconds()):
            self.log.debug("refused banned address {host}", host=host)
            return RefusedProtocol(self.clock, self.game.settings.close_grace, "banned")
        if not self.limits.admit(host):
            self._log_refusal(host)
            return RefusedProtocol(self.clock, self.game.settings.close_grace)
        protocol = super().buildProtocol(addr)
        protocol.host = host
        return protocol

    def _log_refusal(self, host: str) -> None:
        """Log refusals at most every ``REFUSAL_LOG_INTERVAL``: a flood must not flood the log."""
        self._refused += 1
        now = self.clock.seconds()
        if now - self._refused_logged >= REFUSAL_LOG_INTERVAL:
            self.log.warn(
                "server full: refused {count} connections (latest from {host}); "
                "{open} open, {from_host} from that host",
                count=self._refused,
                host=host,
                open=self.limits.open,
                from_host=self.limits.by_host.get(host, 0),
            )
            self._refused, self._refused_logged = 0, now

    def connection_closed(self, protocol: MudProtocol) -> None:
        self.limits.release(protocol.host)
        self.connections.discard(protocol)
        if not self.connections:
            waiting, self._all_closed = self._all_closed, []
            for d in waiting:
                d.callback(None)

    def when_all_closed(self) -> defer.Deferred[Any]:
        """A Deferred that fires once no connection is open."""
        if not self.connections:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._all_closed.append(d)
        return d
