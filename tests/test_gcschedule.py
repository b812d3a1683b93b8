"""GcSchedule against a stand-in ``gc`` module whose counts and sizes the test sets.

The real collector is only exercised by the service test that ticks a
``GameService`` (``test_service_hardening``); here every branch of the policy
is driven by numbers.
"""

from __future__ import annotations

import pytest

from mudserver.gcschedule import GcSchedule


class StandInGc:
    """Plays the ``gc`` module: records what the schedule asks of it."""

    def __init__(
        self,
        count: tuple[int, int, int] = (0, 0, 0),
        oldest: int = 0,
        enabled: bool = True,
        oldest_after_full: int | None = None,
    ) -> None:
        self.count = count
        #: Objects in the oldest generation now, and after a full collection.
        self.oldest = oldest
        self.oldest_after_full = oldest if oldest_after_full is None else oldest_after_full
        self.enabled = enabled
        self.frozen = False
        self.collected: list[int] = []

    def freeze(self) -> None:
        self.frozen = True

    def unfreeze(self) -> None:
        self.frozen = False

    def isenabled(self) -> bool:
        return self.enabled

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False

    def get_threshold(self) -> tuple[int, int, int]:
        return (700, 10, 10)

    def get_count(self) -> tuple[int, int, int]:
        return self.count

    def get_objects(self, generation: int | None = None) -> list[object]:
        assert generation == 2
        return [None] * self.oldest

    def collect(self, generation: int = 2) -> int:
        self.collected.append(generation)
        if generation == 2:
            self.oldest = self.oldest_after_full
        return 0


@pytest.mark.parametrize("enabled", [True, False])
def test_take_over_freezes_and_stops_automatic_collection(enabled: bool) -> None:
    gc = StandInGc(enabled=enabled)
    schedule = GcSchedule(gc)
    schedule.take_over()
    assert gc.frozen and not gc.enabled
    assert gc.collected == []


@pytest.mark.parametrize("enabled", [True, False])
def test_give_back_restores_what_was_there_before(enabled: bool) -> None:
    gc = StandInGc(enabled=enabled)
    schedule = GcSchedule(gc)
    schedule.take_over()
    schedule.give_back()
    assert not gc.frozen
    assert gc.enabled is enabled


def test_take_over_remembers_the_state_at_start_not_at_construction() -> None:
    """Someone (a profiler, a test) may turn collection off between the two."""
    gc = StandInGc(enabled=True)
    schedule = GcSchedule(gc)
    gc.enabled = False
    schedule.take_over()
    schedule.give_back()
    assert not gc.enabled


@pytest.mark.parametrize(
    ("count", "oldest", "expected"),
    [
        ((699, 9, 9), 5000, []),  # not due: the young generation is below its threshold
        ((700, 9, 9), 5000, [0]),
        ((700, 10, 9), 5000, [1]),  # the oldest grew a lot, but its count is not due
        ((700, 10, 10), 1200, [1]),  # grew by a fifth since the last full one: not worth it
        ((700, 10, 10), 1250, [1]),  # by exactly a quarter: still not
        ((700, 10, 10), 1251, [2]),  # by more than a quarter: a full collection
    ],
)
def test_after_tick_collects_the_generations_cpython_would_have(
    count: tuple[int, int, int], oldest: int, expected: list[int]
) -> None:
    gc = StandInGc(count, oldest)
    schedule = GcSchedule(gc)
    schedule.long_lived = 1000  # what the last full collection left
    collected = schedule.after_tick()
    assert gc.collected == expected
    assert collected == (expected[0] if expected else None)
    assert schedule.long_lived == (oldest if expected == [2] else 1000)


def test_a_full_collection_measures_what_it_left() -> None:
    """The next quarter counts from what survived the collection, not from before it."""
    gc = StandInGc((700, 10, 10), oldest=2000, oldest_after_full=1600)
    schedule = GcSchedule(gc)
    schedule.long_lived = 1000
    assert schedule.after_tick() == 2
    assert schedule.long_lived == 1600
    gc.oldest = 1900  # grew by less than a quarter of 1600 (400)
    assert schedule.after_tick() == 1
    gc.oldest = 2001
    assert schedule.after_tick() == 2


def test_the_first_full_collection_waits_for_nothing() -> None:
    """Before any full collection nothing is known to be long-lived: any growth counts."""
    gc = StandInGc((700, 10, 10), oldest=1)
    assert GcSchedule(gc).after_tick() == 2
