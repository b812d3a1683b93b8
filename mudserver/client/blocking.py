"""A client for plain scripts: a socket, no reactor, the same typed messages.

For a quick script or a REPL, a reactor is more machinery than the job
needs.  :class:`BlockingClient` has the Twisted client's methods (``send``,
``login``, ``move``, ``say``, ``quit``), the same parsing, world mirror and
``docmd`` listener, but every call simply blocks, always with a deadline.

There is no background thread, so the keepalive happens while the script
waits for messages (:meth:`BlockingClient.read`, iteration): a script that
stops reading for longer than the server's idle timeout is dropped.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

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
from mudserver.client.protocol import (
    CONNECTION_LOST,
    DEFAULT_KEEPALIVE,
    DEFAULT_VERSION,
    Listener,
    check_version,
)
from mudserver.client.requests import DEFAULT_USE_WAIT, HasId, Requests, use_args
from mudserver.client.tls import blocking_context
from mudserver.wire.encoding import format_line

__all__ = ["BlockingClient"]


class BlockingClient(Requests):
    """One blocking connection to a mudserver."""

    def __init__(
        self,
        host: str = "localhost",
        port: int = 4000,
        listener: Listener | None = None,
        *,
        version: str = DEFAULT_VERSION,
        timeout: float = 10.0,
        keepalive: float | None = DEFAULT_KEEPALIVE,
        tls: bool = False,
        verify: bool = True,
        cafile: str | Path | None = None,
    ) -> None:
        """Connect at once; with *tls*, the server's certificate is checked
        (against *cafile* if given, else the system's CAs) unless *verify*
        is false (see :mod:`mudserver.client.tls`)."""
        #: The protocol version :meth:`login` asks for (``"2"`` or ``"1"``).
        self.version = check_version(version)
        #: Default seconds a blocking call may take before ``TimeoutError``.
        self.timeout = timeout
        self.keepalive = keepalive
        self.listener = listener
        self.world = WorldMirror()
        self.welcome: Welcome | None = None
        #: Why the connection ended, once it has: a ``bye`` reason or "connection lost".
        self.close_reason: str | None = None
        self._bye_reason: str | None = None
        self._buffer = b""
        #: Requests sent and not yet answered, and the answers that came.
        self._waiting = Waiting()
        self._answers: dict[Request, Message | ServerError] = {}
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            try:
                sock = blocking_context(verify, cafile).wrap_socket(sock, server_hostname=host)
            except BaseException:
                sock.close()
                raise
        self.sock = sock
        self._last_sent = time.monotonic()

    # -- sending -------------------------------------------------------------------

    def send(self, code: str, *args: object) -> None:
        """Send one command; every argument is enquoted (``str()`` first)."""
        if self.close_reason is not None:
            raise ConnectionClosed(self.close_reason)
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(format_line(code, *args).encode("utf-8"))
        except OSError as e:
            self.close_reason = self._bye_reason or CONNECTION_LOST
            raise ConnectionClosed(self.close_reason) from e
        self._last_sent = time.monotonic()

    def login(self, name: str, password: str, version: str | None = None) -> Welcome:
        """Log in (with :attr:`version` unless *version* is given); return the
        :class:`Welcome` or raise a :class:`ServerError` (``BadLogin``...).

        Lines that arrived together with ``wel`` (the ``ent`` list) are handled
        before it returns, so :attr:`world` already shows who is there.
        """
        version = self.version if version is None else version
        return self._welcome(Request("login", LOGIN_ERRORS), "con", name, password, version)

    def register(self, name: str, password: str, version: str | None = None) -> Welcome:
        """Create the account *name* and log in (``new``): as :meth:`login`.

        Raises ``NameTaken``, ``BadName``, ``WeakPassword``,
        ``RegistrationClosed``, ``TooManySignups``, ``Unavailable``, or
        :class:`ConnectionClosed` (reason ``banned``) for a banned name.
        """
        version = self.version if version is None else version
        return self._welcome(Request("login", SIGNUP_ERRORS), "new", name, password, version)

    def change_password(self, old: str, new: str) -> None:
        """Change this account's password (``pwd``); returns once the server says ``ack pwd``.

        Raises ``WrongPassword``, ``WeakPassword``, ``Unavailable`` or ``NotLoggedIn``.
        """
        request = Request("password", PASSWORD_ERRORS)
        if self._ask(request, self.timeout, "pwd", old, new) is None:
            raise TimeoutError("no answer to pwd within the deadline")

    def use(
        self, target: int | HasId, verb: str = "use", text: str = "", wait: float = DEFAULT_USE_WAIT
    ) -> Told | None:
        """Act on a thing (``use id[,verb[,text]]``); return its answer, a :class:`Told`,
        or ``None`` if none came within *wait* seconds (a thing need not answer).

        Raises ``NoSuchThing``, ``TooFar``, ``BadVerb``, ``BrokenThing`` or ``TooFast``.
        """
        entity_id, args = use_args(target, verb, text)
        answer = self._ask(Request("use", USE_ERRORS, entity_id), wait, "use", *args)
        assert answer is None or isinstance(answer, Told)
        return answer

    def _welcome(self, request: Request, code: str, *args: object) -> Welcome:
        answer = self._ask(request, self.timeout, code, *args)
        if answer is None:
            raise TimeoutError(f"no answer to {code} within the deadline")
        assert isinstance(answer, Welcome)
        self.poll()
        return answer

    def _ask(self, request: Request, wait: float, code: str, *args: object) -> Message | None:
        """Send a request and read until its answer; ``None`` if none came within *wait*.

        An ``err`` answer is raised as its :class:`ServerError`.
        """
        self.send(code, *args)
        self._waiting.add(request)
        deadline = time.monotonic() + wait
        try:
            while request not in self._answers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.read(remaining)
        finally:
            self._waiting.discard(request)
        answer = self._answers.pop(request)
        if isinstance(answer, ServerError):
            raise answer
        return answer

    def quit(self) -> str:
        """Send ``bye``, read to the end and return the close reason (``quit``)."""
        if self.close_reason is None:
            self.send("bye")
            deadline = time.monotonic() + self.timeout
            for _ in self.messages(deadline):
                pass
        self.close()
        return self.close_reason or CONNECTION_LOST

    def close(self) -> None:
        self.sock.close()
        if self.close_reason is None:
            self.close_reason = self._bye_reason or CONNECTION_LOST

    def __enter__(self) -> BlockingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- receiving -----------------------------------------------------------------

    def read(self, timeout: float | None = None) -> Message | None:
        """The next message, or ``None`` if none came within *timeout* seconds.

        Sends ``idl`` while waiting when the keepalive is due.  Raises
        :class:`ConnectionClosed` once the connection is over and every line
        received before has been returned.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        tried = False  # even with no time left, look once at what has arrived
        while b"\n" not in self._buffer:
            if self.close_reason is not None:
                raise ConnectionClosed(self.close_reason)
            now = time.monotonic()
            if self.keepalive and now - self._last_sent >= self.keepalive:
                self.send("idl")
            wait = deadline - now
            if wait <= 0 and tried:
                return None
            if self.keepalive:
                wait = min(wait, self._last_sent + self.keepalive - now)
            tried = True
            if not self._receive(max(wait, 0.0)):
                break
        if b"\n" not in self._buffer:
            raise ConnectionClosed(self.close_reason or CONNECTION_LOST)
        line, self._buffer = self._buffer.split(b"\n", 1)
        return self._handle(parse(line.decode("utf-8", errors="replace")))

    def poll(self) -> list[Message]:
        """Every message that has already arrived, without waiting."""
        messages: list[Message] = []
        while True:
            try:
                message = self.read(0)
            except ConnectionClosed:
                return messages
            if message is None:
                return messages
            messages.append(message)

    def messages(self, until: float | None = None) -> Iterator[Message]:
        """Messages as they arrive, until the connection closes (or the
        ``time.monotonic()`` deadline *until*); keeps the connection alive."""
        while until is None or time.monotonic() < until:
            try:
                wait = None if until is None else until - time.monotonic()
                message = self.read(self.timeout if wait is None else max(wait, 0.0))
            except ConnectionClosed:
                return
            if message is not None:
                yield message

    def __iter__(self) -> Iterator[Message]:
        return self.messages()

    def _receive(self, wait: float) -> bool:
        """Read what arrives within *wait* seconds; ``False`` at end of stream."""
        self.sock.settimeout(wait)  # 0 makes it a non-blocking look
        try:
            chunk = self.sock.recv(65536)
        except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
            return True
        except OSError:
            chunk = b""
        if not chunk:
            self.close_reason = self._bye_reason or CONNECTION_LOST
            return False
        self._buffer += chunk
        return True

    def _handle(self, message: Message) -> Message:
        self.world.apply(message)
        request = self._waiting.answer(message)
        if request is not None:
            self._answers[request] = outcome(message)
        if isinstance(message, Welcome):
            self.welcome = message
        elif isinstance(message, Bye):
            self._bye_reason = message.reason
        if self.listener is not None:
            self.listener.docmd(self, message)
        return message
