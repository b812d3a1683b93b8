"""Two shards on one PostgreSQL: an account plays on one of them at a time.

Each shard is a real ``twistd mudserver --shard`` process.  A login on one
shard takes the account over from the other (``bye replaced`` there, its
position saved first), two shards never show each other's players, a
SIGKILLed shard's accounts are free at once, and a race of four logins on
two shards, repeated with random delays, always ends with one player, at
the position played last.
"""

from __future__ import annotations

import contextlib
import random
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from twisted.python import usage

from mudserver.shell.tap import Options
from mudserver.store.ownership import account_key
from mudserver.store.postgres import PostgresStore
from tests.crowd import CHEAP, KEEP_CHEAP_HASHES, PASSWORD
from tests.pg import make_accounts
from tests.support import LineClient, ServerProcess, free_port, running_server

RACE_ROUNDS = 25


def saved_position(url: str, name: str) -> tuple[float, float, float]:
    store = PostgresStore(url, CHEAP)
    try:
        account = store.load(name)
    finally:
        store.close()
    assert account is not None
    return (account.x, account.y, account.z)


@contextlib.contextmanager
def two_shards(tmp_path: Path, url: str, *options: str) -> Iterator[list[ServerProcess]]:
    common = (f"--store={url}", "--speed=200", KEEP_CHEAP_HASHES, *options)
    with (
        running_server(tmp_path / "a", "--shard=a", *common) as a,
        running_server(tmp_path / "b", "--shard=b", *common) as b,
    ):
        yield [a, b]


def at(wel: str) -> tuple[float, float, float]:
    """The position of a ``wel id,name,x,y,z`` line."""
    x, y, z = wel.split(",")[2:5]
    return (float(x), float(y), float(z))


def walk(client: LineClient, x: int, y: int) -> None:
    client.send(f"mov {x},{y},0")
    want = f",{x:.2f},{y:.2f},0.00"
    client.read_until(lambda line: line.startswith("pos ") and line.endswith(want))


def test_a_login_on_another_shard_takes_the_account_over(pg_url: str, tmp_path: Path) -> None:
    make_accounts(pg_url, ["x", "alice", "bob"])
    with two_shards(tmp_path, pg_url) as (a, b):
        with (
            LineClient(a.host, a.port) as on_a,
            LineClient(b.host, b.port) as on_b,
            LineClient(a.host, a.port) as alice,
            LineClient(b.host, b.port) as bob,
        ):
            assert on_a.login("x", PASSWORD).startswith("wel ")
            walk(on_a, 5, 0)
            assert at(on_b.login("X", PASSWORD)) == (5.0, 0.0, 0.0)
            assert on_a.read_until(lambda line: line.startswith("bye "))[-1] == "bye replaced"
            walk(on_b, 0, 6)
            with LineClient(a.host, a.port) as again:
                assert at(again.login("x", PASSWORD)) == (0.0, 6.0, 0.0)
                assert on_b.read_until(lambda line: line.startswith("bye "))[-1] == "bye replaced"
            # Separate worlds: bob on b never hears of alice on a.
            assert alice.login("alice", PASSWORD).startswith("wel ")
            assert bob.login("bob", PASSWORD).startswith("wel ")
            bob.send("who")
            who = bob.read_until(lambda line: line.startswith("who "))[-1]
            assert "alice" not in who
        assert "shard a" in a.log_text() and "shard b" in b.log_text()
    assert saved_position(pg_url, "x") == (0.0, 6.0, 0.0)


def test_each_shard_labels_its_metrics(pg_url: str, tmp_path: Path) -> None:
    make_accounts(pg_url, ["x"])
    port = free_port()
    with running_server(
        tmp_path, f"--store={pg_url}", "--shard=east-1", f"--metrics=tcp:{port}:interface=127.0.0.1"
    ):
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
    assert 'mudserver_players{shard="east-1"} 0.0' in text
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert samples and all('shard="east-1"' in line for line in samples)


def test_a_killed_shard_frees_its_accounts_at_once(pg_url: str, tmp_path: Path) -> None:
    make_accounts(pg_url, ["x"])
    with two_shards(tmp_path, pg_url, "--autosave=0.2") as (a, b):
        with LineClient(a.host, a.port) as on_a:
            assert on_a.login("x", PASSWORD).startswith("wel ")
            walk(on_a, 4, 4)
            time.sleep(0.5)  # two autosaves: the position is committed
            a.stop(signal.SIGKILL)
        with LineClient(b.host, b.port) as on_b:
            started = time.monotonic()
            assert at(on_b.login("x", PASSWORD)) == (4.0, 4.0, 0.0)
            assert time.monotonic() - started < 3  # not the takeover timeout


class Racer(threading.Thread):
    """Logs in after a delay, keeps every line it receives, and can walk."""

    def __init__(self, server: ServerProcess, delay: float) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection((server.host, server.port), timeout=10)
        self.delay = delay
        self.lines: list[str] = []
        self.changed = threading.Condition()

    def run(self) -> None:
        time.sleep(self.delay)  # the race's random start, not synchronisation
        self.sock.sendall(f"con x,{PASSWORD},1\n".encode())
        buffer = b""
        with contextlib.suppress(OSError):
            while chunk := self.sock.recv(65536):
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                with self.changed:
                    self.lines.extend(line.decode() for line in complete)
                    self.changed.notify_all()
        with self.changed:
            self.lines.append("(closed)")
            self.changed.notify_all()

    def first(self, prefix: str) -> str | None:
        return next((line for line in self.lines if line.startswith(prefix)), None)

    def answered(self) -> bool:
        return any(line.startswith(("wel ", "err ", "bye ")) for line in self.lines)

    def playing(self) -> bool:
        return self.first("wel ") is not None and self.first("bye ") is None

    def wait(self, done: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not done():
                assert time.monotonic() < deadline, self.lines
                self.changed.wait(0.05)

    def walk(self, x: int, y: int) -> None:
        self.sock.sendall(f"mov {x},{y},0\n".encode())
        want = f",{x:.2f},{y:.2f},0.00"
        self.wait(lambda: any(x.startswith("pos ") and x.endswith(want) for x in self.lines))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.join(10)


def test_login_races_on_two_shards_end_with_one_player(pg_url: str, tmp_path: Path) -> None:
    """Each round: the player walks somewhere, then two logins on each shard race
    for its account.  Each gets in (taking over from the one before) at the
    position walked to, and exactly one is left playing."""
    make_accounts(pg_url, ["x"])
    rng = random.Random(14)
    with two_shards(tmp_path, pg_url) as shards:
        current = Racer(shards[0], 0)
        current.start()
        current.wait(current.playing)
        target = (0, 0)
        for round_ in range(RACE_ROUNDS):
            target = (rng.randint(-20, 20), rng.randint(-20, 20))
            current.walk(*target)
            racers = [Racer(shards[i % 2], rng.uniform(0, 0.03)) for i in range(4)]
            for racer in racers:
                racer.start()
            deadline = time.monotonic() + 30
            while not (all(r.answered() for r in racers) and sum(r.playing() for r in racers) == 1):
                assert time.monotonic() < deadline, (round_, [r.lines for r in racers])
                time.sleep(0.01)  # polling four threads' lines, with a deadline
            current.wait(lambda: current.first("bye ") is not None)  # noqa: B023
            assert current.first("bye ") == "bye replaced"
            current.close()
            for racer in racers:
                wel = racer.first("wel ")
                assert wel is not None, (round_, racer.lines)  # each got in, in turn
                assert at(wel) == (*map(float, target), 0.0), (round_, racer.lines)
                assert racer.first("bye ") in (None, "bye replaced"), (round_, racer.lines)
            current = next(r for r in racers if r.playing())
            for racer in racers:
                if racer is not current:
                    racer.close()
        current.sock.sendall(b"bye\n")
        current.wait(lambda: current.first("bye ") is not None)
        current.close()
    assert saved_position(pg_url, "x") == (*map(float, target), 0.0)


def test_world_wide_chat_reaches_every_shard_with_cluster_scope(
    pg_url: str, tmp_path: Path
) -> None:
    make_accounts(pg_url, ["alice", "bob", "carol"])
    with two_shards(tmp_path, pg_url, "--say-scope=cluster") as (a, b):
        with (
            LineClient(a.host, a.port) as alice,
            LineClient(b.host, b.port) as bob,
            LineClient(b.host, b.port) as carol,
        ):
            for client, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
                assert client.login(name, PASSWORD).startswith("wel ")
            alice.send("say hello, other shard")
            heard = bob.read_until(lambda line: line.startswith("say "))[-1]
            assert heard == "say 0,alice,hello%2C other shard"  # id 0: not in this world
            assert carol.read_until(lambda line: line.startswith("say "))[-1] == heard
            bob.send("say hi back")
            mine = bob.read_until(lambda line: line.startswith("say "))[-1]
            assert mine.endswith(",bob,hi back") and not mine.startswith("say 0,")  # once
            said = alice.read_until(lambda line: line.startswith("say "))
            assert said[-1].endswith(",alice,hello%2C other shard")  # her own, from her shard
            assert alice.read_until(lambda line: line.startswith("say "))[-1] == (
                "say 0,bob,hi back"
            )


def test_chat_stays_on_its_shard_by_default(pg_url: str, tmp_path: Path) -> None:
    make_accounts(pg_url, ["alice", "bob"])
    with two_shards(tmp_path, pg_url) as (a, b):
        with LineClient(a.host, a.port) as alice, LineClient(b.host, b.port) as bob:
            assert alice.login("alice", PASSWORD).startswith("wel ")
            assert bob.login("bob", PASSWORD).startswith("wel ")
            alice.send("say only here")
            alice.read_until(lambda line: line.startswith("say "))
            time.sleep(0.5)  # what a NOTIFY would take, many times over
            bob.send("say marker")
            said = bob.read_until(lambda line: line.startswith("say "))
            assert [line for line in said if line.startswith("say ")] == [said[-1]]
            assert said[-1].endswith(",bob,marker")  # and alice's say never came


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--shard=a"], "--shard needs a PostgreSQL --store"),
        (["--say-scope=cluster"], "--say-scope cluster needs --shard"),
        (["--say-scope=world"], "--say-scope must be shard or cluster"),
        (["--takeover-timeout=0"], "--takeover-timeout must be above 0"),
    ],
)
def test_shard_options_are_checked_at_start(
    tmp_path: Path, options: list[str], message: str
) -> None:
    with pytest.raises(usage.UsageError, match=message):
        Options().parseOptions([f"--data={tmp_path}", "--admin=none", *options])


def test_a_shard_name_must_be_a_plain_word(pg_url: str, tmp_path: Path) -> None:
    with pytest.raises(usage.UsageError, match="--shard must be"):
        Options().parseOptions(
            [f"--data={tmp_path}", "--admin=none", f"--store={pg_url}", "--shard=a b"]
        )


def test_a_lock_lost_with_its_connection_closes_the_player_unsaved(
    pg_url: str, tmp_path: Path
) -> None:
    """A database restart drops a shard's locks; if another shard takes an account
    meanwhile, the first closes its player and does not write over the new owner."""
    make_accounts(pg_url, ["x"])
    with two_shards(tmp_path, pg_url) as (a, b):
        with LineClient(a.host, a.port) as on_a, LineClient(b.host, b.port) as on_b:
            assert on_a.login("x", PASSWORD).startswith("wel ")
            walk(on_a, 3, 0)
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            assert on_b.login("x", PASSWORD).startswith("wel ")  # the lock was free
            walk(on_b, 0, 8)
            assert on_a.read_until(lambda line: line.startswith("bye "), timeout=10)[-1] == (
                "bye replaced"
            )
            on_b.send("bye")
            on_b.read_until(lambda line: line == "bye quit")
        a.wait_for_log("not saving x: another shard owns it now")
        a.stop()
        b.stop()  # its shutdown waits for the save of x's leave (the context would SIGKILL)
    assert saved_position(pg_url, "x") == (0.0, 8.0, 0.0)


def test_a_shard_that_does_not_let_go_costs_a_login_err_unavailable(
    pg_url: str, tmp_path: Path
) -> None:
    """Something else holds the account's lock (a hung shard): after the takeover
    timeout the login is told to try later, and may, once the lock is free."""
    make_accounts(pg_url, ["x"])
    with (
        running_server(
            tmp_path, f"--store={pg_url}", "--shard=b", "--takeover-timeout=0.5", KEEP_CHEAP_HASHES
        ) as b,
        psycopg.connect(pg_url, autocommit=True) as hung,
    ):
        hung.execute("SELECT pg_advisory_lock(%s)", (account_key("x"),))
        with LineClient(b.host, b.port) as client:
            assert client.login("x", PASSWORD).startswith("err unavailable,")
            hung.execute("SELECT pg_advisory_unlock(%s)", (account_key("x"),))
            assert client.login("x", PASSWORD).startswith("wel ")
