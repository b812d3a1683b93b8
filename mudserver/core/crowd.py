"""The crowd cap: which K entities an observer in a crowd is told about.

Without a limit, a crowd of N players within one view radius costs N²
lines a tick and N² pairs to classify: the view radius bounds nothing at a
spawn point.  With a cap of K (``--max-in-view``), an observer is told
about at most K others, and every step of the work is bounded too:

* A rescan reads the grid cells around the observer nearest first and stops
  once it has found ``CANDIDATES_PER_SLOT * K`` partners within the radius;
  of a cell holding more than it still needs it reads a random window, so a
  crowd packed into one cell is not always shown its first arrivals
  (:func:`nearest`).
* The observer keeps what it was shown that is still in view, fills free
  slots with the nearest newcomers, and swaps at most ``MAX_SWAPS`` of its
  farthest for newcomers nearer than ``KEEP_BONUS`` times their distance
  (:func:`choose`): hysteresis, so that in a crowd where everybody is about
  as near the set does not flicker.
* An observer with a free slot (*open*) is told at once of an entity that
  comes within its radius, as without a cap.  A *full* one is told of
  nothing new between its rescans, which come on a schedule staggered
  across observers: every ``CROWD_RESCAN_TICKS`` ticks while it stands,
  every ``CROWD_WALK_RESCAN_TICKS`` while it walks.  One that loses an
  entity is open again, and is rescanned within the tick (its free slot is
  filled at once).  So a crowd costs the views its rescans, a bounded
  amount each, not a pair for each two of its members.

The schedule lives in :class:`~mudserver.core.interest.Interest`; pure
Python; ``docs/protocol.md`` section 5.1 is what clients are promised.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator

from mudserver.core.grid import Cell, Grid
from mudserver.core.world import Entity

__all__ = [
    "CANDIDATES_PER_SLOT",
    "CROWD_RESCAN_TICKS",
    "CROWD_WALK_RESCAN_TICKS",
    "KEEP_BONUS",
    "MAX_SWAPS",
    "choose",
    "nearest",
]

#: With a cap of K, a rescan stops once it has found this many times K
#: partners within the radius (besides those it already knows): enough to
#: fill the free slots and find the nearer newcomers.
CANDIDATES_PER_SLOT = 1

#: An entity already shown keeps its slot unless a newcomer is nearer than
#: this share of its distance: the set does not flicker.
KEEP_BONUS = 0.8

#: A rescan swaps at most this many shown entities for nearer newcomers: a
#: crowd churns a view a few entities at a time, not all at once.
MAX_SWAPS = 4

#: A full observer that stands still is rescanned once every this many ticks,
#: to pick up nearer newcomers.
CROWD_RESCAN_TICKS = 10

#: A full observer that walks, once every this many (a multiple of the
#: above): about as often as the views of issue 11 rescanned a crowd's
#: walkers (50 a tick for 2,000 at a spawn point), because a crowd walks,
#: and its rescans are most of what it costs.
CROWD_WALK_RESCAN_TICKS = 40


def choose(known: set[int], visible: dict[int, float], cap: int) -> set[int]:
    """The *cap* ids to show, from *visible* (id -> squared distance).

    Those already shown (*known*) and still visible stay; free slots go to
    the nearest newcomers; then at most ``MAX_SWAPS`` of the farthest shown
    give way to newcomers nearer than ``KEEP_BONUS`` times their distance.
    """
    kept = [i for i in known if i in visible]
    newcomers = sorted((i for i in visible if i not in known), key=visible.__getitem__)
    free = cap - len(kept)
    chosen = set(kept)
    if free > 0:
        chosen.update(newcomers[:free])
        newcomers = newcomers[free:]
    if newcomers:
        keep2 = KEEP_BONUS * KEEP_BONUS
        kept.sort(key=visible.__getitem__, reverse=True)
        for newcomer, farthest in zip(newcomers[:MAX_SWAPS], kept, strict=False):
            if visible[newcomer] >= visible[farthest] * keep2:
                break
            chosen.discard(farthest)
            chosen.add(newcomer)
    return chosen


def nearest(
    grid: Grid,
    cell: Cell,
    offsets: Iterable[Cell],
    wanted: int,
    visible: dict[int, float],
    measured: set[int],
    rng: random.Random,
) -> Iterator[Iterable[tuple[int, Entity]]]:
    """The cells at *offsets* from *cell* (nearest first), as (id, entity) pairs.

    Stops once *visible* (filled by the caller as it reads) holds *wanted*
    partners within the radius; of a cell larger than what is still wanted
    it reads a random window.  Adds every id it hands out to *measured*.
    """
    get = grid.cells.get
    for off in offsets:
        bucket = get(cell + off)
        if bucket is None:
            continue
        missing = wanted - len(visible) + 1
        if len(bucket) > missing:
            start = rng.randrange(len(bucket) - missing + 1)
            window = list(itertools.islice(bucket.items(), start, start + missing))
            measured.update(fid for fid, _ in window)
            yield window
        else:
            measured.update(bucket)
            yield bucket.items()
        if len(visible) >= wanted:
            return
