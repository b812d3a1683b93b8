"""How much does a burst of logins stall the 10 Hz tick?  Prints the figures.

Usage (from the repository root)::

    python benchmarks/login_burst.py [--logins 200]

Creates LOGINS accounts with the default (production) Argon2id cost in a
temporary directory, then runs the server in-process twice, each time firing
LOGINS concurrent ``con`` lines from a client subprocess:

* ``reactor``: passwords hashed on the reactor thread (``store.authenticate``
  called synchronously), as a naive server would;
* ``pool``: the shipped :class:`~mudserver.shell.login.Logins`, which hashes
  on its login thread pool.

For each it prints the worst interval between two tick starts (nominal
100 ms) and the longest tick, while the logins were being checked.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

from mudserver.store.files import FileStore

PASSWORD = "correct horse"


def make_accounts(data: Path, count: int) -> None:
    store = FileStore(data)
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        list(pool.map(lambda i: store.create(f"user{i}", PASSWORD), range(count)))


def clients(port: int, count: int) -> None:
    """Connect COUNT sockets, send every ``con`` at once, wait for every ``wel``."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]
    selector = selectors.DefaultSelector()
    for index, sock in enumerate(socks):
        selector.register(sock, selectors.EVENT_READ, index)
    for index, sock in enumerate(socks):
        sock.sendall(f"con user{index},{PASSWORD},1\n".encode())
    buffers = [b""] * count
    welcomed: set[int] = set()
    deadline = time.monotonic() + 120
    while len(welcomed) < count and time.monotonic() < deadline:
        for key, _ in selector.select(1):
            chunk = socks[key.data].recv(1 << 16)
            buffers[key.data] += chunk
            if b"wel " in buffers[key.data]:
                welcomed.add(key.data)
            if len(buffers[key.data]) > 1 << 16:
                buffers[key.data] = buffers[key.data][-8:]
    print(len(welcomed), flush=True)


def server(data: Path, variant: str, count: int) -> None:
    """Run the server with *variant* hashing; print the tick figures of the burst."""
    from twisted.internet import defer, reactor

    from mudserver.config import Settings
    from mudserver.shell.service import GameService

    settings = Settings(max_connections_per_ip=count + 10, idle_timeout=300)
    service = GameService(settings, FileStore(data), reactor)
    if variant == "reactor":
        store = service.store

        def on_the_reactor(name: str, password: str) -> defer.Deferred[Any]:
            """Checks passwords on the reactor thread: what the pool exists to avoid."""
            return defer.succeed(store.authenticate(name, password))

        service.logins.authenticate = on_the_reactor  # type: ignore[method-assign]
    ticks: list[tuple[float, float]] = []
    original_tick = service._tick

    def timed_tick() -> None:
        start = time.perf_counter()
        original_tick()
        ticks.append((start, time.perf_counter() - start))

    service._tick = timed_tick  # type: ignore[method-assign]
    service._ticker.f = timed_tick
    port = reactor.listenTCP(0, service.factory, backlog=1024, interface="127.0.0.1")
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)

    def burst() -> None:
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, __file__, "--clients", str(port.getHost().port), str(count)],
            stdout=subprocess.PIPE,
            env=env,
        )

        def wait() -> None:
            if child.poll() is None:
                reactor.callLater(0.05, wait)
                return
            ended = time.perf_counter()
            welcomed = int(child.stdout.read() or 0) if child.stdout else 0
            reactor.callLater(0.5, report, ended, welcomed)

        def report(ended: float, welcomed: int) -> None:
            # From the last tick before the burst to the first one after it.
            during = [(t, d) for t, d in ticks if started - 0.2 <= t <= ended + 0.3]
            starts = [t for t, _ in during]
            gaps = [b - a for a, b in itertools.pairwise(starts)]
            print(
                f"{variant:8s} {welcomed:4d} logins in {ended - started:6.2f} s; "
                f"worst tick interval {max(gaps, default=0) * 1000:8.1f} ms "
                f"(nominal 100), longest tick {max(d for _, d in during) * 1000:6.2f} ms, "
                f"{len(during)} ticks",
                flush=True,
            )
            reactor.stop()

        reactor.callLater(0.05, wait)

    reactor.callLater(1.0, burst)
    reactor.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--clients", nargs=2, type=int, metavar=("PORT", "COUNT"))
    parser.add_argument("--server", nargs=3, metavar=("DATA", "VARIANT", "COUNT"))
    args = parser.parse_args()
    if args.clients:
        clients(*args.clients)
        return
    if args.server:
        server(Path(args.server[0]), args.server[1], int(args.server[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        make_accounts(Path(tmp), args.logins)
        print(
            f"created {args.logins} accounts (default Argon2id) in "
            f"{time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs",
            flush=True,
        )
        for variant in ("reactor", "pool"):
            subprocess.run(
                [sys.executable, __file__, "--server", tmp, variant, str(args.logins)], check=True
            )


if __name__ == "__main__":
    main()
