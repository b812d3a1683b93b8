"""``mudserver-client``: an interactive client for a person at a terminal.

The seed's terminal client blocked on the keyboard, so nothing from the
server showed up until the person pressed Enter, and an idle person was
dropped after 15 s.  This one runs on the reactor with Twisted's
``StandardIO``: server events are printed as they arrive (in words, or as
wire lines with ``--raw``), the keyboard is read in between, and the client
library keeps the connection alive.

What a person types is checked with the server's own command parser first,
so a mistake gets a one-line explanation instead of a round trip (or a
traceback).  Besides the protocol's commands there are the client's own
(:mod:`mudserver.client.keyboard`): ``/use`` finds a thing by the name on
the screen, ``/password`` asks without showing what is typed.  The command
line and the exit status are :mod:`mudserver.client.cli`'s.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from twisted.internet.endpoints import connectProtocol
from twisted.internet.stdio import StandardIO
from twisted.python.failure import Failure

from mudserver.client.display import BYE_REASONS, Display, visible, where
from mudserver.client.errors import ConnectionClosed, ServerError
from mudserver.client.keyboard import HELP, Keyboard, Prompt, find_thing
from mudserver.client.messages import Message
from mudserver.client.protocol import (
    CONNECTION_LOST,
    MudClient,
    client_endpoint,
)
from mudserver.client.requests import use_args
from mudserver.wire.commands import (
    CommandError,
    Connect,
    Idle,
    Move,
    Quit,
    Say,
    Use,
    Who,
    parse_command,
)
from mudserver.wire.encoding import split_line

__all__ = ["main", "Terminal"]

#: Seconds to wait for the server's ``bye quit`` before closing anyway.
QUIT_GRACE = 5.0

#: Account commands typed as protocol lines, and what they take: the
#: terminal checks only their form, the server everything else.
ACCOUNT_COMMANDS = {"new": "NAME,PASSWORD,VERSION", "pwd": "OLD,NEW"}


class _Client(MudClient):
    """The library client, plus a copy of every wire line for ``--raw``."""

    def __init__(self, terminal: Terminal, **kwargs: Any) -> None:
        super().__init__(terminal, **kwargs)
        self.terminal = terminal

    def lineReceived(self, line: bytes) -> None:
        if self.terminal.args.raw:
            self.terminal.write(visible(line.decode("utf-8", errors="replace").rstrip("\r")))
        super().lineReceived(line)


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
        #: Questions being asked (``/password``): the next lines typed answer them.
        self.prompt: Prompt | None = None
        self.stdio = StandardIO(Keyboard(self), reactor=reactor)
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
            enter = client.register if self.args.new else client.login
            enter(self.args.user, self.args.password).addErrback(self.login_failed)
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
        if self.prompt is not None:
            self.prompt.answer(line)  # a password: taken as typed, spaces and all
            return
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
        raw = split_line(text)
        if raw.code in ACCOUNT_COMMANDS:
            self.account_command(client, raw.code, raw.args())
            return
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
                client.who()
            case Use(target, verb, text):
                client.send("use", *use_args(target, verb, text)[1])
            case Quit():
                self.quit()

    def account_command(self, client: MudClient, code: str, args: list[str]) -> None:
        """``new`` and ``pwd`` typed as protocol lines: checked for their number of arguments."""
        usage = ACCOUNT_COMMANDS[code]
        if len(args) != usage.count(",") + 1 or not all(args):
            self.write(f"{code} needs {usage} (/help lists the commands)")
            return
        if code == "new":
            self.display.version = args[2]
        client.send(code, *args)

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
        elif word == "use":
            self.use(text.split()[1:], text)
        elif word in ("password", "passwd"):
            self.change_password()
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
            # A thing's id too: what "use ID" and "/use ID" take.
            kind = "" if entity.kind == "player" else f" [{visible(entity.kind)}] #{entity.id}"
            walk = entity.walk
            heading = f", walking to {where(*walk.target)}" if walk and entity.walking else ""
            self.write(f"  {who}{kind} at {where(*entity.position)}{heading}")

    def use(self, words: list[str], typed: str) -> None:
        """``/use NAME [VERB] [TEXT]``: the thing called NAME in view (or id NAME)."""
        client = self.client
        if client is None or client.world.me is None:
            self.write("not logged in")
            return
        if not words:
            self.write("/use needs the name or id of a thing, e.g. /use signpost read")
            return
        found = find_thing(client.world, words)
        if found is None:
            # The name may be several words; the first is the one surely meant.
            self.write(f"nothing called {visible(words[0])} is in view (/who lists what is here)")
            return
        target, used = found
        # The text keeps its spaces as typed: split off "/use", the name and the verb only.
        rest = typed.split(None, used + 2)[used + 1 :]
        verb = rest[0] if rest else "use"
        try:
            client.send("use", *use_args(target, verb, rest[1] if len(rest) > 1 else "")[1])
        except ValueError as e:
            self.write(str(e))

    def change_password(self) -> None:
        """``/password``: ask for the old one and the new one twice, none of them shown."""
        if self.client is None or self.client.world.me is None:
            self.write("log in first: the password changed is the account's you play")
            return
        self.prompt = Prompt(
            ["current password:", "new password:", "new password again:"],
            self.write,
            self.password_given,
        )

    def password_given(self, old: str, new: str, again: str) -> None:
        self.prompt = None
        if new != again:
            self.write("the two new passwords differ; nothing was changed")
            return
        if self.client is None or self.client.close_reason is not None:
            self.write("not connected")
            return
        # The display says how it went ("password changed", or the server's reason),
        # from the ack or err line itself: the request's own outcome adds nothing.
        self.client.change_password(old, new).addErrback(_told_already)

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
        if self.prompt is not None:
            self.prompt.cancel()  # never leave the terminal without its echo
            self.prompt = None
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


def _told_already(failure: Failure) -> None:
    """A refused request whose ``err`` the display has shown: nothing more to say."""
    failure.trap(ServerError, ConnectionClosed)


def main(argv: list[str] | None = None) -> int:
    """Run the program: :func:`mudserver.client.cli.main`, under the name the
    ``mudserver-client`` scripts of earlier installs call (imported here, not
    at the top: the command line builds a :class:`Terminal`)."""
    from mudserver.client.cli import main as run

    return run(argv)
