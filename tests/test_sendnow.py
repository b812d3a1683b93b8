"""direct_writer: a direct send(2) when nothing is queued, never reordering bytes."""

from __future__ import annotations

from typing import ClassVar

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.testing import StringTransport
from twisted.trial import unittest

from mudserver.shell.sendnow import direct_writer


def test_other_transports_just_write() -> None:
    transport = StringTransport()
    write = direct_writer(transport)
    write(b"abc")
    write(b"def")
    assert transport.value() == b"abcdef"


class Sender(protocol.Protocol):
    """Writes many chunks at once, more than the kernel takes, through direct_writer."""

    chunks: ClassVar[list[bytes]] = [bytes([65 + i % 26]) * (1000 + 37 * i) for i in range(400)]

    def connectionMade(self) -> None:
        write = direct_writer(self.transport)
        for chunk in self.chunks:
            write(chunk)
        self.transport.loseConnection()


class Receiver(protocol.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.done: defer.Deferred[bytes] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: object = None) -> None:
        self.done.callback(bytes(self.data))


class RealSocketTests(unittest.TestCase):
    async def test_bytes_arrive_complete_and_in_order(self) -> None:
        port = reactor.listenTCP(0, protocol.Factory.forProtocol(Sender), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        receiver = Receiver()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
        await connectProtocol(endpoint, receiver)
        received = await receiver.done
        assert received == b"".join(Sender.chunks)
