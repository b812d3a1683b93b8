"""The operator's console: an AMP server on a UNIX socket in the data directory.

What crosses the socket is :mod:`mudserver.shell.admincommands`.  Why a UNIX
socket with mode 0600 is safe without a password: the kernel lets a process
connect to a UNIX socket only with write permission on the socket file, so
only the server's own OS user (and root) can connect; nothing listens on a
network, so there is no password to guess or to sniff.  Twisted sets the
mode before ``listen()``, so there is no moment when the socket accepts
connections with looser permissions.

Each server has its own socket: ``DATA/admin.sock``, or ``DATA/admin-NAME.sock``
for shard NAME, so shards may share a data directory.  A socket another
running server holds stops this one at start with one line
(:func:`socket_in_use`), not a traceback.

The responders move arguments and answers: what a command does to the
players is :mod:`mudserver.shell.operations` (here, or on every shard through
:mod:`mudserver.shell.relay`), what it does to accounts is
:mod:`mudserver.shell.accountdesk`, and the ban list is kept by a
:class:`~mudserver.shell.bankeeper.BanKeeper`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from twisted.application import strports
from twisted.application.service import IService
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols import amp

from mudserver.core import moderation
from mudserver.core.game import Game
from mudserver.limits.bans import parse_target
from mudserver.shell import admincommands as commands
from mudserver.shell.accountdesk import AccountDesk, Kick
from mudserver.shell.bankeeper import BanKeeper
from mudserver.shell.operations import Operations

if TYPE_CHECKING:  # psycopg, behind shards, is an optional extra
    from mudserver.shell.relay import Relay

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_TIMEOUT",
    "AdminFactory",
    "AdminProtocol",
    "admin_service",
    "endpoint_for",
    "socket_in_use",
    "socket_name",
]

#: Seconds the console waits for other shards' answers, unless it says otherwise.
DEFAULT_TIMEOUT = 5.0
#: The longest wait a console may ask for.
MAX_TIMEOUT = 60.0

Answers = dict[str, dict[str, Any]]


def _page(rows: list[Any], offset: int, limit: int) -> list[Any]:
    start = max(0, offset)
    return rows[start : start + min(max(0, limit), commands.PAGE)]


def _answers(answers: Answers, count: str | None, text: str | None = None) -> list[dict[str, Any]]:
    """One :data:`~commands.SHARD_ANSWER` per shard; *count* and *text* name the answer's
    number and words."""
    listed = []
    for shard, answer in sorted(answers.items()):
        row: dict[str, Any] = {
            "shard": shard,
            "error": answer.get("error"),
            "count": None,
            "text": answer.get(text) if text else None,
        }
        value = answer.get(count) if count else None
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int):
            row["count"] = value
        listed.append(row)
    return listed


class AdminProtocol(amp.AMP):
    """One console connection."""

    factory: AdminFactory

    def __init__(self) -> None:
        super().__init__()
        #: Every shard's ``who`` rows as the first page asked for them.
        self._who: list[dict[str, Any]] = []
        self._who_answers: list[dict[str, Any]] = []

    @property
    def _game(self) -> Game:
        return self.factory.game

    async def _everywhere(
        self, shards: list[str] | None, timeout: float | None, command: str, args: dict[str, Any]
    ) -> Answers:
        """Run a per-server command on the shards asked (or on this server)."""
        wait = min(max(0.0, DEFAULT_TIMEOUT if timeout is None else timeout), MAX_TIMEOUT)
        relay = self.factory.relay
        if relay is None:
            if shards:
                raise commands.NotSharded("this server is not a shard (no --shard)")
            outcome = self.factory.operations.run(command, args)
            if outcome.then is not None:
                self.factory.clock.callLater(0, outcome.then)
            return {"": outcome.answer}
        return await relay.ask(shards or None, command, args, wait)

    # -- players ------------------------------------------------------------------

    @commands.Who.responder
    def who(
        self, offset: int, limit: int, shards: list[str] | None = None, timeout: float | None = None
    ) -> defer.Deferred[dict[str, Any]]:
        # AMP waits for Deferreds, not coroutines: each async responder is wrapped.
        return defer.ensureDeferred(self._who_page(offset, limit, shards, timeout))

    async def _who_page(
        self, offset: int, limit: int, shards: list[str] | None, timeout: float | None
    ) -> dict[str, Any]:
        if offset <= 0:
            answers = await self._everywhere(shards, timeout, "who", {})
            self._who = sorted(
                (
                    {**row, "shard": shard}
                    for shard, answer in answers.items()
                    for row in answer.get("rows", [])
                ),
                key=lambda row: (row["shard"], row["name"].lower()),
            )
            for answer in answers.values():
                if "rows" in answer:
                    answer["players"] = len(answer["rows"])
            self._who_answers = _answers(answers, "players")
        rows = _page(self._who, offset, limit)
        return {"total": len(self._who), "rows": rows, "answers": self._who_answers}

    @commands.Kick.responder
    def kick(
        self, name: str, reason: str, shards: list[str] | None = None, timeout: float | None = None
    ) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._kick(name, reason, shards, timeout))

    async def _kick(
        self, name: str, reason: str, shards: list[str] | None, timeout: float | None
    ) -> dict[str, Any]:
        answers = await self._everywhere(shards, timeout, "kick", {"name": name, "reason": reason})
        kicked = any(answer.get("kicked") for answer in answers.values())
        return {"kicked": kicked, "answers": _answers(answers, "kicked")}

    @commands.Announce.responder
    def announce(
        self, text: str, shards: list[str] | None = None, timeout: float | None = None
    ) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._announce(text, shards, timeout))

    async def _announce(
        self, text: str, shards: list[str] | None, timeout: float | None
    ) -> dict[str, Any]:
        answers = await self._everywhere(shards, timeout, "announce", {"text": text})
        players = sum(answer.get("players", 0) for answer in answers.values())
        return {"players": players, "answers": _answers(answers, "players")}

    @commands.Shutdown.responder
    def shutdown(
        self,
        seconds: float,
        message: str,
        shards: list[str] | None = None,
        timeout: float | None = None,
    ) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._shutdown(seconds, message, shards, timeout))

    async def _shutdown(
        self, seconds: float, message: str, shards: list[str] | None, timeout: float | None
    ) -> dict[str, Any]:
        args = {"seconds": seconds, "message": message}
        answers = await self._everywhere(shards, timeout, "shutdown", args)
        if self.factory.relay is None and "error" in answers[""]:
            raise ValueError(answers[""]["error"].removeprefix("shutdown: "))
        return {"seconds": seconds, "answers": _answers(answers, None)}

    @commands.Cancel.responder
    def cancel(
        self, shards: list[str] | None = None, timeout: float | None = None
    ) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._cancel(shards, timeout))

    async def _cancel(self, shards: list[str] | None, timeout: float | None) -> dict[str, Any]:
        answers = await self._everywhere(shards, timeout, "cancel", {})
        cancelled = any(answer.get("cancelled") for answer in answers.values())
        return {"cancelled": cancelled, "answers": _answers(answers, "cancelled")}

    @commands.Reload.responder
    def reload(
        self, shards: list[str] | None = None, timeout: float | None = None
    ) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._reload(shards, timeout))

    async def _reload(self, shards: list[str] | None, timeout: float | None) -> dict[str, Any]:
        answers = await self._everywhere(shards, timeout, "reload", {})
        return {"answers": _answers(answers, None, "summary")}

    @commands.Shards.responder
    def shards(self) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._shards())

    async def _shards(self) -> dict[str, Any]:
        relay = self.factory.relay
        if relay is None:
            raise commands.NotSharded("this server is not a shard (no --shard)")
        known = await relay.shards()
        rows = [{"name": s.name, "host": s.host, "started": s.started, "up": s.up} for s in known]
        return {"shards": rows}

    # -- bans ---------------------------------------------------------------------

    @commands.Ban.responder
    def ban(
        self, target: str, duration: float | None, reason: str
    ) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._ban(target, duration, reason))

    async def _ban(self, target: str, duration: float | None, reason: str) -> dict[str, Any]:
        now = self.factory.clock.seconds()
        made, closed = moderation.ban(self._game, target, now, duration, reason)
        self.factory.log.info(
            "operator banned {target} ({closed} connections closed)",
            target=made.target,
            closed=len(closed),
        )
        await self.factory.bans.put(made)
        shard = self.factory.relay.name if self.factory.relay is not None else ""
        return {"ban": [made.to_json()], "closed": closed, "shard": shard}

    @commands.Unban.responder
    def unban(self, target: str) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._unban(target))

    async def _unban(self, target: str) -> dict[str, Any]:
        parse_target(target)  # BanError for a bad one, before anything changes
        lifted = self._game.bans.remove(target)
        if lifted is not None:
            self.factory.log.info("operator lifted the ban of {target}", target=target)
            await self.factory.bans.lift(lifted)
        return {"lifted": lifted is not None}

    @commands.Bans.responder
    def bans(self, offset: int, limit: int) -> dict[str, Any]:
        bans = self._game.bans.bans(self.factory.clock.seconds())
        return {"total": len(bans), "bans": [b.to_json() for b in _page(bans, offset, limit)]}

    # -- accounts -----------------------------------------------------------------

    @commands.Accounts.responder
    def accounts(
        self, pattern: str, after: str, limit: int, count: bool
    ) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._accounts(pattern, after, limit, count))

    async def _accounts(self, pattern: str, after: str, limit: int, count: bool) -> dict[str, Any]:
        limit = min(max(0, limit), commands.PAGE)
        total, page = await self.factory.desk.listing(pattern, after, limit, count)
        rows = [
            {"name": a.name, "created": a.created, "last_seen": a.last_seen, "damaged": a.damaged}
            for a in page
        ]
        return {"total": total, "rows": rows}

    def _kicker(self, timeout: float | None) -> Kick:
        """Kicks a player on whichever shard plays it; the shards it was kicked on."""

        async def kick(name: str, reason: str) -> list[str]:
            args = {"name": name, "reason": reason}
            answers = await self._everywhere(None, timeout, "kick", args)
            return sorted(shard for shard, answer in answers.items() if answer.get("kicked"))

        return kick

    @commands.Delete.responder
    def delete(self, name: str, timeout: float | None = None) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._delete(name, timeout))

    async def _delete(self, name: str, timeout: float | None) -> dict[str, Any]:
        kicked = await self.factory.desk.delete(name, self._kicker(timeout))
        return {"deleted": kicked is not None, "kicked": kicked or []}

    @commands.ResetPassword.responder
    def reset_password(
        self, name: str, timeout: float | None = None
    ) -> defer.Deferred[dict[str, Any]]:
        return defer.ensureDeferred(self._reset_password(name, timeout))

    async def _reset_password(self, name: str, timeout: float | None) -> dict[str, Any]:
        done = await self.factory.desk.reset_password(name, self._kicker(timeout))
        if done is None:
            return {"password": None, "kicked": []}
        return {"password": done[0], "kicked": done[1]}


class AdminFactory(Factory):
    """What every console connection shares."""

    protocol = AdminProtocol
    log = Logger()
    noisy = False

    def __init__(
        self,
        game: Game,
        clock: IReactorTime,
        operations: Operations,
        bans: BanKeeper,
        desk: AccountDesk,
        relay: Relay | None = None,
    ) -> None:
        """*relay*: this server is a shard, and reaches the others through it."""
        self.game = game
        self.clock = clock
        self.operations = operations
        self.bans = bans
        self.desk = desk
        self.relay = relay


def socket_name(shard: str | None) -> str:
    """The admin socket's file name in the data directory: one per shard."""
    return commands.ADMIN_SOCKET if shard is None else f"admin-{shard}.sock"


def socket_in_use(path: str) -> int | None:
    """The pid of the running process that listens on the admin socket *path*, if any.

    Twisted takes a lock beside the socket (``PATH.lock``, a symbolic link to
    the owner's pid) and refuses to listen while it is held, with a
    traceback; reading it first lets the server stop with one line instead.
    """
    try:
        pid = int(os.readlink(path + ".lock"))
    except (OSError, ValueError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # left by a crashed server: Twisted replaces it
    except PermissionError:
        return pid  # alive, another user's
    return pid


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
