"""One client connection's conversation, as a sans-IO state machine.

Theory of operation
===================

A :class:`Session` is where every client command is handled.  The transport
(the Twisted protocol, or a test) feeds it lines with the time they arrived
(:meth:`Session.line_received`), and it answers through a :class:`Peer`:
plain method calls, no reactor.

A session is always in one of four :class:`State`\\ s::

    NEW ──con──▶ CHECKING ──password right──▶ PLAYING
     ▲              │
     └──password wrong (the last allowed one: bye badlogin, CLOSED)
    any state ──bye / timeout / toolong / flood / replaced / shutdown / lost──▶ CLOSED

What a command does depends only on the state it arrives in, and
:data:`TRANSITIONS` says it as data, one row per state and one cell per
command: the :class:`Action` taken and the state after it.  Look up "what
happens to ``mov`` while CHECKING?" there; ``tests/test_session.py`` checks
every cell against the code, and section 9 of ``docs/protocol.md`` is the
same table in prose.  Two things come before the table, for every line:
flood control (a line over the rate is dropped, a client that keeps over it
is closed) and parsing (a malformed line is answered with ``err`` in any
state).

The one slow step, checking a password, is handed back to the caller as a
:class:`LoginAttempt` so that the shell can run it off the reactor thread;
it reports the outcome with :meth:`Session.login_checked` (or
:meth:`Session.login_unavailable` when the account store cannot be reached:
back to NEW, no failed login counted), the only ways out of CHECKING
besides closing.  The Twisted shell reads no further lines from
a client while its password is checked, so a client's pipelined commands
are handled after the verdict; a transport that feeds lines meanwhile gets
what the CHECKING row says.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mudserver.account import Account
from mudserver.config import PROTOCOL_VERSIONS
from mudserver.limits.ratelimit import FloodGuard, TokenBucket, Verdict
from mudserver.wire import replies
from mudserver.wire.commands import (
    Command,
    CommandError,
    Connect,
    Idle,
    Move,
    Quit,
    Say,
    Use,
    Who,
    parse_command,
)

if TYPE_CHECKING:
    from mudserver.core.game import Game
    from mudserver.core.world import Entity

__all__ = ["TRANSITIONS", "Action", "LoginAttempt", "Peer", "Session", "State"]

log = logging.getLogger(__name__)


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


#: Read on every send (each player, each tick): one global, not two lookups.
_CLOSED = State.CLOSED


class Action(enum.Enum):
    """What a command does, as the cells of :data:`TRANSITIONS` name it."""

    #: Hand the password to the caller to check (a :class:`LoginAttempt`).
    LOGIN = "check the password"
    #: Walk the player toward the point.
    WALK = "walk"
    #: Chat, within the ``say`` rate.
    SAY = "say"
    #: ``who``: the count online and names in view, within the ``say`` rate.
    WHO = "who"
    #: ``use``: act on a thing, within the ``use`` rate; the game answers.
    USE = "use"
    #: Nothing at all (a keepalive, or a line after the end).
    NOTHING = "nothing"
    #: ``bye quit``, leave the game, close.
    QUIT = "bye quit, close"
    #: ``err notlogged``: the command needs a player.
    NOT_LOGGED = "err notlogged"
    #: ``err already``: a login is done or under way.
    ALREADY = "err already"


_ = Action
#: State × command → (action, next state).  Every state has a row and every
#: command of :data:`~mudserver.wire.commands.Command` a cell in it.
TRANSITIONS: dict[State, dict[type[Command], tuple[Action, State]]] = {
    State.NEW: {
        Connect: (_.LOGIN, State.CHECKING),
        Move: (_.NOT_LOGGED, State.NEW),
        Say: (_.NOT_LOGGED, State.NEW),
        Idle: (_.NOTHING, State.NEW),
        Quit: (_.QUIT, State.CLOSED),
        Who: (_.NOT_LOGGED, State.NEW),
        Use: (_.NOT_LOGGED, State.NEW),
    },
    State.CHECKING: {
        Connect: (_.ALREADY, State.CHECKING),
        Move: (_.NOT_LOGGED, State.CHECKING),
        Say: (_.NOT_LOGGED, State.CHECKING),
        Idle: (_.NOTHING, State.CHECKING),
        Quit: (_.QUIT, State.CLOSED),
        Who: (_.NOT_LOGGED, State.CHECKING),
        Use: (_.NOT_LOGGED, State.CHECKING),
    },
    State.PLAYING: {
        Connect: (_.ALREADY, State.PLAYING),
        Move: (_.WALK, State.PLAYING),
        Say: (_.SAY, State.PLAYING),
        Idle: (_.NOTHING, State.PLAYING),
        Quit: (_.QUIT, State.CLOSED),
        Who: (_.WHO, State.PLAYING),
        Use: (_.USE, State.PLAYING),
    },
    State.CLOSED: {
        Connect: (_.NOTHING, State.CLOSED),
        Move: (_.NOTHING, State.CLOSED),
        Say: (_.NOTHING, State.CLOSED),
        Idle: (_.NOTHING, State.CLOSED),
        Quit: (_.NOTHING, State.CLOSED),
        Who: (_.NOTHING, State.CLOSED),
        Use: (_.NOTHING, State.CLOSED),
    },
}
del _


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """A ``con`` whose password the caller must check, then report back."""

    name: str
    password: str


class Session:
    """The state of one connection: logged in or not, as whom, speaking which version."""

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
        self.use_bucket = TokenBucket(settings.use_rate, settings.use_burst)
        #: The time of the last line received (see :meth:`line_received`).
        self.last_input = 0.0
        self.state = State.NEW
        self.failed_logins = 0
        #: The protocol version asked for by the ``con`` being checked or played.
        self.version = ""
        self.account: Account | None = None
        self.entity: Entity | None = None
        #: The name of the ``con`` being checked, for the log and the throttle.
        self._pending_name = ""
        game.sessions.add(self)

    def __repr__(self) -> str:
        name = self.account.name if self.account else "-"
        return f"<Session {self.label} {self.state.value} {name}>"

    # -- input ---------------------------------------------------------------

    def line_received(self, data: bytes, now: float) -> LoginAttempt | None:
        """Handle one line (line ending already removed), received at *now*.

        *now* is seconds on any monotonic clock; it drives flood control, the
        ``say`` limit and login throttling.  Returns a :class:`LoginAttempt`
        when the line was a ``con`` to check; the caller must then call
        :meth:`login_checked`.
        """
        if self.state is State.CLOSED:
            return None
        self.last_input = now
        # Before anything else, empty lines included: a flood of bare line
        # ends costs the server as much as any other.
        match self.flood.check(now):
            case Verdict.FLOOD:
                log.info("flood from %s", self.label)
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
        settings = self.game.settings
        try:
            command = parse_command(line, bounds=settings.bounds, max_say=settings.max_say)
            return self._dispatch(command)
        except CommandError as e:
            self.error(e.code, e.message)
            return None

    def _dispatch(self, command: Command) -> LoginAttempt | None:
        """Do what :data:`TRANSITIONS` says *command* does in the current state."""
        action, after = TRANSITIONS[self.state][type(command)]
        attempt = None
        match action, command:
            case Action.LOGIN, Connect(name, password, version):
                # Refused before the check (err badproto, toofast): raises,
                # and the state stays; a banned name is closed.
                attempt = self._connect(name, password, version)
            case Action.WALK, Move(x, y, z):
                self.game.walk(self, (x, y, z))
            case Action.SAY, Say(text):
                if not self.say_bucket.allow(self.last_input):
                    raise CommandError("toofast", "too much chat; this say was dropped")
                assert self.entity is not None
                self.game.say(self.entity, text)
            case Action.WHO, Who():
                # Linear in the players in view: limited like say.
                if not self.say_bucket.allow(self.last_input):
                    raise CommandError("toofast", "too many who; this one was dropped")
                self.send(self.game.who_reply(self))
            case Action.USE, Use(target, verb, text):
                if not self.use_bucket.allow(self.last_input):
                    raise CommandError("toofast", "too many use; this one was dropped")
                self.game.use(self, target, verb, text)
            case Action.QUIT, _:
                self.close("quit")
            case Action.NOT_LOGGED, _:
                raise CommandError("notlogged", "log in first: con name,password,1")
            case Action.ALREADY, _:
                raise CommandError("already", "already logged in")
        if self.state is not State.CLOSED:
            self.state = after
        return attempt

    def _connect(self, name: str, password: str, version: str) -> LoginAttempt | None:
        """Check what can be checked at once; the password is the caller's to check.

        A banned name is closed with ``bye banned`` (and ``None`` returned).
        """
        if version not in PROTOCOL_VERSIONS:
            spoken = " and ".join(PROTOCOL_VERSIONS)
            raise CommandError("badproto", f"this server speaks protocol {spoken}")
        if self.game.bans.name_banned(name, self.last_input):
            log.info("banned name %r from %s", name[:40], self.label)
            self.close("banned")
            return None
        if self.game.login_throttle.blocked(self.host, name, self.last_input):
            log.info("throttled login as %r from %s", name[:40], self.label)
            raise CommandError("toofast", "too many failed logins; try again later")
        self._pending_name = name
        self.version = version
        return LoginAttempt(name, password)

    def login_checked(self, account: Account | None) -> None:
        """Report the outcome of a :class:`LoginAttempt`: an account or ``None``."""
        if self.state is not State.CHECKING:
            return  # the connection went away while the password was checked
        if account is None:
            self.game.stats.failed_logins += 1
            self.state = State.NEW
            self.failed_logins += 1
            self.game.login_throttle.failed(self.host, self._pending_name, self.last_input)
            log.info("failed login as %r from %s", self._pending_name[:40], self.label)
            self.error("badlogin", "unknown user or wrong password")
            if self.failed_logins >= self.game.settings.max_failed_logins:
                self.close("badlogin")
            return
        self.game.stats.logins += 1
        self.account = account
        self.state = State.PLAYING
        self.entity = self.game.join(self, account)
        log.info("%s logged in from %s (protocol %s)", account.name, self.label, self.version)

    def login_unavailable(self) -> None:
        """The store could not be asked: ``err unavailable``, back to NEW, nothing counted.

        The password was not judged, so neither this connection's failed
        logins nor the login throttle count it; the client may try again.
        """
        if self.state is not State.CHECKING:
            return
        self.state = State.NEW
        log.info(
            "login as %r from %s: account store unavailable", self._pending_name[:40], self.label
        )
        self.error("unavailable", "accounts cannot be checked right now; try again later")

    # -- output --------------------------------------------------------------

    def send(self, text: str) -> None:
        if self.state is not _CLOSED:
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
            log.info("%s left (%s) from %s", self.account.name, reason, self.label)
        else:
            log.info("connection from %s closed (%s)", self.label, reason)
