"""The running server: the game's clock, its threads, and an orderly shutdown.

:class:`GameService` owns the :class:`~mudserver.core.game.Game` and everything
that gives it time and I/O: the tick and autosave ``LoopingCall``\\ s, a
one-thread pool per slice of accounts that writes their files in order, and
a pool that checks (and upgrades) password hashes so that hashing never
stalls the tick.  Stopping it says ``bye shutdown`` to everybody, saves every
player, waits for the writes, and only then lets twistd exit.
"""

from __future__ import annotations

import dataclasses
import gc
import resource
import time
import zlib
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service
from twisted.internet import defer, task, threads
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from mudserver.config import Presentation, Settings
from mudserver.core.game import Game
from mudserver.gcschedule import GcSchedule
from mudserver.shell.logbridge import LogBridge
from mudserver.shell.metrics import Metrics
from mudserver.shell.server import MudFactory
from mudserver.store.accounts import Account, CorruptAccount
from mudserver.store.base import Store, StoreUnavailable

if TYPE_CHECKING:  # psycopg, behind shards, is an optional extra
    from mudserver.shell.shard import Shard

__all__ = ["GameService"]

#: Seconds between two autosave steps.  Each step saves one slice of the
#: players, so every player is still saved once per ``--autosave`` interval,
#: but 2,000 saves at once held the reactor and the GIL for a 200 ms tick.
AUTOSAVE_STEP = 1.0
#: Seconds before a failed save is tried again, doubling up to the second.
SAVE_RETRY = (0.5, 30.0)


class GameService(Service):
    """Ticks the world, autosaves, checks logins and saves off the reactor thread."""

    log = Logger()

    def __init__(
        self,
        settings: Settings,
        store: Store,
        reactor: Any = None,
        login_threads: int = 2,
        save_threads: int = 8,
        presentation: Presentation | None = None,
        rehash: bool = True,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.settings = settings
        self.store = store
        #: Re-hash older or weaker password records at login (benchmarks turn it off).
        self.rehash = rehash
        #: Account (lower-cased) -> (old record, new record), for every hash
        #: upgraded since start: one entry per account upgraded, kept so a
        #: late save of an old account object never writes the old hash back.
        self._upgraded: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.reactor: IReactorTime = reactor
        self.game = Game(settings, self.save)
        self.factory = MudFactory(self.game, self.authenticate, reactor, presentation=presentation)
        self.metrics = Metrics(
            self.game.stats,
            lambda: len(self.game),
            lambda: len(self.factory.connections),
            1.0 / settings.tick_rate,
            pending_saves=lambda: len(self._newest_save),
        )
        # Saves of one account always go to the same one-thread pool, so they
        # land in the order made; several pools let the file system commit
        # their fsyncs together (1,000 saves: ~6 s on one thread, <1 s on 8).
        self._save_pools = [
            ThreadPool(1, 1, name=f"mudserver-save-{i}") for i in range(save_threads)
        ]
        self._login_pool = ThreadPool(1, login_threads, name="mudserver-login")
        self._pending_saves: set[defer.Deferred[None]] = set()
        #: Account (lower-cased) -> number of its newest snapshot not yet
        #: written: a retried older snapshot is dropped once a newer one exists.
        self._newest_save: dict[str, int] = {}
        self._save_count = 0
        #: Snapshots gathered by one autosave step, by save pool, written
        #: together (one transaction per pool in PostgreSQL); None otherwise.
        self._batch: dict[int, list[tuple[int, Account]]] | None = None
        #: Logins reading their account right now, and how many players of
        #: that account left meanwhile, by account (see :meth:`_load_newest`).
        self._loading: dict[str, int] = {}
        self._left_while_loading: dict[str, int] = {}
        #: Deferreds of :meth:`saved`, by account (lower-cased).
        self._save_waiters: dict[str, list[defer.Deferred[None]]] = {}
        #: Set by ``--shard``: accounts are claimed from and given back to other shards.
        self.shard: Shard | None = None
        self.game.on_leave = self._left
        self.factory.login_abandoned = self.login_abandoned
        self._ticker = task.LoopingCall(self._tick)
        self._ticker.clock = reactor
        self._autosaver = task.LoopingCall(self._autosave)
        self._autosaver.clock = reactor
        #: Autosave steps per ``--autosave`` interval, and the one due next.
        self._autosave_parts = max(1, round(settings.autosave / AUTOSAVE_STEP))
        self._autosave_part = 0
        self._last_tick = 0.0
        #: Collections run between ticks, not in the middle of one.
        self.gc_schedule = GcSchedule(gc)
        #: The core logs with :mod:`logging`; this shows its lines in twistd's log.
        self.log_bridge = LogBridge()

    # -- life cycle ----------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self.log_bridge.start()
        self._raise_open_file_limit()
        self.gc_schedule.take_over()
        for pool in self._save_pools:
            pool.start()
        self._login_pool.start()
        if self.shard is not None:
            self.shard.start()
        stale = self.store.remove_stale_temp_files()
        if stale:
            self.log.info("removed {count} temp files left by a crash", count=stale)
        self._last_tick = self.reactor.seconds()
        self._ticker.start(1.0 / self.settings.tick_rate, now=False)
        self._autosaver.start(self.settings.autosave / self._autosave_parts, now=False)
        self.log.info(
            "mudserver ticking at {rate} Hz, data in {data}{shard}",
            rate=self.settings.tick_rate,
            data=self.store.describe(),
            shard="" if self.shard is None else f", shard {self.shard.name}",
        )

    def _raise_open_file_limit(self) -> None:
        """Every connection is a file descriptor: allow as many as the hard limit."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
                soft = hard
            except (ValueError, OSError) as e:
                self.log.warn("could not raise the open-file limit: {error}", error=e)
        self.log.info(
            "open-file limit {limit}: room for about {count} connections",
            limit=soft,
            count="unlimited" if soft == resource.RLIM_INFINITY else max(0, soft - 64),
        )

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()
        return defer.ensureDeferred(self._shutdown())

    async def _shutdown(self) -> None:
        for loop in (self._ticker, self._autosaver):
            if loop.running:
                loop.stop()
        self.gc_schedule.give_back()
        players = len(self.game)
        self.game.shutdown()
        closed = self.factory.when_all_closed()
        saves = defer.DeferredList(list(self._pending_saves), consumeErrors=True)
        waiting = defer.gatherResults([closed, saves], consumeErrors=True)
        waiting.addTimeout(self.settings.shutdown_timeout, self.reactor)
        try:
            await waiting
        except (defer.TimeoutError, defer.FirstError):
            # The timeout cancels the gathered Deferreds, and gatherResults
            # reports that as FirstError(CancelledError), not TimeoutError.
            self.log.error("shutdown: gave up waiting for connections and saves")
        for protocol in list(self.factory.connections):
            protocol.transport.abortConnection()
        self._login_pool.stop()
        for pool in self._save_pools:
            pool.stop()
        if self.shard is not None:
            self.shard.stop()
        self.store.close()
        self.log.info("mudserver stopped; saved {players} players", players=players)
        self.log_bridge.stop()

    # -- time ----------------------------------------------------------------------

    def _tick(self) -> None:
        """Step the world by the real time since the last tick.

        Errors are logged, never raised: a raising function would stop the
        ``LoopingCall`` and freeze the world for everybody.
        """
        now = self.reactor.seconds()
        dt, self._last_tick = now - self._last_tick, now
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            self.game.tick(dt)
        except Exception:
            self.log.failure("tick failed")
        self.metrics.tick(time.perf_counter() - started, time.thread_time() - cpu)
        self.gc_schedule.after_tick()

    def _autosave(self) -> None:
        part, parts = self._autosave_part, self._autosave_parts
        self._autosave_part = (part + 1) % parts
        self._batch = {}
        started = time.perf_counter()
        try:
            count = self.game.autosave(part, parts)
        except Exception:
            self.log.failure("autosave failed")
            return
        finally:
            batch, self._batch = self._batch, None
        for index, snapshots in batch.items():
            self._write(index, snapshots)
        self.metrics.autosave_step.observe(time.perf_counter() - started)
        if count:
            self.log.debug("autosaved {count} players", count=count)

    # -- threads -------------------------------------------------------------------

    def authenticate(self, name: str, password: str) -> defer.Deferred[Account | None]:
        """Check a password on the login pool (the hashes release the GIL).

        A record hashed with older or weaker parameters than the store's is
        hashed again right there, with the password just proven right, and
        written on the account's save pool (see :meth:`_reload`).  A failed
        login never writes anything.
        """

        def check() -> tuple[Account, dict[str, Any] | None] | None:
            try:
                account = self.store.authenticate(name, password)
                if account is None:
                    return None
                if self.rehash and self.store.needs_rehash(account):
                    return account, self.store.hash(password)
                return account, None
            except CorruptAccount:
                self.log.failure("account file of {name!r} is corrupt", name=name)
                return None

        reactor: IReactorThreads = self.reactor  # type: ignore[assignment]
        d = threads.deferToThreadPool(reactor, self._login_pool, check)
        return d.addCallback(lambda checked: defer.ensureDeferred(self._claim(checked, name)))

    async def _claim(
        self, checked: tuple[Account, dict[str, Any] | None] | None, name: str
    ) -> Account | None:
        """On a shard, own the account (taking it from another shard) before reading it."""
        if checked is None:
            return None
        if self.shard is None:
            return await self._load_newest(checked, name)
        await self.shard.claim(name)
        try:
            account = await self._load_newest(checked, name)
        except BaseException:
            self.shard.give_back(name)
            raise
        if account is None:
            self.shard.give_back(name)
        return account

    async def _load_newest(
        self, checked: tuple[Account, dict[str, Any] | None], name: str
    ) -> Account | None:
        """Read the account, again if a player of it left here meanwhile.

        A read may pass a player of the same account who is still playing
        here (the join then starts where that player stands), but who leaves
        before the join (a takeover from another shard, a disconnect): its
        last save was queued after the read, so the read is stale.  Reading
        once more, behind that save on the same thread, gives its position.
        """
        key = name.lower()
        self._loading[key] = self._loading.get(key, 0) + 1
        try:
            while True:
                seen = self._left_while_loading.get(key, 0)
                account = await self._reload(checked, name)
                if account is None or self._left_while_loading.get(key, 0) == seen:
                    return account
        finally:
            self._loading[key] -= 1
            if not self._loading[key]:
                del self._loading[key]
                self._left_while_loading.pop(key, None)

    def login_abandoned(self, name: str) -> None:
        """A checked login that never joined (its connection went away): give it back."""
        if self.shard is not None:
            self.shard.give_back(name)

    def _left(self, name: str) -> None:
        key = name.lower()
        if key in self._loading:
            self._left_while_loading[key] = self._left_while_loading.get(key, 0) + 1
        if self.shard is not None:
            self.shard.give_back(name)

    def saved(self, name: str) -> defer.Deferred[None]:
        """Fires once every save of account *name* made so far has landed (or given up)."""
        key = name.lower()
        if key not in self._newest_save:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._save_waiters.setdefault(key, []).append(d)
        return d

    def _reload(
        self, checked: tuple[Account, dict[str, Any] | None], name: str
    ) -> defer.Deferred[Account | None]:
        """Read the account again on its save thread, upgrading its hash there.

        The file read for the password check may predate a save still queued
        for this account (a player who reconnects at once).  Reading again on
        the save thread, behind every queued write, gives the position saved
        last; the new hash is written in that same place in the order, so it
        and a position save of the same account never race, and the account
        the game gets holds the new hash its later saves write.  Should an
        account object with the old record still be saved (the re-hash write
        failed, or two logins raced), :meth:`save` swaps in the new one.
        """
        account, upgraded = checked
        if upgraded is not None:
            self._upgraded[name.lower()] = (account.password, upgraded)

        def load() -> Account | None:
            try:
                if upgraded is None:
                    return self.store.load(name)
                try:
                    now = self.store.upgrade_password(name, account.password, upgraded)
                    if now is not None and now.password == upgraded:
                        self.log.info("re-hashed the password of {name}", name=name)
                    return now
                except OSError as e:  # the new hash goes out with the next save
                    self.log.error("could not re-hash {name}: {error}", name=name, error=e)
                    return self.store.load(name)
            except CorruptAccount:
                self.log.failure("account file of {name!r} is corrupt", name=name)
                return None

        reactor: IReactorThreads = self.reactor  # type: ignore[assignment]
        return threads.deferToThreadPool(reactor, self._save_pool_of(name), load)

    def _pool_index(self, name: str) -> int:
        """The one pool that reads and writes account *name*: its saves stay in order."""
        return zlib.crc32(name.lower().encode()) % len(self._save_pools)

    def _save_pool_of(self, name: str) -> ThreadPool:
        return self._save_pools[self._pool_index(name)]

    def save(self, account: Account) -> None:
        """Write *account* on its save thread; a failure is logged and retried with backoff.

        Inside an autosave step the snapshot joins that step's batch for its
        pool instead (see :meth:`_autosave`).
        """
        if self.shard is not None and account.name.lower() in self.shard.lost:
            self.log.warn("not saving {name}: another shard owns it now", name=account.name)
            return
        upgrade = self._upgraded.get(account.name.lower())
        if upgrade is not None and account.password == upgrade[0]:
            account = dataclasses.replace(account, password=upgrade[1])
        self._save_count += 1
        self._newest_save[account.name.lower()] = self._save_count
        index = self._pool_index(account.name)
        if self._batch is not None:
            self._batch.setdefault(index, []).append((self._save_count, account))
        else:
            self._write(index, [(self._save_count, account)])

    def _write(self, index: int, snapshots: list[tuple[int, Account]]) -> None:
        d = defer.ensureDeferred(self._write_until_done(index, snapshots))
        self._pending_saves.add(d)
        d.addErrback(lambda f: self.log.failure("saving failed", f))
        d.addBoth(lambda _: self._pending_saves.discard(d))

    async def _write_until_done(self, index: int, snapshots: list[tuple[int, Account]]) -> None:
        """Write *snapshots* on pool *index*, again and again while the store fails.

        Only :class:`StoreUnavailable` and ``OSError`` (a database away, a
        full disk) are worth a retry; anything else is logged and dropped.
        Before each try, snapshots that a newer one of the same account has
        overtaken are dropped: writing them after it would undo a move.
        """
        reactor: IReactorThreads = self.reactor  # type: ignore[assignment]
        delay = SAVE_RETRY[0]
        newest = self._newest_save
        lost = self.shard.lost if self.shard is not None else set()
        while True:
            snapshots = [(n, a) for n, a in snapshots if newest.get(a.name.lower()) == n]
            for number, account in [(n, a) for n, a in snapshots if a.name.lower() in lost]:
                # Lost to another shard while this save waited for a retry.
                self.log.warn("not saving {name}: another shard owns it now", name=account.name)
                snapshots.remove((number, account))
                self._settle(account.name.lower(), number)
            if not snapshots:
                return
            accounts = [a for _, a in snapshots]
            try:
                seconds = await threads.deferToThreadPool(
                    reactor, self._save_pools[index], self._timed_write, accounts
                )
                self.metrics.saves.inc(len(accounts))
                self.metrics.save_duration.observe(seconds)
                break
            except (StoreUnavailable, OSError) as e:
                self.metrics.save_failures.inc()
                names = ", ".join(a.name for a in accounts[:5])
                more = f" and {len(accounts) - 5} more" if len(accounts) > 5 else ""
                self.log.error(
                    "could not save {names}{more}; will retry in {delay:.1f} s: {error}",
                    names=names,
                    more=more,
                    delay=delay,
                    error=e,
                )
            except Exception:
                self.log.failure("could not save {count} accounts", count=len(accounts))
                break
            await task.deferLater(self.reactor, delay, lambda: None)
            delay = min(delay * 2, SAVE_RETRY[1])
        for number, account in snapshots:
            self._settle(account.name.lower(), number)

    def _timed_write(self, accounts: list[Account]) -> float:
        """Write *accounts* (on a save thread); the seconds it took."""
        started = time.perf_counter()
        if len(accounts) > 1:
            self.store.save_many(accounts)
        else:
            self.store.save(accounts[0])
        return time.perf_counter() - started

    def _settle(self, key: str, number: int) -> None:
        """Save *number* of account *key* is done with: wake who waits, if it was the newest."""
        if self._newest_save.get(key) == number:
            del self._newest_save[key]
            for waiter in self._save_waiters.pop(key, []):
                waiter.callback(None)
