"""A timer wheel: one timer per key, due at a time, popped by the step that passes it.

The world, the views and the proximity traps schedule what they predict
(an arrival, a pair coming within a radius, a walker straying from its
anchor) here instead of checking it every tick.  Timers are filed into
slots of ``quantum`` seconds: scheduling, moving and cancelling a timer
are a few dict operations whatever the number of timers, and a step pops
only the slots its time passed.

The slots are keyed by time, not by tick: the server's ticks wobble around
1/tick-rate (a late tick is a long ``dt``), so which tick a time falls in
is known only once that tick has run.  :meth:`Wheel.due` returns exactly
the timers due at or before the time it is given; a slot that is only
partly due keeps the rest for the next call.

Each key has at most one timer: scheduling a key again moves its timer, so
a prediction that a walk change made stale is replaced, never left behind
to pile up (a walk re-aimed every few seconds on its way to an arrival an
hour away leaves one timer, not hundreds).

Pure Python; no clock of its own: time enters as arguments.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["QUANTUM", "Wheel"]

K = TypeVar("K", bound=Hashable)

#: Seconds per slot: a quarter of the default tick, so that a step pops
#: about four slots and re-files few timers from a slot only partly due.
QUANTUM = 0.025


class Wheel(Generic[K]):
    """Timers by key; :meth:`due` pops those whose time has come.  Times are not negative."""

    def __init__(self, quantum: float = QUANTUM) -> None:
        if not quantum > 0:
            raise ValueError("quantum must be positive")
        self._per_second = 1 / quantum
        #: Slot number -> keys filed there (a dict: insertion order, so runs repeat).
        self._slots: dict[int, dict[K, None]] = {}
        #: Key -> the time it is due.
        self._when: dict[K, float] = {}
        #: The lowest slot that may still hold timers: every one before it was popped.
        #: A timer is filed in its time's slot, or this one if that was popped.
        self._next = 0

    def __len__(self) -> int:
        return len(self._when)

    def __contains__(self, key: object) -> bool:
        return key in self._when

    def when(self, key: K) -> float | None:
        """When *key*'s timer is due, or ``None`` if it has none."""
        return self._when.get(key)

    def schedule(self, key: K, when: float) -> None:
        """Set *key*'s timer to *when* (seconds, finite), replacing any it had."""
        per_second, first = self._per_second, self._next
        slot = int(when * per_second)
        if slot < first:
            slot = first
        when_of = self._when
        old = when_of.get(key)
        if old is not None:
            old_slot = int(old * per_second)
            if old_slot < first:
                old_slot = first
            when_of[key] = when
            if old_slot == slot:
                return
            bucket = self._slots[old_slot]
            del bucket[key]
            if not bucket:
                del self._slots[old_slot]
        else:
            when_of[key] = when
        bucket = self._slots.get(slot)
        if bucket is None:
            self._slots[slot] = {key: None}
        else:
            bucket[key] = None

    def cancel(self, key: K) -> None:
        """Drop *key*'s timer (a no-op if it has none)."""
        old = self._when.pop(key, None)
        if old is not None:
            slot = max(int(old * self._per_second), self._next)
            bucket = self._slots[slot]
            del bucket[key]
            if not bucket:
                del self._slots[slot]

    def due(self, now: float) -> list[K]:
        """Pop and return the keys whose time is at or before *now*, slot by slot."""
        last = int(now * self._per_second)
        slots, when = self._slots, self._when
        first = self._next
        if last < first:
            return []
        self._next = last
        if not slots:
            return []
        if last - first > len(slots):  # a long jump: only the slots that exist
            numbers: Iterable[int] = sorted(s for s in slots if s <= last)
        else:
            numbers = range(first, last + 1)
        out: list[K] = []
        for slot in numbers:
            bucket = slots.pop(slot, None)
            if bucket is None:
                continue
            if slot < last:
                out.extend(bucket)
                for key in bucket:
                    del when[key]
                continue
            kept: dict[K, None] = {}
            for key in bucket:
                if when[key] <= now:
                    out.append(key)
                    del when[key]
                else:
                    kept[key] = None
            if kept:
                slots[slot] = kept
        return out
