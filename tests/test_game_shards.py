"""A player's game data follows it: across a takeover between two shards, saved in PostgreSQL.

Two real shards run the sample game on one PostgreSQL.  Its rules count
each player's visits in ``player.data`` and say the count at login, so what
the player reads at each login shows the data that shard loaded.
"""

from __future__ import annotations

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
    store = PostgresStore(pg_url, CHEAP)
    try:
        account = store.load("x")
    finally:
        store.close()
    assert account is not None and account.data["visits"] == 3
    assert account.data["last_place"] == [0.0, 0.0]
