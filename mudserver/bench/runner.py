"""One benchmark run: a server (or several shards), swarms of bots, and their figures.

For each (mode, N) the runner creates the bot accounts it needs (cheap
Argon2id parameters, straight into the store: the server verifies each record
with its own parameters, so logins are fast, and runs with ``--no-rehash``
so it does not upgrade them to the real cost at their first login), starts
``twistd mudserver`` pinned to one core, starts the swarm
(:mod:`mudserver.bench.bots`) pinned to another, waits until every bot is
in, lets the world settle, and measures a window: tick durations and
overruns from the server's Prometheus metrics, CPU and RSS from ``/proc``,
updates, bytes and mov latencies from the bots (``mov`` to the first ``wlk``
about oneself in protocol version 2, to the first ``pos`` in version 1), and
what the saves did: how many landed, how long a write took, and how many of
the bots' accounts the store shows saved within the last autosave interval
when the window closes (the file's time, or the row's ``saved`` column).

With ``shards`` > 1 (a PostgreSQL store), each shard is its own server with
N bots of its own (account names ``<prefix><letter>NNNNN``), the servers
pinned to consecutive cores; each shard gives one row of figures.

Bots start scattered over the world, or all at the origin (``spawn``) and
walk outward from there: the crowd at the start is what the server's
``--max-in-view`` cap is for.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mudserver.bench.accounts import BOT_HASH, ensure_accounts, saved_since, shard_prefixes
from mudserver.bench.bots import SPAWNS, SwarmConfig, account_name
from mudserver.bench.scenario import GAME, Reloads, write_world
from mudserver.bench.server import (
    ServerOptions,
    count_above,
    cpu_seconds,
    histogram_quantile,
    listen_overflows,
    postgres_cpu_seconds,
    rss_bytes,
    scrape,
    start_server,
)
from mudserver.bench.swarm import SwarmProcess, wait_ready
from mudserver.config import Settings
from mudserver.store.base import Store
from mudserver.store.spec import is_database

__all__ = ["BOT_HASH", "SPAWNS", "RunConfig", "ensure_accounts", "run", "shard_prefixes"]

#: Figures read from the server's metrics page.
SERVER_SIDE = (
    "tick_p50_ms", "tick_p99_ms", "tick_max_ms", "ticks_over_50ms", "tick_cpu_p99_ms",
    "ticks", "overruns", "saves_per_s", "save_write_p99_ms", "autosave_step_p99_ms",
    "save_failures", "saves_pending_max",
)  # fmt: skip
#: A tick longer than this (a bucket bound of the tick histogram) is counted apart.
LONG_TICK = 0.05


@dataclass
class RunConfig:
    """Everything one run needs; the CLI fills it in."""

    count: int
    #: The servers' settings (``mode``, ``view_radius``...): what differs from the
    #: defaults is passed on to each server's command line.
    settings: Settings = dataclasses.field(default_factory=Settings)
    #: Protocol version the bots log in with ("1" or "2").
    protocol: str = "2"
    #: Where the bots' accounts start: one of SPAWNS.
    spawn: str = "scattered"
    #: Mean seconds between two ``mov`` of a walker (each wait is 0.5 to 1.5 times it).
    retarget_every: float = 4.0
    walkers: float = 1.0
    chatters: float = 0.01
    observers: int = 10
    world: float = 3000.0
    rate: float = 200.0
    warmup: float = 5.0
    duration: float = 20.0
    #: The servers' ``--store``: ``files`` (under ``data``) or a PostgreSQL URI.
    store: str = "files"
    #: Shards sharing ``store`` (a database), each with ``count`` bots of its own.
    shards: int = 1
    #: The shards' ``--say-scope``; None keeps the server's default.
    say_scope: str | None = None
    data: Path | None = None
    workdir: Path = Path("/tmp")
    #: Target a running server instead of starting one.
    host: str | None = None
    port: int = 0
    metrics_url: str | None = None
    server_pid: int | None = None
    #: Core of the (first) server; shard i runs on the i-th core after it.
    server_cpu: int | None = 0
    bots_cpu: int | None = 1
    prefix: str = "bot"
    password: str = "bench"
    quiet: bool = False
    #: Wandering creatures and standing things with a timer (every ``period`` s)
    #: in the servers' world (``mudserver.bench.scenario``).
    things: int = 0
    standing: int = 0
    period: float = 30.0
    #: Seconds between two ``mudserver-admin reload`` in the window (None: none).
    reload_every: float | None = None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class _Shard:
    """One server of a run (started here or given), its bots, and what they measured."""

    name: str | None
    prefix: str
    host: str
    port: int
    metrics_url: str | None
    pid: int | None
    process: subprocess.Popen[bytes] | None = None
    swarm: SwarmProcess | None = None
    before: dict[str, float] | None = None
    after: dict[str, float] | None = None
    longest: float = 0.0
    pending_max: float = 0.0
    reloads: Reloads | None = None
    #: CPU time of the server and of its bots when the window opened, then
    #: their share of a core over the window (percent).
    cpu: float = 0.0
    bots_cpu: float = 0.0
    #: All ``postgres`` processes' share of a core over the window (percent).
    postgres_cpu: float | None = None
    saved_recently: int | None = None

    def stop(self) -> None:
        if self.swarm is not None:
            self.swarm.stop()
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _start_shards(cfg: RunConfig) -> list[_Shard]:
    """The servers of a run: started here (one, or one per shard), or the given one."""
    prefixes = shard_prefixes(cfg.prefix, cfg.shards)
    if cfg.host is not None:
        return [_Shard(None, prefixes[0], cfg.host, cfg.port, cfg.metrics_url, cfg.server_pid)]
    assert cfg.data is not None
    shards: list[_Shard] = []
    world = None
    if cfg.things or cfg.standing:
        world = write_world(
            cfg.workdir / "world.toml", cfg.things, cfg.standing, cfg.world / 2, cfg.period
        )
    try:
        for index, prefix in enumerate(prefixes):
            name = f"shard{index + 1}" if cfg.shards > 1 else None
            admin = None if cfg.reload_every is None else cfg.workdir / f"admin-{index}.sock"
            options = ServerOptions(
                settings=dataclasses.replace(
                    cfg.settings,
                    bounds=max(cfg.settings.bounds, cfg.world),
                    # Every bot comes from 127.0.0.1: lift the per-address cap that is
                    # meant for one attacker, and the total cap above the bots wanted.
                    max_connections_per_ip=cfg.count + 1000,
                    max_connections=max(cfg.settings.max_connections, cfg.count + 1000),
                ),
                # Shards share the accounts (the database), not their files.
                data=cfg.data if name is None else cfg.data / name,
                workdir=cfg.workdir,
                store=cfg.store,
                shard=name,
                say_scope=cfg.say_scope if name is not None else None,
                game=GAME if world is not None else "none",
                world_file=world,
                admin=admin,
                cpu=None if cfg.server_cpu is None else (cfg.server_cpu + index) % _cores(),
                label=f"server-{cfg.settings.mode}-{cfg.protocol}-{cfg.count}"
                + (f"-{name}" if name else ""),
            )
            process, port, url = start_server(options)
            shard = _Shard(name, prefix, "127.0.0.1", port, url, process.pid, process)
            if admin is not None and cfg.reload_every is not None:
                shard.reloads = Reloads(admin, url, cfg.reload_every)
            shards.append(shard)
    except BaseException:
        for shard in shards:
            shard.stop()
        raise
    return shards


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run(cfg: RunConfig, store: Store | None = None) -> list[dict[str, Any]]:
    """One measurement; the figures as a flat dict per server (one per shard).

    *store* is the store the servers use, opened by the caller, to see when
    the bots' accounts were last saved (None: that figure is left out).
    """
    shards = _start_shards(cfg)
    overflows = listen_overflows()
    try:
        for shard in shards:
            swarm_config = SwarmConfig(
                host=shard.host,
                port=shard.port,
                count=cfg.count,
                prefix=shard.prefix,
                password=cfg.password,
                walkers=cfg.walkers,
                chatters=cfg.chatters,
                observers=cfg.observers,
                half=cfg.world / 2,
                rate=cfg.rate,
                version=cfg.protocol,
                move_every=cfg.retarget_every,
            )
            shard.swarm = SwarmProcess(swarm_config, cfg.bots_cpu)
        swarms = [shard.swarm for shard in shards if shard.swarm is not None]
        label = None if cfg.quiet else f"{cfg.settings.mode:>9} v{cfg.protocol}"
        ready = wait_ready(swarms, cfg.count, cfg.count / cfg.rate + 120, label)
        overflows = listen_overflows() - overflows
        time.sleep(cfg.warmup)
        _measure(cfg, shards, store)
        reports = [swarm.ask("report")["report"] for swarm in swarms]
        rss = [rss_bytes(shard.pid) if shard.pid else 0 for shard in shards]
    finally:
        for shard in shards:
            shard.stop()
    return [
        _figures(cfg, shard, bots, progress, memory, overflows)
        for shard, bots, progress, memory in zip(shards, reports, ready, rss, strict=True)
    ]


def _measure(cfg: RunConfig, shards: list[_Shard], store: Store | None) -> None:
    """The measured window: scrapes at its ends (and every 5 s), CPU, recent saves."""
    for shard in shards:
        assert shard.swarm is not None
        shard.swarm.tell("mark")
        shard.before = scrape(shard.metrics_url) if shard.metrics_url else {}
    postgres0 = postgres_cpu_seconds() if is_database(cfg.store) else 0.0
    for shard in shards:
        assert shard.swarm is not None
        shard.cpu = cpu_seconds(shard.pid) if shard.pid else 0.0
        shard.bots_cpu = cpu_seconds(shard.swarm.process.pid)
    t0 = time.monotonic()
    reloads = [shard.reloads for shard in shards if shard.reloads is not None]
    for reload in reloads:
        reload.start()
    # The server keeps the longest tick of the last 10 s: sample it often.
    while (left := t0 + cfg.duration - time.monotonic()) > 0:
        time.sleep(min(5.0, left, *(r.due() for r in reloads)))
        for reload in reloads:
            if not reload.due() and time.monotonic() < t0 + cfg.duration:
                reload.run()
        for shard in shards:
            shard.after = scrape(shard.metrics_url) if shard.metrics_url else {}
            recent = shard.after.get("mudserver_tick_duration_recent_max_seconds", 0.0)
            shard.longest = max(shard.longest, recent)
            pending = shard.after.get("mudserver_saves_pending", 0.0)
            shard.pending_max = max(shard.pending_max, pending)
    elapsed = time.monotonic() - t0
    postgres = postgres_cpu_seconds() - postgres0
    autosave = cfg.settings.autosave
    for shard in shards:
        assert shard.swarm is not None
        used = (cpu_seconds(shard.pid) if shard.pid else 0.0) - shard.cpu
        shard.cpu = 100 * used / elapsed
        shard.bots_cpu = 100 * (cpu_seconds(shard.swarm.process.pid) - shard.bots_cpu) / elapsed
        shard.postgres_cpu = 100 * postgres / elapsed if is_database(cfg.store) else None
        # Joins saved every account; a window at least an interval long sees past them.
        if store is not None and cfg.duration >= autosave:
            names = [account_name(shard.prefix, i) for i in range(cfg.count)]
            shard.saved_recently = saved_since(store, names, autosave)


def _figures(
    cfg: RunConfig,
    shard: _Shard,
    bots: dict[str, Any],
    ready: dict[str, Any],
    rss: int,
    overflows: int,
) -> dict[str, Any]:
    """The flat dict of one server's figures (see :mod:`mudserver.bench.report`)."""
    before, after = shard.before or {}, shard.after or {}
    clients = max(1, bots["playing"])
    elapsed = bots["elapsed"]
    latencies = bots["latencies"]

    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    def quantile_ms(q: float, name: str) -> float:
        return 1000 * histogram_quantile(q, before, after, name)

    tick = "mudserver_tick_duration_seconds"
    result = {
        "mode": cfg.settings.mode,
        "protocol": cfg.protocol,
        "n": cfg.count,
        "spawn": cfg.spawn,
        "retarget_every": cfg.retarget_every,
        "max_in_view": cfg.settings.max_in_view,
        "walkers": cfg.walkers,
        "world": cfg.world,
        "chatters": cfg.chatters,
        "say_radius": cfg.settings.say_radius,
        "chat_spread": cfg.settings.chat_spread,
        "store": "postgresql" if is_database(cfg.store) else "files",
        "shard": shard.name,
        "autosave_s": cfg.settings.autosave,
        "tick_p50_ms": quantile_ms(0.50, tick),
        "tick_p99_ms": quantile_ms(0.99, tick),
        "tick_max_ms": 1000 * shard.longest,
        "ticks_over_50ms": count_above(LONG_TICK, before, after) if after else None,
        "tick_cpu_p99_ms": quantile_ms(0.99, "mudserver_tick_cpu_seconds"),
        "ticks": delta(f"{tick}_count"),
        "overruns": delta("mudserver_tick_overruns_total"),
        "updates_per_client_s": bots["lines"] / clients / elapsed,
        "bytes_per_client_s": bots["bytes"] / clients / elapsed,
        "latency_p50_ms": _ms(percentile(latencies, 0.50)),
        "latency_p99_ms": _ms(percentile(latencies, 0.99)),
        "latency_samples": len(latencies),
        "saves_per_s": delta("mudserver_saves_total") / elapsed,
        "save_write_p99_ms": quantile_ms(0.99, "mudserver_save_write_seconds"),
        "autosave_step_p99_ms": quantile_ms(0.99, "mudserver_autosave_step_seconds"),
        "save_failures": delta("mudserver_save_failures_total"),
        "saves_pending_max": shard.pending_max,
        "saved_within_autosave": shard.saved_recently,
        "server_cpu_percent": shard.cpu if shard.pid else None,
        "bots_cpu_percent": shard.bots_cpu,
        "postgres_cpu_percent": shard.postgres_cpu,
        "server_rss_mb": rss / 2**20 if shard.pid else None,
        "playing": bots["playing"],
        "dropped": bots["dropped_total"],
        "refused": bots["refused"],
        "failed_logins": bots["failed_logins"],
        "logins_per_s": ready["logins_per_s"],
        "listen_overflows": overflows,
        "password_hash": (
            "argon2id m=19456 t=2 p=1 (default)"
            if cfg.prefix.startswith("real")
            else "argon2id m=8 t=1"
        ),
        "bot_send_blocked": bots["send_blocked"],
        "things": cfg.things,
        "standing": cfg.standing,
        "reloads": None if shard.reloads is None else len(shard.reloads.held),
        "reload_held_max_ms": _ms(max(shard.reloads.held, default=None)) if shard.reloads else None,
        "reload_tick_max_ms": _ms(max(shard.reloads.longest, default=None))
        if shard.reloads
        else None,
        "reloads_failed": None if shard.reloads is None else len(shard.reloads.failed),
    }
    if not shard.metrics_url:  # a server without --metrics: no server-side figures
        for key in result:
            if key in SERVER_SIDE:
                result[key] = None
    return result


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds
