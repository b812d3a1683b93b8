"""The operator's console: an AMP server on a UNIX socket in the data directory.

Why AMP: the console is a handful of request/response commands with typed
arguments and typed answers (a list of rows, a boolean, an error for a bad
ban target), which is exactly what Twisted's Asynchronous Messaging Protocol
gives: each command is a class listing its arguments and response, errors
travel as named error codes, and requests are matched to answers by tag, so
the client library is ten lines.  A line protocol of our own would need a
parser and escaping; HTTP would need routing, JSON schemas and a story for
authentication.  AMP's one limit, 64 KiB per value, is met by paging the two
lists that can grow (``who`` and ``bans``).

Why a UNIX socket with mode 0600 is safe without a password: the kernel lets
a process connect to a UNIX socket only with write permission on the socket
file, so only the server's own OS user (and root) can connect; nothing
listens on a network, so there is no password to guess or to sniff.  Twisted
sets the mode before ``listen()``, so there is no moment when the socket
accepts connections with looser permissions.

The commands call :mod:`mudserver.core.moderation`; this module only moves
arguments and answers, persists the ban list off the reactor thread, and
drives the shutdown countdown with the reactor's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from twisted.application import strports
from twisted.application.service import IService
from twisted.internet import defer, threads
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols import amp

from mudserver.core import moderation
from mudserver.core.game import Game
from mudserver.limits.bans import BanError, write_atomically
from mudserver.shell.gamehost import ReloadFailed

__all__ = [
    "ADMIN_SOCKET",
    "BANS_FILE",
    "PAGE",
    "Who",
    "Kick",
    "Ban",
    "Unban",
    "Bans",
    "Announce",
    "Shutdown",
    "Cancel",
    "Reload",
    "Countdown",
    "AdminProtocol",
    "AdminFactory",
    "admin_service",
    "endpoint_for",
]


class NoGame(Exception):
    """A reload asked of a server that runs no game."""


#: Default names in the data directory.
ADMIN_SOCKET = "admin.sock"
BANS_FILE = "bans.json"

#: The longest countdown to a shutdown, in seconds: a day.
MAX_COUNTDOWN = 86_400.0

#: Rows per ``who``/``bans`` page: 200 rows of ~100 bytes stay well under
#: AMP's 64 KiB per value.
PAGE = 200

#: The arguments or response of an AMP command: wire names and types.
Fields = list[tuple[bytes, amp.Argument]]

_ROW = [
    (b"name", amp.Unicode()),
    (b"host", amp.Unicode()),
    (b"version", amp.Unicode()),
    (b"x", amp.Float()),
    (b"y", amp.Float()),
    (b"z", amp.Float()),
    (b"idle", amp.Float()),
]

_BAN = [
    (b"kind", amp.Unicode()),
    (b"target", amp.Unicode()),
    (b"reason", amp.Unicode()),
    (b"since", amp.Float()),
    (b"until", amp.Float(optional=True)),
]


class Who(amp.Command):
    """Players online, one page of rows sorted by name."""

    arguments: ClassVar[Fields] = [(b"offset", amp.Integer()), (b"limit", amp.Integer())]
    response: ClassVar[Fields] = [(b"total", amp.Integer()), (b"rows", amp.AmpList(_ROW))]


class Kick(amp.Command):
    arguments: ClassVar[Fields] = [(b"name", amp.Unicode()), (b"reason", amp.Unicode())]
    response: ClassVar[Fields] = [(b"kicked", amp.Boolean())]


class Ban(amp.Command):
    arguments: ClassVar[Fields] = [
        (b"target", amp.Unicode()),
        (b"duration", amp.Float(optional=True)),
        (b"reason", amp.Unicode()),
    ]
    response: ClassVar[Fields] = [
        (b"ban", amp.AmpList(_BAN)),
        (b"closed", amp.ListOf(amp.Unicode())),
    ]
    errors: ClassVar[dict[type[Exception], bytes]] = {BanError: b"BAD_TARGET"}


class Unban(amp.Command):
    arguments: ClassVar[Fields] = [(b"target", amp.Unicode())]
    response: ClassVar[Fields] = [(b"lifted", amp.Boolean())]
    errors: ClassVar[dict[type[Exception], bytes]] = {BanError: b"BAD_TARGET"}


class Bans(amp.Command):
    arguments: ClassVar[Fields] = [(b"offset", amp.Integer()), (b"limit", amp.Integer())]
    response: ClassVar[Fields] = [(b"total", amp.Integer()), (b"bans", amp.AmpList(_BAN))]


class Announce(amp.Command):
    arguments: ClassVar[Fields] = [(b"text", amp.Unicode())]
    response: ClassVar[Fields] = [(b"players", amp.Integer())]


class Shutdown(amp.Command):
    arguments: ClassVar[Fields] = [(b"seconds", amp.Float()), (b"message", amp.Unicode())]
    response: ClassVar[Fields] = [(b"seconds", amp.Float())]
    errors: ClassVar[dict[type[Exception], bytes]] = {ValueError: b"BAD_SECONDS"}


class Cancel(amp.Command):
    arguments: ClassVar[Fields] = []
    response: ClassVar[Fields] = [(b"cancelled", amp.Boolean())]


class Reload(amp.Command):
    """Re-read the game's code and world file; a summary, or why nothing changed."""

    arguments: ClassVar[Fields] = []
    response: ClassVar[Fields] = [(b"summary", amp.Unicode())]
    errors: ClassVar[dict[type[Exception], bytes]] = {
        ReloadFailed: b"RELOAD_FAILED",
        NoGame: b"NO_GAME",
    }


class Countdown:
    """Warns every player at the marks of :func:`moderation.countdown`, then stops the server."""

    log = Logger()

    def __init__(self, game: Game, clock: IReactorTime, stop: Callable[[], object]) -> None:
        self.game = game
        self.clock = clock
        self._stop = stop
        self._calls: list[IDelayedCall] = []

    @property
    def running(self) -> bool:
        return any(call.active() for call in self._calls)

    def start(self, seconds: float, message: str = "") -> None:
        """Shut down in *seconds*; replaces a countdown already running.

        ValueError for a time that is negative, not finite or over a day.
        """
        if not 0 <= seconds <= MAX_COUNTDOWN:
            raise ValueError(f"the countdown must be 0 to {MAX_COUNTDOWN:g} seconds")
        self._cancel_calls()
        self.log.info("shutdown in {seconds} s requested", seconds=seconds)
        for remaining in moderation.countdown(seconds):
            text = moderation.countdown_text(remaining, message)
            self._calls.append(self.clock.callLater(seconds - remaining, self.game.announce, text))
        self._calls.append(self.clock.callLater(seconds, self._finish))

    def cancel(self) -> bool:
        """Stop the countdown; False if none was running."""
        if not self.running:
            return False
        self._cancel_calls()
        self.game.announce("shutdown cancelled")
        self.log.info("shutdown cancelled")
        return True

    def _cancel_calls(self) -> None:
        for call in self._calls:
            if call.active():
                call.cancel()
        self._calls = []

    def _finish(self) -> None:
        self._calls = []
        self.log.info("shutting down as the operator asked")
        self._stop()


class AdminProtocol(amp.AMP):
    """One console connection: each responder is a call into :mod:`operator`."""

    factory: AdminFactory

    @property
    def _game(self) -> Game:
        return self.factory.game

    @Who.responder
    def who(self, offset: int, limit: int) -> dict[str, Any]:
        rows = moderation.who_rows(self._game, self.factory.clock.seconds())
        page = rows[max(0, offset) : max(0, offset) + min(max(0, limit), PAGE)]
        return {"total": len(rows), "rows": [row.to_json() for row in page]}

    @Kick.responder
    def kick(self, name: str, reason: str) -> dict[str, Any]:
        kicked = moderation.kick(self._game, name, reason)
        if kicked:
            self.factory.log.info("operator kicked {name}", name=name)
        return {"kicked": kicked}

    @Ban.responder
    def ban(
        self, target: str, duration: float | None, reason: str
    ) -> defer.Deferred[dict[str, Any]]:
        # AMP waits for Deferreds, not coroutines: each async responder is wrapped.
        return defer.ensureDeferred(self._ban(target, duration, reason))

    async def _ban(self, target: str, duration: float | None, reason: str) -> dict[str, Any]:
        now = self.factory.clock.seconds()
        made, closed = moderation.ban(self._game, target, now, duration, reason)
        self.factory.log.info(
            "operator banned {target} ({closed} connections closed)",
            target=made.target,
            closed=len(closed),
        )
        await self.factory.save_bans()
        return {"ban": [made.to_json()], "closed": closed}

    @Unban.responder
    def unban(self, target: str) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._unban(target))

    async def _unban(self, target: str) -> dict[str, Any]:
        lifted = self._game.bans.remove(target) is not None
        if lifted:
            self.factory.log.info("operator lifted the ban of {target}", target=target)
            await self.factory.save_bans()
        return {"lifted": lifted}

    @Bans.responder
    def bans(self, offset: int, limit: int) -> dict[str, Any]:
        bans = self._game.bans.bans(self.factory.clock.seconds())
        page = bans[max(0, offset) : max(0, offset) + min(max(0, limit), PAGE)]
        return {"total": len(bans), "bans": [b.to_json() for b in page]}

    @Announce.responder
    def announce(self, text: str) -> dict[str, Any]:
        return {"players": moderation.announce(self._game, text)}

    @Shutdown.responder
    def shutdown(self, seconds: float, message: str) -> dict[str, Any]:
        self.factory.countdown.start(seconds, message)
        return {"seconds": seconds}

    @Cancel.responder
    def cancel(self) -> dict[str, Any]:
        return {"cancelled": self.factory.countdown.cancel()}

    @Reload.responder
    def reload(self) -> dict[str, Any]:
        if self.factory.reload is None:
            raise NoGame("this server runs no game (--game none)")
        self.factory.log.info("operator reloads the game")
        return {"summary": self.factory.reload()}


class AdminFactory(Factory):
    """What every console connection shares: the game, the clock, the ban file."""

    protocol = AdminProtocol
    log = Logger()
    noisy = False

    def __init__(
        self,
        game: Game,
        clock: IReactorTime,
        bans_path: Path,
        stop: Callable[[], object],
        save: Callable[[Path, str], defer.Deferred[None]] | None = None,
        reload: Callable[[], str] | None = None,
    ) -> None:
        """*reload*: reloads the game's code (``ReloadFailed``), or None with no game."""
        self.game = game
        #: Reloads the game and says what it did.
        self.reload = reload
        self.clock = clock
        self.bans_path = bans_path
        self.countdown = Countdown(game, clock, stop)
        self._save = save or (
            lambda path, text: threads.deferToThread(write_atomically, path, text)
        )
        #: One write at a time, each with the list as it was when it started.
        self._lock = defer.DeferredLock()

    async def save_bans(self) -> None:
        """Write the ban list, off the reactor thread, in the order of the changes."""
        await self._lock.acquire()
        try:
            text = self.game.bans.dumps(self.clock.seconds())
            await self._save(self.bans_path, text)
        finally:
            self._lock.release()


def endpoint_for(path: str) -> str:
    """A ``unix:`` endpoint description for *path*, owner-only, stale socket removed.

    ``lockfile=1`` lets Twisted tell a socket left by a crashed server (no
    live lock) from one in use, and replace only the former.
    """
    escaped = path.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")
    return f"unix:{escaped}:mode=600:lockfile=1"


def admin_service(factory: AdminFactory, path: str) -> IService:
    """The listening admin socket, started and stopped with the server."""
    return strports.service(endpoint_for(path), factory)
