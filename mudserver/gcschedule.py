"""When the garbage collector runs: between ticks, never in the middle of one.

CPython collects whenever enough containers were allocated, which with
thousands of players means in the middle of a tick: a young collection there
took 50 ms, and the tick's short-lived lists, caught alive, were promoted
until a full collection followed.  Collected right after a tick instead, the
tick's garbage is already gone and the world stays on time.

:class:`GcSchedule` is that policy alone, with the ``gc`` module passed in:
the service calls it, and tests hand it a stand-in whose counts they set.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Collector", "GcSchedule"]


class Collector(Protocol):
    """The part of the ``gc`` module the schedule uses."""

    def freeze(self) -> None: ...

    def unfreeze(self) -> None: ...

    def isenabled(self) -> bool: ...

    def enable(self) -> None: ...

    def disable(self) -> None: ...

    def get_threshold(self) -> tuple[int, int, int]: ...

    def get_count(self) -> tuple[int, int, int]: ...

    def get_objects(self, generation: int | None = None) -> list[object]: ...

    def collect(self, generation: int = 2) -> int: ...


class GcSchedule:
    """Takes the collector off its own schedule and runs it after each tick.

    The generations collected are the ones CPython would have collected by
    now, by its thresholds; the oldest one by CPython's rule too (see
    :meth:`after_tick`).
    """

    def __init__(self, gc: Collector) -> None:
        self.gc = gc
        #: Whether automatic collection was on before :meth:`take_over`.
        self.was_enabled = gc.isenabled()
        #: Objects in the oldest generation after the last full collection.
        self.long_lived = 0

    def take_over(self) -> None:
        """Freeze what exists now and turn automatic collection off.

        What exists at start-up (modules, classes) lives for good, so no
        collection needs to walk it.
        """
        self.gc.freeze()
        self.was_enabled = self.gc.isenabled()
        self.gc.disable()

    def after_tick(self) -> int | None:
        """Collect if CPython would have by now; return the generation collected, if any.

        CPython's rule for the oldest generation included: a full collection
        (115-180 ms with 10,000 players) only once the objects that reached
        it since the last one are more than a quarter of those it kept then,
        so a steady crowd of players does not cost one every few seconds.
        """
        young, middle, old = self.gc.get_threshold()
        count_young, count_middle, count_old = self.gc.get_count()
        if count_young < young:
            return None
        generation = 0
        if count_middle >= middle:
            generation = 1
            if count_old >= old and self._oldest_grew_by_a_quarter():
                generation = 2
        self.gc.collect(generation)
        if generation == 2:
            self.long_lived = len(self.gc.get_objects(2))
        return generation

    def _oldest_grew_by_a_quarter(self) -> bool:
        grown = len(self.gc.get_objects(2)) - self.long_lived
        return grown > self.long_lived / 4

    def give_back(self) -> None:
        """Unfreeze, and turn automatic collection back on if it was on before."""
        self.gc.unfreeze()
        if self.was_enabled:
            self.gc.enable()
