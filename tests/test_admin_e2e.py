"""The operator's console end to end: ``mudserver-admin`` against a real ``twistd -n mudserver``.

Each test starts the server (``tests/support.py``), logs players in over
real sockets, runs the console as a separate process, and checks what the
players read, what the console prints and what lands on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mudserver.store.files import FileStore

from .crowd import CHEAP
from .support import (
    REPO,
    SHARED_SERVER,
    TWISTD,
    LineClient,
    ServerProcess,
    free_port,
    running_server,
)


def admin(
    server: ServerProcess, *args: str, timeout: float = 15.0
) -> subprocess.CompletedProcess[str]:
    """Run ``mudserver-admin`` for *server*'s data directory."""
    return subprocess.run(
        [sys.executable, "-m", "mudserver.tools.admin", f"--data={server.data}", *args],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def saved_position(data: Path, name: str) -> list[float]:
    return json.loads((data / "users" / f"{name}.json").read_text())["position"]


def wait_for_saved(data: Path, name: str, expected: list[float], timeout: float = 10.0) -> None:
    """The account file is written on a save thread: poll it, with a deadline."""
    deadline = time.monotonic() + timeout
    while saved_position(data, name) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} saved at {saved_position(data, name)}, not {expected}")
        time.sleep(0.05)


def walk_to(client: LineClient, x: float) -> None:
    """Walk along x and wait until the server says the player stands there."""
    client.send(f"mov {x},0,0")
    client.read_until(lambda line: line.startswith("pos ") and line.endswith(f",{x:.2f},0.00,0.00"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path, *SHARED_SERVER, "--speed=50") as server:
        yield server


def test_who_lists_players_and_kick_saves_where_the_player_stood(server: ServerProcess) -> None:
    with LineClient(server.host, server.port) as foo:
        assert foo.login("foo", "1234").startswith("wel ")
        walk_to(foo, 30)
        result = admin(server, "--json", "who")
        assert result.returncode == 0, result.stderr
        (row,) = json.loads(result.stdout)
        assert (row["name"], row["host"], row["version"], row["x"]) == ("foo", "127.0.0.1", "1", 30)
        assert 0 <= row["idle"] < 10
        people = admin(server, "who")
        assert people.stdout.startswith("1 player online\n")
        assert "foo" in people.stdout and "127.0.0.1" in people.stdout

        result = admin(server, "kick", "foo", "please", "stop")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "kicked foo"
        lines = foo.read_until(lambda line: line.startswith("bye "))
        assert lines[-2:] == ["sys kicked: please stop", "bye kicked"]
        with pytest.raises(EOFError):
            foo.read_line()
    wait_for_saved(server.data, "foo", [30.0, 0.0, 0.0])
    again = admin(server, "kick", "foo")
    assert again.returncode == 1
    assert "foo is not online" in again.stderr


def test_bans_refuse_a_name_and_an_address_also_after_a_restart(tmp_path: Path) -> None:
    with running_server(tmp_path, *SHARED_SERVER) as server:
        with LineClient(server.host, server.port) as foo:
            foo.login("foo", "1234")
            result = admin(server, "ban", "foo", "--for", "1h", "cheating")
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip() == "banned foo for 1h; disconnected foo"
            assert foo.read_until(lambda line: line.startswith("bye "))[-1] == "bye banned"
        assert admin(server, "ban", "127.0.0.2").returncode == 0
        bad = admin(server, "ban", "no!such")
        assert bad.returncode == 1 and "not an account name" in bad.stderr
        listed = json.loads(admin(server, "--json", "bans").stdout)
        assert [(b["kind"], b["target"], b["reason"]) for b in listed] == [
            ("name", "foo", "cheating"),
            ("address", "127.0.0.2/32", ""),
        ]
        assert server.stop() == -signal.SIGTERM  # twistd re-raises the signal
    assert json.loads((server.data / "bans.json").read_text())["version"] == 1

    with running_server(tmp_path, *SHARED_SERVER) as server:
        with LineClient(server.host, server.port) as foo:
            assert foo.login("foo", "1234") == "bye banned"
        with LineClient(server.host, server.port, source="127.0.0.2") as banned:
            assert banned.read_line() == "bye banned"
            with pytest.raises(EOFError):
                banned.read_line()
        with LineClient(server.host, server.port) as bar:  # others still get in
            assert bar.login("bar", "4321").startswith("wel ")
        assert admin(server, "unban", "foo").returncode == 0
        assert admin(server, "unban", "127.0.0.2").returncode == 0
        assert "is not banned" in admin(server, "unban", "foo").stderr
        with LineClient(server.host, server.port, source="127.0.0.2") as foo:
            assert foo.login("foo", "1234").startswith("wel ")


def test_a_countdown_announces_then_the_server_exits_with_everyone_saved(
    server: ServerProcess,
) -> None:
    with LineClient(server.host, server.port, timeout=15) as foo:
        foo.login("foo", "1234")
        walk_to(foo, 20)
        result = admin(server, "shutdown", "--in", "6", "new", "version")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "shutting down in 6 s"
        lines = foo.read_until(lambda line: line.startswith("bye "), timeout=15)
        assert [line for line in lines if line.startswith(("sys ", "bye "))] == [
            "sys server shutting down in 6 seconds: new version",
            "sys server shutting down in 5 seconds: new version",
            "bye shutdown",
        ]
    assert server.process.wait(15) == 0  # by itself, no signal
    assert saved_position(server.data, "foo") == [20.0, 0.0, 0.0]
    assert "saved 1 players" in server.log_text()
    gone = admin(server, "who")
    assert gone.returncode == 1
    assert "server is not running" in gone.stderr


def test_cancel_stops_the_countdown(server: ServerProcess) -> None:
    with LineClient(server.host, server.port) as foo:
        foo.login("foo", "1234")
        assert admin(server, "shutdown", "--in", "3").returncode == 0
        assert admin(server, "cancel").stdout.strip() == "shutdown cancelled"
        lines = foo.read_until(lambda line: line == "sys shutdown cancelled")
        assert "sys server shutting down in 3 seconds" in lines
        # Well past the planned shutdown, the server and the player are still there.
        time.sleep(4)  # waiting out the cancelled deadline itself is the point here
        assert server.process.poll() is None
        foo.send("who")
        assert foo.read_until(lambda line: line.startswith("who "))[-1] == "who 1,0"
        nothing = admin(server, "cancel")
        assert nothing.returncode == 1 and "no shutdown" in nothing.stderr


def test_announce_reaches_every_player_and_who_answers_players(server: ServerProcess) -> None:
    with (
        LineClient(server.host, server.port) as foo,
        LineClient(server.host, server.port) as bar,
    ):
        foo.login("foo", "1234")
        bar.login("bar", "4321")
        result = admin(server, "announce", "maintenance, at 18:00")
        assert result.stdout.strip() == "announced to 2 players"
        for client in (foo, bar):
            line = client.read_until(lambda line: line.startswith("sys "))[-1]
            assert line == "sys maintenance%2C at 18:00"
        foo.send("who")
        assert foo.read_until(lambda line: line.startswith("who "))[-1] == "who 2,1,bar"


def test_the_admin_socket_is_the_server_users_only(server: ServerProcess) -> None:
    path = server.data / "admin.sock"
    info = path.stat()
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()


runuser = shutil.which("runuser")


@pytest.mark.skipif(
    os.getuid() != 0 or runuser is None or not Path("/usr/bin/python3").exists(),
    reason="needs root, runuser (util-linux) and /usr/bin/python3",
)
def test_another_os_user_is_refused(tmp_path: Path) -> None:
    """``nobody`` can reach the socket's directory, but the socket's mode keeps it out."""
    short = Path(tempfile.mkdtemp(prefix="mudadm", dir="/tmp"))
    try:
        short.chmod(0o755)
        sock_path = short / "admin.sock"
        with running_server(tmp_path, f"--admin={sock_path}") as server:
            probe = (
                "import socket,sys\n"
                "s=socket.socket(socket.AF_UNIX)\n"
                "try:\n    s.connect(sys.argv[1])\nexcept OSError as e:\n"
                "    print(e.errno); sys.exit(0)\nprint('connected')\n"
            )
            command = [
                runuser,
                "-u",
                "nobody",
                "--",
                "/usr/bin/python3",
                "-c",
                probe,
                str(sock_path),
            ]
            refused = subprocess.run(command, capture_output=True, text=True, timeout=15)
            assert refused.stdout.strip() == "13", refused.stderr  # EACCES
            # The test can fail: with the mode loosened, nobody gets in.
            sock_path.chmod(0o666)
            allowed = subprocess.run(command, capture_output=True, text=True, timeout=15)
            assert allowed.stdout.strip() == "connected", allowed.stderr
            sock_path.chmod(0o600)
            # And the console tells a person what went wrong, where nobody can run it
            # (here the virtualenv may be closed to other users).
            env = dict(os.environ, PYTHONPATH=str(REPO))
            as_nobody = [runuser, "-u", "nobody", "--", sys.executable]
            usable = subprocess.run(
                [*as_nobody, "-c", "import mudserver.tools.admin"],
                env=env,
                capture_output=True,
                timeout=15,
            )
            if usable.returncode == 0:
                console = subprocess.run(
                    [*as_nobody, "-m", "mudserver.tools.admin", f"--socket={sock_path}", "who"],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=15,
                )
                assert console.returncode == 1
                assert "permission denied" in console.stderr
            assert server.process.poll() is None
    finally:
        shutil.rmtree(short, ignore_errors=True)


def test_the_console_says_when_no_server_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mudserver.tools.admin", f"--data={tmp_path}", "--json", "who"],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert result.returncode == 1
    assert "the server is not running" in result.stderr
    assert "not running" in json.loads(result.stdout)["error"]
    with socket.socket(socket.AF_UNIX) as stale:  # a socket file nobody listens on
        stale.bind(str(tmp_path / "admin.sock"))
    again = subprocess.run(
        [sys.executable, "-m", "mudserver.tools.admin", f"--data={tmp_path}", "who"],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert "the server is not running" in again.stderr


def test_accounts_reset_password_and_delete_with_files(server: ServerProcess) -> None:
    FileStore(server.data, CHEAP).create("temp", "pw")
    listed = json.loads(admin(server, "--json", "accounts").stdout)
    assert [row["name"] for row in listed] == ["bar", "foo", "temp"]
    assert listed[2]["created"] is not None and not listed[2]["damaged"]
    text = admin(server, "accounts", "t*").stdout
    assert text.startswith("1 account\nNAME") and "temp" in text
    paged = json.loads(admin(server, "--json", "accounts", "--limit=1", "--after=bar").stdout)
    assert [row["name"] for row in paged] == ["foo"]

    with LineClient(server.host, server.port) as foo:
        assert foo.login("foo", "1234").startswith("wel ")
        reset = admin(server, "reset-password", "foo")
        assert reset.returncode == 0, reset.stderr
        assert foo.read_until(lambda line: line.startswith("bye "))[-2:] == [
            "sys kicked: password reset",
            "bye kicked",
        ]
    new = reset.stdout.split("new password of foo: ", 1)[1].split("\n", 1)[0]
    assert len(new) >= 16 and "kicked it first" in reset.stdout
    record = json.loads((server.data / "users" / "foo.json").read_text())["password"]
    assert record["algorithm"] == "argon2id"
    with LineClient(server.host, server.port) as client:
        assert client.login("foo", "1234").startswith("err badlogin")
        assert client.login("foo", new).startswith("wel ")

    with LineClient(server.host, server.port) as temp:
        assert temp.login("temp", "pw").startswith("wel ")
        deleted = admin(server, "delete", "temp")
        assert deleted.stdout.strip() == "deleted temp; kicked it first"
        assert temp.read_until(lambda line: line.startswith("bye "))[-1] == "bye kicked"
    assert not (server.data / "users" / "temp.json").exists()
    # A second delete reads temp on its save thread, behind any save of it still
    # queued: had the leave's save written temp back, this would delete it again.
    missing = admin(server, "delete", "temp")
    assert missing.returncode == 1 and "there is no account temp" in missing.stderr


def test_a_second_server_on_one_data_directory_stops_in_one_line(server: ServerProcess) -> None:
    second = subprocess.run(
        [TWISTD, "-n", "--pidfile=", "mudserver", f"--data={server.data}",
         f"--port=tcp:{free_port()}:interface=127.0.0.1", "--web=none"],
        env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    said = second.stdout + second.stderr
    assert second.returncode != 0
    assert f"belongs to another running server (pid {server.process.pid})" in said
    assert "Traceback" not in said
    assert admin(server, "who").returncode == 0  # the first one carries on
