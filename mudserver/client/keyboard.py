"""What a person types into the terminal client, beyond one protocol line.

The keyboard itself (Twisted's ``StandardIO`` reads it line by line), the
help text, finding a thing by the name a person sees rather than its id
(``/use signpost read``), and questions whose answers must not show on the
screen (``/password``, which turns the terminal's echo off while it asks).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from mudserver.client.display import PLAYER

try:
    import termios
except ImportError:  # not a Unix: the questions are asked with the echo on
    termios = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from mudserver.client.mirror import Entity, WorldMirror

__all__ = ["HELP", "Keyboard", "Prompt", "Typist", "find_thing"]

HELP = """\
protocol commands, sent to the server:
  con NAME,PASSWORD,2   log in (or start with --user NAME); 1 for protocol version 1
  new NAME,PASSWORD,2   create an account and log in (or start with --new --user NAME)
  mov X,Y,Z             walk to a point, e.g. mov 1,0,3
  say TEXT              talk to everybody, e.g. say hello, world
  use ID[,VERB[,TEXT]]  act on a thing, e.g. use 7,read (/who shows the ids)
  pwd OLD,NEW           change your password (it shows as you type: /password hides it)
  idl                   keepalive (this client sends it by itself)
  who                   how many are online, and the names of those in view
  bye                   log out and quit
client commands:
  /use NAME [VERB] [TEXT]  act on a thing by its name (or id), e.g. /use signpost read
  /password             change your password; nothing you type is shown
  /who                  who and what this client has seen, and where
  /help                 this text
  /quit                 log out and quit (Ctrl-D does the same)"""


class Typist(Protocol):
    """What the keyboard feeds: the terminal client."""

    def typed(self, line: str) -> None: ...

    def quit(self) -> None: ...

    def stop_reactor(self) -> None: ...


@implementer(IHalfCloseableProtocol)
class Keyboard(LineReceiver):
    """Lines typed by the person; end of input (Ctrl-D) means quit."""

    delimiter = b"\n"

    def __init__(self, terminal: Typist) -> None:
        self.terminal = terminal

    def lineReceived(self, line: bytes) -> None:
        self.terminal.typed(line.decode("utf-8", errors="replace"))

    def readConnectionLost(self) -> None:
        self.terminal.quit()

    def writeConnectionLost(self) -> None:
        self.terminal.stop_reactor()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.terminal.stop_reactor()


def find_thing(world: WorldMirror, words: list[str]) -> tuple[Entity | int, int] | None:
    """The thing *words* start with, and how many words its name took.

    An id (``7``) is taken as it is, in view or not (the server says
    ``nosuch`` if it is no thing).  Otherwise the longest run of leading
    words that is the name of a thing in view (case-insensitive, so
    ``old well read`` finds "Old well"), the nearest one if several share it.
    ``None`` when nothing in view is called that.
    """
    if words and words[0].isdigit():
        found = world.get(int(words[0]))
        return (found if found is not None else int(words[0])), 1
    me = world.me
    for count in range(len(words), 0, -1):
        name = " ".join(words[:count]).lower()
        named = [e for e in world if e.kind != PLAYER and e.name.lower() == name]
        if named:
            if me is not None:
                x, y, _ = me.position
                named.sort(key=lambda e: (e.position[0] - x) ** 2 + (e.position[1] - y) ** 2)
            return named[0], count
    return None


class Prompt:
    """Questions answered by the next lines typed, with the terminal's echo off.

    Each question is written, the line typed after it is the answer, and
    once all are answered *done* gets them in order.  While it asks, what
    the person types is not shown (on a real terminal: ``termios`` echo off;
    piped input shows nothing anyway), and it is restored at the end, or by
    :meth:`cancel` when the client quits meanwhile.
    """

    def __init__(
        self,
        questions: Iterable[str],
        ask: Callable[[str], None],
        done: Callable[..., None],
        fd: int = 0,
    ) -> None:
        self.questions = list(questions)
        self.answers: list[str] = []
        self.ask = ask
        self.done = done
        self.fd = fd
        #: The terminal's mode before the echo went off, to put back.
        self._echo: list[Any] | None = None
        self._hide()
        self.ask(self.questions[0])

    def answer(self, line: str) -> None:
        self.answers.append(line.removesuffix("\r"))
        if len(self.answers) < len(self.questions):
            self.ask(self.questions[len(self.answers)])
            return
        self.cancel()
        self.done(*self.answers)

    def cancel(self) -> None:
        """Turn the echo back on (it is off only while questions are asked)."""
        if self._echo is not None and termios is not None:
            termios.tcsetattr(self.fd, termios.TCSANOW, self._echo)
            self._echo = None

    def _hide(self) -> None:
        if termios is None or not os.isatty(self.fd):
            return
        self._echo = termios.tcgetattr(self.fd)
        quiet = termios.tcgetattr(self.fd)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(self.fd, termios.TCSANOW, quiet)
