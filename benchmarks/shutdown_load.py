"""SIGTERM with many players connected: how long until the process is gone?  Prints figures.

Usage (from the repository root)::

    python benchmarks/shutdown_load.py [--players 1000]

Creates PLAYERS accounts (cheap scrypt) in a temporary directory, starts
``twistd -n mudserver``, logs everybody in, sends each player to a
different point, sends SIGTERM, and reports how long until every client got
``bye shutdown`` and until the process exited, and how many account files
hold the player's final position.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mudserver.store.files import FileStore
from tests.crowd import KEEP_CHEAP_HASHES, Crowd, make_accounts
from tests.support import running_server


def destination(index: int) -> tuple[float, float]:
    return (1 + (index % 20) * 0.25, 1 + (index // 20) * 0.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=1000)
    count = parser.parse_args().players
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        names = make_accounts(path / "data", count)
        with running_server(
            path,
            f"--max-connections-per-ip={count}",
            "--idle-timeout=300",
            "--speed=50",
            KEEP_CHEAP_HASHES,
        ) as server:
            crowd = Crowd(server.host, server.port, names)
            started = time.monotonic()
            crowd.login_all(timeout=300)
            print(f"{count} players logged in in {time.monotonic() - started:.2f} s")
            for index in range(count):
                crowd.send(index, "mov {},{},0".format(*destination(index)))
            moved = time.monotonic()
            crowd.pump(lambda: time.monotonic() - moved > 1.0, timeout=10)
            stopped = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            crowd.pump(lambda: all(crowd.closed), timeout=30)
            closed = time.monotonic() - stopped
            status = server.process.wait(30)
            exited = time.monotonic() - stopped
            crowd.close()
        byes = sum(lines[-1] == "bye shutdown" for lines in crowd.lines if lines)
        store = FileStore(path / "data")
        saved = 0
        for index, name in enumerate(names):
            account = store.load(name)
            saved += account is not None and (account.x, account.y) == destination(index)
        print(
            f"SIGTERM: all connections closed after {closed:.2f} s, process exited "
            f"(status {status}) after {exited:.2f} s; {byes}/{count} got 'bye shutdown', "
            f"{saved}/{count} saved at their final position"
        )


if __name__ == "__main__":
    main()
