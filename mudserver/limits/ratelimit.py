"""Token buckets and flood detection, with time passed in (sans-IO).

A :class:`TokenBucket` allows ``rate`` events per second on average and
bursts of up to ``burst`` events; it is how a session limits the lines a
client may send.  A :class:`FloodGuard` adds the judgement on top: a client
that stays over its bucket for ``flood_time`` seconds is not a person typing
fast but a flood, and is disconnected.

Nothing here reads a clock: every method takes ``now`` (seconds, any
monotonic origin), so tests drive time by hand and any transport can use it.
"""

from __future__ import annotations

import enum

__all__ = ["FloodGuard", "TokenBucket", "Verdict"]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; one token per event."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float) -> None:
        if not rate > 0 or not burst >= 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        #: Starts full: a new client may burst at once.
        self._tokens = float(burst)
        #: When tokens were last added; None until the first event.
        self._stamp: float | None = None

    def _refill(self, now: float) -> None:
        if self._stamp is None:
            self._stamp = now
        elapsed = now - self._stamp
        if elapsed > 0:  # a clock that steps back never adds tokens
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._stamp = now

    def allow(self, now: float) -> bool:
        """Take a token if there is one; whether the event may go ahead."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def tokens(self, now: float) -> float:
        """How many events could go ahead right now (for tests and logs)."""
        self._refill(now)
        return self._tokens


class Verdict(enum.Enum):
    """What to do with one received line."""

    #: Within the limit: handle it.
    ACCEPT = "accept"
    #: Over the limit: drop it and tell the client (``err toofast``).
    DROP_AND_WARN = "warn"
    #: Over the limit: drop it silently (the client was told a moment ago).
    DROP = "drop"
    #: Over the limit for ``flood_time`` seconds: disconnect (``bye flood``).
    FLOOD = "flood"


class FloodGuard:
    """Decides, line by line, whether a client is within its line budget.

    A *streak* starts with the first dropped line and lasts while lines keep
    being dropped with gaps shorter than ``quiet`` seconds; a streak that
    lasts ``flood_time`` seconds is a flood.  A client that merely bursts
    loses a few lines and recovers; one that keeps sending faster than the
    sustained rate is disconnected.

    Warnings are themselves rate-limited (one per ``quiet`` seconds) so that
    a tiny flooding line cannot make the server send a longer ``err`` line
    back for each one: the server's upstream must not be an amplifier.
    """

    __slots__ = ("_last_drop", "_last_warn", "_streak_start", "bucket", "flood_time", "quiet")

    def __init__(self, rate: float, burst: float, flood_time: float, quiet: float = 1.0) -> None:
        self.bucket = TokenBucket(rate, burst)
        self.flood_time = flood_time
        self.quiet = quiet
        self._streak_start: float | None = None
        self._last_drop = 0.0
        self._last_warn: float | None = None

    def check(self, now: float) -> Verdict:
        """Account for one line received at *now*; what to do with it."""
        if self.bucket.allow(now):
            if self._streak_start is not None and now - self._last_drop >= self.quiet:
                self._streak_start = None
            return Verdict.ACCEPT
        if self._streak_start is None or now - self._last_drop >= self.quiet:
            self._streak_start = now
            self._last_warn = None
        self._last_drop = now
        if now - self._streak_start >= self.flood_time:
            return Verdict.FLOOD
        if self._last_warn is None or now - self._last_warn >= self.quiet:
            self._last_warn = now
            return Verdict.DROP_AND_WARN
        return Verdict.DROP
