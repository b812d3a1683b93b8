"""The browser's port through a real WebSocket client library (``websockets``).

Control frames and binary messages as another client would send them, and
the page and the game over ``https``/``wss`` with a certificate made in the
test (:mod:`tests.tlscert`) that the client trusts.
"""

from __future__ import annotations

import ssl
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support import (
    UNLIMITED_CHAT,
    free_port,
    running_server,
    say_until_dropped,
    small_buffer_socket,
)
from tests.tlscert import make_certificate


def _web(port: int) -> str:
    return f"--web=tcp:{port}:interface=127.0.0.1"


def test_a_ping_flood_is_dropped_with_bye_flood(tmp_path: Path) -> None:
    web = free_port()
    with running_server(tmp_path, _web(web), "--flood-time=1", "--line-rate=20"):
        with connect(f"ws://127.0.0.1:{web}/ws", open_timeout=5, close_timeout=2) as ws:
            ws.send("con foo,1234,1")
            assert ws.recv(timeout=5).startswith("wel ")
            sent, lines = 0, []
            deadline = time.monotonic() + 10
            with pytest.raises(ConnectionClosed):
                while time.monotonic() < deadline:
                    for _ in range(100):
                        ws.ping(str(sent).encode())
                        sent += 1
                    try:
                        while True:
                            lines.append(ws.recv(timeout=0.01))
                    except TimeoutError:
                        pass
            # A ping can meet the closed connection before recv saw the last
            # lines: what was received before the close is still queued.
            try:
                while True:
                    lines.append(ws.recv(timeout=1))
            except (ConnectionClosed, TimeoutError):
                pass
            assert "bye flood" in lines
            assert sent < 20_000  # dropped long before the probe's 20,000 pings


def test_a_binary_message_is_closed_with_1003(tmp_path: Path) -> None:
    web = free_port()
    with running_server(tmp_path, _web(web)):
        with connect(f"ws://127.0.0.1:{web}/ws", open_timeout=5, close_timeout=2) as ws:
            ws.send("con foo,1234,1")
            assert ws.recv(timeout=5).startswith("wel ")
            ws.send(b"\x00\x01binary")
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1003, "text frames only")


def test_page_over_https_and_game_over_wss(tmp_path: Path) -> None:
    cert = make_certificate(tmp_path)
    web = free_port()
    context = ssl.create_default_context(cafile=str(cert.cert))
    with running_server(tmp_path, f"--web={cert.endpoint(web)}"):
        with urllib.request.urlopen(f"https://localhost:{web}/", context=context) as page:
            assert "<canvas" in page.read().decode()
        with connect(f"wss://localhost:{web}/ws", ssl=context, open_timeout=5) as ws:
            ws.send("con foo,1234,1")
            assert ws.recv(timeout=5).startswith("wel ")
            ws.send("x" * 2000)  # over the line limit, over wss as over TCP
            lines = []
            with pytest.raises(ConnectionClosed):
                while True:
                    lines.append(ws.recv(timeout=5))
            assert lines[-1] == "bye toolong"
        with pytest.raises(ssl.SSLCertVerificationError):
            connect(f"wss://localhost:{web}/ws", open_timeout=5)


def test_a_wss_client_that_stops_reading_is_dropped(tmp_path: Path) -> None:
    """The unread-output limit behind TLS and WebSocket both.

    websockets stops reading the socket once 16 messages wait unread, and the
    socket's receive buffer is 4 KiB: from then on the server's writes pile up.
    """
    cert = make_certificate(tmp_path)
    web = free_port()
    options = (
        f"--web={cert.endpoint(web)}",
        "--max-output=262144",
        *UNLIMITED_CHAT,
        "--idle-timeout=60",
    )
    with running_server(tmp_path, *options) as server:
        raw = small_buffer_socket(web)
        context = ssl.create_default_context(cafile=str(cert.cert))
        with connect(
            f"wss://localhost:{web}/ws",
            sock=raw,
            ssl=context,
            server_hostname="localhost",
            max_queue=16,
            open_timeout=5,
        ) as sleeper:
            sleeper.send("con bar,4321,1")
            bar_id = sleeper.recv(timeout=5).split(" ", 1)[1].split(",", 1)[0]
            # From here on the sleeper calls recv no more.
            assert f"\ndel {bar_id}\n".encode() in say_until_dropped(server, bar_id)
    assert "output not read" in server.log_text()
