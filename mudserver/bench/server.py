"""The server side of a benchmark run: starting ``twistd mudserver``, reading its figures.

One function starts a server (or one shard of several) pinned to a core,
on free loopback ports, with the limits lifted that are meant for one
attacker and not for thousands of bots from 127.0.0.1.  The others read
what a run reports: the Prometheus page (a shard's samples carry its name
as a label), a histogram's quantile between two scrapes, a process's CPU
time and memory from ``/proc``, and the kernel's count of refused
connections.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

import mudserver
from mudserver.config import Settings, command_line

__all__ = [
    "REPO",
    "ServerOptions",
    "count_above",
    "cpu_seconds",
    "free_port",
    "histogram_quantile",
    "listen_overflows",
    "pin",
    "postgres_cpu_seconds",
    "rss_bytes",
    "scrape",
    "start_server",
]

#: Where the mudserver package being benchmarked lives: the server runs it too.
REPO = Path(mudserver.__file__).resolve().parents[1]


@dataclass(frozen=True)
class ServerOptions:
    """What one server of a run is started with."""

    #: The server's settings: those that differ from the defaults go on its command line.
    settings: Settings
    data: Path
    workdir: Path
    #: ``files`` or a PostgreSQL URI (the server's ``--store``).
    store: str = "files"
    #: The server's ``--shard`` (None: not a shard).
    shard: str | None = None
    #: The server's ``--say-scope`` (with a shard).
    say_scope: str | None = None
    #: The server's ``--game`` (``none``: players only) and ``--world`` file.
    game: str = "none"
    world_file: Path | None = None
    #: The server's admin socket (None: ``--admin=none``).
    admin: Path | None = None
    cpu: int | None = 0
    #: Names the server's log file.
    label: str = "server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(cpu: int | None) -> Any:
    """A ``preexec_fn`` that pins the child (and its threads) to *cpu*."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def start_server(options: ServerOptions) -> tuple[subprocess.Popen[bytes], int, str]:
    """Start ``twistd -n mudserver``; the process, its game port and its metrics URL.

    Returns once the metrics page answers, which is after the server has
    opened its store (a database connected, its schema made current).
    """
    o = options
    port, metrics_port = free_port(), free_port()
    twistd = Path(sys.executable).with_name("twistd")
    command = [
        str(twistd) if twistd.exists() else shutil.which("twistd") or "twistd",
        "-n",
        "--pidfile=",
        f"--logfile={o.workdir / f'{o.label}.log'}",
        "mudserver",
        f"--port=tcp:{port}:interface=127.0.0.1:backlog=4096",
        f"--metrics=tcp:{metrics_port}:interface=127.0.0.1",
        # The browser client's fixed default port would clash with any other
        # server on the machine (two shards, or two bench runs at once).
        "--web=none",
        f"--data={o.data}",
        f"--store={o.store}",
        # No operator here unless the run reloads: nothing to leave behind in the data directory.
        f"--admin={o.admin or 'none'}",
        # Bot records are cheap on purpose (or, with --real-hash, already current).
        "--no-rehash",
        *command_line(o.settings),
        f"--game={o.game}",
        *(() if o.world_file is None else (f"--world={o.world_file}",)),
    ]
    if o.shard is not None:
        command.append(f"--shard={o.shard}")
    if o.say_scope is not None:
        command.append(f"--say-scope={o.say_scope}")
    process = subprocess.Popen(
        command,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=o.workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=pin(o.cpu),
    )
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"twistd exited early; see {o.workdir / f'{o.label}.log'}")
        try:
            scrape(url)
            return process, port, url
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("twistd did not start within 30 s") from None
            time.sleep(0.1)


def scrape(url: str) -> dict[str, float]:
    """Every sample of the metrics page, keyed by name and labels.

    A shard's ``shard`` label is left out of the key: one page is one
    server, so the keys of a shard and of a lone server are the same.
    """
    # An overloaded server answers late, but it answers: wait for it.
    with urllib.request.urlopen(url, timeout=120) as response:
        text = response.read().decode("utf-8")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()) if k != "shard")
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


def count_above(
    threshold: float,
    before: dict[str, float],
    after: dict[str, float],
    name: str = "mudserver_tick_duration_seconds",
) -> float:
    """Observations of a histogram above *threshold* (a bucket bound) between two scrapes."""
    total = after.get(f"{name}_count", 0.0) - before.get(f"{name}_count", 0.0)
    key = f"{name}_bucket{{le={threshold}}}"
    if key not in after:
        raise KeyError(f"{threshold} is not a bucket bound of {name}")
    return total - (after[key] - before.get(key, 0.0))


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


def postgres_cpu_seconds() -> float:
    """CPU time of every ``postgres`` process on the machine (the database's share)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                total += cpu_seconds(int(entry.name))
        except OSError:  # gone meanwhile
            pass
    return total
