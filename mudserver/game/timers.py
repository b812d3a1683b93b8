"""Timers run by the world's tick: a wheel of slots one tick wide.

A game sets timers (``after``, ``every``) far more often than it needs a
per-tick step: a sheep bleats every half minute, a guard waits at each post.
A timer costs nothing until its tick: it sits in the slot of the first tick
boundary at or after its time, and a tick looks only at the slots it
reaches.  Setting and cancelling are O(1); a tick costs the timers due in it,
whatever the number waiting.  (A heap would cost a log-n sift per timer; at
100,000 waiting timers that is most of a millisecond a tick.)

Time is world time in seconds (the sum of the ticks' ``dt``), passed in by
the caller: no clock is read here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["Timer", "Timers"]

#: A timer is due once the world's time is within this of its time: ticks
#: add up float ``dt``\\ s, and 0.1 ten times is a hair under 1.0.
EPSILON = 1e-9


class Timer:
    """One waiting call; :meth:`cancel` it to stop it (repeating ones too).

    ``owner`` is the thing (or the rules) it belongs to, ``callback`` what it
    calls: a method name of the owner (so a reload's new code is called) or a
    callable.
    """

    __slots__ = ("args", "callback", "cancelled", "interval", "owner", "when")

    def __init__(
        self,
        owner: Any,
        callback: str | Callable[..., Any],
        args: tuple[Any, ...],
        when: float,
        interval: float | None,
    ) -> None:
        self.owner = owner
        self.callback = callback
        self.args = args
        #: World time it is due at.
        self.when = when
        #: Seconds between calls of a repeating timer; None: once.
        self.interval = interval
        self.cancelled = False

    def cancel(self) -> None:
        """Never call it again (a no-op if it already ran, for a one-off timer)."""
        self.cancelled = True

    @property
    def name(self) -> str:
        """How the log and the metrics name what it calls."""
        callback = self.callback
        return callback if isinstance(callback, str) else getattr(callback, "__name__", "timer")

    def target(self) -> Callable[..., Any]:
        """What to call now: the owner's method of that name, as the owner's class has it now."""
        callback = self.callback
        return getattr(self.owner, callback) if isinstance(callback, str) else callback


class Timers:
    """Every waiting timer, in slots of *slot* seconds (the tick's length)."""

    def __init__(self, slot: float) -> None:
        if not slot > 0:
            raise ValueError("slot must be positive")
        self._rate = 1.0 / slot
        self._slots: dict[int, list[Timer]] = {}
        #: The last slot handed out by :meth:`due`.
        self._done = -1
        #: Timers waiting (cancelled ones included until their slot comes).
        self.waiting = 0

    def __len__(self) -> int:
        return self.waiting

    def add(self, timer: Timer, now: float) -> Timer:
        """File *timer* in its slot (never one already handed out)."""
        slot = max(math.ceil(timer.when * self._rate - EPSILON), self._done + 1)
        self._slots.setdefault(slot, []).append(timer)
        self.waiting += 1
        return timer

    def due(self, now: float) -> list[Timer]:
        """The timers due at world time *now*, in order of their slots, cancelled ones left out.

        A repeating timer is the caller's to file again (:meth:`add`) once it
        has run, so one that fails can be left out.
        """
        last = math.floor(now * self._rate + EPSILON)
        if last <= self._done:
            return []
        slots = self._slots
        found: list[Timer] = []
        if len(slots) < last - self._done:
            numbers = sorted(n for n in slots if n <= last)
        else:
            numbers = [n for n in range(self._done + 1, last + 1) if n in slots]
        for number in numbers:
            timers = slots.pop(number)
            self.waiting -= len(timers)
            found.extend(t for t in timers if not t.cancelled)
        self._done = last
        return found
