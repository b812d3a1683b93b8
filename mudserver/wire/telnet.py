"""Telnet for a line protocol: strip control sequences, negotiate a few options.

Theory of operation
-------------------
A ``telnet`` client or a MUD client (TinTin++, Mudlet) may send option
negotiation (``IAC DO x``...), subnegotiations (``IAC SB x ... IAC SE``) and
commands such as Ctrl-C's ``IAC IP`` at any point, even in the middle of a
line.  Those bytes must neither split a line nor reach the command parser,
where the ``0xFF`` byte would make the line invalid UTF-8.  ``nc`` and the
client library send none of it, and must see none of it in return.

:class:`TelnetFilter` is sans-IO: :meth:`~TelnetFilter.receive` takes bytes
as they arrive, split anywhere, and returns the clean data for the line
parser, the replies to write back, and :class:`Event`\\ s for the caller
(an option of ours was enabled or disabled, a subnegotiation arrived).

Options are negotiated per side.  The server only ever offers options on
*its* side (``WILL``): the ones given to the filter (the shell passes MSSP and
GMCP).  Every option on the client's side is refused (``WILL x`` is answered
``DONT x``), and so is every unsupported one on ours (``DO x``: ``WONT x``).
For the supported ones, each option's state follows the "Q method" of
RFC 1143 (NO, YES, WANTNO, WANTYES, and a one-deep queue of the opposite
request): an answer is sent only when the state changes, and a reply that
merely confirms the state is never answered, so two correct ends can never
loop.  A broken client can still flip an option on and off forever (say
``DO x DONT x``, then acknowledge each of our answers with a new request);
after ``MAX_ENABLES`` times an option is refused like an unsupported one,
and refusals end every exchange.

When to offer: a client that did not ask for one of our options gets no
Telnet bytes beyond its refusals, unless the filter is made with
``offer_at_connect=True`` (:meth:`~TelnetFilter.start` then returns the
offers).  ``nc`` and the client library send no Telnet at all, and Debian's
``telnet`` (which may send ``IAC WILL``/``DO`` of its own options, or
``IAC NOP``) sees exactly what it saw before MSSP and GMCP existed.  Otherwise
the offers (``IAC WILL`` for each supported option the client has not
mentioned yet) follow the client's first ``DO`` or ``DONT`` of a supported
option: a MUD client asking for GMCP (``IAC DO GMCP``) is also offered MSSP.

Subnegotiation payloads are unescaped (``IAC IAC`` becomes 0xFF) and
reported only for options of ours that are enabled; one longer than
``max_subnegotiation`` bytes is dropped whole, so a hostile client cannot
make the filter buffer without limit.  Bytes of a client that never sends
``IAC`` pass through unchanged, except that ``CR NUL`` (Telnet's bare
carriage return) becomes ``CR``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "TelnetFilter",
    "Received",
    "Event",
    "Enabled",
    "Disabled",
    "Subnegotiation",
    "subnegotiation",
    "IAC",
    "DONT",
    "DO",
    "WONT",
    "WILL",
    "SB",
    "SE",
    "NOP",
    "MSSP",
    "GMCP",
]

IAC = 255  # "interpret as command": every sequence starts with it
DONT = 254
DO = 253
WONT = 252
WILL = 251
SB = 250  # subnegotiation begins ...
SE = 240  # ... and ends with IAC SE
NOP = 241
MSSP = 70  # MUD Server Status Protocol
GMCP = 201  # Generic MUD Communication Protocol
_CR = 13
_IAC_BYTE = bytes([IAC])

#: Longest subnegotiation payload kept, in bytes (longer ones are dropped).
MAX_SUBNEGOTIATION = 8192

#: Times one option may be turned on per connection before it is refused.
MAX_ENABLES = 4


@dataclass(frozen=True, slots=True)
class Enabled:
    """Our side of *option* is now on: the client agreed (or asked)."""

    option: int


@dataclass(frozen=True, slots=True)
class Disabled:
    """Our side of *option* is now off after having been on."""

    option: int


@dataclass(frozen=True, slots=True)
class Subnegotiation:
    """``IAC SB option payload IAC SE`` for an enabled option, payload unescaped."""

    option: int
    payload: bytes


Event = Enabled | Disabled | Subnegotiation


class Received(NamedTuple):
    """What :meth:`TelnetFilter.receive` made of some received bytes."""

    data: bytes
    replies: bytes
    events: list[Event]


def subnegotiation(option: int, payload: bytes) -> bytes:
    """``IAC SB option payload IAC SE``, with every 0xFF in *payload* doubled."""
    return bytes([IAC, SB, option]) + payload.replace(_IAC_BYTE, b"\xff\xff") + bytes([IAC, SE])


class _State(enum.Enum):
    DATA = "data"
    COMMAND = "after IAC"
    OPTION = "after IAC DO/DONT/WILL/WONT"
    SUB_OPTION = "after IAC SB"
    SUB = "in subnegotiation"
    SUB_COMMAND = "after IAC in subnegotiation"


class Q(enum.Enum):
    """RFC 1143's states of one side of one option."""

    NO = "no"
    YES = "yes"
    WANTNO = "want no"
    WANTYES = "want yes"


@dataclass
class _Option:
    state: Q = Q.NO
    #: RFC 1143's ``usq = OPPOSITE``: the opposite request waits for the answer.
    queued: bool = False
    #: Times it was turned on: past ``MAX_ENABLES`` it is refused for good.
    enables: int = 0


class TelnetFilter:
    """Separates a Telnet client's data from its control sequences, and negotiates."""

    def __init__(
        self,
        options: Iterable[int] = (),
        *,
        offer_at_connect: bool = False,
        max_subnegotiation: int = MAX_SUBNEGOTIATION,
    ) -> None:
        """*options* are the ones we are willing to enable on our side (none: refuse all)."""
        self._state = _State.DATA
        self._verb = 0
        #: The last data byte was CR: a NUL right after it is dropped, even
        #: when a control sequence (or a packet boundary) sits in between.
        self._after_cr = False
        self._us = {option: _Option() for option in options}
        self._offer_at_connect = offer_at_connect
        #: Whether the offers were made (or are not to be made at all).
        self._offered = not self._us
        #: Options the client mentioned first: not offered again.
        self._mentioned: set[int] = set()
        self._max_sub = max_subnegotiation
        self._sub_option: int | None = None
        self._sub = bytearray()
        self._sub_overflow = False
        self._events: list[Event] = []

    @property
    def pending(self) -> bool:
        """Whether a control sequence has started but not finished."""
        return self._state is not _State.DATA

    def enabled(self, option: int) -> bool:
        """Whether our side of *option* is on."""
        state = self._us.get(option)
        return state is not None and state.state is Q.YES

    def state(self, option: int) -> Q:
        """RFC 1143 state of our side of *option* (``NO`` for unsupported ones)."""
        state = self._us.get(option)
        return Q.NO if state is None else state.state

    # -- starting and requests ---------------------------------------------------

    def start(self) -> bytes:
        """What to send at connect: the offers with ``offer_at_connect``, else nothing."""
        if not self._offer_at_connect or self._offered:
            return b""
        return self._offer()

    def _offer(self) -> bytes:
        self._offered = True
        out = bytearray()
        for option, state in self._us.items():
            if option not in self._mentioned and state.state is Q.NO:
                out += self.enable(option)
        return bytes(out)

    def enable(self, option: int) -> bytes:
        """Ask to turn our side of *option* on; return the bytes to send (maybe none)."""
        s = self._us.get(option)
        if s is None or s.enables >= MAX_ENABLES:
            return b""
        if s.state is Q.NO:
            s.state = Q.WANTYES
            return bytes([IAC, WILL, option])
        if s.state is Q.WANTNO and not s.queued:
            s.queued = True
        elif s.state is Q.WANTYES and s.queued:
            s.queued = False
        return b""  # YES, or already asked: nothing more to say

    def disable(self, option: int) -> bytes:
        """Ask to turn our side of *option* off; return the bytes to send (maybe none)."""
        s = self._us.get(option)
        if s is None:
            return b""
        if s.state is Q.YES:
            s.state = Q.WANTNO
            self._events.append(Disabled(option))
            return bytes([IAC, WONT, option])
        if s.state is Q.WANTYES and not s.queued:
            s.queued = True
        elif s.state is Q.WANTNO and s.queued:
            s.queued = False
        return b""

    # -- input ---------------------------------------------------------------------

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """:meth:`receive` for a filter without options: ``(clean, replies)``."""
        received = self.receive(data)
        return received.data, received.replies

    def receive(self, data: bytes) -> Received:
        """Take the next received bytes; return data, replies and events.

        ``data`` goes to the line parser; ``replies`` (possibly empty) should
        be written back to the client; ``events`` are for the caller to act on.
        """
        if self._state is _State.DATA and IAC not in data and 0 not in data:
            if data:  # the common case: nothing to do
                self._after_cr = data[-1] == _CR
            return Received(data, b"", [])
        clean = bytearray()
        replies = bytearray()
        i, end = 0, len(data)
        while i < end:
            state = self._state
            if state is _State.DATA or state is _State.SUB:
                j = data.find(_IAC_BYTE, i)
                stop = end if j < 0 else j
                if stop > i:
                    if state is _State.DATA:
                        self._data(data[i:stop], clean)
                    else:
                        self._sub_data(data[i:stop])
                if j < 0:
                    break
                self._state = _State.COMMAND if state is _State.DATA else _State.SUB_COMMAND
                i = j + 1
                continue
            byte = data[i]
            i += 1
            self._control(byte, replies)
        events, self._events = self._events, []
        return Received(bytes(clean), bytes(replies), events)

    def _data(self, chunk: bytes, clean: bytearray) -> None:
        if self._after_cr and chunk[0] == 0:
            chunk = chunk[1:]
        # Judged before CR NUL becomes CR: after "\r\x00" the NUL was last.
        self._after_cr = bool(chunk) and chunk[-1] == _CR
        clean += chunk.replace(b"\r\x00", b"\r")

    def _sub_data(self, chunk: bytes) -> None:
        if self._sub_overflow or self._sub_option not in self._us:
            return  # not kept: nobody would read it
        if len(self._sub) + len(chunk) > self._max_sub:
            self._sub_overflow = True
            self._sub.clear()
        else:
            self._sub += chunk

    def _control(self, byte: int, replies: bytearray) -> None:
        state = self._state
        if state is _State.COMMAND:
            if byte in (DO, DONT, WILL, WONT):
                self._verb = byte
                self._state = _State.OPTION
            elif byte == SB:
                self._state = _State.SUB_OPTION
            else:
                # A two-byte command (NOP, AYT, IP, GA...) or IAC IAC, an
                # escaped 0xFF: that byte is never valid UTF-8, so it goes too.
                self._state = _State.DATA
        elif state is _State.OPTION:
            self._state = _State.DATA
            self._mentioned.add(byte)
            replies += self._negotiate(self._verb, byte)
            if not self._offered and byte in self._us and self._verb in (DO, DONT):
                replies += self._offer()  # it speaks our options: offer the others
        elif state is _State.SUB_OPTION:
            self._sub_option, self._sub_overflow = byte, False
            self._sub.clear()
            # IAC right after SB: a malformed sequence without an option.
            self._state = _State.SUB_COMMAND if byte == IAC else _State.SUB
            if byte == IAC:
                self._sub_option = None
        elif state is _State.SUB_COMMAND:
            if byte == SE:
                self._state = _State.DATA
                self._end_subnegotiation()
            else:
                # IAC IAC is an escaped 0xFF inside it; anything else is junk.
                self._state = _State.SUB
                if byte == IAC:
                    self._sub_data(_IAC_BYTE)

    def _end_subnegotiation(self) -> None:
        option = self._sub_option
        if option is not None and not self._sub_overflow and self.enabled(option):
            self._events.append(Subnegotiation(option, bytes(self._sub)))
        self._sub.clear()
        self._sub_option = None

    def _negotiate(self, verb: int, option: int) -> bytes:
        """RFC 1143 for our side; the client's side is always refused."""
        if verb == WILL:
            return bytes([IAC, DONT, option])  # him=NO, and we never agree
        if verb == WONT:
            return b""  # him=NO already
        s = self._us.get(option)
        if s is None:
            return bytes([IAC, WONT, option]) if verb == DO else b""
        if verb == DO:
            return self._on_do(option, s)
        return self._on_dont(option, s)

    def _on_do(self, option: int, s: _Option) -> bytes:
        if s.state is Q.NO:
            if s.enables >= MAX_ENABLES:
                return bytes([IAC, WONT, option])  # flipped too often: refused
            self._turn_on(option, s)
            return bytes([IAC, WILL, option])
        if s.state is Q.WANTYES:
            if s.queued:  # a disable request waited for this answer
                s.state, s.queued = Q.WANTNO, False
                return bytes([IAC, WONT, option])
            self._turn_on(option, s)
        elif s.state is Q.WANTNO:
            # An error by the client (our WONT answered by DO).
            if s.queued:
                s.queued = False
                self._turn_on(option, s)
            else:
                s.state = Q.NO
        return b""  # YES: a confirmation, never answered

    def _turn_on(self, option: int, s: _Option) -> None:
        s.state = Q.YES
        s.enables += 1
        self._events.append(Enabled(option))

    def _on_dont(self, option: int, s: _Option) -> bytes:
        if s.state is Q.YES:
            s.state = Q.NO
            self._events.append(Disabled(option))
            return bytes([IAC, WONT, option])
        if s.state is Q.WANTNO:
            if s.queued and s.enables < MAX_ENABLES:  # an enable request waited
                s.state, s.queued = Q.WANTYES, False
                return bytes([IAC, WILL, option])
            s.state, s.queued = Q.NO, False
        elif s.state is Q.WANTYES:
            s.state, s.queued = Q.NO, False
        return b""  # NO: a confirmation, never answered
