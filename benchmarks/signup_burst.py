"""500 sign-ups in a burst from 50 addresses: what do the tick and other players' logins feel?

Usage (from the repository root; run it alone on the machine, under
``flock -x /work/cpu.lock`` where tests share the cores)::

    python benchmarks/signup_burst.py [--signups 500] [--addresses 50] [--walkers 500]
        [--set signups_per_hour=10 ...]

Starts ``twistd mudserver`` (the shipped settings, but for ``--set``) pinned to
core 0 with ``--metrics``, and a swarm of walking bots pinned to core 1 so the
tick has work to do.  Existing players, with accounts hashed at the real
Argon2id cost, log in one every ``--login-every`` seconds from 127.0.0.1,
each timed from ``con`` to ``wel`` (and leave at once).  Then two windows:

* **quiet**: the walkers and the timed logins only, for ``--quiet`` seconds;
* **burst**: the same, while ``--signups`` connections, ``--signups /
  --addresses`` from each of the loopback addresses 127.0.0.2 on, send
  ``new`` at once (then ``bye``), until every one has its answer.

For each window it prints the tick's p50, p99 and longest (the server's own
histogram, between two scrapes), and the timed logins' p50, p95 and longest;
for the burst also how the sign-ups were answered and how long the last
took.  With the shipped ``--signups-per-hour 3`` most of the 500 get ``err
toomany`` at once (only 3 per address are hashed); ``--set
signups_per_hour=10`` lets all 500 through, the worst case for the cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import selectors
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mudserver.bench.accounts import BOT_HASH, ensure_accounts
from mudserver.bench.bots import SwarmConfig, account_name
from mudserver.bench.server import ServerOptions, histogram_quantile, scrape, start_server
from mudserver.bench.swarm import SwarmProcess, wait_ready
from mudserver.config import Settings, described
from mudserver.store.files import FileStore
from mudserver.store.passwords import DEFAULT_PARAMS

PASSWORD = "correct horse"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class TimedLogins(threading.Thread):
    """Logs existing players in one after another, timing ``con`` to ``wel``."""

    def __init__(self, port: int, names: list[str], every: float) -> None:
        super().__init__(daemon=True)
        self.port, self.names, self.every = port, names, every
        self.samples: list[tuple[float, float]] = []  # (when, seconds)
        self.failures = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        index = 0
        while not self.stopping.wait(self.every):
            name = self.names[index % len(self.names)]
            index += 1
            started = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
                    sock.sendall(f"con {name},{PASSWORD},2\n".encode())
                    first = sock.makefile("rb").readline()
                    sock.sendall(b"bye\n")
            except OSError:
                self.failures += 1
                continue
            if first.startswith(b"wel "):
                self.samples.append((started, time.monotonic() - started))
            else:
                self.failures += 1

    def between(self, start: float, end: float) -> list[float]:
        return [seconds for when, seconds in self.samples if start <= when < end]


def answer(received: bytes) -> str:
    """What a sign-up was answered: ``wel``, ``err CODE``, ``bye REASON`` or ``closed``."""
    line = received.split(b"\n", 1)[0].decode(errors="replace")
    if line.startswith("wel "):
        return "wel"
    if line.startswith(("err ", "bye ")):
        return line.split(",")[0]
    return "closed"


def burst(port: int, count: int, addresses: int, prefix: str) -> tuple[Counter[str], float]:
    """*count* sign-ups at once from *addresses* loopback addresses; their answers, and
    the seconds until the last one came."""
    selector = selectors.DefaultSelector()
    socks = []
    for i in range(count):
        source = f"127.0.0.{2 + i % addresses}"
        sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
        sock.setblocking(False)
        socks.append(sock)
        selector.register(sock, selectors.EVENT_READ, i)
    started = time.monotonic()
    for i, sock in enumerate(socks):
        sock.sendall(f"new {prefix}{i},{PASSWORD},2\nbye\n".encode())
    answers: Counter[str] = Counter()
    buffers = [b""] * count
    waiting = set(range(count))
    deadline = started + 600
    while waiting and time.monotonic() < deadline:
        for key, _ in selector.select(1.0):
            i = key.data
            try:
                chunk = socks[i].recv(65536)
            except OSError:
                chunk = b""
            buffers[i] += chunk
            if i in waiting and (b"\n" in buffers[i] or not chunk):
                answers[answer(buffers[i])] += 1
                waiting.discard(i)
                selector.unregister(socks[i])
    elapsed = time.monotonic() - started
    for sock in socks:
        sock.close()
    answers["no answer"] += len(waiting)
    return answers, elapsed


def window(metrics: str, logins: TimedLogins, label: str, work: Any) -> dict[str, Any]:
    before, start = scrape(metrics), time.monotonic()
    extra = work()
    after, end = scrape(metrics), time.monotonic()
    times = logins.between(start, end)

    def ms(q: float) -> float:
        return 1000 * histogram_quantile(q, before, after)

    return {
        "window": label,
        "seconds": end - start,
        "tick_p50_ms": ms(0.5),
        "tick_p99_ms": ms(0.99),
        "tick_max_ms": 1000 * after.get("mudserver_tick_duration_recent_max_seconds", 0.0),
        "logins": len(times),
        "login_p50_ms": 1000 * percentile(times, 0.5),
        "login_p95_ms": 1000 * percentile(times, 0.95),
        "login_max_ms": 1000 * max(times, default=float("nan")),
        **(extra or {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signups", type=int, default=500)
    parser.add_argument("--addresses", type=int, default=50)
    parser.add_argument("--walkers", type=int, default=500)
    parser.add_argument("--existing", type=int, default=40, help="players whose logins are timed")
    parser.add_argument("--login-every", type=float, default=0.2)
    parser.add_argument("--quiet", type=float, default=10.0, help="seconds of the quiet window")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="a server setting (mudserver.config.Settings), e.g. signups_per_hour=10",
    )
    args = parser.parse_args()
    kinds = {d.name: d.kind for d in described(Settings)}
    chosen = {name: kinds[name](value) for name, value in (s.split("=", 1) for s in args.set)}
    settings = dataclasses.replace(
        Settings(),
        max_connections_per_ip=args.walkers + args.signups + 100,
        idle_timeout=120.0,
        **chosen,
    )
    work = Path(tempfile.mkdtemp(prefix="signup-burst-", dir="/dev/shm"))
    data = work / "data"
    store = FileStore(data, BOT_HASH)
    ensure_accounts(store, args.walkers, "bot", "bench", 1500.0)
    ensure_accounts(store, args.existing, "real", PASSWORD, 1500.0, DEFAULT_PARAMS)
    server, port, metrics = start_server(ServerOptions(settings, data, work, cpu=0))
    swarm = SwarmProcess(SwarmConfig("127.0.0.1", port, args.walkers, rate=400.0), 1)
    logins = TimedLogins(
        port, [account_name("real", i) for i in range(args.existing)], args.login_every
    )
    try:
        wait_ready([swarm], args.walkers, 120, None)
        time.sleep(3)
        logins.start()
        rows = [window(metrics, logins, "quiet", lambda: time.sleep(args.quiet))]

        def signups() -> dict[str, Any]:
            answers, seconds = burst(port, args.signups, args.addresses, "new")
            return {"answers": dict(answers), "last_answer_s": seconds}

        rows.append(window(metrics, logins, "burst", signups))
        logins.stopping.set()
        logins.join(60)
    finally:
        swarm.stop()
        server.terminate()
        server.wait(60)
    made = sum(1 for p in (data / "users").glob("new*.json"))
    shown = {k: v for k, v in dataclasses.asdict(settings).items() if k in chosen}
    print(
        f"server settings changed: {shown or 'none'}; {args.walkers} walkers; "
        f"{args.signups} sign-ups from {args.addresses} addresses; accounts made: {made}"
    )
    print(
        "| window | s | tick p50 ms | tick p99 ms | tick max ms | logins | login p50 ms "
        "| login p95 ms | login max ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['window']} | {r['seconds']:.1f} | {r['tick_p50_ms']:.1f} | "
            f"{r['tick_p99_ms']:.1f} | {r['tick_max_ms']:.0f} | {r['logins']} | "
            f"{r['login_p50_ms']:.0f} | {r['login_p95_ms']:.0f} | {r['login_max_ms']:.0f} |"
        )
    print(
        f"sign-ups answered: {rows[1]['answers']}; the last after {rows[1]['last_answer_s']:.1f} s;"
        f" timed logins that failed: {logins.failures}"
    )


if __name__ == "__main__":
    main()
