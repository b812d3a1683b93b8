"""The bot swarm: thousands of simulated players in one process, on one core.

Run by :mod:`mudserver.bench.runner` as ``python -m mudserver.bench.bots
CONFIG_JSON`` so that the bots never share a process (or, pinned, a core)
with the server they measure.  One ``epoll`` loop drives every socket:

* Connections are opened at a fixed rate (non-blocking ``connect``), and each
  sends ``con`` as soon as it is established.
* Connections log in with the configured protocol version (``con
  name,password,2`` or ``,1``).
* Walkers send ``mov`` to a random point of the world every ``move_every``
  seconds on average (0.1 is "a new target every tick"), chatters ``say``
  something now and then, the rest send ``idl`` so the idle timeout never
  fires.
* Most bots only count what they receive (bytes and newlines, in C).  A few
  *observers* parse every line: they stand still, send a short ``mov`` every
  few seconds and time how long the server takes to tell them about it: the
  first ``wlk`` about themselves in version 2, the first ``pos`` in version 1.

The runner talks to it over stdin/stdout, one request per line, each
answered by one JSON object: ``progress`` (how many are in, and whether all
are), ``mark`` (reset the counters; no answer), ``report`` (the counters
since the mark) and ``stop``.
"""

from __future__ import annotations

import errno
import heapq
import json
import os
import random
import resource
import select
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["SPAWNS", "SwarmConfig", "Swarm"]

CONNECTING, LOGGING_IN, PLAYING, GONE = range(4)
#: Where bot accounts start: spread over the world, or all at 0,0,0 (a crowd).
SPAWNS = ("scattered", "origin")


@dataclass(frozen=True)
class SwarmConfig:
    """What the swarm does; the runner passes it as JSON."""

    host: str
    port: int
    count: int
    prefix: str = "bot"
    password: str = "bench"
    #: Fraction of bots that walk (observers walk too).
    walkers: float = 1.0
    #: Fraction of bots that chat.
    chatters: float = 0.01
    observers: int = 10
    #: Bots walk inside [-half, half] on x and y.
    half: float = 1500.0
    #: New connections per second.
    rate: float = 200.0
    #: Protocol version of every login.
    version: str = "2"
    #: Mean seconds between two ``mov`` of a walker.
    move_every: float = 4.0
    #: Mean seconds between two probes of an observer (each wait 0.5 to 1.5
    #: times it): apart from the walkers' pace, so one probe is answered
    #: before the next is sent, and short, so any 3 s window has samples.
    probe_every: float = 2.0
    chat_every: float = 20.0
    idle_every: float = 5.0
    seed: int = 1


def account_name(prefix: str, index: int) -> str:
    return f"{prefix}{index:05d}"


class Bot:
    __slots__ = ("buf", "chatter", "eid", "index", "mov_at", "observer", "sock", "state", "walker")
    __slots__ += ("x", "y")

    def __init__(self, index: int, sock: socket.socket) -> None:
        self.index = index
        self.sock = sock
        self.state = CONNECTING
        self.buf = b""
        self.observer = self.walker = self.chatter = False
        self.eid = b""
        self.mov_at = 0.0
        #: Where an observer is, from its ``wel`` and its own ``pos``/``wlk`` lines.
        self.x = self.y = 0.0


class Swarm:
    """Every bot, the event loop, and the counters the runner asks for."""

    def __init__(self, config: SwarmConfig) -> None:
        self.config = config
        self.random = random.Random(config.seed)
        self.epoll = select.epoll()
        self.bots: dict[int, Bot] = {}
        self.timers: list[tuple[float, int, int, Bot]] = []
        self._seq = 0
        self.opened = self.playing = self.refused = self.failed = 0
        self.dropped_total = 0
        self.login_first = self.login_last = 0.0
        self.started = time.monotonic()
        #: Every bot has connected and logged in, or failed to.
        self.ready = False
        self.mark()

    def mark(self) -> None:
        """Start a measurement window: reset what ``report`` returns."""
        self.mark_at = time.monotonic()
        self.bytes = self.lines = self.dropped = self.sent_lines = self.send_blocked = 0
        self.latencies: list[float] = []

    def report(self) -> dict[str, Any]:
        return {
            "elapsed": time.monotonic() - self.mark_at,
            "bytes": self.bytes,
            "lines": self.lines,
            "sent_lines": self.sent_lines,
            "send_blocked": self.send_blocked,
            "dropped": self.dropped,
            "dropped_total": self.dropped_total,
            "refused": self.refused,
            "failed_logins": self.failed,
            "playing": self.playing,
            "latencies": self.latencies,
        }

    def progress(self) -> dict[str, Any]:
        span = self.login_last - self.login_first
        return {
            "opened": self.opened,
            "playing": self.playing,
            "refused": self.refused,
            "failed": self.failed,
            "dropped": self.dropped_total,
            "logins_per_s": (self.playing - 1) / span if span > 0 else 0.0,
            "ready": self.ready,
        }

    # -- timers ----------------------------------------------------------------------

    def later(self, delay: float, action: int, bot: Bot) -> None:
        self._seq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay, self._seq, action, bot))

    def run_timers(self, now: float) -> None:
        timers = self.timers
        while timers and timers[0][0] <= now:
            _, _, action, bot = heapq.heappop(timers)
            if bot.state is not PLAYING:
                continue
            self.act(bot, action, now)

    MOVE, CHAT, IDLE, PROBE = range(4)

    def act(self, bot: Bot, action: int, now: float) -> None:
        rnd, cfg = self.random, self.config
        if action == self.MOVE:
            x, y = rnd.uniform(-cfg.half, cfg.half), rnd.uniform(-cfg.half, cfg.half)
            self.send(bot, f"mov {x:.1f},{y:.1f},0\n")
            self.later(cfg.move_every * rnd.uniform(0.5, 1.5), self.MOVE, bot)
        elif action == self.PROBE:
            # A short step (0.4 s at the default speed) from where it stands,
            # so the first pos that follows is the answer to this mov.
            step = 2.0 if bot.x < 0 else -2.0
            self.send(bot, f"mov {bot.x + step:.2f},{bot.y:.2f},0\n")
            bot.mov_at = now
            self.later(cfg.probe_every * rnd.uniform(0.5, 1.5), self.PROBE, bot)
        elif action == self.CHAT:
            self.send(bot, f"say hello from {bot.index}\n")
            self.later(cfg.chat_every * rnd.uniform(0.5, 1.5), self.CHAT, bot)
        else:
            self.send(bot, "idl\n")
            self.later(cfg.idle_every, self.IDLE, bot)

    def send(self, bot: Bot, line: str) -> None:
        try:
            bot.sock.send(line.encode())
            self.sent_lines += 1
        except BlockingIOError:
            self.send_blocked += 1
        except OSError:
            self.gone(bot)

    # -- connections -----------------------------------------------------------------

    def open(self, index: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex((self.config.host, self.config.port))
        if code not in (0, errno.EINPROGRESS):
            self.refused += 1
            sock.close()
            return
        bot = Bot(index, sock)
        self.bots[sock.fileno()] = bot
        self.epoll.register(sock.fileno(), select.EPOLLOUT)
        self.opened += 1

    def established(self, bot: Bot) -> None:
        sock = bot.sock
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            self.refused += 1
            self.epoll.unregister(sock.fileno())
            del self.bots[sock.fileno()]
            sock.close()
            bot.state = GONE
            return
        self.epoll.modify(sock.fileno(), select.EPOLLIN)
        bot.state = LOGGING_IN
        name = account_name(self.config.prefix, bot.index)
        self.send(bot, f"con {name},{self.config.password},{self.config.version}\n")

    def logged_in(self, bot: Bot, wel: bytes, now: float) -> None:
        cfg, rnd = self.config, self.random
        bot.state = PLAYING
        fields = wel[4:].split(b",")
        bot.eid = fields[0]
        bot.x, bot.y = float(fields[2]), float(fields[3])
        self.playing += 1
        if not self.login_first:
            self.login_first = now
        self.login_last = now
        bot.observer = bot.index < cfg.observers
        bot.walker = not bot.observer and rnd.random() < cfg.walkers
        bot.chatter = rnd.random() < cfg.chatters
        if bot.observer:
            self.later(rnd.uniform(0, cfg.probe_every), self.PROBE, bot)
        elif bot.walker:
            self.later(rnd.uniform(0, cfg.move_every), self.MOVE, bot)
        else:
            self.later(rnd.uniform(0, cfg.idle_every), self.IDLE, bot)
        if bot.chatter:
            self.later(rnd.uniform(0, cfg.chat_every), self.CHAT, bot)
        if not bot.observer:
            bot.buf = b""

    def gone(self, bot: Bot) -> None:
        if bot.state is GONE:
            return
        if bot.state is PLAYING:
            self.playing -= 1
            self.dropped += 1
            self.dropped_total += 1
        elif bot.state is LOGGING_IN:
            self.failed += 1
        bot.state = GONE
        fd = bot.sock.fileno()
        self.bots.pop(fd, None)
        self.epoll.unregister(fd)
        bot.sock.close()

    def readable(self, bot: Bot, now: float) -> None:
        try:
            data = bot.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.gone(bot)
            return
        self.bytes += len(data)
        self.lines += data.count(b"\n")
        state = bot.state
        if state is PLAYING and not bot.observer:
            return
        buf = bot.buf + data
        end = buf.rfind(b"\n") + 1
        lines, bot.buf = buf[:end].split(b"\n"), buf[end:]
        # The line that answers a mov: the walk in version 2, a step in 1.
        answer = b"wlk " if self.config.version == "2" else b"pos "
        for line in lines:
            if bot.state is LOGGING_IN:
                if line.startswith(b"wel "):
                    self.logged_in(bot, line, now)
                elif line.startswith((b"err ", b"bye ")):
                    self.gone(bot)
                    return
            elif line.startswith((b"pos ", b"wlk ")):
                fields = line[4:].split(b",")
                if fields[0] != bot.eid:
                    continue
                bot.x, bot.y = float(fields[1]), float(fields[2])
                if bot.mov_at and line.startswith(answer):
                    self.latencies.append(now - bot.mov_at)
                    bot.mov_at = 0.0
        if bot.state is PLAYING and not bot.observer:
            bot.buf = b""

    # -- the loop ------------------------------------------------------------------

    def emit(self, kind: str, value: Any) -> None:
        sys.stdout.write(json.dumps({kind: value}) + "\n")
        sys.stdout.flush()

    def command(self) -> bool:
        """Handle one line from the runner; False on ``stop`` or EOF."""
        line = sys.stdin.readline().strip()
        if line == "mark":
            self.mark()
        elif line == "report":
            self.emit("report", self.report())
        elif line == "progress":
            self.emit("progress", self.progress())
        return line not in ("stop", "")

    def run(self) -> None:
        cfg = self.config
        stdin = sys.stdin.fileno()
        self.epoll.register(stdin, select.EPOLLIN)
        start = time.monotonic()
        next_index = 0
        bots, epoll = self.bots, self.epoll
        while True:
            now = time.monotonic()
            due = min(cfg.count, int((now - start) * cfg.rate) + 1)
            while next_index < due:
                self.open(next_index)
                next_index += 1
            if not self.ready and next_index == cfg.count:
                settled = self.playing + self.refused + self.failed + self.dropped_total
                self.ready = settled >= cfg.count
            timeout = 0.005 if next_index < cfg.count else 0.05
            if self.timers:
                timeout = max(0.0, min(timeout, self.timers[0][0] - now))
            events_list = epoll.poll(timeout)
            now = time.monotonic()
            for fd, events in events_list:
                if fd == stdin:
                    if not self.command():
                        return
                    continue
                bot = bots.get(fd)
                if bot is None:
                    continue
                if bot.state is CONNECTING:
                    self.established(bot)
                elif events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                    self.readable(bot, now)
            self.run_timers(now)


def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    config = SwarmConfig(**json.loads(sys.argv[1]))
    swarm = Swarm(config)
    try:
        swarm.run()
    finally:
        for bot in list(swarm.bots.values()):
            bot.sock.close()
        os._exit(0)


if __name__ == "__main__":
    main()
