"""Hostile clients against the real server (twistd subprocess) on loopback.

Clients come from different loopback addresses (127.0.0.2, 127.0.0.3, ...;
Linux routes all of 127/8 to lo) so per-address limits can be exercised.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.support import (
    UNLIMITED_CHAT,
    ChunkReader,
    LineClient,
    running_server,
    small_buffer_socket,
)


class Reader(threading.Thread):
    """Reads a client's lines in the background, with their arrival times."""

    def __init__(self, client: LineClient) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.lines: list[tuple[float, str]] = []
        self.ended = threading.Event()
        self._arrived = threading.Condition()

    def run(self) -> None:
        try:
            while True:
                line = self.client.read_line(timeout=30)
                with self._arrived:
                    self.lines.append((time.monotonic(), line))
                    self._arrived.notify_all()
        except (EOFError, TimeoutError, OSError):
            pass
        finally:
            self.ended.set()
            with self._arrived:
                self._arrived.notify_all()

    def texts(self) -> list[str]:
        return [line for _, line in self.lines]

    def wait_for(self, predicate: Callable[[float, str], bool], timeout: float = 5.0) -> None:
        """Wait until a line read so far satisfies *predicate* (its time, its text)."""
        with self._arrived:
            found = self._arrived.wait_for(
                lambda: any(predicate(t, line) for t, line in self.lines) or self.ended.is_set(),
                timeout,
            )
            assert found and any(predicate(t, line) for t, line in self.lines), self.lines[-5:]


def entity_id(wel: str) -> str:
    assert wel.startswith("wel "), wel
    return wel[4:].split(",")[0]


def test_flooder_is_dropped_while_two_players_get_every_tick(tmp_path: Path) -> None:
    with running_server(tmp_path, "--flood-time=2", "--idle-timeout=30") as server:
        foo = LineClient(server.host, server.port)
        bar = LineClient(server.host, server.port)
        foo_id = entity_id(foo.login("foo", "1234"))
        bar.login("bar", "4321")
        foo.send("mov 1000,0,0")
        readers = [Reader(foo), Reader(bar)]
        for reader in readers:
            reader.start()

        attacker = LineClient(server.host, server.port, source="127.0.0.2")
        to_attacker = Reader(attacker)
        to_attacker.start()
        garbage = b"\x00\xc3\x28 mov nan,inf,1e999\rx\n" + b"jmp " + b"1," * 300 + b"\n"
        started = time.monotonic()
        try:
            # A burst every 10 ms, until the server hangs up on the attacker.
            while not to_attacker.ended.wait(0.01) and time.monotonic() - started < 8:
                attacker.sock.sendall(garbage * 20)
        except OSError:
            pass  # the server closed the connection: that is the point
        assert to_attacker.ended.wait(5)
        flood_over = time.monotonic()
        for reader in readers:  # the players' view goes on after the flood, too
            reader.wait_for(lambda t, line: t > flood_over and line.startswith(f"pos {foo_id},"))
        attacker.close()

        got = to_attacker.texts()
        assert got[-1] == "bye flood"
        assert "err toofast,too many lines; this one was dropped" in got
        assert any(line.startswith("err badarg,") for line in got)
        assert 1.5 <= flood_over - started < 6

        for reader in readers:
            moves = [(t, line) for t, line in reader.lines if line.startswith(f"pos {foo_id},")]
            during = [(t, line) for t, line in moves if started <= t <= flood_over]
            ticks = (flood_over - started) * 10
            assert len(during) >= 0.8 * ticks, (len(during), ticks)
            gaps = [b - a for (a, _), (b, _) in itertools.pairwise(moves)]
            assert max(gaps) < 0.5, max(gaps)
            xs = [float(line.split(",")[1]) for _, line in moves]
            steps = [b - a for a, b in itertools.pairwise(xs)]
            assert max(steps) <= 1.5  # no tick was stalled for long (0.5 per tick)
        foo.close()
        bar.close()
    assert "Traceback" not in server.log_text()


def test_connection_caps_per_address_and_in_total(tmp_path: Path) -> None:
    with running_server(tmp_path, "--max-connections=4", "--max-connections-per-ip=2") as server:
        open_clients = [LineClient(server.host, server.port) for _ in range(2)]
        refused = LineClient(server.host, server.port)
        assert refused.read_line() == "bye full"
        refused.sock.settimeout(5)
        assert refused.sock.recv(100) == b""  # closed at once
        open_clients += [LineClient(server.host, server.port, source="127.0.0.2") for _ in range(2)]
        elsewhere = LineClient(server.host, server.port, source="127.0.0.3")
        assert elsewhere.read_line() == "bye full"  # the total cap
        for client in open_clients:
            client.send("xyz")
            assert client.read_line().startswith("err badcmd,")
        assert "Traceback" not in server.log_text()
        open_clients.pop(0).hang_up()  # returns once the server has let it go
        late = LineClient(server.host, server.port, source="127.0.0.3")
        assert late.login("foo", "1234").startswith("wel ")
        for client in [*open_clients, late, refused, elsewhere]:
            client.close()


def test_login_throttling_by_address_and_by_account(tmp_path: Path) -> None:
    throttled = "err toofast,too many failed logins; try again later"
    with running_server(
        tmp_path,
        "--login-failures-per-ip=3",
        "--login-failures-per-account=2",
        "--max-failed-logins=10",
    ) as server:
        guesser = LineClient(server.host, server.port, source="127.0.0.2")
        assert guesser.login("foo", "0000").startswith("err badlogin,")
        assert guesser.login("foo", "1111").startswith("err badlogin,")
        assert guesser.login("foo", "1234") == throttled  # right password, but throttled

        owner = LineClient(server.host, server.port, source="127.0.0.3")
        assert owner.login("foo", "1234") == throttled  # the account, from anywhere
        assert owner.login("bar", "4321").startswith("wel ")  # others are not blocked
        owner.close()

        sprayer = LineClient(server.host, server.port, source="127.0.0.4")
        for name in ("alice", "bob", "carol"):
            assert sprayer.login(name, "x").startswith("err badlogin,")
        assert sprayer.login("bar", "4321") == throttled  # the address is blocked
        for _ in range(10):  # throttled attempts never count toward bye badlogin
            assert sprayer.login("bar", "4321") == throttled

        fresh = LineClient(server.host, server.port, source="127.0.0.5")
        assert fresh.login("bar", "4321").startswith("wel ")
        for client in (guesser, sprayer, fresh):
            client.close()
    log = server.log_text()
    assert "throttled login as 'foo' from 127.0.0.3" in log
    assert "Traceback" not in log


def vm_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match
    return int(match.group(1))


def test_client_that_never_reads_is_dropped_and_memory_stays_bounded(tmp_path: Path) -> None:
    with running_server(
        tmp_path,
        "--max-output=1048576",
        *UNLIMITED_CHAT,
    ) as server:
        sleeper = small_buffer_socket(server.port)
        sleeper.sendall(b"con bar,4321,1\n")
        welcome = b""
        while b"\n" not in welcome:
            welcome += sleeper.recv(1)
        bar_id = entity_id(welcome.decode().strip())
        # From here on the sleeper reads nothing.

        speaker = LineClient(server.host, server.port)
        speaker.login("foo", "1234")
        heard = ChunkReader(speaker.sock)
        heard.start()
        baseline = vm_rss_kib(server.process.pid)
        text = "x" * 500
        batch = "".join(f"say {text}\n" for _ in range(20)).encode()
        pumped = 0
        peak = baseline
        said = 0
        while pumped < 30 * 1024 * 1024:  # 30 MB of chat aimed at the sleeper
            # Paced by the server: at most ~1 MB of our chat not yet echoed back.
            assert heard.wait_for(lambda: heard.says >= said - 2000), (heard.says, said)  # noqa: B023
            speaker.sock.sendall(batch)
            pumped, said = pumped + len(batch), said + 20
            if pumped % (1024 * 1024) < len(batch):
                peak = max(peak, vm_rss_kib(server.process.pid))
        gone = f"\ndel {bar_id}\n".encode()
        assert heard.wait_for(lambda: gone in heard.data), heard.data[-500:]
        peak = max(peak, vm_rss_kib(server.process.pid))
        assert peak - baseline < 15 * 1024, (baseline, peak)
        speaker.close()
        sleeper.close()
    assert "dropping 127.0.0.1" in server.log_text()
