"""Real ``nc`` and ``telnet`` processes play against the server.

The protocol promises that a person can play with nothing but ``nc`` or
``telnet``; these tests run Debian's ``netcat-openbsd`` and ``telnet`` in a
pseudo-terminal, exactly as a person would.  ``.ci/run`` installs them.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator

import pytest

from tests.support import LineClient, ServerProcess

pexpect = pytest.importorskip("pexpect")

REST = r"[^\r\n]*"


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (CI installs it: apt-get install {program})")
    return path


@pytest.fixture
def terminal(server: ServerProcess) -> Iterator[list[pexpect.spawn]]:
    children: list[pexpect.spawn] = []
    yield children
    for child in children:
        child.close(force=True)


def play(program: str, server: ServerProcess, children: list[pexpect.spawn]) -> pexpect.spawn:
    child = pexpect.spawn(
        need(program), [server.host, str(server.port)], encoding="utf-8", timeout=10
    )
    children.append(child)
    return child


def chat_session(child: pexpect.spawn, server: ServerProcess, x: float) -> None:
    """What docs/protocol.md section 13 shows, plus a chat with a second player.

    foo walks to *x*,0,0: each session needs its own spot, since the server
    remembers where foo stood when the last session ended.
    """
    child.sendline("say hi")
    child.expect(r"err notlogged," + REST)
    child.sendline("con foo,wrong,1")
    child.expect(r"err badlogin," + REST)
    child.sendline("con FOO,1234,1")
    child.expect(r"wel (\d+),foo," + REST)
    foo_id = child.match.group(1)
    with LineClient(server.host, server.port) as bar:
        bar_id = bar.login("bar", "4321").split()[1].split(",")[0]
        child.expect(rf"ent {bar_id},player,bar," + REST)
        child.sendline(f"MOV {x}, 0, 0")
        child.expect_exact(f"pos {foo_id},{x:.2f},0.00,0.00")
        child.sendline("say hello, bar")
        assert bar.read_until(lambda line: line.startswith("say "))[-1] == (
            f"say {foo_id},foo,hello%2C bar"
        )
        bar.send("say hi foo, 100% here")
        child.expect_exact(f"say {bar_id},bar,hi foo%2C 100%25 here")
    child.expect(rf"del {bar_id}")
    child.sendline("idl")
    child.sendline("bye")
    child.expect_exact("bye quit")


def test_nc_session(server: ServerProcess, terminal: list[pexpect.spawn]) -> None:
    child = play("nc", server, terminal)
    chat_session(child, server, 1.5)
    # Debian's nc notices the closed connection when it next writes (or at Ctrl-D).
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_telnet_session(server: ServerProcess, terminal: list[pexpect.spawn]) -> None:
    child = play("telnet", server, terminal)
    child.expect_exact("Escape character is '^]'.")
    chat_session(child, server, 2.5)
    child.expect_exact("Connection closed by foreign host.")
    child.expect(pexpect.EOF)


def read_until(sock: socket.socket, marker: bytes, timeout: float = 5.0) -> bytes:
    deadline, data = time.monotonic() + timeout, b""
    while marker not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            raise AssertionError(f"{marker!r} not received; got {data!r}") from None
        if not chunk:
            raise AssertionError(f"closed before {marker!r}; got {data!r}")
        data += chunk
    return data


def test_telnet_negotiation_bytes_do_not_break_a_login(server: ServerProcess) -> None:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        # WILL TERMINAL-TYPE, DO SUPPRESS-GO-AHEAD, a subnegotiation, then a
        # line with a NOP in it, split across packets.
        sock.sendall(b"\xff\xfb\x18\xff\xfd\x03\xff\xfa\x18\x00xterm\xff\xf0con foo,12")
        time.sleep(0.05)
        sock.sendall(b"\xff\xf134,1\r\n")
        data = read_until(sock, b"\n")
    assert data.startswith(b"\xff\xfe\x18\xff\xfc\x03wel ")  # DONT 24, WONT 3, then wel


def test_telnet_commands_between_lines(
    server: ServerProcess, terminal: list[pexpect.spawn]
) -> None:
    child = play("telnet", server, terminal)
    child.expect_exact("Escape character is '^]'.")
    child.sendcontrol("]")
    child.expect_exact("telnet>")
    child.sendline("send ayt")  # IAC AYT, then back to the session
    child.sendline("con foo,1234,1")
    assert child.expect([r"wel \d+,foo,", r"err \w+"]) == 0, child.after
    child.sendline("bye")
    child.expect_exact("bye quit")
