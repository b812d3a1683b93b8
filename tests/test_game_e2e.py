"""The sample game on a real ``twistd -n mudserver``: nc plays it, the operator reloads it.

What the issue promised a newcomer: ``nc`` sees the greeter, walks to her and
is greeted, reads the sign, picks an apple up and finds it counted after
logging in again; a reload under 200 connected players drops nobody; a
broken world file changes nothing, and stops a start with one line.
"""

from __future__ import annotations

import json
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mudserver.account import Account
from mudserver.store.base import hash_password
from mudserver.store.files import FileStore
from mudserver.store.passwords import ScryptParams
from tests.support import REPO, TWISTD, LineClient, ServerProcess, running_server

pexpect = pytest.importorskip("pexpect")

REST = r"[^\r\n]*"
NUMBER = r"(-?\d+\.\d\d)"


def data_dir(tmp_path: Path, foo_at: tuple[float, float] = (30.0, -30.0)) -> Path:
    """A copy of data/ with foo standing away from the well."""
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data)
    account = json.loads((data / "users" / "foo.json").read_text())
    account["position"] = [foo_at[0], foo_at[1], 0.0]
    (data / "users" / "foo.json").write_text(json.dumps(account))
    return data


def admin(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mudserver.tools.admin", f"--data={server.data}", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def sample(tmp_path: Path) -> Iterator[ServerProcess]:
    data_dir(tmp_path)
    with running_server(tmp_path, "--game=sample", "--speed=20") as server:
        yield server


def nc(server: ServerProcess) -> pexpect.spawn:
    path = shutil.which("nc")
    if path is None:
        pytest.skip("nc is not installed (CI installs it: apt-get install netcat-openbsd)")
    return pexpect.spawn(path, [server.host, str(server.port)], encoding="utf-8", timeout=10)


def test_nc_is_greeted_reads_the_sign_and_keeps_its_apples(sample: ServerProcess) -> None:
    child = nc(sample)
    try:
        child.sendline("con foo,1234,1")
        child.expect(r"wel (\d+),foo," + REST)
        me = child.match.group(1)
        child.expect(r"ent (\d+),npc,Ada,4.00,3.00" + REST)
        ada = child.match.group(1)
        child.expect(r"ent (\d+),thing,signpost," + REST)
        sign = child.match.group(1)
        child.expect(r"ent (\d+),thing,apple tree,10.00,-8.00" + REST)
        tree = child.match.group(1)
        child.expect(rf"ent (\d+),thing,apple,{NUMBER},{NUMBER}," + REST)
        apple, ax, ay = child.match.group(1), child.match.group(2), child.match.group(3)
        child.expect_exact("msg 0,,Welcome to the sample world!")
        child.sendline("mov 3,2,0")  # into Ada's watch
        child.expect(rf"msg {ada},Ada,Welcome%2C foo! I am Ada\." + REST)
        child.expect_exact(f"pos {me},3.00,2.00,0.00")
        child.sendline(f"use {sign}")
        child.expect_exact(f"msg {sign},signpost,North-west: the meadow.")
        child.sendline(f"use {ada},talk")
        child.expect(rf"msg {ada},Ada,The sheep graze" + REST)
        child.sendline(f"mov {ax},{ay},0")
        child.expect_exact(f"pos {me},{ax},{ay},0.00")
        child.sendline(f"use {apple}")
        child.expect_exact(f"msg {apple},apple,You pick up the apple. You have 1 apples.")
        child.sendline("bye")
        child.expect_exact("bye quit")
    finally:
        child.close(force=True)
    again = nc(sample)
    try:
        again.sendline("con foo,1234,1")
        again.expect_exact("msg 0,,Welcome to the sample world!")
        again.expect(r"\(visit 2\)")
        again.sendline(f"use {tree},count")
        again.expect_exact(f"msg {tree},apple tree,You have 1 apples.")
        again.sendline("bye")
        again.expect_exact("bye quit")
    finally:
        again.close(force=True)


def test_a_broken_world_file_changes_nothing(sample: ServerProcess) -> None:
    with LineClient(sample.host, sample.port) as foo:
        foo.login("foo", "1234")
        lines = foo.read_until(lambda line: ",signpost," in line)
        sign = lines[-1].split()[1].split(",")[0]
        world = sample.data / "world.toml"
        good = world.read_text()
        world.write_text(good.replace('class = "Sign"', 'class = "Sing"'))
        done = admin(sample, "reload")
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            f"mudserver-admin: {world}: things.signpost: the game has no thing class 'Sing' "
            "(it has: Apple, AppleTree, Dog, Greeter, Guard, Sheep, Sign)"
        ]
        foo.send("mov -2,2,0")
        foo.read_until(lambda line: line.startswith("pos ") and line.endswith(",-2.00,2.00,0.00"))
        foo.send(f"use {sign}")
        answer = foo.read_until(lambda line: line.startswith((f"msg {sign},", "err ")))[-1]
        assert answer.startswith(f"msg {sign},signpost,North-west")
        world.write_text(good.replace("Be kind to the sheep.", "Mind the dog."))
        done = admin(sample, "reload")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("reloaded: 10 things took the new code, 0 added")
        foo.send(f"use {sign}")
        said = foo.read_until(lambda line: line.startswith((f"msg {sign},", "err ")))[-1]
        assert said.endswith("Mind the dog.")
    assert "reload failed; the game goes on with its old code" in sample.log_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('class = "Sign"', 'class = "Sing"'), "things.signpost: the game has no thing class"),
        (("motd = ", "motd = '' #"), "the game's set-up failed: rules.motd must not be empty"),
    ],
)
def test_a_broken_world_stops_the_start_in_one_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    data = data_dir(tmp_path)
    world = data / "world.toml"
    world.write_text(world.read_text().replace(*change))
    done = subprocess.run(
        [TWISTD, "-n", "--pidfile=", "mudserver", f"--data={data}", "--web=none", "--admin=none"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert any(message in line for line in lines), lines
    assert "Traceback" not in done.stdout + done.stderr


class Crowd:
    """N players on raw sockets, read by one thread so that none falls behind."""

    def __init__(self, server: ServerProcess, names: list[str]) -> None:
        self.sockets: dict[str, socket.socket] = {}
        self.received: dict[str, bytes] = dict.fromkeys(names, b"")
        self.closed: set[str] = set()
        self._selector = selectors.DefaultSelector()
        for name in names:
            sock = socket.create_connection((server.host, server.port), timeout=10)
            sock.sendall(f"con {name},pw,2\n".encode())
            sock.setblocking(False)
            self.sockets[name] = sock
            self._selector.register(sock, selectors.EVENT_READ, name)
        self._running = True
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while self._running:
            for key, _ in self._selector.select(0.1):
                try:
                    chunk = key.fileobj.recv(1 << 16)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self.closed.add(key.data)
                    self._selector.unregister(key.fileobj)
                else:
                    self.received[key.data] += chunk

    def wait(self, predicate: object, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return True
            time.sleep(0.05)
        return False

    def send_all(self, line: str) -> None:
        for sock in self.sockets.values():
            sock.setblocking(True)
            sock.sendall(line.encode() + b"\n")
            sock.setblocking(False)

    def close(self) -> None:
        self._running = False
        self._thread.join(5)
        for sock in self.sockets.values():
            sock.close()


def test_a_reload_under_200_players_drops_nobody(tmp_path: Path) -> None:
    data = data_dir(tmp_path)
    store = FileStore(data, ScryptParams(n=2**4))
    record = hash_password("pw", ScryptParams(n=2**4))
    names = [f"p{i}" for i in range(200)]
    for i, name in enumerate(names):
        store.insert(Account(name, record, float(i % 20), float(i // 20), 0.0))
    options = ("--game=sample", "--no-rehash", "--max-connections-per-ip=300")
    with running_server(tmp_path, *options) as server:
        crowd = Crowd(server, names)
        try:
            assert crowd.wait(lambda: all(b"\nwel " in b"\n" + r for r in crowd.received.values()))
            crowd.send_all("mov 5,5,0")
            for _ in range(3):
                done = admin(server, "reload")
                assert done.returncode == 0, done.stderr
                assert done.stdout.startswith("reloaded: ")
            crowd.send_all("idl")
            # Every player walked on through the reloads and stands at 5,5 now.
            assert crowd.wait(
                lambda: all(b",5.00,5.00,0.00\n" in r for r in crowd.received.values())
            )
            assert crowd.closed == set()
            # Read while the crowd is still connected: once it hangs up, "left" is logged.
            log = server.log_text()
            assert " left (" not in log
            assert log.count("took the new code") == 3
        finally:
            crowd.close()
