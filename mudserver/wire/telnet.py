"""Strip Telnet control sequences from what a client sends.

A ``telnet`` client is a fine way for a person to play, but Telnet is more
than a byte pipe: the client may send option negotiation (``IAC DO x``...),
subnegotiations (``IAC SB ... IAC SE``) and commands such as Ctrl-C's
``IAC IP`` at any point, even in the middle of a line.  Those bytes must
neither split a line nor reach the command parser, where the ``0xFF`` byte
would make the line invalid UTF-8.

:class:`TelnetFilter` is sans-IO: :meth:`~TelnetFilter.feed` takes bytes as
they arrive, split anywhere, and returns the clean bytes plus the replies to
send back.  The server offers no Telnet options, so it refuses every one the
client asks for (``DO x`` is answered ``WONT x``, ``WILL x`` with
``DONT x``), which leaves a Telnet client in its plain line-by-line mode.
Bytes of a client that never sends ``IAC`` pass through unchanged, except
that ``CR NUL`` (Telnet's bare carriage return) becomes ``CR``.
"""

from __future__ import annotations

import enum

__all__ = ["TelnetFilter", "IAC", "DONT", "DO", "WONT", "WILL", "SB", "SE"]

IAC = 255  # "interpret as command": every sequence starts with it
DONT = 254
DO = 253
WONT = 252
WILL = 251
SB = 250  # subnegotiation begins ...
SE = 240  # ... and ends with IAC SE
_CR = 13
_IAC_BYTE = bytes([IAC])


class _State(enum.Enum):
    DATA = "data"
    COMMAND = "after IAC"
    OPTION = "after IAC DO/DONT/WILL/WONT"
    SUB = "in subnegotiation"
    SUB_COMMAND = "after IAC in subnegotiation"


class TelnetFilter:
    """Separates a Telnet client's data from its control sequences."""

    def __init__(self) -> None:
        self._state = _State.DATA
        self._verb = 0
        #: The last data byte was CR: a NUL right after it is dropped, even
        #: when a control sequence (or a packet boundary) sits in between.
        self._after_cr = False

    @property
    def pending(self) -> bool:
        """Whether a control sequence has started but not finished."""
        return self._state is not _State.DATA

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """Take the next received bytes; return ``(clean, replies)``.

        ``clean`` goes to the line parser; ``replies`` (possibly empty) should
        be written back to the client.
        """
        if self._state is _State.DATA and IAC not in data and 0 not in data:
            if data:  # the common case: nothing to do
                self._after_cr = data[-1] == _CR
            return data, b""
        clean = bytearray()
        replies = bytearray()
        i, end = 0, len(data)
        while i < end:
            if self._state is _State.DATA:
                j = data.find(_IAC_BYTE, i)
                stop = end if j < 0 else j
                if stop > i:
                    self._data(data[i:stop], clean)
                if j < 0:
                    break
                self._state = _State.COMMAND
                i = j + 1
                continue
            byte = data[i]
            i += 1
            self._control(byte, replies)
        return bytes(clean), bytes(replies)

    def _data(self, chunk: bytes, clean: bytearray) -> None:
        if self._after_cr and chunk[0] == 0:
            chunk = chunk[1:]
        # Judged before CR NUL becomes CR: after "\r\x00" the NUL was last.
        self._after_cr = bool(chunk) and chunk[-1] == _CR
        clean += chunk.replace(b"\r\x00", b"\r")

    def _control(self, byte: int, replies: bytearray) -> None:
        state = self._state
        if state is _State.COMMAND:
            if byte in (DO, DONT, WILL, WONT):
                self._verb = byte
                self._state = _State.OPTION
            elif byte == SB:
                self._state = _State.SUB
            else:
                # A two-byte command (NOP, AYT, IP, GA...) or IAC IAC, an
                # escaped 0xFF: that byte is never valid UTF-8, so it goes too.
                self._state = _State.DATA
        elif state is _State.OPTION:
            if self._verb == DO:
                replies += bytes([IAC, WONT, byte])
            elif self._verb == WILL:
                replies += bytes([IAC, DONT, byte])
            # DONT and WONT agree with what we do already: no answer, no loop.
            self._state = _State.DATA
        elif state is _State.SUB:
            if byte == IAC:
                self._state = _State.SUB_COMMAND
        elif state is _State.SUB_COMMAND:
            # IAC SE ends it; IAC IAC is an escaped 0xFF inside it.
            self._state = _State.DATA if byte == SE else _State.SUB
