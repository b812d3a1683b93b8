"""Crash safety and clean shutdown of the real server, with many players.

* SIGKILL at random moments while ~50 players walk and autosave runs five
  times a second: every account file must still load, and every position
  must lie on the player's path, never behind a position saved earlier.
* SIGTERM with 300 players: each gets ``bye shutdown``, each position is on
  disk, and the process exits by itself within 10 s.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from mudserver.store.files import FileStore
from tests.crowd import KEEP_CHEAP_HASHES, Crowd, make_accounts, progress
from tests.support import running_server

KILL_ROUNDS = 24
KILL_BUDGET = 25.0  # seconds for all rounds together


def test_sigkill_at_random_moments_never_corrupts_saves(tmp_path: Path) -> None:
    names = make_accounts(tmp_path / "data", 50)
    store = FileStore(tmp_path / "data")
    rng = random.Random(4)
    last = [0.0] * len(names)
    kills = advanced_rounds = 0
    started = time.monotonic()
    while kills < KILL_ROUNDS and time.monotonic() - started < KILL_BUDGET:
        walk = rng.uniform(0.05, 0.8)
        with running_server(
            tmp_path,
            "--autosave=0.2",
            "--max-connections-per-ip=100",
            "--speed=20",
            KEEP_CHEAP_HASHES,
        ) as server:
            crowd = Crowd(server.host, server.port, names)
            crowd.login_all()
            crowd.walk_outward(walk)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
            crowd.close()
        kills += 1
        now = []
        for index, name in enumerate(names):
            account = store.load(name)  # raises CorruptAccount on a damaged file
            assert account is not None, f"{name} lost its file"
            now.append(progress(index, len(names), (account.x, account.y, account.z)))
        assert all(b >= a - 1e-9 for a, b in zip(last, now, strict=True)), "a save went back"
        if walk >= 0.6:  # at least two autosaves happened: everybody is further along
            assert all(b > a for a, b in zip(last, now, strict=True)), (walk, last, now)
            advanced_rounds += 1
        last = now
    assert kills >= 10
    assert advanced_rounds >= 1
    leftovers = [p.name for p in store.users_dir.iterdir() if not p.name.endswith(".json")]
    assert all(p.startswith(".") and p.endswith(".tmp") for p in leftovers), leftovers


def destination(index: int) -> tuple[float, float, float]:
    return (1 + (index % 20) * 0.25, 1 + (index // 20) * 0.25, 0.0)


def test_sigterm_with_hundreds_of_players_saves_all_and_exits(tmp_path: Path) -> None:
    names = make_accounts(tmp_path / "data", 300)
    with running_server(
        tmp_path,
        "--max-connections-per-ip=1000",
        "--idle-timeout=60",
        "--speed=50",
        KEEP_CHEAP_HASHES,
    ) as server:
        crowd = Crowd(server.host, server.port, names)
        crowd.login_all()
        ids = [crowd.last(i, "wel ")[4:].split(",")[0] for i in range(len(names))]  # type: ignore[index]
        arrived = [
            "pos {},{:.2f},{:.2f},{:.2f}".format(ids[i], *destination(i)) for i in range(len(names))
        ]
        for index in range(len(names)):
            crowd.send(index, "mov {},{},{}".format(*destination(index)))
        crowd.pump(
            lambda: all(crowd.last(i, f"pos {ids[i]},") == arrived[i] for i in range(len(names))),
            timeout=30,
        )
        stopped = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        crowd.pump(lambda: all(crowd.closed), timeout=15)
        status = server.process.wait(15)
        took = time.monotonic() - stopped
        crowd.close()
    assert status in (0, -signal.SIGTERM)  # twistd re-raises the signal once it has stopped
    assert took < 10
    assert [lines[-1] for lines in crowd.lines] == ["bye shutdown"] * len(names)
    store = FileStore(tmp_path / "data")
    for index, name in enumerate(names):
        account = store.load(name)
        assert account is not None
        assert (account.x, account.y, account.z) == destination(index), name
    assert f"saved {len(names)} players" in server.log_text()
