"""Client-to-server commands: from a decoded line to a typed, validated value.

:func:`parse_command` is the only place that decides whether a line from a
client is well formed.  It returns one of the command classes below or raises
:class:`CommandError`, whose code and message go back to the client as an
``err`` line.  What a command *does* is decided by :mod:`mudserver.core.session`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mudserver.wire.encoding import dequote, split_line

__all__ = [
    "CommandError",
    "Connect",
    "SignUp",
    "ChangePassword",
    "Move",
    "Say",
    "Idle",
    "Quit",
    "Who",
    "Use",
    "Command",
    "parse_command",
    "DEFAULT_VERB",
    "VERB_RE",
]

#: A number argument longer than this is refused before ``float()`` sees it.
MAX_NUMBER_CHARS = 32

#: What a ``use`` verb may be (after lower-casing): a short word, so that a
#: game matches it against its own words without further checks.
VERB_RE = re.compile(r"[a-z][a-z0-9_]{0,15}")
#: The verb of a ``use`` that names none.
DEFAULT_VERB = "use"
#: The largest entity id a ``use`` may name (ids are positive 64-bit integers).
MAX_ID = 2**63 - 1


class CommandError(Exception):
    """A request the server refuses; becomes ``err code,message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Connect:
    """``con name,password,protoversion``: log in."""

    name: str
    password: str
    version: str


@dataclass(frozen=True, slots=True)
class SignUp:
    """``new name,password,protoversion``: create the account, and log in as ``con`` does."""

    name: str
    password: str
    version: str


@dataclass(frozen=True, slots=True)
class ChangePassword:
    """``pwd old,new``: a playing client changes its account's password."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Move:
    """``mov x,y,z``: walk toward this point."""

    x: float
    y: float
    z: float


@dataclass(frozen=True, slots=True)
class Say:
    """``say text``: chat to everybody."""

    text: str


@dataclass(frozen=True, slots=True)
class Idle:
    """``idl``: a keepalive, nothing more."""


@dataclass(frozen=True, slots=True)
class Quit:
    """``bye``: log out and close."""


@dataclass(frozen=True, slots=True)
class Who:
    """``who``: how many are online, and who is in view."""


@dataclass(frozen=True, slots=True)
class Use:
    """``use id[,verb[,text]]``: act on a thing in the world (the game decides what happens)."""

    target: int
    verb: str
    text: str


Command = Connect | SignUp | ChangePassword | Move | Say | Idle | Quit | Who | Use


def _number(text: str, bounds: float) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise CommandError("badarg", "number too long")
    try:
        value = float(text)
    except ValueError:
        raise CommandError("badarg", f"not a number: {text[:MAX_NUMBER_CHARS]!r}") from None
    if not math.isfinite(value):
        raise CommandError("badarg", "numbers must be finite")
    if not -bounds <= value <= bounds:
        raise CommandError("badarg", f"coordinates must lie within ±{bounds:g}")
    return value


def _no_args(code: str, rest: str | None) -> None:
    if rest:
        raise CommandError("badarg", f"{code} takes no arguments")


def parse_command(line: str, *, bounds: float, max_say: int) -> Command:
    """Parse one received line (decoded, line ending removed).

    *bounds* limits ``mov`` coordinates to ``[-bounds, bounds]``; *max_say*
    limits ``say`` text length.  Raises :class:`CommandError` for anything a
    client should be told was wrong.
    """
    raw = split_line(line)
    match raw.code:
        case "con":
            args = raw.args()
            if len(args) != 3:
                raise CommandError("badarg", "con needs 3 arguments: name,password,protoversion")
            return Connect(*args)
        case "new":
            args = raw.args()
            if len(args) != 3:
                raise CommandError("badarg", "new needs 3 arguments: name,password,protoversion")
            return SignUp(*args)
        case "pwd":
            args = raw.args()
            if len(args) != 2:
                raise CommandError("badarg", "pwd needs 2 arguments: old,new")
            return ChangePassword(*args)
        case "mov":
            args = raw.args()
            if len(args) != 3:
                raise CommandError("badarg", "mov needs 3 numbers: x,y,z")
            x, y, z = (_number(a, bounds) for a in args)
            return Move(x, y, z)
        case "say":
            # Everything after "say " is the text, so "say hello, world" says
            # exactly that; enquoted text from a program is decoded too.
            text = dequote(raw.rest or "")
            if not text:
                raise CommandError("badarg", "say needs some text")
            if len(text) > max_say:
                raise CommandError("badarg", f"say text is limited to {max_say} characters")
            return Say(text)
        case "idl":
            _no_args("idl", raw.rest)
            return Idle()
        case "bye":
            _no_args("bye", raw.rest)
            return Quit()
        case "who":
            _no_args("who", raw.rest)
            return Who()
        case "use":
            return _use(raw.rest or "", max_say)
    shown = raw.code[:16]
    raise CommandError(
        "badcmd",
        f"unknown command {shown!r}; commands are con, new, mov, say, use, idl, who, pwd, bye",
    )


def _use(rest: str, max_text: int) -> Use:
    """``use id[,verb[,text]]``: the text is everything after the second comma.

    As with ``say``, a person may type ``use 7,say,hello, world``: commas in
    the text need no escaping, and enquoted text from a program is decoded.
    """
    parts = rest.split(",", 2)
    target_text = dequote(parts[0]).strip()
    if not target_text.isdigit() or len(target_text) > 19 or not 0 < int(target_text) <= MAX_ID:
        raise CommandError("badarg", "use needs the id of a thing: use id[,verb[,text]]")
    verb = dequote(parts[1]).strip().lower() if len(parts) > 1 else DEFAULT_VERB
    if not VERB_RE.fullmatch(verb):
        raise CommandError("badarg", "a verb is a word of up to 16 letters, digits or _")
    text = dequote(parts[2]) if len(parts) > 2 else ""
    if len(text) > max_text:
        raise CommandError("badarg", f"use text is limited to {max_text} characters")
    return Use(int(target_text), verb, text)
