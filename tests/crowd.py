"""Many logged-in clients at once, driven by one selector, for load and crash tests.

``LineClient`` blocks on one socket; hundreds of players must all be read
continuously (or the server drops them for not reading), so :class:`Crowd`
reads every socket that has data, with a deadline on every wait.
"""

from __future__ import annotations

import math
import selectors
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mudserver.store.files import FileStore
from mudserver.store.passwords import ScryptParams

#: Cheap scrypt: a record's own params are used when it is verified.
CHEAP = ScryptParams(n=2**4)
PASSWORD = "pw"
#: Server option for crowds of cheap accounts: without it every first login
#: would re-hash at the real cost (see README, "Accounts").
KEEP_CHEAP_HASHES = "--no-rehash"


def make_accounts(data: Path, count: int, prefix: str = "p") -> list[str]:
    """Create *count* accounts (cheap hashes) in *data*, unless they exist.

    Threads, because each creation waits for two fsyncs and the file system
    commits concurrent ones together.
    """
    store = FileStore(data, CHEAP)
    names = [f"{prefix}{i}" for i in range(count)]
    missing = [name for name in names if not store.exists(name)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda name: store.create(name, PASSWORD), missing))
    return names


def direction(index: int, count: int) -> tuple[float, float, float]:
    """Player *index* of *count* walks from the origin along this unit vector, forever
    (the players fan out evenly: the crash tests check each stays on its line)."""
    angle = 2 * math.pi * index / count
    return (math.cos(angle), math.sin(angle), 0.0)


def progress(index: int, count: int, position: tuple[float, float, float]) -> float:
    """How far along its line (:func:`direction`) a player is; fails if off the line."""
    ux, uy, uz = direction(index, count)
    along = sum(p * u for p, u in zip(position, (ux, uy, uz), strict=True))
    off = math.dist(position, (along * ux, along * uy, along * uz))
    assert off < 1e-6, f"player {index} at {position} is off its path"
    assert along >= -1e-9
    return along


class Crowd:
    """One socket per player, all read by :meth:`pump`."""

    def __init__(self, host: str, port: int, names: Sequence[str]) -> None:
        self.names = list(names)
        self.socks: list[socket.socket] = []
        self.lines: list[list[str]] = [[] for _ in names]
        self.closed = [False] * len(names)
        self.welcomed = [False] * len(names)
        self._buffers = [b""] * len(names)
        self._selector = selectors.DefaultSelector()
        self.host, self.port = host, port

    def send(self, index: int, line: str) -> None:
        sock = self.socks[index]
        sock.setblocking(True)
        sock.settimeout(10)
        sock.sendall(line.encode() + b"\n")
        sock.setblocking(False)

    def login_all(self, timeout: float = 60, batch: int = 40) -> None:
        """Connect and log everybody in, *batch* at a time.

        A batch waits for its ``wel`` lines before the next connects: the
        listen backlog is small, and a connection the kernel had to drop is
        retried by TCP only a second later.
        """
        for start in range(0, len(self.names), batch):
            indexes = range(start, min(start + batch, len(self.names)))
            for index in indexes:
                sock = socket.create_connection((self.host, self.port), timeout=10)
                sock.setblocking(False)
                self.socks.append(sock)
                self._selector.register(sock, selectors.EVENT_READ, index)
                self.send(index, f"con {self.names[index]},{PASSWORD},1")
            self.pump(lambda: all(self.welcomed[i] for i in indexes), timeout)  # noqa: B023

    def last(self, index: int, prefix: str) -> str | None:
        """The last line of player *index* that starts with *prefix*."""
        return next((x for x in reversed(self.lines[index]) if x.startswith(prefix)), None)

    def pump(self, done: Callable[[], bool], timeout: float) -> None:
        """Read whatever arrives until ``done()``; TimeoutError after *timeout* seconds."""
        deadline = time.monotonic() + timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the crowd did not get what it waited for in time")
            for key, _ in self._selector.select(min(remaining, 0.5)):
                self._read(key.data)

    def _read(self, index: int) -> None:
        try:
            chunk = self.socks[index].recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.closed[index] = True
            self._selector.unregister(self.socks[index])
            return
        *complete, self._buffers[index] = (self._buffers[index] + chunk).split(b"\n")
        self.lines[index].extend(line.decode() for line in complete)
        if not self.welcomed[index]:
            self.welcomed[index] = any(line.startswith(b"wel ") for line in complete)

    def walk_outward(self, seconds: float) -> None:
        """Send every player along its :func:`direction`, and read for *seconds*."""
        for index in range(len(self.names)):
            x, y, z = (1000 * c for c in direction(index, len(self.names)))
            self.send(index, f"mov {x!r},{y!r},{z!r}")
        moved = time.monotonic()
        self.pump(lambda: time.monotonic() - moved >= seconds, timeout=seconds + 5)

    def close(self) -> None:
        for index, sock in enumerate(self.socks):
            if not self.closed[index]:
                self._selector.unregister(sock)
            sock.close()
        self._selector.close()
