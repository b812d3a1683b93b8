"""Faults with a real PostgreSQL under the real server.

* The database stops in the middle of play: players keep walking and
  chatting, a new login gets ``err unavailable``, the save of a player who
  left meanwhile is retried and lands once the database is back.
* SIGKILL at random moments while 30 players walk and autosave writes five
  times a second: every row still loads, every position lies on its
  player's path, and no row is behind what was committed before the kill.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

from mudserver.store.postgres import PostgresStore
from tests.crowd import CHEAP, KEEP_CHEAP_HASHES, PASSWORD, Crowd, progress
from tests.pg import Cluster, make_accounts
from tests.support import LineClient, running_server

KILL_ROUNDS = 8
KILL_BUDGET = 20.0  # seconds for all rounds together


def positions(url: str, names: list[str]) -> list[tuple[float, float, float]]:
    """Every account's saved position; CorruptAccount if a row is damaged."""
    store = PostgresStore(url, CHEAP)
    try:
        loaded = [store.load(name) for name in names]
    finally:
        store.close()
    assert all(a is not None for a in loaded), "an account row is gone"
    return [(a.x, a.y, a.z) for a in loaded if a is not None]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_database_stopped_mid_play(pg_cluster: Cluster, pg_url: str, tmp_path: Path) -> None:
    make_accounts(pg_url, ["alice", "bob", "carol"])
    options = (f"--store={pg_url}", "--speed=100", "--autosave=0.5", KEEP_CHEAP_HASHES)
    with running_server(tmp_path, *options) as server:
        alice = LineClient(server.host, server.port)
        bob = LineClient(server.host, server.port)
        carol = LineClient(server.host, server.port)
        try:
            assert alice.login("alice", PASSWORD).startswith("wel ")
            assert bob.login("bob", PASSWORD).startswith("wel ")
            pg_cluster.stop("fast")
            # Play goes on without the database.
            alice.send("mov 10,0,0")
            alice.read_until(lambda line: line.startswith("pos ") and ",10.00," in line)
            alice.send("say still here")
            assert bob.read_until(lambda line: line.startswith("say "))[-1].endswith("still here")
            # A new login is told the accounts cannot be checked, as often as it asks.
            for _ in range(4):
                assert carol.login("carol", PASSWORD).startswith("err unavailable,")
            alice.send("bye")
            alice.read_until(lambda line: line == "bye quit")
            wait_until(lambda: "will retry" in server.log_text(), 10, "a failed save")
            assert "Traceback" not in server.log_text()
        finally:
            assert pg_cluster.start() is None
        # Back: the retried save lands, and logins work again.
        wait_until(lambda: positions(pg_url, ["alice"])[0] == (10.0, 0.0, 0.0), 40, "alice's save")
        assert carol.login("carol", PASSWORD).startswith("wel ")
        bob.send("mov 0,7,0")
        bob.read_until(lambda line: line.startswith("pos ") and ",7.00," in line)
        server.stop()
        for client in (alice, bob, carol):
            client.close()
    assert positions(pg_url, ["alice", "bob"]) == [(10.0, 0.0, 0.0), (0.0, 7.0, 0.0)]


def test_sigkill_while_saving_loses_no_committed_save(pg_url: str, tmp_path: Path) -> None:
    names = [f"w{i}" for i in range(30)]
    make_accounts(pg_url, names)
    rng = random.Random(7)
    last = [0.0] * len(names)
    kills = 0
    started = time.monotonic()
    while kills < KILL_ROUNDS and time.monotonic() - started < KILL_BUDGET:
        walk = rng.uniform(0.1, 0.8)
        with running_server(
            tmp_path, f"--store={pg_url}", "--autosave=0.2", "--speed=20", KEEP_CHEAP_HASHES
        ) as server:
            crowd = Crowd(server.host, server.port, names)
            crowd.login_all()
            crowd.walk_outward(walk)
            committed = [progress(i, len(names), p) for i, p in enumerate(positions(pg_url, names))]
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
            crowd.close()
        kills += 1
        now = [progress(i, len(names), p) for i, p in enumerate(positions(pg_url, names))]
        assert all(b >= a - 1e-9 for a, b in zip(last, now, strict=True)), "a save went back"
        assert all(b >= a - 1e-9 for a, b in zip(committed, now, strict=True)), "a save was lost"
        last = now
    assert kills >= 4, f"only {kills} kill rounds fitted in the budget"
    assert max(last) > 0, "no save landed at all"
