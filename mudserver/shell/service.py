"""The running server: the game's clock, its threads, and an orderly shutdown.

:class:`GameService` owns the :class:`~mudserver.core.game.Game` and everything
that gives it time and I/O: the tick and autosave ``LoopingCall``\\ s, the
:class:`~mudserver.shell.saves.SaveQueue` that writes accounts in order on
threads of its own, and a pool that checks (and upgrades) password hashes
so that hashing never stalls the tick.  Stopping it says ``bye shutdown`` to everybody, saves every
player, waits for the writes, and only then lets twistd exit.
"""

from __future__ import annotations

import dataclasses
import gc
import resource
import time
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service
from twisted.internet import defer, task, threads
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from mudserver.account import Account, CorruptAccount
from mudserver.config import Presentation, Settings
from mudserver.core.game import Game
from mudserver.gcschedule import GcSchedule
from mudserver.shell.factory import MudFactory
from mudserver.shell.gamehost import GameHost
from mudserver.shell.logbridge import LogBridge
from mudserver.shell.metrics import Metrics
from mudserver.shell.saves import SaveQueue
from mudserver.store.base import Store

if TYPE_CHECKING:  # psycopg, behind shards, is an optional extra
    from mudserver.shell.shard import Shard

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
        store: Store,
        reactor: Any = None,
        login_threads: int = 2,
        save_threads: int = 8,
        presentation: Presentation | None = None,
        rehash: bool = True,
        host: GameHost | None = None,
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
        #: The game's code, if the server runs one (``--game``); started by :meth:`start_game`.
        self.host = host
        self.game = Game(settings, self.save, None if host is None else host.runtime)
        self.factory = MudFactory(self.game, self.authenticate, reactor, presentation=presentation)
        self.metrics = Metrics(
            self.game.stats,
            lambda: len(self.game),
            lambda: len(self.factory.connections),
            1.0 / settings.tick_rate,
            pending_saves=lambda: len(self.saves.newest),
            runtime=None if host is None else host.runtime,
        )
        self.saves = SaveQueue(
            store,
            reactor,
            self.metrics,
            save_threads,
            lost=lambda key: self.shard is not None and key in self.shard.lost,
            refused=self._refused,
        )
        self._login_pool = ThreadPool(1, login_threads, name="mudserver-login")
        #: Logins reading their account right now, and how many players of
        #: that account left meanwhile, by account (see :meth:`_load_newest`).
        self._loading: dict[str, int] = {}
        self._left_while_loading: dict[str, int] = {}
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
        self.saves.start()
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
        waiting = defer.gatherResults([closed, self.saves.idle()], consumeErrors=True)
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
        self.saves.stop()
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
        if self.host is not None:
            self.metrics.game_tick(self.host.runtime.last_spent)
        self.gc_schedule.after_tick()

    def _autosave(self) -> None:
        part, parts = self._autosave_part, self._autosave_parts
        self._autosave_part = (part + 1) % parts
        started = time.perf_counter()
        try:
            with self.saves.batch():  # one write (transaction) per save thread
                count = self.game.autosave(part, parts)
        except Exception:
            self.log.failure("autosave failed")
            return
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

    def _refused(self, snapshot: Account) -> None:
        """The store refused *snapshot*: another shard claimed the account after it was
        loaded here.  The player it came from is closed, if it still plays here."""
        session = self.game.player(snapshot.name)
        if session is None or session.account is None or session.account.lease != snapshot.lease:
            self.log.warn(
                "a save of {name} was refused: another shard claimed it since",
                name=snapshot.name,
            )
            return
        self.log.warn(
            "{name} was not saved: another shard claimed it since; closing it here",
            name=snapshot.name,
        )
        if self.shard is not None:
            self.shard.lost.add(snapshot.name.lower())  # its leave is not saved either
        session.close("replaced")

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
        return threads.deferToThreadPool(reactor, self.saves.pool_of(name), load)

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
        self.saves.save(account)
