"""``mudserver-client``: an interactive client for a person at a terminal.

The seed's terminal client blocked on the keyboard, so nothing from the
server showed up until the person pressed Enter, and an idle person was
dropped after 15 s.  This one runs on the reactor with Twisted's
``StandardIO``: server events are printed as they arrive (in words, or as
wire lines with ``--raw``), the keyboard is read in between, and the client
library keeps the connection alive.

What a person types is checked with the server's own command parser first,
so a mistake gets a one-line explanation instead of a round trip (or a
traceback).  Exit status: 0 after ``/quit`` (or ``bye``, or Ctrl-D), 1 when
the server is unreachable, refuses ``--user``'s login, or closes the
connection, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import getpass
import math
import os
import sys
from typing import Any

from twisted.internet.endpoints import connectProtocol
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.stdio import StandardIO
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from mudserver.client.display import BYE_REASONS, Display, visible, where
from mudserver.client.messages import Message
from mudserver.client.protocol import (
    CONNECTION_LOST,
    DEFAULT_VERSION,
    VERSIONS,
    ConnectionClosed,
    MudClient,
    ServerError,
    client_endpoint,
)
from mudserver.wire.commands import (
    CommandError,
    Connect,
    Idle,
    Move,
    Quit,
    Say,
    Who,
    parse_command,
)

__all__ = ["main", "Terminal"]

HELP = """\
protocol commands, sent to the server:
  con NAME,PASSWORD,2   log in (or start with --user NAME); 1 for protocol version 1
  mov X,Y,Z             walk to a point, e.g. mov 1,0,3
  say TEXT              talk to everybody, e.g. say hello, world
  idl                   keepalive (this client sends it by itself)
  who                   how many are online, and the names of those in view
  bye                   log out and quit
client commands:
  /who                  who this client has seen, and where
  /help                 this text
  /quit                 log out and quit (Ctrl-D does the same)"""

#: Seconds to wait for the server's ``bye quit`` before closing anyway.
QUIT_GRACE = 5.0


class _Client(MudClient):
    """The library client, plus a copy of every wire line for ``--raw``."""

    def __init__(self, terminal: Terminal, **kwargs: Any) -> None:
        super().__init__(terminal, **kwargs)
        self.terminal = terminal

    def lineReceived(self, line: bytes) -> None:
        if self.terminal.args.raw:
            self.terminal.write(visible(line.decode("utf-8", errors="replace").rstrip("\r")))
        super().lineReceived(line)


@implementer(IHalfCloseableProtocol)
class _Keyboard(LineReceiver):
    """Lines typed by the person; end of input (Ctrl-D) means quit."""

    delimiter = b"\n"

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal

    def lineReceived(self, line: bytes) -> None:
        self.terminal.typed(line.decode("utf-8", errors="replace"))

    def readConnectionLost(self) -> None:
        self.terminal.quit()

    def writeConnectionLost(self) -> None:
        self.terminal.stop_reactor()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.terminal.stop_reactor()


class Terminal:
    """The running client: one server connection, one keyboard, one screen."""

    def __init__(self, reactor: Any, args: argparse.Namespace) -> None:
        self.reactor = reactor
        self.args = args
        #: The exit status, once the client is finishing.
        self.status: int | None = None
        self.client: MudClient | None = None
        self.quitting = False
        self._early: list[str] = []
        self.stdio = StandardIO(_Keyboard(self), reactor=reactor)
        self.display = Display(self.write, reactor, version=args.protocol)

    def write(self, text: str) -> None:
        self.stdio.write(text.encode("utf-8", errors="replace") + b"\n")

    # -- the connection ------------------------------------------------------------

    def start(self) -> None:
        client = _Client(self, version=self.args.protocol, clock=self.reactor)
        args = self.args
        endpoint = client_endpoint(
            self.reactor, args.host, args.port, 10, args.tls, not args.insecure, args.cafile
        )
        d = connectProtocol(endpoint, client)
        d.addCallbacks(self.connected, self.unreachable)

    def connected(self, client: MudClient) -> None:
        self.client = client
        self.write(f"connected to {self.args.host}:{self.args.port}; type /help for help")
        client.when_closed().addCallback(self.closed)
        if self.args.user:
            client.login(self.args.user, self.args.password).addErrback(self.login_failed)
        early, self._early = self._early, []
        for text in early:
            self.typed(text)
        if self.quitting and self.status is None:  # input ended while connecting
            self.quitting = False
            self.quit()

    def unreachable(self, failure: Failure) -> None:
        address = f"{self.args.host}:{self.args.port}"
        self.finish(1, f"cannot connect to {address}: {failure.getErrorMessage()}")

    def login_failed(self, failure: Failure) -> None:
        if failure.check(ServerError) and self.client is not None:
            # The display has printed the server's reason already.
            self.finish(1, None)
            self.client.close()
        # ConnectionClosed: closed() reports it.

    def docmd(self, client: MudClient, message: Message) -> None:
        """The library's listener hook: every server line, typed."""
        if not self.args.raw:
            self.display.show(message)

    def closed(self, reason: str) -> None:
        self.display.stop()
        if reason == "quit" or (self.quitting and reason == CONNECTION_LOST):
            self.finish(0, "bye.")
        elif reason == CONNECTION_LOST:
            because = self.client.lost_because if self.client is not None else None
            self.finish(1, f"connection lost: {because}" if because else "connection lost")
        else:
            why = BYE_REASONS.get(reason)
            detail = f" ({why})" if why else ""
            self.finish(1, f"connection closed by server: {visible(reason)}{detail}")

    # -- the keyboard --------------------------------------------------------------

    def typed(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        if text.startswith("/"):
            self.slash(text)
            return
        client = self.client
        if client is None and self.status is None:
            self._early.append(text)  # typed (or piped) while connecting
            return
        if client is None or client.close_reason is not None or self.status is not None:
            self.write("not connected")
            return
        try:
            if self.args.raw:
                client.send_line(text)
            else:
                self.send(client, text)
        except ConnectionClosed:
            self.write("not connected")

    def send(self, client: MudClient, text: str) -> None:
        """Check a typed protocol command, then send it properly escaped."""
        try:
            # The server decides bounds and say length; only the form is checked here.
            command = parse_command(text, bounds=math.inf, max_say=sys.maxsize)
        except CommandError as e:
            self.write(f"{e.message} (/help lists the commands)")
            return
        match command:
            case Connect(name, password, version):
                # What a pos means depends on the version this login asks for.
                self.display.version = version
                client.send("con", name, password, version)
            case Move(x, y, z):
                self.display.moving_to(x, y, z)
                client.move(x, y, z)
            case Say():
                # Others see exactly what was typed: "say 100%25" says "100%25".
                client.say(text.split(" ", 1)[1])
            case Idle():
                client.idle()
            case Who():
                client.send("who")
            case Quit():
                self.quit()

    def slash(self, text: str) -> None:
        word = text[1:].split(maxsplit=1)[0].lower() if len(text) > 1 else ""
        if word in ("help", "h", "?"):
            self.write(HELP)
        elif word in ("quit", "q", "exit"):
            if self.client is None:
                self.finish(0, "bye.")  # do not even wait for the connection
            else:
                self.quit()
        elif word == "who":
            self.who()
        else:
            self.write(f"unknown command /{visible(word)}; /help lists the commands")

    def who(self) -> None:
        world = self.client.world if self.client is not None else None
        if world is None or world.me is None:
            self.write("not logged in")
            return
        for entity in sorted(world, key=lambda e: e.name.lower()):
            name = visible(entity.name)
            who = f"{name} (you)" if entity.id == world.self_id else name
            kind = "" if entity.kind == "player" else f" [{visible(entity.kind)}]"
            walk = entity.walk
            heading = f", walking to {where(*walk.target)}" if walk and entity.walking else ""
            self.write(f"  {who}{kind} at {where(*entity.position)}{heading}")

    # -- the end -------------------------------------------------------------------

    def quit(self) -> None:
        """Log out politely, and make sure the client ends even if the server is mute."""
        client = self.client
        if client is None:
            self.quitting = True  # still connecting: connected() quits at once
            return
        if client.close_reason is not None:
            self.finish(0, "bye.")
            return
        if not self.quitting:
            self.quitting = True
            client.quit()
            self.reactor.callLater(QUIT_GRACE, client.close)

    def finish(self, status: int, message: str | None) -> None:
        """Print the last words, flush the screen, then stop the reactor."""
        if self.status is not None:
            return
        self.status = status
        if message:
            self.write(message)
        if self.client is not None and self.client.close_reason is None and status != 0:
            self.client.close()
        # Closing stdio flushes what is still buffered; the keyboard's
        # connectionLost then stops the reactor.  The timer is a safety net.
        self.stdio.loseConnection()
        self.reactor.callLater(2.0, self.stop_reactor)

    def stop_reactor(self) -> None:
        if self.reactor.running:
            self.reactor.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mudserver-client",
        description="Talk to a mudserver: events are shown as they happen, while you type.",
        epilog="Type /help once connected for the commands.",
    )
    parser.add_argument("--host", default="localhost", help="server host (default: localhost)")
    parser.add_argument("--port", type=int, default=4000, help="server port (default: 4000)")
    parser.add_argument("--user", help="log in as this account right away")
    parser.add_argument(
        "--password", help="password for --user (asked for if omitted; visible to ps if given)"
    )
    parser.add_argument(
        "--protocol",
        choices=VERSIONS,
        default=DEFAULT_VERSION,
        help=f"protocol version for --user's login (default: {DEFAULT_VERSION}; "
        "2 says where walks go, 1 sends positions every tick)",
    )
    parser.add_argument("--raw", action="store_true", help="show and send wire lines as they are")
    parser.add_argument(
        "--tls", action="store_true", help="connect over TLS, verifying the server's certificate"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="with --tls: do not verify the certificate (a self-signed test server only)",
    )
    parser.add_argument(
        "--cafile", help="with --tls: trust this PEM certificate (or CA) instead of the system's"
    )
    args = parser.parse_args(argv)
    if (args.insecure or args.cafile) and not args.tls:
        parser.error("--insecure and --cafile need --tls")
    if args.password is not None and not args.user:
        parser.error("--password needs --user")
    if not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the interactive client; return the exit status."""
    args = parse_args(argv)
    if args.user and args.password is None:
        try:
            args.password = getpass.getpass(f"password for {args.user}: ")
        except (EOFError, KeyboardInterrupt):
            print("no password given", file=sys.stderr)
            return 1
    from twisted.internet import reactor

    # StandardIO makes the terminal non-blocking; the shell must not inherit that.
    modes = {}
    for fd in (0, 1):
        try:
            modes[fd] = os.get_blocking(fd)
        except OSError:
            pass
    try:
        terminal = Terminal(reactor, args)
        reactor.callWhenRunning(terminal.start)
        reactor.run()
    finally:
        for fd, blocking in modes.items():
            try:
                os.set_blocking(fd, blocking)
            except OSError:
                pass
    if terminal.status is None:
        print("interrupted", file=sys.stderr)
        return 130
    return terminal.status
