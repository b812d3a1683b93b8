"""One benchmark run: a server, a swarm of bots, and the figures they produce.

For each (mode, N) the runner creates the bot accounts it needs (cheap
Argon2id parameters, straight into the store: the server verifies each record
with its own parameters, so logins are fast, and runs with ``--no-rehash``
so it does not upgrade them to the real cost at their first login), starts ``twistd mudserver``
pinned to one core, starts the swarm (:mod:`mudserver.bench.bots`) pinned to
another, waits until every bot is in, lets the world settle, and measures a
window: tick durations and overruns from the server's Prometheus metrics,
CPU and RSS from ``/proc``, updates, bytes and mov latencies from the bots
(``mov`` to the first ``wlk`` about oneself in protocol version 2, to the
first ``pos`` in version 1).

Bots start scattered over the world, or all at the origin (``spawn``) and
walk outward from there: the crowd at the start is what the server's
``--max-in-view`` cap is for.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from prometheus_client.parser import text_string_to_metric_families

import mudserver
from mudserver.bench.bots import SPAWNS, SwarmConfig, account_name
from mudserver.store.accounts import AccountStore
from mudserver.store.passwords import Argon2Params, PasswordParams

__all__ = ["SPAWNS", "RunConfig", "ensure_accounts", "run"]

#: Where the mudserver package being benchmarked lives: the server runs it too.
REPO = Path(mudserver.__file__).resolve().parents[1]
#: Cheap Argon2id for bot accounts (8 KiB, one pass): logins cost what the record says.
BOT_HASH = Argon2Params(time_cost=1, memory_cost=8)


@dataclass
class RunConfig:
    """Everything one run needs; the CLI fills it in."""

    count: int
    mode: str = "interest"
    #: Protocol version the bots log in with ("1" or "2").
    protocol: str = "2"
    #: Where the bots' accounts start: one of SPAWNS.
    spawn: str = "scattered"
    #: Mean seconds between two ``mov`` of a walker (each wait is 0.5 to 1.5 times it).
    retarget_every: float = 4.0
    #: The server's ``--max-in-view``; ``None`` leaves the server's default.
    max_in_view: int | None = None
    walkers: float = 1.0
    chatters: float = 0.01
    observers: int = 10
    world: float = 3000.0
    rate: float = 200.0
    warmup: float = 5.0
    duration: float = 20.0
    view_radius: float = 100.0
    #: The server's ``--say-radius``; 0 keeps chat world-wide.
    say_radius: float = 0.0
    data: Path | None = None
    workdir: Path = Path("/tmp")
    #: Target a running server instead of starting one.
    host: str | None = None
    port: int = 0
    metrics_url: str | None = None
    server_pid: int | None = None
    server_cpu: int | None = 0
    bots_cpu: int | None = 1
    prefix: str = "bot"
    password: str = "bench"
    quiet: bool = False


def ensure_accounts(
    data: Path,
    count: int,
    prefix: str,
    password: str,
    half: float,
    params: PasswordParams = BOT_HASH,
    spawn: str = "scattered",
) -> float:
    """Create bot accounts 0..count-1 that are missing; return the seconds it took.

    Scattered, each starts at a random point of the world, so bots are spread
    out from their first tick (everybody at 0,0,0 would all see each other).
    At the origin that crowd is the point: every account is put back at
    0,0,0, since the previous run saved wherever its bot walked to.
    """
    store = AccountStore(data, params)
    rnd = random.Random(count)
    started = time.monotonic()
    for index in range(count):
        name = account_name(prefix, index)
        x, y = rnd.uniform(-half, half), rnd.uniform(-half, half)
        if spawn == "origin":
            x = y = 0.0
        account = store.load(name)
        if account is None:
            store.create(name, password, x, y, 0.0)
        elif spawn == "origin" and (account.x, account.y, account.z) != (0.0, 0.0, 0.0):
            account.x = account.y = account.z = 0.0
            store.save(account)
    return time.monotonic() - started


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(cpu: int | None) -> Any:
    """A ``preexec_fn`` that pins the child (and its threads) to *cpu*."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def start_server(cfg: RunConfig, data: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    port, metrics_port = free_port(), free_port()
    twistd = Path(sys.executable).with_name("twistd")
    command = [
        str(twistd) if twistd.exists() else shutil.which("twistd") or "twistd",
        "-n",
        "--pidfile=",
        f"--logfile={cfg.workdir / f'server-{cfg.mode}-{cfg.protocol}-{cfg.count}.log'}",
        "mudserver",
        f"--port=tcp:{port}:interface=127.0.0.1:backlog=4096",
        f"--metrics=tcp:{metrics_port}:interface=127.0.0.1",
        # The browser client's fixed default port would clash with any other
        # server on the machine (two bench runs at once failed to start).
        "--web=none",
        f"--data={data}",
        "--admin=none",  # no operator here: nothing to leave behind in the data directory
        # Bots speak TCP; a browser port would only clash with another server's 4001.
        # Bot records are cheap on purpose (or, with --real-hash, already current).
        "--no-rehash",
        f"--mode={cfg.mode}",
        f"--view-radius={cfg.view_radius}",
        f"--say-radius={cfg.say_radius}",
        f"--bounds={max(10_000.0, cfg.world)}",
        # Every bot comes from 127.0.0.1: lift the per-address cap that is
        # meant for one attacker, and the total cap above the bots wanted.
        f"--max-connections-per-ip={cfg.count + 1000}",
        f"--max-connections={max(10_000, cfg.count + 1000)}",
    ]
    if cfg.max_in_view is not None:
        command.append(f"--max-in-view={cfg.max_in_view}")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        command,
        env=env,
        cwd=cfg.workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=pin(cfg.server_cpu),
    )
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"twistd exited early; see {cfg.workdir}")
        try:
            scrape(url)
            return process, port, url
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("twistd did not start within 30 s") from None
            time.sleep(0.1)


def scrape(url: str) -> dict[str, float]:
    """Every sample of the metrics page, keyed by name and labels."""
    # An overloaded server answers late, but it answers: wait for it.
    with urllib.request.urlopen(url, timeout=120) as response:
        text = response.read().decode("utf-8")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def histogram_quantile(
    q: float,
    before: dict[str, float],
    after: dict[str, float],
    name: str = "mudserver_tick_duration_seconds",
) -> float:
    """The *q* quantile of a histogram's observations between two scrapes.

    Interpolated linearly inside the bucket, as Prometheus does.
    """
    prefix = f"{name}_bucket{{le="
    buckets = []
    for key, value in after.items():
        if key.startswith(prefix):
            bound = float(key[len(prefix) : -1])
            buckets.append((bound, value - before.get(key, 0.0)))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return 0.0
    rank, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            fields = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(fields.get("ListenOverflows", 0))
    return 0


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class SwarmProcess:
    """The bots' process, and the JSON lines it talks in."""

    def __init__(self, config: SwarmConfig, cpu: int | None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mudserver.bench.bots", json.dumps(asdict(config))],
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=pin(cpu),
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[str] = self.process.stdin
        self.stdout: IO[str] = self.process.stdout

    def ask(self, command: str) -> dict[str, Any]:
        self.stdin.write(command + "\n")
        self.stdin.flush()
        return self.read()

    def tell(self, command: str) -> None:
        self.stdin.write(command + "\n")
        self.stdin.flush()

    def read(self) -> dict[str, Any]:
        line = self.stdout.readline()
        if not line:
            raise RuntimeError("the bot process died")
        result: dict[str, Any] = json.loads(line)
        return result

    def stop(self) -> None:
        try:
            self.tell("stop")
            self.process.wait(20)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(10)


def wait_ready(swarm: SwarmProcess, cfg: RunConfig) -> dict[str, Any]:
    """Poll the swarm until every bot is in (or failed), drawing a progress bar."""
    deadline = time.monotonic() + cfg.count / cfg.rate + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        p = swarm.ask("progress")["progress"]
        if not cfg.quiet:
            done = int(40 * p["playing"] / cfg.count)
            sys.stderr.write(
                f"\r{cfg.mode:>9} v{cfg.protocol} N={cfg.count:<6} "
                f"[{'#' * done}{'.' * (40 - done)}] "
                f"{p['playing']}/{cfg.count} in, {p['refused']} refused, "
                f"{p['dropped']} dropped, {p['logins_per_s']:.0f} logins/s "
            )
            sys.stderr.flush()
        if p["ready"]:
            if not cfg.quiet:
                sys.stderr.write("\n")
            return dict(p)
    raise RuntimeError(f"bots not all logged in after {deadline} s")


def run(cfg: RunConfig) -> dict[str, Any]:
    """One measurement; returns the figures as a flat dict."""
    server: subprocess.Popen[bytes] | None = None
    if cfg.host is None:
        assert cfg.data is not None
        server, port, metrics_url = start_server(cfg, cfg.data)
        host, pid = "127.0.0.1", server.pid
    else:
        host, port, metrics_url, pid = cfg.host, cfg.port, cfg.metrics_url, cfg.server_pid
    swarm_config = SwarmConfig(
        host=host,
        port=port,
        count=cfg.count,
        prefix=cfg.prefix,
        password=cfg.password,
        walkers=cfg.walkers,
        chatters=cfg.chatters,
        observers=cfg.observers,
        half=cfg.world / 2,
        rate=cfg.rate,
        version=cfg.protocol,
        move_every=cfg.retarget_every,
    )
    overflows = listen_overflows()
    swarm = SwarmProcess(swarm_config, cfg.bots_cpu)
    try:
        ready = wait_ready(swarm, cfg)
        overflows = listen_overflows() - overflows
        time.sleep(cfg.warmup)
        swarm.tell("mark")
        before = scrape(metrics_url) if metrics_url else {}
        cpu0, t0 = (cpu_seconds(pid) if pid else 0.0), time.monotonic()
        # The server keeps the longest tick of the last 10 s: sample it often.
        longest = 0.0
        while (left := t0 + cfg.duration - time.monotonic()) > 0:
            time.sleep(min(5.0, left))
            after = scrape(metrics_url) if metrics_url else {}
            longest = max(longest, after.get("mudserver_tick_duration_recent_max_seconds", 0.0))
        cpu1, t1 = (cpu_seconds(pid) if pid else 0.0), time.monotonic()
        bots = swarm.ask("report")["report"]
        rss = rss_bytes(pid) if pid else 0
    finally:
        swarm.stop()
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
    clients = max(1, bots["playing"])
    elapsed = bots["elapsed"]
    latencies = bots["latencies"]
    result = {
        "mode": cfg.mode,
        "protocol": cfg.protocol,
        "n": cfg.count,
        "spawn": cfg.spawn,
        "retarget_every": cfg.retarget_every,
        "max_in_view": cfg.max_in_view,
        "walkers": cfg.walkers,
        "world": cfg.world,
        "chatters": cfg.chatters,
        "say_radius": cfg.say_radius,
        "tick_p50_ms": 1000 * histogram_quantile(0.50, before, after),
        "tick_p99_ms": 1000 * histogram_quantile(0.99, before, after),
        "tick_max_ms": 1000 * longest,
        "tick_cpu_p99_ms": 1000
        * histogram_quantile(0.99, before, after, "mudserver_tick_cpu_seconds"),
        "ticks": after.get("mudserver_tick_duration_seconds_count", 0.0)
        - before.get("mudserver_tick_duration_seconds_count", 0.0),
        "overruns": after.get("mudserver_tick_overruns_total", 0.0)
        - before.get("mudserver_tick_overruns_total", 0.0),
        "updates_per_client_s": bots["lines"] / clients / elapsed,
        "bytes_per_client_s": bots["bytes"] / clients / elapsed,
        "latency_p50_ms": _ms(percentile(latencies, 0.50)),
        "latency_p99_ms": _ms(percentile(latencies, 0.99)),
        "latency_samples": len(latencies),
        "server_cpu_percent": 100 * (cpu1 - cpu0) / (t1 - t0) if pid else None,
        "server_rss_mb": rss / 2**20 if pid else None,
        "playing": bots["playing"],
        "dropped": bots["dropped_total"],
        "refused": bots["refused"],
        "failed_logins": bots["failed_logins"],
        "logins_per_s": ready["logins_per_s"],
        "listen_overflows": overflows,
        "password_hash": (
            "argon2id m=19456 t=2 p=1 (default)" if cfg.prefix == "real" else "argon2id m=8 t=1"
        ),
        "bot_send_blocked": bots["send_blocked"],
    }
    if not metrics_url:  # a server without --metrics: no tick figures
        for key in ("tick_p50_ms", "tick_p99_ms", "tick_max_ms", "tick_cpu_p99_ms", "overruns"):
            result[key] = None
    return result


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds
