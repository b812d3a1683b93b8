"""The Twisted client: a line protocol that types, mirrors and keeps alive.

:class:`MudClient` is what :func:`connect` hands back.  It sends commands
(every argument enquoted), turns every server line into a typed message
(:mod:`mudserver.client.messages`), folds it into :attr:`MudClient.world`
and passes it to the listener's ``docmd(client, message)``, the hook the
seed client had.  Because the server drops connections that stay silent for
its idle timeout (15 s by default), the client sends ``idl`` by itself after
*keepalive* seconds without sending anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from mudserver.client.answers import (
    LOGIN_ERRORS,
    PASSWORD_ERRORS,
    SIGNUP_ERRORS,
    USE_ERRORS,
    Request,
    Waiting,
    outcome,
)
from mudserver.client.errors import ConnectionClosed, ServerError
from mudserver.client.messages import Bye, Message, Told, Welcome, parse
from mudserver.client.mirror import WorldMirror
from mudserver.client.requests import DEFAULT_USE_WAIT, HasId, Requests, use_args
from mudserver.client.tls import twisted_options
from mudserver.wire.encoding import format_line

__all__ = [
    "DEFAULT_KEEPALIVE",
    "DEFAULT_VERSION",
    "VERSIONS",
    "ConnectionClosed",
    "Listener",
    "MudClient",
    "ServerError",
    "connect",
]

#: Protocol versions this client library speaks (the third argument of ``con``).
VERSIONS = ("1", "2")
#: Version 2 by default: one ``wlk`` per walk instead of a ``pos`` per tick,
#: and the world mirror works out positions in between by itself.
DEFAULT_VERSION = "2"
#: Seconds without sending before an automatic ``idl``: well under the
#: server's default idle timeout of 15 s, so one lost tick never matters.
DEFAULT_KEEPALIVE = 5.0
#: What :meth:`MudClient.when_closed` reports when no ``bye`` came first.
CONNECTION_LOST = "connection lost"


def check_version(version: str) -> str:
    """*version* as the wire writes it; ``ValueError`` for one nobody speaks."""
    version = str(version)
    if version not in VERSIONS:
        raise ValueError(f"protocol version must be one of {', '.join(VERSIONS)}, not {version!r}")
    return version


class Listener(Protocol):
    """Anything with the seed client's hook; called once per server line."""

    def docmd(self, client: Any, cmd: Message) -> object: ...


class MudClient(Requests, LineReceiver):
    """One connection to a mudserver, seen from the client side."""

    delimiter = b"\n"
    #: Far above anything the server sends; only a broken peer gets near it.
    MAX_LENGTH = 1 << 20
    log = Logger()

    def __init__(
        self,
        listener: Listener | None = None,
        *,
        version: str = DEFAULT_VERSION,
        clock: IReactorTime | None = None,
        keepalive: float | None = DEFAULT_KEEPALIVE,
    ) -> None:
        #: The protocol version :meth:`login` asks for.
        self.version = check_version(version)
        if clock is None:
            from twisted.internet import reactor

            clock = reactor  # type: ignore[assignment]
        self.listener = listener
        self.clock: IReactorTime = clock  # type: ignore[assignment]
        #: Seconds of not sending before an ``idl``; ``None`` or 0 disables it.
        self.keepalive = keepalive
        #: Everything the server has said about the world so far.
        self.world = WorldMirror()
        #: The last ``wel``: who and where this client is logged in.
        self.welcome: Welcome | None = None
        #: Why the connection ended, once it has (see :meth:`when_closed`).
        self.close_reason: str | None = None
        #: What broke the connection, if it did not just close (a TLS error, say).
        self.lost_because: str | None = None
        self._bye_reason: str | None = None
        #: Requests sent and not yet answered, and who waits for each.
        self._waiting = Waiting()
        self._callers: dict[Request, defer.Deferred[Any]] = {}
        self._give_up: dict[Request, IDelayedCall] = {}
        #: Answers that arrived in the chunk being read, fired once it is all handled.
        self._answered: list[tuple[defer.Deferred[Any], Message | ServerError]] = []
        self._close_waiters: list[defer.Deferred[str]] = []
        self._last_sent = 0.0
        self._keepalive_call: IDelayedCall | None = None

    # -- connection life -----------------------------------------------------------

    def connectionMade(self) -> None:
        self._last_sent = self.clock.seconds()
        self._schedule_keepalive()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._stop_keepalive()
        self.close_reason = self._bye_reason or CONNECTION_LOST
        if reason is not None and not reason.check(ConnectionDone):
            # A refused TLS certificate, say: worth more than "connection lost".
            self.lost_because = reason.getErrorMessage()
        for request in self._waiting.clear():
            self._stop_waiting(request).errback(ConnectionClosed(self.close_reason))
        waiters, self._close_waiters = self._close_waiters, []
        for waiter in waiters:
            waiter.callback(self.close_reason)

    def when_closed(self) -> defer.Deferred[str]:
        """Fires with the ``bye`` reason (``quit``, ``timeout``...) or
        ``"connection lost"`` once the connection is gone."""
        if self.close_reason is not None:
            return defer.succeed(self.close_reason)
        d: defer.Deferred[str] = defer.Deferred()
        self._close_waiters.append(d)
        return d

    def close(self) -> defer.Deferred[str]:
        """Drop the connection without a ``bye`` (the server logs you out anyway)."""
        if self.transport is not None and self.close_reason is None:
            self.transport.loseConnection()
        return self.when_closed()

    # -- sending -------------------------------------------------------------------

    def send(self, code: str, *args: object) -> None:
        """Send one command; every argument is enquoted (``str()`` first)."""
        if self.close_reason is not None or self.transport is None:
            raise ConnectionClosed(self.close_reason or "not connected")
        self.transport.write(format_line(code, *args).encode("utf-8"))
        self._last_sent = self.clock.seconds()

    def send_line(self, line: str) -> None:
        """Send *line* as it is, unescaped: for relaying what a person typed."""
        if "\n" in line or "\r" in line:
            raise ValueError("a line cannot contain a line break")
        if self.close_reason is not None or self.transport is None:
            raise ConnectionClosed(self.close_reason or "not connected")
        self.transport.write(line.encode("utf-8") + b"\n")
        self._last_sent = self.clock.seconds()

    def login(
        self, name: str, password: str, version: str | None = None
    ) -> defer.Deferred[Welcome]:
        """Send ``con`` (with :attr:`version` unless *version* is given); fires
        with the :class:`Welcome`, or fails with a :class:`ServerError`
        (``BadLogin``, ``BadProtocol``, ``AlreadyLoggedIn``, ``TooFast``,
        ``Unavailable``) or :class:`ConnectionClosed` (``banned``).

        It fires once the data that came with ``wel`` has been handled, so
        the entities the server listed in the same packet are already in
        :attr:`world`.
        """
        version = self.version if version is None else version
        return self._ask(Request("login", LOGIN_ERRORS), "con", name, password, version)

    def register(
        self, name: str, password: str, version: str | None = None
    ) -> defer.Deferred[Welcome]:
        """Create the account *name* and log in (``new``); fires as :meth:`login` does.

        Fails with ``NameTaken``, ``BadName``, ``WeakPassword``,
        ``RegistrationClosed``, ``TooManySignups``, ``Unavailable`` (nothing was
        written), or :class:`ConnectionClosed` with reason ``banned`` for a
        banned name; ``UnknownCommand`` from a server without sign-ups.
        """
        version = self.version if version is None else version
        return self._ask(Request("login", SIGNUP_ERRORS), "new", name, password, version)

    def change_password(self, old: str, new: str) -> defer.Deferred[None]:
        """Change this account's password (``pwd``); fires with ``None`` on ``ack pwd``.

        Fails with ``WrongPassword`` (*old* is not the password),
        ``WeakPassword``, ``Unavailable`` or ``NotLoggedIn``.
        """
        d = self._ask(Request("password", PASSWORD_ERRORS), "pwd", old, new)
        return d.addCallback(lambda _: None)

    def use(
        self, target: int | HasId, verb: str = "use", text: str = "", wait: float = DEFAULT_USE_WAIT
    ) -> defer.Deferred[Told | None]:
        """Act on a thing (``use id[,verb[,text]]``): read a sign, talk to someone.

        *target* is its id or its entity in :attr:`world`.  Fires with the
        thing's answer (a :class:`Told`), or with ``None`` when none came
        within *wait* seconds (a thing need not answer; what it did may show
        otherwise, as a ``del``).  Fails with ``NoSuchThing``, ``TooFar``,
        ``BadVerb``, ``BrokenThing`` or ``TooFast``.
        """
        entity_id, args = use_args(target, verb, text)
        request = Request("use", USE_ERRORS, entity_id)
        d: defer.Deferred[Told | None] = self._ask(request, "use", *args)
        self._give_up[request] = self.clock.callLater(wait, self._unanswered, request)
        return d

    def _ask(self, request: Request, code: str, *args: object) -> defer.Deferred[Any]:
        """Send a request and wait for its answer (see :mod:`mudserver.client.answers`)."""
        self.send(code, *args)
        d: defer.Deferred[Any] = defer.Deferred()
        self._callers[self._waiting.add(request)] = d
        return d

    def _unanswered(self, request: Request) -> None:
        self._give_up.pop(request, None)
        if self._waiting.discard(request):
            self._stop_waiting(request).callback(None)

    def _stop_waiting(self, request: Request) -> defer.Deferred[Any]:
        timer = self._give_up.pop(request, None)
        if timer is not None and timer.active():
            timer.cancel()
        return self._callers.pop(request)

    def quit(self) -> defer.Deferred[str]:
        """Log out with ``bye``; fires with the close reason (``quit``)."""
        self._stop_keepalive()
        if self.close_reason is None:
            self.send("bye")
        return self.when_closed()

    # -- keepalive -----------------------------------------------------------------

    def _schedule_keepalive(self) -> None:
        if not self.keepalive:
            return
        delay = max(0.0, self._last_sent + self.keepalive - self.clock.seconds())
        self._keepalive_call = self.clock.callLater(delay, self._keepalive_due)

    def _keepalive_due(self) -> None:
        self._keepalive_call = None
        if self.close_reason is not None:
            return
        # Anything sent since the timer was set pushes the idl further out.
        if self.keepalive and self.clock.seconds() - self._last_sent >= self.keepalive:
            self.send("idl")
        self._schedule_keepalive()

    def _stop_keepalive(self) -> None:
        if self._keepalive_call is not None and self._keepalive_call.active():
            self._keepalive_call.cancel()
        self._keepalive_call = None

    # -- receiving -----------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)
        # Login results wait until every line of this chunk is handled, so
        # that the ent lines sent together with wel are in the mirror.
        answered, self._answered = self._answered, []
        for d, result in answered:
            if isinstance(result, ServerError):
                d.errback(result)
            else:
                d.callback(result)

    def lineReceived(self, line: bytes) -> None:
        self.message_received(parse(line.decode("utf-8", errors="replace")))

    def lineLengthExceeded(self, line: bytes) -> None:
        self.log.warn("server line of {size} bytes: dropping the connection", size=len(line))
        self.transport.loseConnection()

    def message_received(self, message: Message) -> None:
        """Update the mirror and the requests waiting, then tell the listener."""
        self.world.apply(message)
        request = self._waiting.answer(message)
        if request is not None:
            self._answered.append((self._stop_waiting(request), outcome(message)))
        match message:
            case Welcome():
                self.welcome = message
            case Bye(reason=reason):
                self._bye_reason = reason
                self._stop_keepalive()
        if self.listener is not None:
            try:
                self.listener.docmd(self, message)
            except Exception:
                # A buggy listener must not take the connection down with it.
                self.log.failure("listener failed on {message!r}", message=message)


def connect(
    host: str,
    port: int,
    listener: Listener | None = None,
    *,
    version: str = DEFAULT_VERSION,
    reactor: Any = None,
    keepalive: float | None = DEFAULT_KEEPALIVE,
    timeout: float = 10.0,
    tls: bool = False,
    verify: bool = True,
    cafile: str | Path | None = None,
) -> defer.Deferred[MudClient]:
    """Connect to a server; fires with the connected :class:`MudClient`.

    *version* is the protocol version its :meth:`~MudClient.login` asks for:
    ``"2"`` (walks as one ``wlk`` each) or ``"1"`` (a ``pos`` every tick).

    Fails with Twisted's ``ConnectError`` family when nobody listens.  With
    *tls*, see :mod:`mudserver.client.tls` for *verify* and *cafile*.
    """
    if reactor is None:
        from twisted.internet import reactor
    client = MudClient(listener, version=version, clock=reactor, keepalive=keepalive)
    return connectProtocol(
        client_endpoint(reactor, host, port, timeout, tls, verify, cafile), client
    )


def client_endpoint(
    reactor: Any,
    host: str,
    port: int,
    timeout: float = 10.0,
    tls: bool = False,
    verify: bool = True,
    cafile: str | Path | None = None,
) -> IStreamClientEndpoint:
    """A TCP endpoint to *host*:*port*, wrapped in TLS if asked for."""
    endpoint: IStreamClientEndpoint = HostnameEndpoint(reactor, host, port, timeout=timeout)
    if tls:
        endpoint = wrapClientTLS(twisted_options(host, verify, cafile), endpoint)
    return endpoint
