"""The console of a cluster: shards on one data directory, commands for one shard or all.

Real ``twistd mudserver --shard`` processes on a real PostgreSQL; the console
is ``mudserver-admin`` run as the operator runs it.  Two shards share one
data directory (each with its own admin socket), the console reaches both
through either socket, a ban made on one shard holds on the other at once
and after a restart, a second shard of a name already running stops at
start with one line, and the account commands reach a player on whichever
shard it plays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from mudserver.store.postgres import PostgresStore
from tests.crowd import CHEAP, KEEP_CHEAP_HASHES, PASSWORD
from tests.pg import make_accounts
from tests.support import REPO, TWISTD, LineClient, ServerProcess, free_port, running_server


def admin(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mudserver.tools.admin", *args],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def shard(tmp_path: Path, name: str, url: str, data: Path | None = None, *more: str) -> Any:
    """A running shard; on *data* if given (the last ``--data`` wins), else its own."""
    shared = (f"--data={data}",) if data is not None else ()
    return running_server(
        tmp_path / name, f"--shard={name}", f"--store={url}", KEEP_CHEAP_HASHES, *shared, *more
    )


def said(client: LineClient, prefix: str) -> str:
    return client.read_until(lambda line: line.startswith(prefix))[-1]


def refused_within(server: ServerProcess, name: str, seconds: float) -> float:
    """How long until a ``con`` as *name* gets ``bye banned`` (fails after *seconds*)."""
    started = time.monotonic()
    while True:
        with LineClient(server.host, server.port) as client:
            answer = client.login(name, PASSWORD)
        if answer == "bye banned":
            return time.monotonic() - started
        assert answer.startswith("wel "), answer
        assert time.monotonic() - started < seconds, "the ban did not reach this shard"


def test_two_shards_on_one_data_directory_and_one_console(pg_url: str, tmp_path: Path) -> None:
    make_accounts(pg_url, ["alice", "bob", "carol"])
    data = tmp_path / "data"
    data.mkdir()
    console = (f"--data={data}",)
    with shard(tmp_path, "a", pg_url, data) as a, shard(tmp_path, "b", pg_url, data) as b:
        assert sorted(p.name for p in data.glob("*.sock")) == ["admin-a.sock", "admin-b.sock"]
        with LineClient(a.host, a.port) as alice, LineClient(b.host, b.port) as bob:
            assert alice.login("alice", PASSWORD).startswith("wel ")
            assert bob.login("bob", PASSWORD).startswith("wel ")

            rows = json.loads(ok(admin(*console, "--json", "who")))
            assert [(r["shard"], r["name"]) for r in rows] == [("a", "alice"), ("b", "bob")]
            text = ok(admin(*console, "who"))
            assert text.startswith("2 players online: a 1, b 1\nSHARD ")
            assert ok(admin(*console, "--shard=b", "who")).startswith("1 player online: b 1\n")

            # One shard, then all of them; a marker shows what alice did not hear.
            assert ok(admin(*console, "--shard=b", "announce", "b only")).startswith(
                "announced to 1 player: b 1"
            )
            assert said(bob, "sys ") == "sys b only"
            ok(admin(*console, "announce", "everyone"))
            assert said(alice, "sys ") == "sys everyone"
            assert said(bob, "sys ") == "sys everyone"

            # A kick finds the player on whichever shard plays it.
            kicked = admin(*console, "kick", "bob", "be", "nice")
            assert ok(kicked).strip() == "kicked bob on shard b"
            assert bob.read_until(lambda line: line.startswith("bye "))[-2:] == [
                "sys kicked: be nice",
                "bye kicked",
            ]
            missing = admin(*console, "--shard=nosuch", "who")
            assert missing.returncode == 1 and "shard nosuch: no such shard" in missing.stderr

            # A ban made on shard a closes alice on a and refuses carol on b, at once.
            socket_a = f"--socket={data / 'admin-a.sock'}"
            assert "disconnected alice" in ok(admin(socket_a, "ban", "alice", "cheating"))
            assert said(alice, "bye ") == "bye banned"
            ok(admin(socket_a, "ban", "carol"))
            assert refused_within(b, "carol", 2.0) < 1.0
            assert refused_within(b, "alice", 2.0) < 1.0

        # A third shard under a name already running stops at start, in one line.
        third = subprocess.run(
            [TWISTD, "-n", "--pidfile=", "mudserver", "--shard=a", f"--store={pg_url}",
             f"--data={data}", f"--port=tcp:{free_port()}:interface=127.0.0.1", "--web=none"],
            env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=tmp_path,
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert third.returncode != 0
        assert "--shard a: a shard named a is already running" in third.stdout + third.stderr
        assert "Traceback" not in third.stdout + third.stderr

        shards = json.loads(ok(admin(*console, "--json", "shards")))
        assert [(s["name"], s["up"]) for s in shards] == [("a", True), ("b", True)]
        # Shut down one shard; the other keeps running and says the first is down.
        assert ok(admin(*console, "--shard=b", "shutdown")).strip() == "shutting down in 0 s: b"
        assert b.process.wait(15) == 0
        deadline = time.monotonic() + 10  # PostgreSQL ends b's session a moment after b
        while json.loads(ok(admin(*console, "--json", "shards")))[1]["up"]:
            assert time.monotonic() < deadline, "b's name is still held"
            time.sleep(0.1)
        down = admin(*console, "--shard=b", "who")
        assert "shard b: not running" in down.stderr
        assert ok(admin(*console, "who")).startswith("0 players online: a 0")

    # Bans live in the database: a shard started afresh refuses them.
    with shard(tmp_path, "b", pg_url, data) as b:
        with LineClient(b.host, b.port) as client:
            assert client.login("carol", PASSWORD) == "bye banned"
        listed = json.loads(ok(admin(*console, "--json", "bans")))
        assert [ban["target"] for ban in listed] == ["alice", "carol"]
        assert ok(admin(*console, "unban", "carol")).strip() == "lifted the ban of carol"
        with LineClient(b.host, b.port) as client:
            assert client.login("carol", PASSWORD).startswith("wel ")
    assert not (data / "bans.json").exists()


def stored(url: str, name: str) -> tuple[str, ...] | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT name FROM mudserver_accounts WHERE name_key = %s", (name,)
        ).fetchone()
    return row


def test_account_commands_reach_the_player_on_whichever_shard(pg_url: str, tmp_path: Path) -> None:
    make_accounts(pg_url, ["alice", "bob"])
    with shard(tmp_path, "a", pg_url) as a, shard(tmp_path, "b", pg_url) as b:
        console = (f"--data={a.data}",)  # shard a's console; alice plays on b
        listed = json.loads(ok(admin(*console, "--json", "accounts")))
        assert [row["name"] for row in listed] == ["alice", "bob"]
        assert ok(admin(*console, "accounts", "al")).startswith("1 account\nNAME")

        with LineClient(b.host, b.port) as alice:
            assert alice.login("alice", PASSWORD).startswith("wel ")
            reset = json.loads(ok(admin(*console, "--json", "reset-password", "alice")))
            assert reset["kicked"] == ["b"]
            assert said(alice, "bye ") == "bye kicked"
        new = reset["password"]
        assert len(new) >= 16
        with LineClient(a.host, a.port) as client:
            assert client.login("alice", PASSWORD).startswith("err badlogin")
            assert client.login("alice", new).startswith("wel ")
            deleted = admin(*console, "delete", "alice")
            assert ok(deleted).strip() == "deleted alice; kicked it first on shard a"
            assert said(client, "bye ") == "bye kicked"
        assert stored(pg_url, "alice") is None
        with LineClient(b.host, b.port) as client:
            assert client.login("alice", new).startswith("err badlogin")
        again = admin(*console, "delete", "alice")
        assert again.returncode == 1 and "there is no account alice" in again.stderr
    account = PostgresStore(pg_url, CHEAP)
    try:
        assert account.load("bob") is not None and account.load("alice") is None
    finally:
        account.close()
