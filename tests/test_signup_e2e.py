"""Sign-up and password change against the real ``twistd mudserver``: files and PostgreSQL.

``nc`` types ``new`` and ``pwd`` as a person would (in a pseudo-terminal);
with two shards on one PostgreSQL, sign-ups racing for one name on both
shards make one account, and an account made on one shard logs in on the
other.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from mudserver.store.files import FileStore
from tests.support import LineClient, running_server
from tests.test_rawclients import REST, need
from tests.test_shards import at, two_shards, walk

pexpect = pytest.importorskip("pexpect")

PASSWORD = "long enough"


def test_nc_signs_up_changes_its_password_and_logs_in_with_it(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        child = pexpect.spawn(
            need("nc"), [server.host, str(server.port)], encoding="utf-8", timeout=10
        )
        try:
            child.sendline("new Newbie,short,1")
            child.expect(r"err weakpass," + REST)
            child.sendline(f"new Newbie,{PASSWORD},1")
            child.expect(r"wel \d+,Newbie,0.00,0.00,0.00")
            child.sendline(f"pwd {PASSWORD},even longer")
            child.expect_exact("ack pwd")
            with LineClient(server.host, server.port) as other:
                other.send(f"new NEWBIE,{PASSWORD},1")
                assert other.read_line().startswith("err taken,")
                assert other.login("newbie", PASSWORD).startswith("err badlogin,")
                assert other.login("newbie", "even longer").startswith("wel ")
            child.expect_exact("bye replaced")
        finally:
            child.close(force=True)
        assert server.stop() in (0, -15)
    account = FileStore(server.data).authenticate("newbie", "even longer")
    assert account is not None and account.name == "Newbie"
    assert account.password["algorithm"] == "argon2id"  # hashed at the server's real cost


def race(hosts: list[tuple[str, int]], name: str) -> list[str]:
    """``new name`` sent on each server at once; the first line each one answered."""
    clients = [LineClient(host, port) for host, port in hosts]
    start = threading.Barrier(len(clients))
    answers: list[str] = []

    def sign_up(client: LineClient) -> None:
        start.wait(5)
        client.send(f"new {name},{PASSWORD},1")
        answers.append(client.read_line(10).split(",")[0])

    threads = [threading.Thread(target=sign_up, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    for client in clients:
        client.close()
    return sorted(answers)


def test_two_shards_make_one_account_of_a_name_and_share_it(pg_url: str, tmp_path: Path) -> None:
    with two_shards(tmp_path, pg_url, "--signups-per-hour=100") as (a, b):
        hosts = [(a.host, a.port), (b.host, b.port)]
        for round in range(6):
            answers = race(hosts, f"Racer{round}")
            assert [line.split(" ")[0] for line in answers] == ["err", "wel"], answers
            assert answers[0] == "err taken"
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute(
                "SELECT name_key, count(*) FROM mudserver_accounts"
                " WHERE name_key LIKE 'racer%' GROUP BY name_key"
            ).fetchall()
        assert sorted(rows) == [(f"racer{i}", 1) for i in range(6)]
        with LineClient(a.host, a.port) as on_a, LineClient(b.host, b.port) as on_b:
            on_a.send(f"new Solo,{PASSWORD},2")
            assert on_a.read_line().startswith("wel ")
            walk(on_a, 3, 0)
            assert at(on_b.login("solo", PASSWORD)) == (3.0, 0.0, 0.0)
            assert on_a.read_until(lambda line: line.startswith("bye "))[-1] == "bye replaced"
