"""In-process harness for protocol tests: a MudFactory on StringTransports and a task.Clock.

No reactor runs: timers fire only when a test advances :attr:`Harness.clock`,
and the game ticks only when a test says so (:meth:`Harness.tick` steps the
game alone; :meth:`Harness.advance` lets time pass first, as the running
service does).  Passwords are checked by a stand-in the test picks:
:class:`StoreLogins` (a real account store), :class:`FakeLogins` (a table,
counting its calls) or :class:`PendingLogins` (answered when the test says).

``tests/support.py`` holds the other kind of harness: the real server in a
subprocess, and blocking socket clients.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from twisted.internet import defer, task
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python.failure import Failure

from mudserver.account import Account, AccountExists
from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.shell.factory import MudFactory
from mudserver.store.files import FileStore
from mudserver.store.passwords import ScryptParams

#: Password hashing cheap enough for tests that create and check many accounts.
CHEAP = ScryptParams(n=2**4)

#: The accounts every harness knows, with their passwords (as in ``data/``).
PASSWORDS = {"foo": "1234", "bar": "4321"}

#: The only non-line bytes the server sends: its refusal (WONT/DONT) of a
#: Telnet option the client offered or asked for.
TELNET_REFUSAL = re.compile(rb"\xff[\xfc\xfe].", flags=re.S)


def without_telnet_replies(data: bytes) -> bytes:
    return TELNET_REFUSAL.sub(b"", data)


@contextmanager
def log_events(
    keep: Callable[[dict[str, Any]], bool] = lambda event: True,
) -> Iterator[list[dict[str, Any]]]:
    """The events published to Twisted's global log inside the ``with`` that *keep* accepts."""
    events: list[dict[str, Any]] = []

    def observe(event: dict[str, Any]) -> None:
        if keep(event):
            events.append(event)

    globalLogPublisher.addObserver(observe)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(observe)


def is_error(event: dict[str, Any]) -> bool:
    """A logged failure, or an event at level error or above."""
    level = event.get("log_level")
    return "log_failure" in event or (level is not None and level >= LogLevel.error)


# -- password checks -------------------------------------------------------------------

#: Checks a name and password; fires with the account, or ``None``.
Authenticator = Callable[[str, str], "defer.Deferred[Account | None]"]


def _refused(*args: object) -> defer.Deferred[Any]:
    return defer.fail(NotImplementedError("this test's logins cannot do that"))


class Desk:
    """A :class:`~mudserver.shell.protocol.LoginService` made of a test's password check.

    Sign-ups and password changes go to the check's own ``sign_up`` and
    ``change_password`` when it has them (:class:`StoreLogins`, :class:`FakeLogins`).
    """

    def __init__(self, authenticate: Authenticator) -> None:
        self.authenticate = authenticate
        self.sign_up = getattr(authenticate, "sign_up", _refused)
        self.change_password = getattr(authenticate, "change_password", _refused)
        #: Logins that were checked but never joined, as the connections reported them.
        self.abandoned_names: list[str] = []

    def abandoned(self, name: str) -> None:
        self.abandoned_names.append(name)


class StoreLogins:
    """Checks, makes and changes passwords in a real account store, answering at once."""

    def __init__(self, store: FileStore) -> None:
        self.store = store

    def __call__(self, name: str, password: str) -> defer.Deferred[Account | None]:
        return defer.succeed(self.store.authenticate(name, password))

    def sign_up(self, name: str, password: str) -> defer.Deferred[Account]:
        return defer.maybeDeferred(self.store.create, name, password)

    def change_password(
        self, name: str, old: str, new: str
    ) -> defer.Deferred[dict[str, Any] | None]:
        account = self.store.authenticate(name, old)
        if account is None:
            return defer.succeed(None)
        record = self.store.hash(new)
        self.store.upgrade_password(name, account.password, record)
        return defer.succeed(record)


class FakeLogins:
    """Checks passwords against a copy of :data:`PASSWORDS`, answering at once and
    counting the calls; sign-ups and password changes change the copy."""

    def __init__(self) -> None:
        self.checks: list[tuple[str, str]] = []
        self.passwords = dict(PASSWORDS)

    def __call__(self, name: str, password: str) -> defer.Deferred[Account | None]:
        self.checks.append((name, password))
        if self.passwords.get(name.lower()) == password:
            return defer.succeed(Account(name.lower(), {}, 0.0, 0.0, 0.0))
        return defer.succeed(None)

    def sign_up(self, name: str, password: str) -> defer.Deferred[Account]:
        self.checks.append((name, password))
        if name.lower() in self.passwords:
            return defer.fail(AccountExists(name))
        self.passwords[name.lower()] = password
        return defer.succeed(Account(name, {}))

    def change_password(
        self, name: str, old: str, new: str
    ) -> defer.Deferred[dict[str, Any] | None]:
        self.checks.append((name, old))
        if self.passwords.get(name.lower()) != old:
            return defer.succeed(None)
        self.passwords[name.lower()] = new
        return defer.succeed({"fake": new})


class PendingLogins:
    """An authenticator whose answers the test gives, one at a time."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, str, defer.Deferred[Account | None]]] = []

    def __call__(self, name: str, password: str) -> defer.Deferred[Account | None]:
        d: defer.Deferred[Account | None] = defer.Deferred()
        self.pending.append((name, password, d))
        return d

    def answer(self, check: Callable[[str, str], Account | None]) -> None:
        """Answer the oldest pending check with what *check* says of its name and password."""
        name, password, d = self.pending.pop(0)
        d.callback(check(name, password))


# -- connections -----------------------------------------------------------------------


class CountingTransport(StringTransport):
    """A ``StringTransport`` that remembers each write, to count them."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        super().write(data)


class Client:
    """One connection: the protocol, its transport, and what it has received."""

    def __init__(self, protocol: Protocol, transport: CountingTransport) -> None:
        self.protocol = protocol
        self.transport = transport
        self._seen = 0
        self.lost = False

    def send(self, *parts: bytes | str) -> None:
        """Deliver *parts* in one ``dataReceived`` call: each text a line, bytes as they are."""
        self.protocol.dataReceived(
            b"".join(p if isinstance(p, bytes) else p.encode("utf-8") + b"\n" for p in parts)
        )

    def received(self) -> bytes:
        """Everything written to this client so far."""
        return self.transport.value()

    def lines(self) -> list[str]:
        """The lines written since the last call, Telnet refusals left out.

        What was written must end with a whole line: the server never leaves
        half a line for the next write.
        """
        data = self.transport.value()
        new, self._seen = without_telnet_replies(data[self._seen :]), len(data)
        assert new.endswith(b"\n") or not new, f"partial line written: {new!r}"
        return new.decode("utf-8").splitlines()

    def login(self, name: str, password: str) -> str:
        """Log in and return the ``wel`` line; the ``ent`` lines are consumed."""
        self.send(f"con {name},{password},1")
        lines = self.lines()
        assert lines and lines[0].startswith("wel "), lines
        return lines[0]

    @staticmethod
    def entity_id(wel: str) -> int:
        return int(wel.split(" ", 1)[1].split(",")[0])

    @property
    def closing(self) -> bool:
        """The server called loseConnection (or abortConnection)."""
        return bool(self.transport.disconnecting)

    @property
    def aborted(self) -> bool:
        return bool(self.transport.disconnected)

    def connection_lost(self, reason: type[Exception] = ConnectionDone) -> None:
        """What the reactor does once the socket is really gone."""
        if not self.lost:
            self.lost = True
            self.protocol.connectionLost(Failure(reason()))


class Harness:
    """A factory with a fake clock, a real game, and a password check the test picks.

    With a *store*, players are saved to it and (unless *authenticate* is
    given) passwords are checked against it; without one, saves are only
    recorded in :attr:`saved` and passwords come from :data:`PASSWORDS`.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: FileStore | None = None,
        authenticate: Authenticator | None = None,
        transport_buffer_size: int = 64 * 1024,
        start: float = 0.0,
    ) -> None:
        self.clock = task.Clock()
        self.clock.advance(start)
        self.store = store
        self.saved: list[Account] = []
        self.game = Game(settings or Settings(), self._save)
        if authenticate is None:
            authenticate = StoreLogins(store) if store is not None else FakeLogins()
        self.authenticate = authenticate
        self.login = Desk(authenticate)
        self.factory = MudFactory(
            self.game, self.login, self.clock, transport_buffer_size=transport_buffer_size
        )
        self.clients: list[Client] = []
        self._port = 40000

    def _save(self, account: Account) -> None:
        self.saved.append(account)
        if self.store is not None:
            self.store.save(account)

    def connect(self, host: str = "127.0.0.1", port: int | None = None) -> Client:
        """A new connection from *host* (a fresh port unless given)."""
        if port is None:
            self._port += 1
            port = self._port
        address = IPv4Address("TCP", host, port)
        protocol = self.factory.buildProtocol(address)
        assert protocol is not None
        transport = CountingTransport(peerAddress=address)
        protocol.makeConnection(transport)
        client = Client(protocol, transport)
        self.clients.append(client)
        return client

    def player(self, name: str, password: str) -> tuple[Client, int]:
        """A new connection, logged in; with its entity id."""
        client = self.connect()
        wel = client.login(name, password)
        return client, client.entity_id(wel)

    def tick(self, dt: float = 0.1) -> None:
        """Step the game only, as ``GameService``'s ``LoopingCall`` does; the clock stays."""
        self.game.tick(dt)

    def advance(self, dt: float = 0.1) -> None:
        """One tick of the running service: time passes, then the game steps."""
        self.clock.advance(dt)
        self.game.tick(dt)

    def lose_all(self) -> None:
        for client in self.clients:
            client.connection_lost()
