"""The browser client's server side: a static page and the protocol over WebSocket.

:func:`make_site` builds a ``twisted.web`` site that serves the page in
``mudserver/static/`` and, at ``/ws``, a WebSocket endpoint (autobahn) that
carries protocol version 1 unchanged: one line per text message, in both
directions, without the line ending.

A browser is a client like any other.  Behind every WebSocket runs a real
:class:`~mudserver.shell.protocol.MudProtocol`, built by the game's own
:class:`~mudserver.shell.factory.MudFactory`, so it is counted, logged, timed out,
limited and shut down exactly like a TCP client.  The only new code
is :class:`LineTransport`, which looks like a TCP transport to that protocol:

* a received message is fed to ``dataReceived`` with a ``\\n`` appended, so a
  message holding several lines (separated by LF or CR LF) is several
  commands, and an empty message is an ignored empty line;
* every complete line the protocol writes goes out as one text message;
* ``loseConnection`` starts the WebSocket closing handshake after the lines
  already written, ``abortConnection`` drops the TCP connection;
* producers are registered with the real TCP transport underneath, so the
  protocol's output watcher sees the socket's own buffer fill and drain.

A message longer than ``max_line`` + 2 bytes (the line plus a CR LF) is
refused by autobahn's size cap before it is buffered; the client first gets
``bye toolong``, as on TCP.  Every other frame costs like a line: a ping, an
unasked-for pong, and each further fragment of a message count as an empty
line toward flood control.  A binary message closes the connection with
status 1003, "text frames only".

Served on an ``ssl:`` endpoint, the same site is the page over ``https`` and
the game over ``wss`` (the page picks the scheme of its own address).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.protocol import WebSocketProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress
from twisted.python.failure import Failure
from twisted.web import pages, resource, server, static

from mudserver.shell.factory import MudFactory
from mudserver.shell.protocol import MudProtocol

__all__ = [
    "STATIC",
    "LineTransport",
    "MudWebSocket",
    "MudWebSocketFactory",
    "make_site",
    "text_frames",
]

#: The page: plain HTML, CSS and JavaScript modules, served as they are.
STATIC = Path(__file__).resolve().parent.parent / "static"
#: The reason given with close status 1003 to a client that sends binary frames.
TEXT_ONLY = "text frames only"


def text_frames(lines: list[bytes]) -> bytes:
    """One final, unmasked text frame per line (RFC 6455, section 5.2)."""
    parts: list[bytes] = []
    for line in lines:
        size = len(line)
        if size < 126:
            parts.append(bytes((0x81, size)))
        elif size < 1 << 16:
            parts.append(struct.pack("!BBH", 0x81, 126, size))
        else:
            parts.append(struct.pack("!BBQ", 0x81, 127, size))
        parts.append(line)
    return b"".join(parts)


class LineTransport:
    """What a :class:`MudProtocol` behind a WebSocket takes for its TCP transport."""

    def __init__(self, websocket: MudWebSocket) -> None:
        self._websocket = websocket
        self._partial = b""
        self.closed = False

    @property
    def _tcp(self) -> Any:
        return self._websocket.transport

    @property
    def disconnecting(self) -> bool:
        """True once closing has begun, from either end (the protocol checks it)."""
        return self.closed or self._websocket.state != WebSocketProtocol.STATE_OPEN

    # -- output --------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send every complete line in *data* as one text message, LF stripped.

        The frames of one write (a tick's ``pos`` lines, say) are built here
        and handed to autobahn in one piece: ``sendMessage`` per line cost
        about 3 µs a line, 30 ms a tick for 100 walking browser players
        (``benchmarks/web_output.py``).  Server frames are never masked and
        no compression is negotiated, so a frame is a header and the line.
        """
        *lines, self._partial = (self._partial + data).split(b"\n")
        if lines and not self.disconnecting:  # closing: nothing more goes out, as on TCP
            self._websocket.sendData(text_frames(lines))

    def writeSequence(self, data: list[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        """Close politely: the close frame follows the lines already written."""
        if not self.disconnecting:
            self._websocket.sendClose(WebSocketProtocol.CLOSE_STATUS_CODE_NORMAL)

    def abortConnection(self) -> None:
        """Drop the TCP connection at once, unsent output included."""
        self._tcp.abortConnection()

    # -- addresses -----------------------------------------------------------------

    def getPeer(self) -> IAddress:
        return self._tcp.getPeer()  # type: ignore[no-any-return]

    def getHost(self) -> IAddress:
        return self._tcp.getHost()  # type: ignore[no-any-return]

    # -- flow control --------------------------------------------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Watch the real socket buffer.

        twisted.web's HTTP channel registered itself on the TCP transport for
        the upgrade request; that request never ends, so it is replaced.
        """
        if getattr(self._tcp, "producer", None) is not None:
            self._tcp.unregisterProducer()
        self._tcp.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        # Like a TCP transport, unregistering twice is harmless.
        if getattr(self._tcp, "producer", None) is not None:
            self._tcp.unregisterProducer()

    def pauseProducing(self) -> None:
        """Stop reading the socket (the protocol does so while a login is checked)."""
        self._tcp.pauseProducing()

    def resumeProducing(self) -> None:
        if not self.disconnecting:
            self._tcp.resumeProducing()

    def stopProducing(self) -> None:
        self.abortConnection()


class MudWebSocket(WebSocketServerProtocol):
    """One browser connection: a WebSocket with a :class:`MudProtocol` behind it."""

    factory: MudWebSocketFactory
    mud: MudProtocol | None = None
    lines: LineTransport | None = None
    #: Frames of the message being received so far.
    _frames = 0

    def onOpen(self) -> None:
        mud = self.factory.mud.buildProtocol(self.transport.getPeer())
        if mud is None:  # the game factory refused the connection
            self.sendClose(WebSocketProtocol.CLOSE_STATUS_CODE_TRY_AGAIN_LATER)
            return
        self.mud = mud
        self.lines = LineTransport(self)
        mud.makeConnection(self.lines)

    def onMessageBegin(self, isBinary: bool) -> None:
        """Refuse binary messages: the protocol is text, and silence would hide a bug."""
        self._frames = 0
        super().onMessageBegin(isBinary)
        if isBinary and self.state == WebSocketProtocol.STATE_OPEN:
            # sendClose allows only 1000 and 3000-4999 to applications; 1003 is
            # the protocol's own code for this, sent the way autobahn sends its
            # protocol errors (with the close handshake timeout).
            self.sendCloseFrame(
                WebSocketProtocol.CLOSE_STATUS_CODE_UNSUPPORTED_DATA, TEXT_ONLY.encode()
            )

    def onMessageFrameBegin(self, length: int) -> None:
        # A message's second and later frames count as lines: a message of
        # endless empty fragments must not cost the server for free.
        self._frames += 1
        if self._frames > 1:
            self._count_frame()
        # autobahn fails a message over the cap right after this; say why first.
        if self.mud is not None and (
            self.message_data_total_length + length > self.factory.maxMessagePayloadSize
        ):
            self.mud.lineLengthExceeded(b"")
        super().onMessageFrameBegin(length)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if isBinary:
            return  # refused in onMessageBegin
        if self.mud is not None and self.lines is not None and not self.lines.closed:
            self.mud.dataReceived(payload + b"\n")

    def onPing(self, payload: bytes) -> None:
        """Count a ping as an empty line; answer it only if the line budget allows.

        autobahn answers every ping by itself: 20,000 pings in 2 s drew
        2.5 MB of pongs.  Counted like a line, a ping within the budget gets
        its pong (and keeps the connection alive, as an empty line does); one
        over it gets none, ``err toofast`` at most, and a client that keeps
        pinging is dropped with ``bye flood`` like one that keeps sending lines.
        """
        if self._count_frame() and self.state == WebSocketProtocol.STATE_OPEN:
            self.sendPong(payload)

    def onPong(self, payload: bytes) -> None:
        """Unasked-for pongs are frames too (the server never pings)."""
        self._count_frame()

    def _count_frame(self) -> bool:
        """Feed an empty line to the flood control; whether it was within the budget."""
        mud = self.mud
        if mud is None or self.lines is None or self.lines.closed:
            return False
        within = mud.session.flood.bucket.tokens(mud.factory.clock.seconds()) >= 1.0
        mud.dataReceived(b"\n")
        return within

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        mud, self.mud = self.mud, None
        if mud is not None and self.lines is not None:
            self.lines.closed = True
            mud.connectionLost(Failure(ConnectionDone()))


class MudWebSocketFactory(WebSocketServerFactory):
    """Builds a :class:`MudWebSocket` per browser, with the line protocol's limits."""

    protocol = MudWebSocket
    noisy = False

    def __init__(self, mud: MudFactory) -> None:
        super().__init__(reactor=mud.clock, server="mudserver")
        self.mud = mud
        settings = mud.game.settings
        cap = settings.max_line + 2  # a longest line plus CR LF
        self.setProtocolOptions(
            maxFramePayloadSize=cap,
            maxMessagePayloadSize=cap,
            # Answer protocol errors with a close frame, after the pending lines
            # (the default drops the TCP connection and loses a 'bye toolong').
            failByDrop=False,
            webStatus=False,
            closeHandshakeTimeout=settings.close_grace,
        )


class StaticFiles(static.File):
    """The page's files: no directory listings, no stale modules in the cache."""

    def directoryListing(self) -> resource.IResource:
        return pages.forbidden()

    def render(self, request: server.Request) -> Any:
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.setHeader(b"content-security-policy", b"frame-ancestors 'none'")
        return super().render(request)


def make_site(mud: MudFactory, static_dir: Path = STATIC) -> server.Site:
    """The page at ``/`` and the game at ``/ws``, for one listening endpoint.

    An HTTP connection that sends nothing for the idle timeout is closed, like
    a silent game client.
    """
    root = StaticFiles(str(static_dir))
    root.putChild(b"ws", WebSocketResource(MudWebSocketFactory(mud)))
    site = server.Site(root, timeout=mud.game.settings.idle_timeout)
    site.noisy = False
    return site
