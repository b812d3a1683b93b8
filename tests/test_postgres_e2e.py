"""The PostgreSQL store end to end: the tools, and the real server on it.

An operator's move: ``mudserver-db copy`` puts the shipped JSON accounts into
a database, ``twistd mudserver --store`` plays on it, and a copy back to
files gives the same accounts, positions and (re-hashed) passwords.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mudserver.limits.bans import BanList
from mudserver.store.files import FileStore
from mudserver.store.postgres import SCHEMA_VERSION, PostgresStore
from mudserver.tools.mkuser import main as mkuser
from tests.crowd import CHEAP
from tests.support import REPO, LineClient, free_port, running_server


def dbtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mudserver.tools.dbtool", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def position(url: str, name: str) -> tuple[float, float, float]:
    store = PostgresStore(url, CHEAP)
    try:
        account = store.load(name)
        assert account is not None
        return (account.x, account.y, account.z)
    finally:
        store.close()


def test_db_init_and_version(pg_url: str) -> None:
    assert dbtool("version", pg_url).stdout == "0\n"
    done = dbtool("init", pg_url)
    assert done.returncode == 0, done.stderr
    assert f"schema version {SCHEMA_VERSION}" in done.stdout and "(was 0)" in done.stdout
    assert dbtool("version", pg_url).stdout == f"{SCHEMA_VERSION}\n"
    refused = dbtool("init", "./data")
    assert refused.returncode == 1 and "not a PostgreSQL" in refused.stderr
    unreachable = dbtool("init", f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr


def test_mkuser_on_the_database(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert mkuser(["Baz", "pw", "--store", pg_url]) == 0
    assert "created account Baz in PostgreSQL" in capsys.readouterr().out
    assert mkuser(["BAZ", "other", "--store", pg_url]) == 1
    assert "already exists" in capsys.readouterr().err
    store = PostgresStore(pg_url)
    try:
        assert store.authenticate("baz", "pw") is not None
    finally:
        store.close()
    assert mkuser(["qux", "pw", "--store", "mysql://x"]) == 1
    assert "cannot open the store" in capsys.readouterr().err


def test_move_to_the_database_play_and_move_back(pg_url: str, tmp_path: Path) -> None:
    copied = dbtool("copy", str(REPO / "data"), pg_url)
    assert copied.returncode == 0, copied.stderr
    assert "copied 2 accounts" in copied.stdout
    again = dbtool("copy", str(REPO / "data"), pg_url)
    assert again.returncode == 1 and "foo is already in" in again.stderr

    with running_server(tmp_path, f"--store={pg_url}", "--speed=100") as server:
        assert f"dbname={pg_url.rsplit('/', 1)[1]}" in server.log_text()
        with LineClient(server.host, server.port) as client:
            assert client.login("FOO", "1234").startswith("wel ")
            client.send("mov 5,0,0")
            client.read_until(lambda line: line.startswith("pos ") and ",5.00," in line)
            client.send("bye")
            client.read_until(lambda line: line == "bye quit")
        with LineClient(server.host, server.port) as client:
            assert client.login("bar", "wrong").startswith("err badlogin,")
            assert client.login("bar", "4321").startswith("wel ")
            client.send("mov 0,3,0")
            client.read_until(lambda line: line.startswith("pos ") and ",3.00," in line)
            assert server.stop() == -signal.SIGTERM  # twistd re-raises the signal
            assert client.read_until(lambda line: line.startswith("bye "))[-1] == "bye shutdown"
        assert "saved 1 players" in server.log_text()
    assert position(pg_url, "foo") == (5.0, 0.0, 0.0)
    assert position(pg_url, "bar") == (0.0, 3.0, 0.0)  # saved at shutdown

    with running_server(tmp_path, f"--store={pg_url}") as server:
        with LineClient(server.host, server.port) as client:
            assert client.login("foo", "1234").startswith("wel 1,foo,5.00,0.00,0.00")

    back = tmp_path / "back"
    done = dbtool("copy", pg_url, str(back))
    assert done.returncode == 0, done.stderr
    files = FileStore(back, CHEAP)
    foo = files.authenticate("foo", "1234")
    assert foo is not None and (foo.x, foo.y, foo.z) == (5.0, 0.0, 0.0)
    assert foo.password["algorithm"] == "argon2id"  # re-hashed at the login above
    assert files.authenticate("bar", "4321") is not None


def test_a_bad_store_stops_the_server_with_one_line(tmp_path: Path) -> None:
    from tests.support import TWISTD

    for store, expected in (
        ("mysql://db/x", "--store must be 'files'"),
        (f"postgresql://postgres@127.0.0.1:{free_port()}/x", "--store: cannot reach"),
    ):
        done = subprocess.run(
            [TWISTD, "-n", "--pidfile=", "mudserver", f"--data={tmp_path}", f"--store={store}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode != 0
        assert expected in done.stderr + done.stdout
        assert "Traceback" not in done.stderr + done.stdout


def test_copy_takes_the_bans_along_both_ways(pg_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data)
    bans = BanList()
    bans.add("griefer", now=time.time(), reason="grief")
    bans.add("10.0.0.0/8", now=time.time(), duration=3600)
    bans.save(data / "bans.json", time.time())
    done = dbtool("copy", str(data), pg_url)
    assert done.returncode == 0, done.stderr
    assert "copied 2 bans" in done.stdout
    back = tmp_path / "back"
    assert dbtool("copy", pg_url, str(back)).returncode == 0
    again = BanList.load(back / "bans.json").bans(time.time())
    assert [(b.target, b.reason) for b in again] == [("griefer", "grief"), ("10.0.0.0/8", "")]
