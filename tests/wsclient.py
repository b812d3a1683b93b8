"""A blocking WebSocket client for tests, written from RFC 6455 alone.

It is deliberately independent of autobahn, the server's library, so the
tests check the wire and not one library against itself.  It speaks just
enough: the opening handshake, masked client frames, unmasked server frames,
close frames.  Its interface matches :class:`tests.support.LineClient`, one
text message standing for one line.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time

from tests.support import LineReading

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked frame, as every client frame must be."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split unmasked server frames: [(opcode, payload)]; a torn last frame is an error."""
    frames = []
    while data:
        length, start = data[1] & 0x7F, 2
        if length == 126:
            (length,), start = struct.unpack("!H", data[2:4]), 4
        elif length == 127:
            (length,), start = struct.unpack("!Q", data[2:10]), 10
        if len(data) < start + length:
            raise ValueError(f"torn frame: {data!r}")
        frames.append((data[0] & 0x0F, data[start : start + length]))
        data = data[start + length :]
    return frames


class WebSocketClosed(EOFError):
    """The server closed the WebSocket (close frame or end of stream)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class WsLineClient(LineReading):
    """A WebSocket client with a deadline on every read."""

    def __init__(self, host: str, port: int, path: str = "/ws", timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buffer = b""
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n\r\n".encode()
        )
        head = self._read_until(b"\r\n\r\n", time.monotonic() + timeout)
        status, *headers = head.decode("latin-1").split("\r\n")
        if not status.startswith("HTTP/1.1 101"):
            raise ConnectionError(f"handshake refused: {status}")
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
        if not any(h.lower().startswith("sec-websocket-accept:") and accept in h for h in headers):
            raise ConnectionError("bad Sec-WebSocket-Accept")

    # -- frames ----------------------------------------------------------------------

    def send_frame(self, opcode: int, payload: bytes) -> None:
        self.sock.sendall(client_frame(opcode, payload))

    def read_frame(self, timeout: float | None = None) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        first, second = self._read_exactly(2, deadline)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2, deadline))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8, deadline))
        if second & 0x80:
            raise ConnectionError("the server masked a frame")
        return first & 0x0F, self._read_exactly(length, deadline)

    # -- lines, as LineClient ----------------------------------------------------------

    def send(self, line: str) -> None:
        self.send_frame(TEXT, line.encode("utf-8"))

    def read_line(self, timeout: float | None = None) -> str:
        """The next text message; raises TimeoutError, or WebSocketClosed at close."""
        while True:
            opcode, payload = self.read_frame(timeout)
            if opcode == TEXT:
                return payload.decode("utf-8")
            if opcode == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise WebSocketClosed(f"close frame {code}", code)
            if opcode == PING:
                self.send_frame(PONG, payload)

    # -- bytes -------------------------------------------------------------------------

    def _recv(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"nothing within the deadline; have {self.buffer[:80]!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return
        if not chunk:
            raise WebSocketClosed("connection closed without a close frame")
        self.buffer += chunk

    def _read_exactly(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size:
            self._recv(deadline)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _read_until(self, marker: bytes, deadline: float) -> bytes:
        while marker not in self.buffer:
            self._recv(deadline)
        data, self.buffer = self.buffer.split(marker, 1)
        return data
