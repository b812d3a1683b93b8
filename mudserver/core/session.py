"""One client connection's conversation, as a sans-IO state machine.

A :class:`Session` is where every client command is handled.  It is fed
decoded lines by the transport (the Twisted protocol, or a test) and answers
through a :class:`Peer`: plain method calls, no reactor.  The one slow step,
checking a password, is handed back to the caller as a :class:`LoginAttempt`
so that the shell can run it off the reactor thread and report the result
with :meth:`Session.login_checked`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from twisted.logger import Logger

from mudserver.config import PROTOCOL_VERSION
from mudserver.core.operator import who_reply
from mudserver.limits.ratelimit import FloodGuard, TokenBucket, Verdict
from mudserver.store.accounts import Account
from mudserver.wire import replies
from mudserver.wire.commands import (
    CommandError,
    Connect,
    Idle,
    Move,
    Quit,
    Say,
    Who,
    parse_command,
)

if TYPE_CHECKING:
    from mudserver.core.game import Game
    from mudserver.core.world import Entity

__all__ = ["Peer", "Session", "State", "LoginAttempt"]


class Peer(Protocol):
    """What a session needs from its connection."""

    def send(self, text: str) -> None:
        """Queue one or more complete lines for the client."""

    def close(self) -> None:
        """Close the connection once what was sent has been delivered."""


class State(enum.Enum):
    NEW = "new"
    CHECKING = "checking"
    PLAYING = "playing"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """A ``con`` whose password the caller must check, then report back."""

    name: str
    password: str


class Session:
    """The state of one connection: logged in or not, and as whom."""

    log = Logger()

    def __init__(self, game: Game, peer: Peer, label: str = "?", host: str = "") -> None:
        self.game = game
        self.peer = peer
        #: How the log names this connection (usually the peer address).
        self.label = label
        #: The client's address, the key failed logins are counted under.
        self.host = host
        settings = game.settings
        self.flood = FloodGuard(settings.line_rate, settings.line_burst, settings.flood_time)
        self.say_bucket = TokenBucket(settings.say_rate, settings.say_burst)
        #: The time of the line being handled (see :meth:`line_received`).
        self.now = 0.0
        #: Whether that line came with a time, so rate limits apply to it.
        self._timed = False
        self.state = State.NEW
        self.failed_logins = 0
        self.account: Account | None = None
        self.entity: Entity | None = None
        #: Position as last handed to the store, to know when to autosave.
        self.saved_position: tuple[float, float, float] | None = None
        #: The name of the ``con`` being checked, for the log.
        self._pending_name = ""
        #: Protocol version from ``con``, and when the last line came (issue 15).
        self.version = "1"
        self.last_input = 0.0
        game.sessions.add(self)

    def __repr__(self) -> str:
        name = self.account.name if self.account else "-"
        return f"<Session {self.label} {self.state.value} {name}>"

    # -- input ---------------------------------------------------------------

    def line_received(self, data: bytes, *, now: float | None = None) -> LoginAttempt | None:
        """Handle one line (line ending already removed), received at *now*.

        Returns a :class:`LoginAttempt` when the line was a well-formed
        ``con``; the caller must then call :meth:`login_checked`.

        *now* (seconds on any monotonic clock) drives flood control, the
        ``say`` limit and login throttling; every transport must pass it.
        Without it no rate limit applies and failed logins are counted at
        the last time seen, so callers that ignore time (unit tests of the
        game logic) keep working unchanged.
        """
        if self.state is State.CLOSED:
            return None
        self._timed = now is not None
        if now is not None:
            self.now = self.last_input = now
            # Before anything else, empty lines included: a flood of bare
            # line ends costs the server as much as any other.
            match self.flood.check(now):
                case Verdict.FLOOD:
                    self.log.info("flood from {label}", label=self.label)
                    self.close("flood")
                    return None
                case Verdict.DROP_AND_WARN:
                    self.error("toofast", "too many lines; this one was dropped")
                    return None
                case Verdict.DROP:
                    return None
        if data.endswith(b"\r"):
            data = data[:-1]
        if not data:
            return None
        try:
            line = data.decode("utf-8")
        except UnicodeDecodeError:
            self.error("badarg", "lines must be UTF-8 text")
            return None
        try:
            command = parse_command(
                line, bounds=self.game.settings.bounds, max_say=self.game.settings.max_say
            )
            return self._dispatch(command)
        except CommandError as e:
            self.error(e.code, e.message)
            return None

    def _dispatch(self, command: object) -> LoginAttempt | None:
        match command:
            case Idle():
                return None
            case Quit():
                self.close("quit")
                return None
            case Connect(name, password, version):
                return self._connect(name, password, version)
        if self.state is not State.PLAYING or self.entity is None:
            raise CommandError("notlogged", "log in first: con name,password,1")
        match command:
            case Move(x, y, z):
                self.game.world.walk(self.entity, (x, y, z))
            case Say(text):
                if self._timed and not self.say_bucket.allow(self.now):
                    raise CommandError("toofast", "too much chat; this say was dropped")
                self.game.say(self.entity, text)
            case Who():  # linear in the players in view: limited like say
                if self._timed and not self.say_bucket.allow(self.now):
                    raise CommandError("toofast", "too many who; this one was dropped")
                self.send(who_reply(self.game, self))
        return None

    def _connect(self, name: str, password: str, version: str) -> LoginAttempt | None:
        if self.state is not State.NEW:
            raise CommandError("already", "already logged in")
        if version != PROTOCOL_VERSION:
            raise CommandError("badproto", f"this server speaks protocol {PROTOCOL_VERSION}")
        if self.game.bans.name_banned(name, self.now):  # issue 15
            self.log.info("banned name {name!r} from {label}", name=name[:40], label=self.label)
            self.close("banned")
            return None
        self.version = version
        if self.game.login_throttle.blocked(self.host, name, self.now):
            self.log.info(
                "throttled login as {name!r} from {label}", name=name[:40], label=self.label
            )
            raise CommandError("toofast", "too many failed logins; try again later")
        self.state = State.CHECKING
        self._pending_name = name
        return LoginAttempt(name, password)

    def login_checked(self, account: Account | None) -> None:
        """Report the outcome of a :class:`LoginAttempt`: an account or ``None``."""
        if self.state is not State.CHECKING:
            return  # the connection went away while the password was checked
        if account is None:
            self.game.stats.failed_logins += 1
            self.state = State.NEW
            self.failed_logins += 1
            self.game.login_throttle.failed(self.host, self._pending_name, self.now)
            self.log.info(
                "failed login as {name!r} from {label}",
                name=self._pending_name[:40],
                label=self.label,
            )
            self.error("badlogin", "unknown user or wrong password")
            if self.failed_logins >= self.game.settings.max_failed_logins:
                self.close("badlogin")
            return
        self.game.stats.logins += 1
        self.account = account
        self.state = State.PLAYING
        self.entity = self.game.join(self)
        self.log.info("{name} logged in from {label}", name=account.name, label=self.label)

    # -- output --------------------------------------------------------------

    def send(self, text: str) -> None:
        if self.state is not State.CLOSED:
            self.peer.send(text)

    def error(self, code: str, message: str) -> None:
        self.send(replies.err(code, message))

    def close(self, reason: str) -> None:
        """Say ``bye reason``, leave the game and close the connection."""
        if self.state is State.CLOSED:
            return
        self.send(replies.bye(reason))
        self._end(reason)
        self.peer.close()

    def connection_lost(self, reason: str = "disconnected") -> None:
        """The transport is gone: leave the game without sending anything."""
        self._end(reason)

    def _end(self, reason: str) -> None:
        if self.state is State.CLOSED:
            return
        playing = self.state is State.PLAYING
        self.state = State.CLOSED
        self.game.stats.disconnects[reason] += 1
        self.game.sessions.discard(self)
        if playing:
            self.game.leave(self)
            assert self.account is not None
            self.log.info(
                "{name} left ({reason}) from {label}",
                name=self.account.name,
                reason=reason,
                label=self.label,
            )
        else:
            self.log.info(
                "connection from {label} closed ({reason})", label=self.label, reason=reason
            )
