"""The running server: the game's clock, its parts wired together, and an orderly shutdown.

:class:`GameService` makes the :class:`~mudserver.core.game.Game` and the
parts that give it time and I/O, each with the hooks it calls: the
:class:`~mudserver.shell.saves.SaveQueue` that writes accounts in order on
threads of its own, the :class:`~mudserver.shell.login.Logins` that check
passwords off the reactor, claim accounts and read them at their newest,
the shard's halves when it is one, and the connections' factory.  It runs
the tick and autosave ``LoopingCall``\\ s.  Stopping it says ``bye shutdown``
to everybody, saves every player, waits for the writes, and only then lets
twistd exit.
"""

from __future__ import annotations

import gc
import resource
import time
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mudserver.account import Account
from mudserver.config import Presentation, Settings
from mudserver.core.game import Game
from mudserver.core.stats import Stats
from mudserver.gcschedule import GcSchedule
from mudserver.limits.bans import BanList
from mudserver.shell.factory import MudFactory
from mudserver.shell.gamehost import GameHost
from mudserver.shell.logbridge import LogBridge
from mudserver.shell.login import Logins, PasswordRecords
from mudserver.shell.metrics import Metrics
from mudserver.shell.saves import SaveQueue
from mudserver.store.base import Store

if TYPE_CHECKING:  # psycopg, behind shards, is an optional extra
    from mudserver.shell.shard import Shard, ShardSetup, ShardWatch

__all__ = ["GameService"]

#: Seconds between two autosave steps.  Each step saves one slice of the
#: players, so every player is still saved once per ``--autosave`` interval,
#: but 2,000 saves at once held the reactor and the GIL for a 200 ms tick.
AUTOSAVE_STEP = 1.0


class GameService(Service):
    """Ticks the world and autosaves; wires the game to its logins, saves and shard."""

    log = Logger()

    def __init__(
        self,
        settings: Settings,
        store: Store,
        reactor: Any = None,
        save_threads: int = 8,
        presentation: Presentation | None = None,
        rehash: bool = True,
        bans: BanList | None = None,
        shard: ShardSetup | None = None,
        host: GameHost | None = None,
    ) -> None:
        """*rehash*: upgrade older password records at login (benchmarks turn it off);
        *bans*: the ban list read at start; *shard*: run as one shard of several;
        *host*: the game's code, if the server runs one (``--game``)."""
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.settings = settings
        self.store = store
        self.reactor: IReactorTime = reactor
        self.host = host
        # Each part is made with the hooks it calls, from the parts made before it.
        stats = Stats()
        self.metrics = Metrics(
            stats,
            lambda: len(self.game),
            lambda: len(self.factory.connections),
            1.0 / settings.tick_rate,
            pending_saves=lambda: len(self.saves.newest),
            runtime=None if host is None else host.runtime,
            labels={} if shard is None else {"shard": shard.name},
        )
        records = PasswordRecords()
        self.saves = SaveQueue(
            store, reactor, self.metrics, save_threads, self._refused, records.current
        )
        self.shard: Shard | None = None
        if shard is not None:
            from mudserver.shell.shard import Shard  # psycopg is an optional extra

            self.shard = Shard(shard, self.saves, reactor)
        self.logins = Logins(store, reactor, settings, self.saves, records, self.shard, rehash)
        said = None  # --say-scope cluster: world-wide says go out to the other shards
        if shard is not None and self.shard is not None and shard.cluster_chat:
            said = self.shard.say
        self.game = Game(
            settings,
            self.saves.save,
            None if host is None else host.runtime,
            stats=stats,
            bans=bans,
            on_leave=self.logins.left,
            on_world_say=said,
        )
        self.watch: ShardWatch | None = None
        if shard is not None and self.shard is not None:
            from mudserver.shell.shard import ShardWatch

            hearing = None if shard.hearing is None else shard.hearing(self.game)
            self.watch = ShardWatch(self.shard, shard.listener, self.game, hearing)
        self.factory = MudFactory(self.game, self.logins, reactor, presentation=presentation)
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
        self.logins.start()
        if self.shard is not None and self.watch is not None:
            self.shard.start()
            self.watch.start()
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
        self.logins.stop()
        self.saves.stop()
        if self.shard is not None and self.watch is not None:
            self.watch.stop()
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

    # -- saves --------------------------------------------------------------------

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
        self.saves.lost.add(snapshot.name.lower())  # its leave is not saved either
        session.close("replaced")
