"""Where the ban list is kept while the server runs: the ban file, or the store's table.

The console changes the game's :class:`~mudserver.limits.bans.BanList` at
once (so the connections a ban covers close at once), then a keeper makes
the change durable, off the reactor thread, one change at a time:

* :class:`FileBans` (the file store) rewrites ``DATA/bans.json`` whole.
* :class:`TableBans` (PostgreSQL) writes one row of ``mudserver_bans`` and
  notifies every shard in the same transaction
  (:mod:`mudserver.store.bans`); a shard told of a change, or whose
  listening connection is new, reads the table again and closes the
  connections the bans new to it cover.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet import defer, threads
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mudserver.core import moderation
from mudserver.core.game import Game
from mudserver.limits.bans import Ban, BanError, write_atomically
from mudserver.store.base import StoreUnavailable

if TYPE_CHECKING:  # psycopg, behind the table, is an optional extra
    from mudserver.store.bans import BanTable

__all__ = ["BanKeeper", "FileBans", "TableBans", "read_bans"]

log = Logger()


class BanKeeper(Protocol):
    """Makes a change of the game's ban list durable (the list already holds it)."""

    async def put(self, ban: Ban) -> None:
        """*ban* was made (or replaced one of its target)."""
        ...

    async def lift(self, ban: Ban) -> None:
        """*ban* was lifted."""
        ...


class FileBans:
    """The ban file, rewritten whole after each change."""

    def __init__(
        self,
        game: Game,
        clock: IReactorTime,
        path: Path,
        write: Callable[[Path, str], defer.Deferred[None]] | None = None,
    ) -> None:
        self.game = game
        self.clock = clock
        self.path = path
        self._write = write or (
            lambda path, text: threads.deferToThread(write_atomically, path, text)
        )
        #: One write at a time, each with the list as it was when it started.
        self._lock = defer.DeferredLock()

    async def put(self, ban: Ban) -> None:
        await self._save()

    async def lift(self, ban: Ban) -> None:
        await self._save()

    async def _save(self) -> None:
        await self._lock.acquire()
        try:
            text = self.game.bans.dumps(self.clock.seconds())
            await self._write(self.path, text)
        finally:
            self._lock.release()


def read_bans(rows: list[dict[str, Any]], where: str) -> list[Ban]:
    """The bans of the table's *rows*, each checked as a ban file's; a bad row is logged
    and left out (the others still hold)."""
    bans = []
    for row in rows:
        try:
            bans.append(Ban.from_json(row))
        except BanError as e:
            log.error("ignoring a ban in {where}: {error}", where=where, error=e)
    return bans


class TableBans:
    """The table shared by every shard of one PostgreSQL store."""

    def __init__(self, game: Game, clock: IReactorTime, table: BanTable) -> None:
        self.game = game
        self.clock = clock
        self.table = table
        #: Writes and reads one at a time, in order.
        self._lock = defer.DeferredLock()
        #: Changes made here (the list in memory holds them already) and not
        #: written yet, by target: a read of the table in the meantime keeps
        #: them, rather than undo them until their own notification.
        self._unwritten: dict[str, Ban | None] = {}

    async def _locked(self, f: Callable[..., Any], *args: Any) -> Any:
        await self._lock.acquire()
        try:
            return await threads.deferToThread(f, *args)
        finally:
            self._lock.release()

    async def put(self, ban: Ban) -> None:
        await self._write(ban.target, ban, self.table.put, ban.to_json())

    async def lift(self, ban: Ban) -> None:
        await self._write(ban.target, None, self.table.remove, ban.target)

    async def _write(self, target: str, ban: Ban | None, f: Callable[..., Any], arg: Any) -> None:
        self._unwritten[target] = ban
        try:
            await self._locked(f, arg)
        finally:
            if self._unwritten.get(target, ban) is ban:
                self._unwritten.pop(target, None)

    async def reload(self) -> list[str]:
        """Read the table again; close what the bans new here cover; their labels."""
        rows = await self._locked(self.table.load)
        stored = {b.target: b for b in read_bans(rows, self.table.describe())}
        for target, ban in self._unwritten.items():
            if ban is None:
                stored.pop(target, None)
            else:
                stored[target] = ban
        now = self.clock.seconds()
        closed: list[str] = []
        for ban in self.game.bans.replace(list(stored.values())):
            covered = moderation.enforce(self.game, ban, now)
            if covered:
                log.info(
                    "ban of {target} made elsewhere: closed {closed}",
                    target=ban.target,
                    closed=", ".join(covered),
                )
            closed += covered
        return closed

    def changed(self, payload: str = "") -> None:
        """The table changed (a notification), or may have (a new listening connection)."""
        d = defer.ensureDeferred(self.reload())
        d.addErrback(self._not_read)
        d.addErrback(lambda f: log.failure("could not read the bans again", f))

    @staticmethod
    def _not_read(failure: Failure) -> None:
        """The database went away: the listener's next connection reads the bans again."""
        failure.trap(StoreUnavailable)
        log.warn("could not read the bans again: {error}", error=failure.value)
