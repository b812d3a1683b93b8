"""Prometheus metrics of a running server, served by ``--metrics ENDPOINT``.

Each :class:`Metrics` has its own ``CollectorRegistry``, so several servers
(or tests) in one process never collide.  Per-line counters live in
:class:`~mudserver.core.stats.Stats` as plain integers and are read only when
scraped; the tick histogram is fed ten times a second by the service.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from twisted.web.resource import Resource
from twisted.web.server import Request

from mudserver.core.stats import Stats
from mudserver.game.runtime import Runtime

__all__ = ["Metrics", "MetricsResource", "SAVE_BUCKETS", "TICK_BUCKETS"]

#: Tick duration buckets, in seconds: 2.5 ms apart from 20 to 60 ms (where a
#: loaded server's p99 and the targets of ``docs/benchmarks.md`` lie), 5 ms
#: to 100 ms, 10-25 ms to 200 ms: a p99 interpolated inside a bucket is off
#: by at most a few ms, not reported as a bucket's bound (40.0, 50.0...).
TICK_BUCKETS = (
    0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02,
    0.0225, 0.025, 0.0275, 0.03, 0.0325, 0.035, 0.0375, 0.04, 0.0425, 0.045,
    0.0475, 0.05, 0.0525, 0.055, 0.0575, 0.06, 0.065, 0.07, 0.075, 0.08, 0.085,
    0.09, 0.095, 0.1, 0.11, 0.12, 0.135, 0.15, 0.175, 0.2, 0.25, 0.3, 0.4, 0.5,
    0.75, 1.0, 2.0,
)  # fmt: skip
#: Buckets of one kind's game code in one tick, in seconds: from a few
#: microseconds (a timer or two) to the whole tick.
GAME_BUCKETS = (
    0.00001, 0.00003, 0.0001, 0.0003, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
)  # fmt: skip
#: Buckets of one write of saves (a transaction, or a batch of files) and of
#: the reactor's share of an autosave step, in seconds.
SAVE_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
)  # fmt: skip


class _StatsCollector(Collector):
    """Reads the plain counters and gauges at scrape time."""

    def __init__(
        self, stats: Stats, players: Callable[[], int], connections: Callable[[], int],
        recent_max: Callable[[], float], pending_saves: Callable[[], int],
    ) -> None:  # fmt: skip
        self.stats, self.players, self.connections = stats, players, connections
        self.recent_max, self.pending_saves = recent_max, pending_saves

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        yield GaugeMetricFamily("mudserver_players", "Players in the world.", self.players())
        yield GaugeMetricFamily(
            "mudserver_connections", "Open client connections.", self.connections()
        )
        yield GaugeMetricFamily(
            "mudserver_tick_duration_recent_max_seconds",
            "Longest tick of the last 10 seconds.",
            self.recent_max(),
        )
        yield GaugeMetricFamily(
            "mudserver_saves_pending",
            "Accounts with a save made and not yet written (waiting, being written or retried).",
            self.pending_saves(),
        )
        for name, text, value in (
            ("mudserver_lines_received", "Lines received from clients.", s.lines_received),
            ("mudserver_bytes_received", "Bytes received from clients.", s.bytes_received),
            ("mudserver_lines_sent", "Lines sent to clients.", s.lines_sent),
            ("mudserver_bytes_sent", "Bytes sent to clients.", s.bytes_sent),
            ("mudserver_logins", "Successful logins.", s.logins),
            ("mudserver_failed_logins", "Wrong passwords, at con and at pwd.", s.failed_logins),
            ("mudserver_signups", "Accounts made by strangers with new.", s.signups),
            ("mudserver_password_changes", "Passwords changed with pwd.", s.password_changes),
        ):
            yield CounterMetricFamily(name, text, value)
        disconnects = CounterMetricFamily(
            "mudserver_disconnects", "Closed connections by reason.", labels=["reason"]
        )
        for reason, count in sorted(s.disconnects.items()):
            disconnects.add_metric([reason], count)
        yield disconnects


class _GameCollector(Collector):
    """The game's counts, read at scrape time from its runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime = self.runtime
        yield GaugeMetricFamily(
            "mudserver_things", "Things (not players) in the world.", len(runtime.things())
        )
        yield GaugeMetricFamily(
            "mudserver_game_timers", "Timers of game code waiting.", runtime.timers.waiting
        )
        errors = CounterMetricFamily(
            "mudserver_game_errors",
            "Hooks of game code that raised, by class and hook.",
            labels=["kind", "hook"],
        )
        for (kind, hook), count in sorted(runtime.guard.errors.items()):
            errors.add_metric([kind, hook], count)
        yield errors
        yield CounterMetricFamily(
            "mudserver_game_hooks_switched_off",
            "Hooks of things switched off after failing repeatedly.",
            runtime.guard.switched_off,
        )


class Metrics:
    """The registry of one server, and the tick measurements the service feeds it."""

    def __init__(
        self,
        stats: Stats,
        players: Callable[[], int],
        connections: Callable[[], int],
        tick_interval: float,
        pending_saves: Callable[[], int] = lambda: 0,
        runtime: Runtime | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        #: Labels added to every sample (``--shard``: ``{"shard": NAME}``).
        self.labels: dict[str, str] = dict(labels or {})
        self.tick_interval = tick_interval
        self.tick_duration = Histogram(
            "mudserver_tick_duration_seconds",
            "Time spent in one tick of the game.",
            buckets=TICK_BUCKETS,
            registry=self.registry,
        )
        self.tick_cpu = Histogram(
            "mudserver_tick_cpu_seconds",
            "CPU time of the reactor thread in one tick: the tick's own cost, even on a "
            "busy machine where the wall-clock duration also counts waiting for a core.",
            buckets=TICK_BUCKETS,
            registry=self.registry,
        )
        self.tick_overruns = Counter(
            "mudserver_tick_overruns",
            "Ticks that took longer than the tick interval.",
            registry=self.registry,
        )
        self.saves = Counter(
            "mudserver_saves",
            "Account saves written to the store (autosaves, leaves, shutdown).",
            registry=self.registry,
        )
        self.save_failures = Counter(
            "mudserver_save_failures",
            "Writes of saves that failed and wait for a retry (the store away, a full disk).",
            registry=self.registry,
        )
        self.save_duration = Histogram(
            "mudserver_save_write_seconds",
            "Time of one write on a save thread: one transaction in PostgreSQL, a batch of "
            "files otherwise.",
            buckets=SAVE_BUCKETS,
            registry=self.registry,
        )
        self.autosave_step = Histogram(
            "mudserver_autosave_step_seconds",
            "Reactor-thread time of one autosave step (snapshotting a slice of the players; "
            "the writes themselves run on the save threads).",
            buckets=SAVE_BUCKETS,
            registry=self.registry,
        )
        self.game_seconds = Histogram(
            "mudserver_game_seconds",
            "Time of game code in one tick, by class of thing ('Rules' for the game's own).",
            labelnames=["kind"],
            buckets=GAME_BUCKETS,
            registry=self.registry,
        )
        if runtime is not None:
            self.registry.register(_GameCollector(runtime))
        self._recent: deque[float] = deque(maxlen=max(1, round(10 / tick_interval)))
        self.registry.register(
            _StatsCollector(
                stats,
                players,
                connections,
                lambda: max(self._recent, default=0.0),
                pending_saves,
            )
        )

    def tick(self, seconds: float, cpu_seconds: float) -> None:
        """Record one tick that took *seconds* of wall-clock time, *cpu_seconds* of CPU."""
        self.tick_duration.observe(seconds)
        self.tick_cpu.observe(cpu_seconds)
        self._recent.append(seconds)
        if seconds > self.tick_interval:
            self.tick_overruns.inc()

    def game_tick(self, spent: Mapping[str, float]) -> None:
        """Record the seconds each kind of game code took in one tick."""
        for kind, seconds in spent.items():
            self.game_seconds.labels(kind).observe(seconds)

    def text(self) -> bytes:
        """The metrics in Prometheus' text exposition format, with :attr:`labels` on each."""
        if not self.labels:
            return generate_latest(self.registry)
        return generate_latest(_Labelled(self.registry, self.labels))  # type: ignore[arg-type]


class _Labelled:
    """Every sample of a registry, with the same labels added (a shard's name)."""

    def __init__(self, registry: CollectorRegistry, labels: dict[str, str]) -> None:
        self.registry = registry
        self.labels = labels

    def collect(self) -> Iterator[Metric]:
        for metric in self.registry.collect():
            labelled = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            labelled.samples = [
                sample._replace(labels={**sample.labels, **self.labels})
                for sample in metric.samples
            ]
            yield labelled


class MetricsResource(Resource):
    """``GET`` anything: the metrics.  Rendered on the reactor thread, no pool."""

    isLeaf = True

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.metrics = metrics

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode("ascii"))
        return self.metrics.text()
