"""Interest management: which entities each player is told about, kept by predicted events.

Theory of operation
===================

A player (an *observer*) is told about the entities within ``radius`` of it
on the ground plane (x, y): ``ent`` when one comes into view, movement
lines while it is in view, ``del`` when it leaves view or the world.
Things (the game's NPCs and objects) are seen but see nothing.  Walks are
straight lines at a known speed (:mod:`mudserver.core.world`), so nothing
here runs per walker per tick: every view change is *predicted* when a walk
changes, and put on a timer wheel (:mod:`mudserver.core.wheel`).  A tick
costs its events; a standing entity costs nothing.

* **Cells as certificates** (:mod:`mudserver.core.cells`).  Every entity is
  filed in a grid of cells a quarter of the radius wide, by where it is.
  Two entities in cells that are surely in view of each other (``IN``) or
  surely out (``OUT``), wherever they are in them, need nothing until one
  of them walks into another cell.  When it will is known when its walk
  starts: a *crossing* timer.  At a crossing only the cells whose class the
  move changed are read, a ring on each edge of the band.
* **The band.**  The pairs in cells that are neither (``BAND``: their
  distance may cross the radius) each have a timer for the moment it may,
  as both walk now: a root of a quadratic (:mod:`mudserver.core.kinetics`),
  asked for a circle a hair to the safe side, so that it is never late.  A
  walk change times the walker's crossing and its band pairs anew; a timer
  that fires measures the pair, settles what each side was told, and times
  the next crossing.  Both kinds of timer: :mod:`mudserver.core.pairs`.
* **Rescans** (:mod:`mudserver.core.rescans`) measure everything around one
  entity at once: when it enters the world, and for the crowd cap below.
* **Exactness.**  Every measurement is of true positions at the end of a
  step, so each view is what brute force gives at every tick: a pair
  changes on the very step its distance crosses the radius.  The only slack
  a client sees is the crowd cap's.

**The crowd cap.**  With ``cap`` = K, an observer is told about at most K
others, nearest preferred (:mod:`mudserver.core.crowd`).  Only pairs that
can change what somebody is told are timed: those with an *open* observer
(one with a free slot) and those where one side was told about the other.
A *full* observer picks nearer newcomers at its rescans, on a schedule
staggered across observers; one that turns open is rescanned at once, to
fill its slot and time its pairs.  A crowd at a spawn point costs its
rescans, a bounded amount each, not a pair for each two of its members.
Without a cap every observer is open, and every pair with an observer in
the band is timed.

**Movement lines** and who has been told what: :mod:`mudserver.core.views`.
Protocol 1 observers get a ``pos`` every tick for each walker in view (they
pay for what they asked for); protocol 2 ones a ``wlk`` per walk change.

Why cells rather than anchors (each entity rescanned after it walked a sixth
of the radius from where it was last measured, the design of issue 11 made
kinetic, which :mod:`mudserver.core.proximity` still uses): measured for
10,000 walkers over 10,000², a rescan read ~15 partners in up to 16 cells
for each of ~270 strays a tick, 12 ms; a crossing reads the 32 cells whose
class changed, ~250 a tick.  ``docs/benchmarks.md`` (issue 20) has the
figures.

Pure Python, no reactor: the game calls it with entities and gets lines back.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterable

from mudserver.core.cells import CellGeometry
from mudserver.core.crowd import CANDIDATES_PER_SLOT, CROWD_WALK_RESCAN_TICKS
from mudserver.core.grid import Grid
from mudserver.core.kinetics import MARGIN
from mudserver.core.pairs import LOW, SHIFT, Joined, Pairs, pair_key
from mudserver.core.rescans import Rescans
from mudserver.core.views import Lines, Views
from mudserver.core.wheel import Wheel
from mudserver.core.world import Clock, Entity

__all__ = ["Interest"]


class Interest(Pairs, Rescans):
    """Who has been told about whom, kept up to date as entities come, go and walk.

    See the module's theory of operation.  *clock* is the world (its time is
    the time of every measurement); *cap* is the most entities an observer is
    told about besides itself (``None``: no limit); *seed* makes the random
    choices of a run repeatable.
    """

    def __init__(self, clock: Clock, radius: float, cap: int | None = None, seed: int = 0) -> None:
        if not radius > 0:
            raise ValueError("radius must be positive")
        if cap is not None and cap < 1:
            raise ValueError("cap must be at least 1")
        self.clock = clock
        self.radius = radius
        self.cap = cap
        self._r2 = radius * radius
        #: A crossing is timed for a circle a hair to the safe side (kinetics).
        self._exit2 = (radius * (1 - MARGIN)) ** 2
        self._entry2 = (radius * (1 + MARGIN)) ** 2
        self._random = random.Random(seed)
        self.cells = CellGeometry(radius, radius * MARGIN)
        self._size = self.cells.size
        #: Every entity, and the open observers alone, filed by the cell they are in.
        self.grid = Grid(self._size)
        self._open_grid = Grid(self._size)
        #: Partners within the radius a capped rescan looks for before it stops.
        self._wanted = None if cap is None else cap * CANDIDATES_PER_SLOT
        self._entities: dict[int, Entity] = {}
        #: Entity id -> ids of the partners whose pair is in the band (symmetric).
        self._band: dict[int, set[int]] = {}
        #: Band pair key -> when its distance may next cross the radius.
        self._pairs: Wheel[int] = Wheel()
        #: Entity id -> when its walk takes it into another cell.
        self._crossings: Wheel[int] = Wheel()
        self.views = Views(cap)
        #: Full observers, by ``id % CROWD_WALK_RESCAN_TICKS``: rescanned on their turn.
        self._full: list[set[int]] = [set() for _ in range(CROWD_WALK_RESCAN_TICKS)]
        self._ticks = itertools.count()
        #: World time of the last update: how stale the grid may be for :meth:`near`.
        self._updated_at = 0.0

    @property
    def seen(self) -> dict[int, set[int]]:
        """Observer id -> ids of the entities it has been told about (itself included)."""
        return self.views.seen

    # -- who sees whom -------------------------------------------------------------

    def add(
        self, entity: Entity, observer: bool, walks: bool = False
    ) -> tuple[list[Entity], list[int]]:
        """Put *entity* in the world.

        Returns the entities it now sees (empty unless *observer*; itself
        first) and the ids of the other observers that now see it: the
        caller sends them ``ent`` lines.  An observer with *walks* follows
        movement as protocol 2 does (:mod:`mudserver.core.views`).
        """
        eid, now = entity.id, self.clock.time
        self._entities[eid] = entity
        self._band[eid] = set()
        self.grid.file(entity, entity.x, entity.y)
        self.views.add(entity, observer, walks)
        out: Lines = defaultdict(list)
        joined: Joined = []
        self._rescan(entity, now, out, joined)
        if observer:
            self._place(eid)
        self._cross(entity, now, out, joined)  # times its first crossing if it walks
        self.views.join(joined, self._entities)
        told = [oid for oid in out if oid != eid]
        if not observer:
            return [], told
        others = [self._entities[i] for i in self.views.seen[eid] if i != eid]
        return [entity, *others], told

    def remove(self, entity: Entity) -> list[int]:
        """Take *entity* out; return the other observers that must get ``del``.

        An observer that this leaves with a free slot has it filled at the
        next update.
        """
        eid = entity.id
        if self._entities.pop(eid, None) is None:
            return []
        self.grid.remove(entity)
        self._open_grid.remove(entity)
        self._crossings.cancel(eid)
        self._full[eid % CROWD_WALK_RESCAN_TICKS].discard(eid)
        for fid in self._band.pop(eid, ()):
            self._band[fid].discard(eid)
            self._pairs.cancel(pair_key(eid, fid))
        return self.views.remove(eid)

    def in_view(self, observer_id: int) -> list[Entity]:
        """The entities *observer_id* has been told about, itself included."""
        entities = self._entities
        return [entities[i] for i in self.views.seen.get(observer_id, ())]

    def hearers(self, x: float, y: float, radius: float) -> list[int]:
        """Observers within *radius* of (x, y) now: who hears a local ``say``."""
        seen = self.views.seen
        return [e.id for e in self.near(x, y, radius) if e.id in seen]

    def near(self, x: float, y: float, radius: float) -> list[Entity]:
        """Every entity within *radius* of (x, y) now, observer or not.

        Exact after each :meth:`update`; called between a world step and the
        update (a hook of the game), it looks farther by what the fastest
        walk may have taken an entity out of the cell it is filed in.
        """
        slack = self.radius * MARGIN
        late = self.clock.time - self._updated_at
        if late > 0:
            slack += late * self.clock.fastest
        return self.grid.within(x, y, radius, slack)

    # -- the tick ------------------------------------------------------------------

    def update(
        self,
        started: Iterable[Entity] = (),
        stopped: Iterable[Entity] = (),
        arrived: Iterable[Entity] = (),
    ) -> dict[int, list[str]]:
        """After a world step: the lines each observer gets this tick.

        *started* began a walk or changed its destination and walks on;
        *stopped* ended a walk, and *arrived* are those of them that reached
        their destination in this step (the others did not move in it).
        Observers with nothing to hear are left out of the result.  Walk
        changes time their entities' crossings and band pairs anew; then
        the timers due fire (crossings, then band pairs), full observers
        whose turn it is are rescanned, and the movement lines follow.
        """
        now = self.clock.time
        self._updated_at = now
        tick = next(self._ticks)
        started, stopped, arrived = list(started), list(stopped), list(arrived)
        views, entities = self.views, self._entities
        landed = {e.id for e in arrived}
        views.walks_changed(started, arrived, [e for e in stopped if e.id not in landed])
        out: Lines = defaultdict(list)
        joined: Joined = []
        self._settle_slots(now, out, joined)  # slots freed by those who left since
        turned: set[int] = set()
        for e in itertools.chain(started, stopped):
            eid = e.id
            if eid in turned or eid not in entities:
                continue
            turned.add(eid)
            self._cross(e, now, out, joined)
            self._retime(e, now, out, joined)
        for eid in self._crossings.due(now):
            self._cross(entities[eid], now, out, joined)
        for key in self._pairs.due(now):
            self._check(entities[key >> SHIFT], entities[key & LOW], now, out, joined)
        for oid in self._rescans_due(tick):
            self._rescan(entities[oid], now, out, joined)
        self._settle_slots(now, out, joined)
        views.pos_pass(now, out)
        views.arrived(arrived)
        views.walk_pass(started, stopped, out)
        views.join(joined, entities)
        return out
