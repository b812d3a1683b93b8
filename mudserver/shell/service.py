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
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer, task, threads
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.shell.metrics import Metrics
from mudserver.shell.server import MudFactory
from mudserver.store.accounts import Account, AccountStore, CorruptAccount

__all__ = ["GameService"]

#: Seconds between two autosave steps.  Each step saves one slice of the
#: players, so every player is still saved once per ``--autosave`` interval,
#: but 2,000 saves at once held the reactor and the GIL for a 200 ms tick.
AUTOSAVE_STEP = 1.0


class GameService(Service):
    """Ticks the world, autosaves, checks logins and saves off the reactor thread."""

    log = Logger()

    def __init__(
        self,
        settings: Settings,
        store: AccountStore,
        reactor: Any = None,
        login_threads: int = 2,
        save_threads: int = 8,
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
        self.factory = MudFactory(self.game, self.authenticate, reactor)
        self.metrics = Metrics(
            self.game.stats,
            lambda: len(self.game),
            lambda: len(self.factory.connections),
            1.0 / settings.tick_rate,
        )
        # Saves of one account always go to the same one-thread pool, so they
        # land in the order made; several pools let the file system commit
        # their fsyncs together (1,000 saves: ~6 s on one thread, <1 s on 8).
        self._save_pools = [
            ThreadPool(1, 1, name=f"mudserver-save-{i}") for i in range(save_threads)
        ]
        self._login_pool = ThreadPool(1, login_threads, name="mudserver-login")
        self._pending_saves: set[defer.Deferred[None]] = set()
        self._ticker = task.LoopingCall(self._tick)
        self._ticker.clock = reactor
        self._autosaver = task.LoopingCall(self._autosave)
        self._autosaver.clock = reactor
        #: Autosave steps per ``--autosave`` interval, and the one due next.
        self._autosave_parts = max(1, round(settings.autosave / AUTOSAVE_STEP))
        self._autosave_part = 0
        self._last_tick = 0.0
        self._gc_was_enabled = gc.isenabled()
        #: Objects in the oldest generation after the last full collection.
        self._gc_long_lived = 0

    # -- life cycle ----------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._raise_open_file_limit()
        self._collect_between_ticks()
        for pool in self._save_pools:
            pool.start()
        self._login_pool.start()
        stale = self.store.remove_stale_temp_files()
        if stale:
            self.log.info("removed {count} temp files left by a crash", count=stale)
        self._last_tick = self.reactor.seconds()
        self._ticker.start(1.0 / self.settings.tick_rate, now=False)
        self._autosaver.start(self.settings.autosave / self._autosave_parts, now=False)
        self.log.info(
            "mudserver ticking at {rate} Hz, data in {data}",
            rate=self.settings.tick_rate,
            data=self.store.users_dir,
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

    def _collect_between_ticks(self) -> None:
        """Take the garbage collector off its own schedule; :meth:`_tick` runs it.

        CPython collects whenever enough containers were allocated, which
        with thousands of players means in the middle of a tick: a young
        collection there took 50 ms, and the tick's short-lived lists, caught
        alive, were promoted until a full collection followed.  Collected
        right after a tick instead, the tick's garbage is already gone and
        the world stays on time.  What exists at start-up (modules, classes)
        is frozen: it lives for good, so no collection needs to walk it.
        """
        gc.freeze()
        self._gc_was_enabled = gc.isenabled()
        gc.disable()

    def _collect_garbage(self) -> None:
        """Collect now if CPython would have by now, and the generations it would have.

        CPython's rule for the oldest generation included: a full collection
        (115-180 ms with 10,000 players) only once the objects that reached
        it since the last one are a quarter of those it kept then, so a
        steady crowd of players does not cost one every few seconds.
        """
        young, middle, old = gc.get_threshold()
        count_young, count_middle, count_old = gc.get_count()
        if count_young < young:
            return
        generation = 0
        if count_middle >= middle:
            generation = 1
            if count_old >= old:
                in_oldest = len(gc.get_objects(2))
                if in_oldest - self._gc_long_lived > self._gc_long_lived / 4:
                    generation = 2
        gc.collect(generation)
        if generation == 2:
            self._gc_long_lived = len(gc.get_objects(2))

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()
        return defer.ensureDeferred(self._shutdown())

    async def _shutdown(self) -> None:
        for loop in (self._ticker, self._autosaver):
            if loop.running:
                loop.stop()
        gc.unfreeze()
        if self._gc_was_enabled:
            gc.enable()
        players = len(self.game)
        self.game.shutdown()
        closed = self.factory.when_all_closed()
        saves = defer.DeferredList(list(self._pending_saves), consumeErrors=True)
        waiting = defer.gatherResults([closed, saves], consumeErrors=True)
        waiting.addTimeout(self.settings.shutdown_timeout, self.reactor)
        try:
            await waiting
        except defer.TimeoutError:
            self.log.error("shutdown: gave up waiting for connections and saves")
        for protocol in list(self.factory.connections):
            protocol.transport.abortConnection()
        self._login_pool.stop()
        for pool in self._save_pools:
            pool.stop()
        self.log.info("mudserver stopped; saved {players} players", players=players)

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
        self._collect_garbage()

    def _autosave(self) -> None:
        part, parts = self._autosave_part, self._autosave_parts
        self._autosave_part = (part + 1) % parts
        try:
            count = self.game.autosave(part, parts)
        except Exception:
            self.log.failure("autosave failed")
            return
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
        return d.addCallback(self._reload, name)

    def _reload(
        self, checked: tuple[Account, dict[str, Any] | None] | None, name: str
    ) -> defer.Deferred[Account | None] | None:
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
        if checked is None:
            return None
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

    def _save_pool_of(self, name: str) -> ThreadPool:
        """The one pool that reads and writes the file of account *name*."""
        return self._save_pools[zlib.crc32(name.lower().encode()) % len(self._save_pools)]

    def save(self, account: Account) -> None:
        """Write *account* on its save thread; a failure is logged and retried later."""
        upgrade = self._upgraded.get(account.name.lower())
        if upgrade is not None and account.password == upgrade[0]:
            account = dataclasses.replace(account, password=upgrade[1])
        reactor: IReactorThreads = self.reactor  # type: ignore[assignment]
        pool = self._save_pool_of(account.name)
        d = threads.deferToThreadPool(reactor, pool, self.store.save, account)
        self._pending_saves.add(d)

        def failed(failure: Any) -> None:
            if failure.check(OSError):  # disk full, permissions: an operator's problem
                self.log.error(
                    "could not save {name}; will retry: {error}",
                    name=account.name,
                    error=failure.value,
                )
            else:
                self.log.failure("could not save {name}; will retry", failure, name=account.name)
            self.game.save_failed(account.name)

        d.addErrback(failed)
        d.addBoth(lambda _: self._pending_saves.discard(d))
