"""A player's game data follows it: across a takeover between two shards, saved in PostgreSQL.

Two real shards run the sample game on one PostgreSQL.  Its rules count
each player's visits in ``player.data`` and say the count at login, so what
the player reads at each login shows the data that shard loaded.
"""

from __future__ import annotations

import time
from pathlib import Path

from mudserver.store.postgres import PostgresStore
from tests.crowd import CHEAP, PASSWORD
from tests.pg import make_accounts
from tests.support import LineClient
from tests.test_shards import two_shards


def visit(client: LineClient) -> str:
    """Log in and return the rules' welcome (the motd, with the visit count after the first)."""
    assert client.login("x", PASSWORD).startswith("wel ")
    return client.read_until(lambda line: line.startswith("msg 0,,"))[-1]


def saved_visits(pg_url: str, want: int, timeout: float = 10.0) -> int | None:
    """The visits PostgreSQL holds for x, once it holds *want* or *timeout* s passed.

    A ``bye`` is answered before the save it queued is written (on the save
    thread), and the servers are killed, not stopped, when the test leaves
    them: so the test waits for the save while they run.
    """
    store = PostgresStore(pg_url, CHEAP)
    try:
        deadline = time.monotonic() + timeout
        while True:
            account = store.load("x")
            visits = None if account is None else account.data.get("visits")
            if visits == want or time.monotonic() > deadline:
                return visits
            time.sleep(0.05)
    finally:
        store.close()


def test_player_data_follows_a_takeover_to_the_other_shard(pg_url: str, tmp_path: Path) -> None:
    make_accounts(pg_url, ["x"])
    with two_shards(tmp_path, pg_url, "--game=sample") as (a, b):
        with LineClient(a.host, a.port) as on_a:
            assert not visit(on_a).endswith(")")  # the first visit
            with LineClient(b.host, b.port) as on_b:
                assert visit(on_b).endswith("(visit 2)")
                assert on_a.read_until(lambda line: line.startswith("bye "))[-1] == "bye replaced"
                with LineClient(a.host, a.port) as again:
                    assert visit(again).endswith("(visit 3)")
                    again.send("bye")
                    again.read_until(lambda line: line.startswith("bye "))
        assert saved_visits(pg_url, 3) == 3
    store = PostgresStore(pg_url, CHEAP)
    try:
        account = store.load("x")
    finally:
        store.close()
    assert account is not None and account.data["last_place"] == [0.0, 0.0]
