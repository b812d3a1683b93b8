"""The wire codec: escaping of arguments and framing of protocol lines.

A protocol line is a three-letter code, optionally followed by one space and
comma-separated arguments.  Arguments are escaped with :func:`enquote` so that
no argument can contain the separator (``,``) or end the line (LF, CR); the
receiver undoes it with :func:`dequote`.  ``dequote`` leaves a ``%`` that does
not start a two-digit hex escape alone, so text typed by a person on ``telnet``
("100% sure") survives unchanged.

This module is pure: no I/O, no Twisted.  Both ends of the connection (server
and client library) use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["enquote", "dequote", "format_line", "split_line", "RawLine"]

#: Characters that must never appear raw inside an argument.  Every other
#: control character is escaped as well, so a line stays printable.
_MUST_ESCAPE = re.compile(r"[%,\x00-\x1f\x7f]")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def enquote(text: str) -> str:
    """Escape *text* so that it can be sent as one protocol argument."""
    return _MUST_ESCAPE.sub(lambda m: f"%{ord(m.group()):02X}", text)


def dequote(text: str) -> str:
    """Undo :func:`enquote`: every ``%XX`` (hex, either case) becomes U+00XX.

    A ``%`` not followed by two hex digits is kept as it is.
    """
    if "%" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def format_line(code: str, *args: object) -> str:
    """Build one outgoing line, newline included, escaping every argument.

    Numbers should be formatted by the caller (see :mod:`mudserver.wire.replies`);
    anything else is passed through ``str`` and escaped.
    """
    if not args:
        return f"{code}\n"
    return f"{code} {','.join(enquote(str(a)) for a in args)}\n"


@dataclass(frozen=True, slots=True)
class RawLine:
    """A line split into its code and its still-escaped argument text."""

    code: str
    rest: str | None

    def args(self) -> list[str]:
        """The dequoted arguments; no arguments at all is an empty list."""
        if self.rest is None:
            return []
        return [dequote(a) for a in self.rest.split(",")]


def split_line(line: str) -> RawLine:
    """Split a received line (without its line ending) at the first space.

    The code is lower-cased so that a person typing ``MOV`` is understood.
    ``rest`` is ``None`` when the line has no space at all, so ``"say"``
    (no text) and ``"say "`` (empty text) can be told apart.
    """
    code, sep, rest = line.partition(" ")
    return RawLine(code.lower(), rest if sep else None)
