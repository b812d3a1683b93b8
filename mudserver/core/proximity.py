"""Proximity traps: a thing is told when a player comes within a radius of it, and leaves.

As KBEngine's ``addProximity``: a game author puts a *trap* of some radius
around a *holder* (an NPC, a door, a pressure plate), and after each world
step :meth:`Proximity.update` lists every *target* (a player) that came
within the radius of a holder, or went beyond it, since the last update.
A target is inside when its distance to the holder on the ground plane is
at most the radius at the end of a step; holders and targets may both walk.

Theory of operation
===================

The same certificates as the views (:mod:`mudserver.core.interest`), for
pairs of a holder and a target only:

* **Anchors** (:mod:`mudserver.core.anchors`): each holder and target has an
  anchor, where it stood when its pairs were last classified, and a timer
  for when its walk takes it farther than its trigger (at most ``slack``)
  from there; it is then *rescanned*: anchored anew, and every pair it may
  be in is measured.  A pair whose anchors are farther than ``2 * slack``
  from the trap's radius cannot change until one side is rescanned.
* **The band.**  The other pairs, whose anchors' distance is within
  ``2 * slack`` of the radius, have a timer of their own: when their
  distance crosses the radius, as both walk now, is a root of a quadratic
  (:mod:`mudserver.core.kinetics`).  A walk change times its band pairs
  anew; nothing is measured between timers.
* **Grids** of holders and of targets, filed by anchor, find what a rescan
  must measure.

So a trap nobody is near costs nothing, a player far from every trap costs
one cheap rescan each time it strays (a few seconds of walking), and the
cost of the rest follows the events: walk changes, strays and crossings.

Pure Python, no reactor: the game calls :meth:`Proximity.update` after each
world step and calls its hooks with what it returns.
"""

from __future__ import annotations

import math
import random

from mudserver.core.anchors import Anchors, ground
from mudserver.core.grid import Grid
from mudserver.core.kinetics import MARGIN, NEXT_STEP, entry_time, exit_time
from mudserver.core.wheel import Wheel
from mudserver.core.world import Entity, World

__all__ = ["Proximity", "SLACK"]

#: How far a holder or target may stray from its anchor before a rescan, as
#: a share of the largest radius: the views' trade-off (:mod:`interest`).
SLACK = 1 / 6

#: A little more than exact, against rounding in the band's bounds.
ROUNDING = 1e-9

#: A pair's key: the holder's id in the high bits, the target's in the low ones.
_SHIFT = 32
_LOW = (1 << _SHIFT) - 1

Change = tuple[Entity, Entity, bool]


class Proximity:
    """Traps around holders, targets that enter and leave them.

    *max_radius* (the view radius) bounds every trap's radius; *world* gives
    the time and the walk changes of each step (here, or to each
    :meth:`update`); *seed* makes the random triggers of a run repeatable.
    """

    def __init__(self, max_radius: float, world: World | None = None, seed: int = 0) -> None:
        if not max_radius > 0:
            raise ValueError("max_radius must be positive")
        self.world = world
        self.max_radius = max_radius
        self._anchors = Anchors(max_radius * SLACK, random.Random(seed))
        #: How near the radius two anchors must be for their pair to be in the band.
        self._band = 2 * self._anchors.slack + max_radius * ROUNDING
        #: Holder id -> (holder, radius, squared radius).
        self._traps: dict[int, tuple[Entity, float, float]] = {}
        self._targets: dict[int, Entity] = {}
        #: Holders and targets, filed by anchor.
        self._holder_grid = Grid(max_radius)
        self._target_grid = Grid(max_radius)
        #: Holder id -> the targets inside its trap, by id.
        self._inside: dict[int, dict[int, Entity]] = {}
        #: Target id -> ids of the holders whose traps it is inside.
        self._holding: dict[int, set[int]] = {}
        #: Band pairs, from each side: holder id -> target ids, target id -> holder ids.
        self._band_of_holder: dict[int, set[int]] = {}
        self._band_of_target: dict[int, set[int]] = {}
        #: Band pair key -> when its distance may next cross the radius.
        self._pairs: Wheel[int] = Wheel()
        #: Added since the last update: rescanned by the next one.
        self._fresh: dict[int, Entity] = {}
        #: Pair key -> entered, the changes of the update under way.
        self._changes: dict[int, bool] = {}

    # -- traps and targets -----------------------------------------------------------

    def add_trap(self, holder: Entity, radius: float) -> None:
        """Put a trap of *radius* around *holder* (replacing one it had).

        Targets already inside are reported as entering at the next update.
        """
        if not 0 < radius <= self.max_radius:
            raise ValueError(f"a trap's radius must be more than 0 and at most {self.max_radius}")
        if holder.id in self._traps:
            self.remove_trap(holder)
        hid = holder.id
        self._traps[hid] = (holder, radius, radius * radius)
        self._inside[hid] = {}
        self._band_of_holder[hid] = set()
        self._fresh[hid] = holder

    def remove_trap(self, holder: Entity) -> None:
        """Take *holder*'s trap away; nothing is reported for the targets inside."""
        hid = holder.id
        if self._traps.pop(hid, None) is None:
            return
        self._holder_grid.remove(holder)
        for tid in self._inside.pop(hid):
            self._holding[tid].discard(hid)
        for tid in self._band_of_holder.pop(hid):
            self._band_of_target[tid].discard(hid)
            self._pairs.cancel(hid << _SHIFT | tid)
        if hid not in self._targets:
            self._untrack(hid)

    def add_target(self, entity: Entity) -> None:
        """Let *entity* (a player that joined) set off traps, from the next update on."""
        if entity.id in self._targets:
            return
        tid = entity.id
        self._targets[tid] = entity
        self._holding[tid] = set()
        self._band_of_target[tid] = set()
        self._fresh[tid] = entity

    def remove_target(self, entity: Entity) -> list[Entity]:
        """Stop tracking *entity*; return the holders of the traps it was inside, by id.

        No change is reported for them by :meth:`update`: the caller knows.
        """
        tid = entity.id
        if self._targets.pop(tid, None) is None:
            return []
        self._target_grid.remove(entity)
        holders = sorted(self._holding.pop(tid))
        for hid in holders:
            del self._inside[hid][tid]
        for hid in self._band_of_target.pop(tid):
            self._band_of_holder[hid].discard(tid)
            self._pairs.cancel(hid << _SHIFT | tid)
        if tid not in self._traps:
            self._untrack(tid)
        return [self._traps[hid][0] for hid in holders]

    def _untrack(self, eid: int) -> None:
        self._anchors.drop(eid)
        self._fresh.pop(eid, None)

    def inside(self, holder: Entity) -> list[Entity]:
        """The targets inside *holder*'s trap as of the last update, by id."""
        inside = self._inside.get(holder.id, {})
        return [inside[tid] for tid in sorted(inside)]

    # -- the step ----------------------------------------------------------------------

    def update(self, world: World | None = None) -> list[Change]:
        """After a world step: (holder, target, entered) for each change since the last update.

        By holder id; for each holder, the targets that left, then those that
        entered, each by id.  *world*: the world that stepped, if not given
        at construction.
        """
        if world is not None:
            self.world = world
        if self.world is None:
            raise ValueError("Proximity.update needs the world that stepped")
        world = self.world
        now = world.time
        done: set[int] = set()
        fresh, self._fresh = self._fresh, {}
        for e in fresh.values():
            self._rescan(e, now)
            done.add(e.id)
        anchors = self._anchors
        for e in (*world.started, *world.stopped):
            eid = e.id
            if eid in done or eid not in anchors:
                continue
            if anchors.walk_changed(e, now):
                self._rescan(e, now)
                done.add(eid)
            else:
                self._walk_changed(e, now)
        for eid in anchors.due(now):
            e = self._entity(eid)
            if e is not None:
                self._rescan(e, now)
        traps, targets = self._traps, self._targets
        for key in self._pairs.due(now):
            self._check(traps[key >> _SHIFT], targets[key & _LOW], now)
        changes, self._changes = self._changes, {}
        order = sorted(changes, key=lambda key: (key >> _SHIFT, changes[key], key & _LOW))
        return [(traps[key >> _SHIFT][0], targets[key & _LOW], changes[key]) for key in order]

    def _entity(self, eid: int) -> Entity | None:
        trap = self._traps.get(eid)
        return trap[0] if trap is not None else self._targets.get(eid)

    def _walk_changed(self, e: Entity, now: float) -> None:
        """*e* walks differently but has not strayed: time its band pairs anew."""
        eid, traps, targets = e.id, self._traps, self._targets
        trap = traps.get(eid)
        if trap is not None:
            for tid in list(self._band_of_holder[eid]):
                self._check(trap, targets[tid], now)
        if eid in targets:
            for hid in list(self._band_of_target[eid]):
                self._check(traps[hid], e, now)

    # -- measuring ---------------------------------------------------------------------

    def _settle(self, holder: Entity, target: Entity, inside: bool) -> None:
        """Make the record of (holder, target) say *inside*; note the change."""
        hid, tid = holder.id, target.id
        holder_inside = self._inside[hid]
        if inside is (tid in holder_inside):
            return
        if inside:
            holder_inside[tid] = target
            self._holding[tid].add(hid)
        else:
            del holder_inside[tid]
            self._holding[tid].discard(hid)
        key = hid << _SHIFT | tid
        if self._changes.pop(key, None) is None:  # back where it was: no change to report
            self._changes[key] = inside

    def _check(self, trap: tuple[Entity, float, float], target: Entity, now: float) -> None:
        """Measure a band pair, settle it, and time when it may next cross the radius."""
        holder, radius, r2 = trap
        hx, hy = ground(holder, now)
        tx, ty = ground(target, now)
        px, py = tx - hx, ty - hy
        inside = px * px + py * py <= r2
        self._settle(holder, target, inside)
        wx, wy = target.vx - holder.vx, target.vy - holder.vy
        if inside:
            t = exit_time(px, py, wx, wy, (radius * (1 - MARGIN)) ** 2)
        else:
            t = entry_time(px, py, wx, wy, (radius * (1 + MARGIN)) ** 2)
        key = holder.id << _SHIFT | target.id
        if math.isinf(t):
            self._pairs.cancel(key)
        else:
            self._pairs.schedule(key, now + (t or NEXT_STEP))

    def _rescan(self, e: Entity, now: float) -> None:
        """Anchor *e* where it is and classify every pair it may be in."""
        x, y = ground(e, now)
        self._anchors.anchor(e, x, y, now)
        eid = e.id
        trap = self._traps.get(eid)
        if trap is not None:
            self._holder_grid.file(e, x, y)
            radius = trap[1]
            partners = self._band_of_holder[eid] | self._inside[eid].keys()
            grid = self._target_grid
            for cell in grid.within_square(x, y, radius + self._band):
                partners.update(grid.bucket(cell))
            targets = self._targets
            for tid in partners:
                if tid != eid:
                    self._classify(trap, targets[tid], x, y, now, holder_side=True)
        if eid in self._targets:
            self._target_grid.file(e, x, y)
            partners = self._band_of_target[eid] | self._holding[eid]
            grid = self._holder_grid
            for cell in grid.within_square(x, y, self.max_radius + self._band):
                partners.update(grid.bucket(cell))
            traps = self._traps
            for hid in partners:
                if hid != eid:
                    self._classify(traps[hid], e, x, y, now, holder_side=False)

    def _classify(
        self,
        trap: tuple[Entity, float, float],
        target: Entity,
        x: float,
        y: float,
        now: float,
        holder_side: bool,
    ) -> None:
        """Settle a pair met by a rescan from (x, y); band pairs get a timer, others none."""
        holder, radius, _ = trap
        other = target if holder_side else holder
        ox, oy, _ = self._anchors.where[other.id]
        anchors_apart = math.sqrt((ox - x) * (ox - x) + (oy - y) * (oy - y))
        hid, tid = holder.id, target.id
        if abs(anchors_apart - radius) <= self._band:
            self._band_of_holder[hid].add(tid)
            self._band_of_target[tid].add(hid)
            self._check(trap, target, now)
            return
        # Surely inside or surely outside until one of them strays: measured once.
        self._band_of_holder[hid].discard(tid)
        self._band_of_target[tid].discard(hid)
        self._pairs.cancel(hid << _SHIFT | tid)
        px, py = ground(other, now)
        self._settle(holder, target, (px - x) * (px - x) + (py - y) * (py - y) <= trap[2])
