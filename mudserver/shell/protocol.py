"""The Twisted shell around a :class:`~mudserver.core.session.Session`: bytes in, bytes out.

:class:`MudProtocol` splits the byte stream into lines (``LineReceiver``),
enforces the transport-level limits (line length, idle timeout, unread
output) and passes every line to its session.  It is the session's
:class:`~mudserver.core.session.Peer`.  :class:`~mudserver.shell.factory.MudFactory`
builds one per connection and carries what they share: the game, the
settings, the clock and the login pipeline.
"""

from __future__ import annotations

from typing import Any, Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer

from mudserver.account import Account, AccountExists
from mudserver.config import Presentation
from mudserver.core.admission import LoginAttempt, PasswordChange, PasswordCheck, SignUpAttempt
from mudserver.core.game import Game
from mudserver.core.session import Session
from mudserver.shell.sendnow import direct_writer
from mudserver.store.base import StoreUnavailable
from mudserver.wire import mssp, replies
from mudserver.wire.gmcp import GmcpChannel
from mudserver.wire.telnet import (
    GMCP,
    MSSP,
    Disabled,
    Enabled,
    Event,
    Subnegotiation,
    TelnetFilter,
    subnegotiation,
)

__all__ = ["OUTPUT_OVERFLOW", "Hub", "LoginService", "MudProtocol", "OutputWatcher"]

#: Why a connection ended whose client left more than ``max_output`` unread
#: (the ``reason`` label of ``mudserver_disconnects``).
OUTPUT_OVERFLOW = "output overflow"

#: The Telnet options the TCP port offers (see :mod:`mudserver.wire.telnet`).
TELNET_OPTIONS = (MSSP, GMCP)


class LoginService(Protocol):
    """What a connection asks of the login pipeline (:class:`~mudserver.shell.login.Logins`)."""

    def authenticate(self, name: str, password: str) -> defer.Deferred[Account | None]:
        """Check a password off the reactor; the account (claimed, newest), or ``None``."""
        ...

    def sign_up(self, name: str, password: str) -> defer.Deferred[Account]:
        """Make the account off the reactor and log it in; AccountExists if taken."""
        ...

    def change_password(
        self, name: str, old: str, new: str
    ) -> defer.Deferred[dict[str, Any] | None]:
        """Check *old* and store *new* off the reactor; the new record, or None if wrong."""
        ...

    def abandoned(self, name: str) -> object:
        """A checked login never joined (its connection went away): let go of it."""
        ...


class Hub(Protocol):
    """What a connection needs from the factory that made it.

    :class:`~mudserver.shell.factory.MudFactory` is one; saying here what a
    connection uses keeps this module below the factory that imports it.
    """

    game: Game
    clock: IReactorTime
    presentation: Presentation
    #: The transport's own buffer size, before unread output piles up in user space.
    transport_buffer_size: int
    connections: set[MudProtocol]
    #: When the server started, and its name and version, for MSSP.
    started: float
    codebase: str
    login: LoginService

    def connection_closed(self, protocol: MudProtocol) -> None:
        """*protocol*'s connection is gone: release what it held."""
        ...


@implementer(IPushProducer)
class OutputWatcher:
    """Measures output a client leaves unread, and drops it past the limit.

    Registered as a streaming producer, it is told by the transport when the
    transport's own buffer is full (``pauseProducing``) and when it has
    drained (``resumeProducing``).  Everything written in between piles up in
    user space, so that is what the limit counts.
    """

    def __init__(self, protocol: MudProtocol, buffer_size: int) -> None:
        self.protocol = protocol
        #: What the transport holds before it pauses us.
        self.buffer_size = buffer_size
        self.paused = False
        self.pending = 0

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self.pending = 0

    def stopProducing(self) -> None:
        self.paused = False

    def wrote(self, size: int) -> bool:
        """Account for *size* more bytes; return whether the limit is passed."""
        if not self.paused:
            return False
        self.pending += size
        return self.buffer_size + self.pending > self.protocol.factory.game.settings.max_output


class MudProtocol(LineReceiver, TimeoutMixin):
    """One client connection."""

    delimiter = b"\n"
    log = Logger()
    factory: Hub
    session: Session
    #: Set when the connection is aborted for unread output: nothing more is
    #: written to it, though the session may still send until connectionLost.
    overflowed = False

    def __init__(self) -> None:
        self._closing_call: IDelayedCall | None = None
        self._drop_reason = "disconnected"
        self.telnet = TelnetFilter()
        #: This connection's GMCP, once the client enabled it; ``None`` costs nothing.
        self.gmcp: GmcpChannel | None = None
        #: The peer's address, as counted by the factory's connection limits.
        self.host = ""

    # -- connection life ---------------------------------------------------------

    def connectionMade(self) -> None:
        settings = self.factory.game.settings
        # One byte more than the limit, so a line of exactly max_line bytes
        # followed by CRLF is still accepted; lineReceived checks the rest.
        self.MAX_LENGTH = settings.max_line + 1
        self.callLater = self.factory.clock.callLater  # for TimeoutMixin
        self.setTimeout(settings.idle_timeout)
        self.watcher = OutputWatcher(self, self.factory.transport_buffer_size)
        #: The game's counters, looked up once: :meth:`send` runs per client per tick.
        self.stats = self.factory.game.stats
        self._write = direct_writer(self.transport)
        self.transport.registerProducer(self.watcher, True)
        peer = self.transport.getPeer()
        label = f"{getattr(peer, 'host', peer)}:{getattr(peer, 'port', '')}"
        self.session = Session(self.factory.game, self, label, host=self.host)
        self.factory.connections.add(self)
        self.log.debug("connection from {label}", label=label)
        self.telnet = TelnetFilter(
            TELNET_OPTIONS,
            offer_at_connect=self.factory.presentation.telnet_offer == "connect",
            max_subnegotiation=settings.max_line,
        )
        offers = self.telnet.start()
        if offers:
            self.send_bytes(offers)

    def connectionLost(self, reason: Failure | None = None) -> None:
        # Protocol never clears this itself; a login check finishing after
        # the connection is gone must not restart its idle timer.
        self.connected = False
        self.setTimeout(None)
        if self._closing_call is not None and self._closing_call.active():
            self._closing_call.cancel()
        self.session.connection_lost(self._drop_reason)
        self.factory.connection_closed(self)

    # -- input ---------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        """Take Telnet out of the stream before it can split or spoil a line."""
        clean, answers, events = self.telnet.receive(data)
        if answers:
            self.send_bytes(answers)
        for event in events:
            self._telnet_event(event)
        # Always passed on, even when empty: resumeProducing() relies on a
        # call with b"" to handle the lines buffered during a login check.
        super().dataReceived(clean)

    def _telnet_event(self, event: Event) -> None:
        match event:
            case Enabled(option=option) if option == MSSP:
                self.send_bytes(subnegotiation(MSSP, mssp.telnet_payload(self._mssp())))
            case Enabled(option=option) if option == GMCP:
                self.gmcp = GmcpChannel()
                self._gmcp_catch_up()
            case Disabled(option=option) if option == GMCP:
                self.gmcp = None
            case Subnegotiation(option=option, payload=payload) if option == GMCP:
                # A message costs like a line: an empty one makes the session
                # count it against the flood limit.
                self.session.line_received(b"", now=self.factory.clock.seconds())
                if self.gmcp is not None and not self.transport.disconnecting:
                    answer = self.gmcp.received(payload)
                    if answer:
                        self.send_bytes(answer)

    def _gmcp_catch_up(self) -> None:
        """GMCP enabled after login: tell the client who and where it is."""
        entity = self.session.entity
        if self.gmcp is None or entity is None:
            return
        self.send_bytes(self.gmcp.translate(replies.wel(entity)))

    def _mssp(self) -> list[tuple[str, str]]:
        factory = self.factory
        return mssp.variables(
            name=factory.presentation.name,
            players=len(factory.game),
            started=factory.started,
            port=getattr(self.transport.getHost(), "port", None),
            codebase=factory.codebase,
            hostname=factory.presentation.hostname,
        )

    def lineReceived(self, line: bytes) -> None:
        self.resetTimeout()
        stats = self.factory.game.stats
        stats.lines_received += 1
        stats.bytes_received += len(line) + 1
        if len(line) > self.factory.game.settings.max_line and not (
            line.endswith(b"\r") and len(line) == self.MAX_LENGTH
        ):
            self.lineLengthExceeded(line)
            return
        now = self.factory.clock.seconds()
        if line.rstrip(b"\r") == mssp.REQUEST:
            # A crawler's plain-text MSSP, before login or after.  An empty
            # line lets the session count it against the flood limit.
            self.session.line_received(b"", now=now)
            if not self.transport.disconnecting:
                self.send_bytes(mssp.plain_reply(self._mssp()))
            return
        work = self.session.line_received(line, now=now)
        if work is not None:
            self._password_work(work)

    def lineLengthExceeded(self, line: bytes) -> None:
        self.session.close("toolong")

    def _password_work(self, work: PasswordCheck) -> None:
        """Run a ``con``, ``new`` or ``pwd`` off the reactor thread, reading nothing meanwhile.

        Pausing keeps later lines buffered, so commands a client pipelines
        after it are handled in order, once it is decided.  The idle clock
        stops meanwhile: the client is waiting for us, and under a burst of
        logins the queue for password work can outlast it.
        """
        self.pauseProducing()
        self.setTimeout(None)
        login, session = self.factory.login, self.session
        d: defer.Deferred[Any]
        match work:
            case LoginAttempt(name, password):
                d = login.authenticate(name, password)
                d.addCallbacks(
                    self._joined,
                    self._failed,
                    callbackArgs=(session.login_checked,),
                    errbackArgs=(work,),
                )
            case SignUpAttempt(name, password):
                d = login.sign_up(name, password)
                d.addCallbacks(
                    self._joined,
                    self._failed,
                    callbackArgs=(session.signed_up,),
                    errbackArgs=(work,),
                )
            case PasswordChange(name, old, new):
                d = login.change_password(name, old, new)
                d.addCallbacks(self._changed, self._failed, errbackArgs=(work,))
        d.addErrback(lambda f: self.log.failure("{work} of {name!r} failed", f, **_about(work)))
        d.addBoth(lambda _: self._resume())

    def _joined(self, account: Account | None, report: Any) -> None:
        """Tell the session; a login it could not take (gone meanwhile) is given back."""
        report(account)
        if account is not None and self.session.account is not account:
            self.factory.login.abandoned(account.name)

    def _changed(self, record: dict[str, Any] | None) -> None:
        if record is None:
            self.session.password_refused()
        else:
            self.session.password_changed(record)

    def _failed(self, failure: Failure, work: PasswordCheck) -> None:
        if failure.check(AccountExists) and isinstance(work, SignUpAttempt):
            self.session.name_taken()
            return
        if failure.check(StoreUnavailable):
            self.log.warn("{work} of {name!r}: {error}", error=failure.value, **_about(work))
            self.session.store_unavailable()
            return
        self.log.failure("could not do the {work} of {name!r}", failure, **_about(work))
        if isinstance(work, LoginAttempt):
            self.session.login_checked(None)
        else:
            self.session.store_unavailable()

    def _resume(self) -> None:
        if self.connected and not self.transport.disconnecting:
            self.setTimeout(self.factory.game.settings.idle_timeout)
            self.resumeProducing()

    def timeoutConnection(self) -> None:
        self.session.close("timeout")

    # -- Peer: what the session calls ----------------------------------------------

    def send(self, text: str) -> None:
        if self.overflowed:
            return  # already aborted; connectionLost is on its way
        data = text.encode()
        if self.gmcp is not None:  # the only cost to connections without GMCP
            data += self.gmcp.translate(text)
        # send_bytes() inlined: this runs per client per tick.
        self._write(data)
        stats = self.stats
        stats.lines_sent += text.count("\n")
        size = len(data)
        stats.bytes_sent += size
        # Only a paused transport piles up output: skip the call otherwise.
        watcher = self.watcher
        if watcher.paused and watcher.wrote(size):
            self._overflow()

    def send_bytes(self, data: bytes) -> None:
        """Write Telnet bytes, counted against the unread-output limit like lines."""
        if self.overflowed:
            return
        self._write(data)
        self.stats.bytes_sent += len(data)
        watcher = self.watcher
        if watcher.paused and watcher.wrote(len(data)):
            self._overflow()

    def _overflow(self) -> None:
        self.overflowed, self._drop_reason = True, OUTPUT_OVERFLOW
        self.log.info("dropping {label}: output not read", label=self.session.label)
        self.transport.abortConnection()

    def close(self) -> None:
        """Close after the last line is delivered, or abort if it never is."""
        self.setTimeout(None)
        # A registered producer would be resumed when the buffer drains,
        # instead of the transport finishing its close.
        self.transport.unregisterProducer()
        self.transport.loseConnection()
        if self._closing_call is None:
            self._closing_call = self.factory.clock.callLater(
                self.factory.game.settings.close_grace, self.transport.abortConnection
            )


def _about(work: PasswordCheck) -> dict[str, str]:
    """What the log says of password work: which command, for which account."""
    kind = {LoginAttempt: "login", SignUpAttempt: "sign-up", PasswordChange: "password change"}
    return {"work": kind[type(work)], "name": work.name}
