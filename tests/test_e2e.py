"""End to end: ``twistd -n mudserver`` in a subprocess, real sockets on 127.0.0.1.

These tests check what the unit tests cannot: that the plugin starts a
working server, that the real reactor, threads and TCP transport behave as
the protocol document says, and that SIGTERM shuts down cleanly with
everybody's progress on disk.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from tests.support import LineClient, ServerProcess, running_server

FLOOD_TEXT = "x" * 500
#: Says sent at once before reading them back: about 50 KB.
FLOOD_ROUND = 100


def entity_id(line: str) -> int:
    """The id of a ``wel``/``ent``/``pos``/``del`` line."""
    return int(line.split(" ", 1)[1].split(",")[0])


def position_on_disk(server: ServerProcess, name: str) -> list[float]:
    return json.loads((server.data / "users" / f"{name}.json").read_text())["position"]


class SmallBufferClient(LineClient):
    """A LineClient whose socket has a tiny receive buffer, set before connecting.

    A small window makes the server's socket buffer fill up quickly, which is
    how a client that reads slowly (or never) looks to the server.
    """

    def __init__(self, host: str, port: int, rcvbuf: int = 4096, timeout: float = 5.0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect((host, port))
        self.sock = sock
        self.timeout = timeout
        self.buffer = b""


def in_step(speaker: LineClient, listener: LineClient, text: str, heard: str) -> list[str]:
    """Say *text*; read the listener's lines until it hears it as *heard*; return them.

    A ``say`` goes out with the first tick after the server read it, so once
    it arrives every tick before has happened, and a walk that had all but
    arrived (``2.00`` may be 1.998) has taken its last step.
    """
    speaker.send(f"say {text}")
    return listener.read_until(lambda line: line == heard)


def read_to_eof(client: LineClient, timeout: float) -> list[str]:
    """Every remaining line until the server closes; TimeoutError if it does not."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            lines.append(client.read_line(max(0.01, deadline - time.monotonic())))
        except EOFError:
            return lines


def test_walk_say_disconnect_relogin_and_sigterm(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        foo = LineClient(server.host, server.port)
        bar = LineClient(server.host, server.port)
        wel = foo.login("foo", "1234")
        assert wel.endswith(",foo,0.00,0.00,0.00")
        fid = entity_id(wel)
        assert bar.login("bar", "4321").endswith(",bar,0.00,0.00,0.00")

        foo.send("mov 2,0,0")
        seen = bar.read_until(lambda line: line == f"pos {fid},2.00,0.00,0.00")
        seen += in_step(foo, bar, "hello, world", f"say {fid},foo,hello%2C world")
        xs = [float(line.split(",")[1]) for line in seen if line.startswith(f"pos {fid},")]
        assert len(xs) >= 2, seen  # walked over several ticks, not in one jump
        assert xs == sorted(xs) and xs[0] < 2.0 and xs[-1] == 2.0

        foo.close()  # no bye: the socket just goes away
        bar.read_until(lambda line: line == f"del {fid}")

        # The login reads the account on its save thread, behind the save of
        # the disconnect (see test_immediate_reconnect_...): no need to wait.
        foo = LineClient(server.host, server.port)
        wel = foo.login("foo", "1234")
        fid2 = entity_id(wel)
        assert fid2 != fid
        assert wel == f"wel {fid2},foo,2.00,0.00,0.00"  # saved on disconnect
        bar.read_until(lambda line: line == f"ent {fid2},player,foo,2.00,0.00,0.00")

        foo.send("mov 3,0,0")
        bar.read_until(lambda line: line == f"pos {fid2},3.00,0.00,0.00")
        in_step(foo, bar, "arrived", f"say {fid2},foo,arrived")

        server.process.terminate()
        assert read_to_eof(foo, 10)[-1:] == ["bye shutdown"]
        assert read_to_eof(bar, 10)[-1:] == ["bye shutdown"]
        server.process.wait(timeout=15)  # exits by itself (no second signal); any status
        assert position_on_disk(server, "foo") == [3.0, 0.0, 0.0]
        assert position_on_disk(server, "bar") == [0.0, 0.0, 0.0]
        foo.close()
        bar.close()


def test_immediate_reconnect_continues_where_it_left(tmp_path: Path) -> None:
    with running_server(tmp_path) as server, LineClient(server.host, server.port) as bar:
        bar.login("bar", "4321")
        for x in (1, 2, 3):
            foo = LineClient(server.host, server.port)
            fid = entity_id(foo.login("foo", "1234"))
            foo.send(f"mov {x},0,0")
            bar.read_until(lambda line, x=x, fid=fid: line == f"pos {fid},{x}.00,0.00,0.00")
            foo.close()
            bar.read_until(lambda line, fid=fid: line == f"del {fid}")
            foo = LineClient(server.host, server.port)
            wel = foo.login("foo", "1234")  # right away, as a client that reconnects does
            foo.close()
            new_id = entity_id(wel)
            bar.read_until(lambda line, fid=new_id: line == f"del {fid}")
            assert wel.endswith(f",foo,{x}.00,0.00,0.00")


#: These tests fill a client's output with chat; flood control is not their subject.
CHATTY = ("--say-burst=100000", "--line-burst=100000")


def test_idle_timeout(tmp_path: Path) -> None:
    with running_server(tmp_path, "--idle-timeout", "0.5") as server:
        with LineClient(server.host, server.port) as anon:
            start = time.monotonic()
            assert anon.read_line(timeout=2.5) == "bye timeout"
            assert time.monotonic() - start >= 0.4
            assert read_to_eof(anon, 2) == []


def test_line_over_max_line_is_toolong(tmp_path: Path) -> None:
    with running_server(tmp_path, "--max-line", "64") as server:
        with LineClient(server.host, server.port) as foo:
            fid = entity_id(foo.login("foo", "1234"))
            foo.send("say " + "a" * 60)  # exactly 64 bytes: accepted
            foo.read_until(lambda line: line == f"say {fid},foo," + "a" * 60)
            foo.send("say " + "a" * 61)
            assert read_to_eof(foo, 5)[-1:] == ["bye toolong"]


def test_client_that_never_reads_is_dropped(tmp_path: Path) -> None:
    # Chat reaches everybody with the next tick, so each round of says below
    # takes a tick or two: a fast tick and big rounds make the flood to the
    # sleeper megabytes a second, enough to fill the kernel's buffers (the
    # send buffer grows up to net.ipv4.tcp_wmem's maximum, 4 MB by default)
    # in a second or two.  Rounds stay small enough for foo, who reads.
    options = ("--max-output", "20000", "--tick-rate", "100", *CHATTY)
    with running_server(tmp_path, *options) as server:
        sleeper = SmallBufferClient(server.host, server.port)
        sleeper.send("con bar,4321,1")  # logged in, and never reads again
        with LineClient(server.host, server.port) as foo:
            fid = entity_id(foo.login("foo", "1234"))
            ents = foo.read_until(lambda line: line.startswith("ent ") and ",bar," in line)
            bid = entity_id(ents[-1])
            # An 18 s walk at the default speed, within view of bar (at 0,0,0)
            # all along: its del can only mean that bar left the world.
            foo.send("mov 90,0,0")
            deadline = time.monotonic() + 10
            dropped = False
            while not dropped:
                assert time.monotonic() < deadline, "the sleeper was never dropped"
                for _ in range(FLOOD_ROUND):
                    foo.send("say " + FLOOD_TEXT)
                said = 0
                while said < FLOOD_ROUND:  # foo reads everything: only bar falls behind
                    line = foo.read_line()
                    said += line.startswith(f"say {fid},")
                    dropped = dropped or line == f"del {bid}"
            walked = foo.read_until(lambda line: line.startswith(f"pos {fid},"), timeout=2)
            walked += foo.read_until(lambda line: line.startswith(f"pos {fid},"), timeout=2)
            assert not any(line.startswith("bye") for line in walked)
        # Logged (unbuffered) before the abort, so before bar's del reached foo.
        assert "output not read" in server.log_text(), server.log_text()[-2000:]
        sleeper.close()


def test_slow_reader_that_quits_is_closed_promptly(tmp_path: Path) -> None:
    # A grace far longer than the read below: an end of stream within it can
    # only be the server's own close, not the abort that the grace would bring.
    options = ("--close-grace", "60", "--max-output", "50000000", *CHATTY)
    with running_server(tmp_path, *options) as server:
        slow = SmallBufferClient(server.host, server.port)
        slow.login("bar", "4321")
        with LineClient(server.host, server.port) as foo:
            fid = entity_id(foo.login("foo", "1234"))
            for _ in range(200):  # ~5 MB: more than the kernel buffers hold
                foo.sock.sendall(("say " + FLOOD_TEXT + "\n").encode() * 50)
                foo.read_until(lambda line: line.startswith(f"say {fid},"))
            foo.send("say done")
            foo.read_until(lambda line: line == f"say {fid},foo,done", timeout=10)
        slow.send("bye")  # the server reads it while its output to us is backed up
        slow.read_until(lambda line: line == "bye quit", timeout=10)
        try:
            rest = read_to_eof(slow, 5)
        except ConnectionResetError:
            rest = ["<reset>"]
        assert rest == []
        slow.close()
