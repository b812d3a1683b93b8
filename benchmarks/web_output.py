"""How much a WebSocket client costs the tick, next to a TCP client.

Runs in process on StringTransports (no network, no kernel): N players walk,
each on its own connection, and one tick sends every player N ``pos`` lines.
Prints the milliseconds one tick takes with all clients on TCP and with all
on WebSocket, where each line becomes its own WebSocket message.

    python benchmarks/web_output.py [N ...]
"""

from __future__ import annotations

import base64
import os
import sys
import time

from twisted.internet import defer, task
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.shell.factory import MudFactory
from mudserver.shell.web import MudWebSocketFactory

PEER = IPv4Address("TCP", "127.0.0.1", 50000)


def _frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


def _setup(players: int, web: bool) -> tuple[Game, list[StringTransport]]:
    game = Game(Settings(), save=lambda account: None)
    mud = MudFactory(game, lambda n, p: defer.succeed(Account(n, {})), task.Clock())
    wsf = MudWebSocketFactory(mud)
    transports = []
    for i in range(players):
        transport = StringTransport(peerAddress=PEER)
        protocol = (wsf if web else mud).buildProtocol(PEER)
        protocol.makeConnection(transport)
        if web:
            key = base64.b64encode(os.urandom(16)).decode()
            protocol.dataReceived(
                f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
            )
        for line in (f"con p{i},x,1".encode(), b"mov 10000,0,0"):
            protocol.dataReceived(_frame(line) if web else line + b"\n")
        transports.append(transport)
    return game, transports


def tick_ms(players: int, web: bool, ticks: int = 20) -> float:
    game, transports = _setup(players, web)
    best = float("inf")
    for _ in range(ticks):
        for t in transports:
            t.clear()
        start = time.perf_counter()
        game.tick(0.1)
        best = min(best, time.perf_counter() - start)
    assert all(t.value() for t in transports)
    return best * 1000


def main(argv: list[str]) -> None:
    for players in [int(a) for a in argv] or [10, 50, 100, 200]:
        tcp, web = tick_ms(players, web=False), tick_ms(players, web=True)
        lines = players * players
        print(
            f"{players:4d} players, {lines:6d} lines/tick: tcp {tcp:7.2f} ms, "
            f"websocket {web:7.2f} ms ({web / tcp:4.1f}x, {web * 1000 / lines:.2f} µs/line)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
