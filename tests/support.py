"""Shared helpers for tests that run the real server in a subprocess.

``running_server`` starts ``twistd -n mudserver`` on a free loopback port
with a private copy of the shipped ``data/`` directory, waits until it
accepts connections, and always stops it again.  ``LineClient`` is a tiny
blocking socket client with timeouts, so a broken server fails a test
instead of hanging it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

REPO = Path(__file__).resolve().parent.parent
TWISTD = str(Path(sys.executable).with_name("twistd"))


#: Options for a server that many tests share: their failed logins, all from
#: 127.0.0.1, must not add up to the login throttle meant for one attacker.
SHARED_SERVER = ("--login-failures-per-ip=10000", "--login-failures-per-account=10000")


#: Flood control lifted, so that one client can bury another in chat (the
#: unread-output tests: the limit under test is ``--max-output``, not these).
UNLIMITED_CHAT = (
    "--say-rate=100000",
    "--say-burst=100000",
    "--line-rate=100000",
    "--line-burst=100000",
)


def small_buffer_socket(port: int) -> socket.socket:
    """A client socket to *port* with a 4 KiB receive buffer: once it stops reading,
    the server's writes to it pile up at once."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(5)
    raw.connect(("127.0.0.1", port))
    return raw


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    data: Path
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        """Wait until the log holds *text*: a line logged after the reply a test saw may
        reach the file a moment after that reply reached the test (a loaded machine)."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged:\n{self.log_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send *sig* and wait for the process to exit by itself; return its status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def wait_for_close(sock: socket.socket, timeout: float = 5.0) -> None:
    """Close our side of *sock*, then read until the server has closed its side.

    Twisted forgets a connection (``connectionLost``: the connection caps
    count it no more) in the same step as it closes the socket, so once the
    server's close has arrived here a new connection finds its place free.
    Raises ``TimeoutError`` if the server does not close within *timeout*.
    """
    sock.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + timeout
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return
        except ConnectionResetError:
            return


@contextmanager
def running_server(
    tmp_path: Path, *options: str, ready_timeout: float = 15.0
) -> Iterator[ServerProcess]:
    """Run ``twistd -n mudserver`` with *options* on a copy of ``data/``."""
    data = tmp_path / "data"
    if not data.exists():
        shutil.copytree(REPO / "data", data)
    port = free_port()
    log = tmp_path / "twistd.log"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [
            TWISTD,
            "-n",
            "--pidfile=",
            f"--logfile={log}",
            "mudserver",
            f"--port=tcp:{port}:interface=127.0.0.1",
            f"--data={data}",
            # The browser client only where a test asks for it: no clash on its port.
            *(() if any(o.startswith("--web") for o in options) else ("--web=none",)),
            # A world of players only, unless a test asks for a game: what the
            # protocol's tests count and compare is then the players' own.
            *(() if any(o.startswith("--game") for o in options) else ("--game=none",)),
            *options,
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = ServerProcess(process, "127.0.0.1", port, data, log)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"twistd exited early:\n{server.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    # Not counted by the connection caps once this returns.
                    wait_for_close(probe)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"twistd did not listen:\n{server.log_text()}") from None
                time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


class LineReading:
    """What every blocking test client does on top of ``send`` and ``read_line``."""

    sock: socket.socket
    timeout: float

    def send(self, line: str) -> None:
        raise NotImplementedError

    def read_line(self, timeout: float | None = None) -> str:
        raise NotImplementedError

    def read_until(
        self, predicate: Callable[[str], bool], timeout: float | None = None
    ) -> list[str]:
        """Read lines until one satisfies *predicate*; return all of them, that one last."""
        deadline = time.monotonic() + (timeout or self.timeout)
        lines: list[str] = []
        while True:
            line = self.read_line(max(0.01, deadline - time.monotonic()))
            lines.append(line)
            if predicate(line):
                return lines

    def login(self, name: str, password: str) -> str:
        """Log in and return the ``wel`` line (the ``ent`` lines stay unread)."""
        self.send(f"con {name},{password},1")
        return self.read_until(lambda line: line.startswith(("wel ", "err ", "bye ")))[-1]

    def close(self) -> None:
        self.sock.close()

    def hang_up(self) -> None:
        """Close, and wait until the server has let go of the connection (see wait_for_close)."""
        wait_for_close(self.sock, self.timeout)
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LineClient(LineReading):
    """A blocking line client with a deadline on every read."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = 5.0,
        source: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """Connect; *source* picks the local address (any 127.x.y.z works on Linux);
        *tls* wraps the socket (the server name is *host*)."""
        address = (source, 0) if source else None
        sock = socket.create_connection((host, port), timeout=timeout, source_address=address)
        self.sock = sock if tls is None else tls.wrap_socket(sock, server_hostname=host)
        self.timeout = timeout
        self.buffer = b""

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode("utf-8") + b"\n")

    def read_line(self, timeout: float | None = None) -> str:
        """The next line, without its newline; raises TimeoutError, or EOFError at close."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line within the deadline; have {self.buffer!r}")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise EOFError(f"connection closed; have {self.buffer!r}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("utf-8")


class ChunkReader(threading.Thread):
    """Reads a socket as fast as it can; keeps the lines that are not chat, counts the chat."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.data = b"\n"
        self.says = 0
        self._arrived = threading.Condition()

    def run(self) -> None:
        rest = b""
        try:
            while chunk := self.sock.recv(1 << 20):
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                kept = [line for line in lines if not line.startswith(b"say ")]
                with self._arrived:
                    self.says += len(lines) - len(kept)
                    if kept:
                        self.data += b"\n".join(kept) + b"\n"
                    self._arrived.notify_all()
        except OSError:
            pass

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait until *predicate* (of this reader's state) holds; return whether it did."""
        with self._arrived:
            return self._arrived.wait_for(predicate, timeout)


def say_until_dropped(server: ServerProcess, victim_id: str, timeout: float = 20.0) -> bytes:
    """Log foo in and have it say 10 KB at a time until it hears ``del victim_id`` (the
    server dropped a client that reads nothing); what foo heard besides chat."""
    with LineClient(server.host, server.port) as speaker:
        speaker.login("foo", "1234")
        heard = ChunkReader(speaker.sock)  # the speaker reads all, at once
        heard.start()
        batch = "".join(f"say {'x' * 500}\n" for _ in range(20)).encode()
        gone = f"\ndel {victim_id}\n".encode()
        deadline = time.monotonic() + timeout
        while gone not in heard.data and time.monotonic() < deadline:
            speaker.sock.sendall(batch)
            time.sleep(0.002)  # pacing the flood; the loop ends on what foo heard
        return heard.data
