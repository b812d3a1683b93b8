"""One client connection's conversation, as a sans-IO state machine.

Theory of operation
===================

A :class:`Session` is where every client command is handled.  The transport
(the Twisted protocol, or a test) feeds it lines with the time they arrived
(:meth:`Session.line_received`), and it answers through a :class:`Peer`:
plain method calls, no reactor.

A session is always in one of four :class:`State`\\ s::

    NEW ──con / new──▶ CHECKING ──password right / account made──▶ PLAYING
     ▲                    │
     └──password wrong, name taken (the last allowed failure: bye badlogin, CLOSED)
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

The one slow step, password work, is handed back to the caller so that the
shell can run it off the reactor thread: a :class:`LoginAttempt` (``con``),
a :class:`SignUpAttempt` (``new``) or a :class:`PasswordChange` (``pwd``).
What can be refused without hashing is refused first, for nothing
(:mod:`mudserver.core.admission`).  The shell reports the outcome:
:meth:`Session.login_checked`, :meth:`Session.signed_up` or
:meth:`Session.name_taken`, :meth:`Session.password_changed` or
:meth:`Session.password_refused`, and :meth:`Session.store_unavailable` when
the account store cannot be reached (nothing counted).  The Twisted shell
reads no further lines from a client while its password work runs, so a
client's pipelined commands are handled after the verdict; a transport that
feeds lines meanwhile gets what the CHECKING row says (and a second ``pwd``
while one runs, ``err toofast``).

The module is longer than most because the table and the handling of each
of its cells are read together: splitting them would send a reader of
"what does ``pwd`` do?" to three files.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from mudserver.account import Account
from mudserver.core.admission import (
    BannedName,
    LoginAttempt,
    PasswordChange,
    PasswordCheck,
    SignUpAttempt,
    admit_login,
    admit_password_change,
    admit_sign_up,
)
from mudserver.limits.ratelimit import FloodGuard, TokenBucket, Verdict
from mudserver.wire import replies
from mudserver.wire.commands import (
    ChangePassword,
    Command,
    CommandError,
    Connect,
    Idle,
    Move,
    Quit,
    Say,
    SignUp,
    Use,
    Who,
    parse_command,
)

if TYPE_CHECKING:
    from mudserver.core.game import Game
    from mudserver.core.world import Entity

__all__ = [
    "TRANSITIONS",
    "Action",
    "LoginAttempt",
    "PasswordChange",
    "PasswordCheck",
    "Peer",
    "Session",
    "SignUpAttempt",
    "State",
]

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
    #: Hand name and password to the caller to make the account (a :class:`SignUpAttempt`).
    SIGN_UP = "create the account"
    #: Hand both passwords to the caller to check and change (a :class:`PasswordChange`).
    CHANGE_PASSWORD = "change the password"
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
        SignUp: (_.SIGN_UP, State.CHECKING),
        ChangePassword: (_.NOT_LOGGED, State.NEW),
        Move: (_.NOT_LOGGED, State.NEW),
        Say: (_.NOT_LOGGED, State.NEW),
        Idle: (_.NOTHING, State.NEW),
        Quit: (_.QUIT, State.CLOSED),
        Who: (_.NOT_LOGGED, State.NEW),
        Use: (_.NOT_LOGGED, State.NEW),
    },
    State.CHECKING: {
        Connect: (_.ALREADY, State.CHECKING),
        SignUp: (_.ALREADY, State.CHECKING),
        ChangePassword: (_.NOT_LOGGED, State.CHECKING),
        Move: (_.NOT_LOGGED, State.CHECKING),
        Say: (_.NOT_LOGGED, State.CHECKING),
        Idle: (_.NOTHING, State.CHECKING),
        Quit: (_.QUIT, State.CLOSED),
        Who: (_.NOT_LOGGED, State.CHECKING),
        Use: (_.NOT_LOGGED, State.CHECKING),
    },
    State.PLAYING: {
        Connect: (_.ALREADY, State.PLAYING),
        SignUp: (_.ALREADY, State.PLAYING),
        ChangePassword: (_.CHANGE_PASSWORD, State.PLAYING),
        Move: (_.WALK, State.PLAYING),
        Say: (_.SAY, State.PLAYING),
        Idle: (_.NOTHING, State.PLAYING),
        Quit: (_.QUIT, State.CLOSED),
        Who: (_.WHO, State.PLAYING),
        Use: (_.USE, State.PLAYING),
    },
    State.CLOSED: {
        Connect: (_.NOTHING, State.CLOSED),
        SignUp: (_.NOTHING, State.CLOSED),
        ChangePassword: (_.NOTHING, State.CLOSED),
        Move: (_.NOTHING, State.CLOSED),
        Say: (_.NOTHING, State.CLOSED),
        Idle: (_.NOTHING, State.CLOSED),
        Quit: (_.NOTHING, State.CLOSED),
        Who: (_.NOTHING, State.CLOSED),
        Use: (_.NOTHING, State.CLOSED),
    },
}
del _


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
        #: The password work handed to the caller and not yet reported back.
        self._pending: PasswordCheck | None = None
        game.sessions.add(self)

    def __repr__(self) -> str:
        name = self.account.name if self.account else "-"
        return f"<Session {self.label} {self.state.value} {name}>"

    # -- input ---------------------------------------------------------------

    def line_received(self, data: bytes, now: float) -> PasswordCheck | None:
        """Handle one line (line ending already removed), received at *now*.

        *now* is seconds on any monotonic clock; it drives flood control, the
        ``say`` limit and login throttling.  Returns the password work when
        the line was a ``con``, ``new`` or ``pwd`` to carry out; the caller
        must then report its outcome (see the module docstring).
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

    def _dispatch(self, command: Command) -> PasswordCheck | None:
        """Do what :data:`TRANSITIONS` says *command* does in the current state."""
        action, after = TRANSITIONS[self.state][type(command)]
        attempt: PasswordCheck | None = None
        match action, command:
            case Action.LOGIN, Connect(name, password, version):
                # Refused before the check (err badproto, toofast): raises,
                # and the state stays; a banned name is closed.
                attempt = self._admit(admit_login, name, password, version)
                self.version = version
            case Action.SIGN_UP, SignUp(name, password, version):
                attempt = self._admit(admit_sign_up, name, password, version)
                self.version = version
            case Action.CHANGE_PASSWORD, ChangePassword(old, new):
                if self._pending is not None:
                    raise CommandError("toofast", "one password change at a time")
                assert self.account is not None
                attempt = self._admit(admit_password_change, self.account.name, old, new)
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

    def _admit(self, admit: Callable[..., PasswordCheck], *args: str) -> PasswordCheck | None:
        """What *admit* lets through (:mod:`~mudserver.core.admission`), now pending.

        A refusal raises (``err``, and the state stays); a banned name is
        closed with ``bye banned`` and nothing is returned.
        """
        try:
            attempt = admit(self.game, self.host, *args, self.last_input)
        except BannedName as banned:
            log.info("banned name %r from %s", str(banned)[:40], self.label)
            self.close("banned")
            return None
        self._pending = attempt
        return attempt

    # -- outcomes of password work ---------------------------------------------

    def _checked(self, kind: type) -> str | None:
        """The name of the pending work of *kind*, now done with; None if none is pending."""
        pending, self._pending = self._pending, None
        if not isinstance(pending, kind):
            self._pending = pending
            return None
        return pending.name

    def login_checked(self, account: Account | None) -> None:
        """Report the outcome of a :class:`LoginAttempt`: an account or ``None``."""
        if self.state is not State.CHECKING:
            return  # the connection went away while the password was checked
        name = self._checked(LoginAttempt) or ""
        if account is None:
            self.game.stats.failed_logins += 1
            self.state = State.NEW
            self._wrong_password(name, "badlogin", "unknown user or wrong password")
            log.info("failed login as %r from %s", name[:40], self.label)
            return
        self.game.stats.logins += 1
        self._join(account)

    def signed_up(self, account: Account) -> None:
        """Report a :class:`SignUpAttempt` that made *account*: logged in, as by ``con``."""
        if self.state is not State.CHECKING:
            return
        self._checked(SignUpAttempt)
        self.game.stats.signups += 1
        log.info("%s signed up from %s", account.name, self.label)
        self._join(account)

    def name_taken(self) -> None:
        """Report a :class:`SignUpAttempt` whose name the store already had: back to NEW."""
        if self.state is not State.CHECKING:
            return
        name = self._checked(SignUpAttempt)
        self.state = State.NEW
        log.info("sign-up as %r from %s: name taken", name, self.label)
        self.error("taken", "that name is taken; pick another")

    def _join(self, account: Account) -> None:
        self.account = account
        self.state = State.PLAYING
        self.entity = self.game.join(self, account)
        log.info("%s logged in from %s (protocol %s)", account.name, self.label, self.version)

    def _wrong_password(self, name: str, code: str, message: str) -> None:
        """Count a wrong password against *name* and this address: ``err code``, and
        ``bye badlogin`` at the last one this connection is allowed."""
        self.failed_logins += 1
        self.game.login_throttle.failed(self.host, name, self.last_input)
        self.error(code, message)
        if self.failed_logins >= self.game.settings.max_failed_logins:
            self.close("badlogin")

    def store_unavailable(self) -> None:
        """The store could not be asked (``con``, ``new``, ``pwd``): ``err unavailable``.

        Nothing was judged, so nothing is counted (failed logins, the login
        throttle, the address's sign-ups), a check goes back to NEW, and the
        client may try again.
        """
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if isinstance(pending, SignUpAttempt):
            self.game.signups.give_back(self.host)
        if self.state is State.CHECKING:
            self.state = State.NEW
        log.info("%r from %s: account store unavailable", pending.name[:40], self.label)
        self.error("unavailable", "accounts cannot be reached right now; try again later")

    def password_changed(self, record: dict[str, Any]) -> None:
        """Report a :class:`PasswordChange` done: *record* (the new hash) is stored."""
        if self._checked(PasswordChange) is None or self.account is None:
            return
        self.account.password = record
        self.game.stats.password_changes += 1
        log.info("%s changed its password from %s", self.account.name, self.label)
        self.send(replies.ack("pwd"))

    def password_refused(self) -> None:
        """Report a :class:`PasswordChange` whose old password was wrong.

        It counts as a failed login of the account (a stolen session must not
        guess at the password faster than a login may), and on this connection.
        """
        name = self._checked(PasswordChange)
        if name is None or self.state is not State.PLAYING:
            return
        self.game.stats.failed_logins += 1
        log.info("wrong password to change that of %s from %s", name, self.label)
        self._wrong_password(name, "badpass", "wrong password; it was not changed")

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
