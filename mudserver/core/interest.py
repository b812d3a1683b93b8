"""Interest management: which entities each player is told about.

Theory of operation
===================

A player is told about the entities within ``radius`` of it on the ground
plane (x, y): ``ent`` when one comes into view, movement lines while it is
in view, ``del`` when it leaves view or the world.  Two things keep that
cheap however many players there are:

* **A uniform grid.**  :class:`~mudserver.core.grid.Grid` buckets every
  entity into square cells one radius wide, so "who is near (x, y)" reads a
  few cells instead of the world.
* **Anchors and a band.**  Only movement changes a distance.  Each entity
  has an *anchor*, where it stood when its pairs were last classified, and
  is reclassified (*rescanned*) once it strays from it by more than its
  trigger, a random distance of at most ``slack``.  Two entities both within
  ``slack`` of their anchors are within ``2 * slack`` of their anchors'
  distance, so a pair whose anchors are farther than that from the radius
  is surely in view (or surely out) until one side is rescanned.  Only the
  remaining *band* pairs are measured on every tick that moves them.  An
  idle world costs nothing.

**The crowd cap.**  With ``cap`` = K, an observer is told about at most K
others, nearest preferred, and a crowd costs each rescan a bounded amount
of work: :mod:`mudserver.core.crowd` says how.  With fewer than K entities
within the radius the view is exact: everything within the radius, and
nothing else.

**Two ways to follow movement.**  A protocol-1 observer gets a ``pos``
line for every entity in view that moved this tick; a protocol-2 observer
(``walks=True``) gets a ``wlk`` line when a walk starts or changes
destination and a ``pos`` line when it ends, and nothing in between.
``watchers[e]`` holds every observer told about e; ``steppers[e]`` the
protocol-1 ones among them, so the per-tick ``pos`` pass touches only
those.

Pure Python, no reactor: the game calls it with entities and gets lines back.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator

from mudserver.core.crowd import CANDIDATES_PER_SLOT, CROWD_RESCAN_TICKS, choose, nearest
from mudserver.core.grid import Grid
from mudserver.core.world import Entity
from mudserver.wire import replies

__all__ = ["Interest"]

Lines = defaultdict[int, list[str]]

#: How far an entity may stray from its anchor before a rescan, as a share of
#: the view radius.  More slack means fewer rescans but more band pairs to
#: measure every tick.  1/6 against 1/20, in-process (benchmarks/core_tick.py,
#: thread CPU per tick): 2,000 scattered walkers about the same (10-12 ms),
#: 10,000 walkers on 10,000² 53 -> 47 ms, 2,000 at the spawn point on
#: protocol 2 29 -> 10 ms, where rescans (every nearest-K choice) dominate.
SLACK = 1 / 6

#: An entity is rescanned after straying between ``JITTER_LOW * slack`` and
#: ``slack``, drawn anew each time.  With one fixed distance, players walking
#: at one speed rescan in lockstep groups that a late tick merges for good
#: (every player moves further in it): a 2,000-player bench saw 10 to 750
#: rescans per tick instead of an even ~180.  The jitter spreads them again.
JITTER_LOW = 0.8

#: A little more than exact, against rounding in the band's bounds.
ROUNDING = 1e-9


class Interest:
    """Who has been told about whom, kept up to date as entities come, go and move.

    See the module's theory of operation.  *cap* is the most entities an
    observer is told about besides itself (``None``: no limit); *seed*
    makes the random choices of a run repeatable.
    """

    def __init__(self, radius: float, cap: int | None = None, seed: int = 0) -> None:
        if not radius > 0:
            raise ValueError("radius must be positive")
        if cap is not None and cap < 1:
            raise ValueError("cap must be at least 1")
        self.radius = radius
        self.cap = cap
        self._r2 = radius * radius
        #: How far an entity walks from its anchor before it is rescanned.
        self.slack = radius * SLACK
        band = 2 * self.slack + radius * ROUNDING
        self._band_lo2 = max(0.0, radius - band) ** 2
        self._band_hi2 = (radius + band) ** 2
        #: How far a rescan looks: every partner whose anchor may be in the band.
        self._reach = radius + band + self.slack
        #: A partner whose distance is outside these bounds cannot have its
        #: anchor in the band: no anchor is more than ``slack`` from its entity
        #: (a partner that strayed further is rescanned later in the same tick).
        self._maybe_band_lo2 = max(0.0, radius - band - self.slack - radius * ROUNDING) ** 2
        self._maybe_band_hi2 = (self._reach + radius * ROUNDING) ** 2
        self.grid = Grid(radius)
        #: Partners within the radius a capped rescan looks for before it stops.
        self._wanted = None if cap is None else cap * CANDIDATES_PER_SLOT
        self._entities: dict[int, Entity] = {}
        #: Entity id -> (x, y, d2): where it was last rescanned, and the squared
        #: distance from there that sets off its next rescan.
        self._anchor: dict[int, tuple[float, float, float]] = {}
        #: Draws the rescan triggers and crowd samples; seeded, so a run repeats.
        self._random = random.Random(seed)
        #: Entity id -> ids of the partners whose pair is in the band (symmetric).
        self._band: dict[int, set[int]] = {}
        #: Observer id -> ids of the entities it has been told about (itself included).
        self.seen: dict[int, set[int]] = {}
        #: Entity id -> ids of the observers that have been told about it.
        self.watchers: dict[int, set[int]] = {}
        #: Entity id -> the protocol-1 observers among its watchers (see module doc).
        self.steppers: dict[int, set[int]] = {}
        #: Observers that follow walks (protocol 2) instead of every step.
        self._walk_observers: set[int] = set()
        #: Crowded observers, by ``id % CROWD_RESCAN_TICKS``: rescanned on their turn.
        self._crowded: list[set[int]] = [set() for _ in range(CROWD_RESCAN_TICKS)]
        #: Crowded observers that lost an entity: rescanned next tick.
        self._recheck: set[int] = set()
        self._ticks = itertools.count()

    # -- who sees whom -------------------------------------------------------------

    def add(
        self, entity: Entity, observer: bool, walks: bool = False
    ) -> tuple[list[Entity], list[int]]:
        """Put *entity* in the world.

        Returns the entities it now sees (empty unless *observer*; itself
        first) and the ids of the other observers that now see it: the
        caller sends them ``ent`` lines.  An observer with *walks* follows
        movement as protocol 2 does (see the module doc).
        """
        eid = entity.id
        self.grid.add(entity)
        self._entities[eid] = entity
        self._band[eid] = set()
        self.watchers[eid] = set()
        self.steppers[eid] = set()
        if observer:
            self.seen[eid] = {eid}
            self.watchers[eid].add(eid)
            if walks:
                self._walk_observers.add(eid)
            else:
                self.steppers[eid].add(eid)
        out: Lines = defaultdict(list)
        joined: list[tuple[int, int]] = []
        self._rescan(entity, out, set(), joined)
        self._join(joined)
        told = [oid for oid in out if oid != eid]
        if not observer:
            return [], told
        others = [self._entities[i] for i in self.seen[eid] if i != eid]
        return [entity, *others], told

    def remove(self, entity: Entity) -> list[int]:
        """Take *entity* out; return the other observers that must get ``del``."""
        eid = entity.id
        self.grid.remove(entity)
        self._entities.pop(eid, None)
        self._anchor.pop(eid, None)
        self._walk_observers.discard(eid)
        self._crowded[eid % CROWD_RESCAN_TICKS].discard(eid)
        self._recheck.discard(eid)
        for fid in self._band.pop(eid, set()):
            self._band[fid].discard(eid)
        self.steppers.pop(eid, None)
        watchers = self.watchers.pop(eid, set())
        seen = self.seen.pop(eid, set())
        for observer_id in watchers:
            if observer_id != eid:
                self.seen[observer_id].discard(eid)
                self._freed(observer_id)
        for entity_id in seen:
            if entity_id in self.watchers:
                self.watchers[entity_id].discard(eid)
                self.steppers[entity_id].discard(eid)
        watchers.discard(eid)
        return list(watchers)

    def in_view(self, observer_id: int) -> list[Entity]:
        """The entities *observer_id* has been told about, itself included."""
        entities = self._entities
        return [entities[i] for i in self.seen.get(observer_id, ())]

    def hearers(self, x: float, y: float, radius: float) -> list[int]:
        """Observers within *radius* of (x, y): who hears a local ``say``."""
        return [e.id for e in self.grid.within(x, y, radius) if e.id in self.seen]

    def near(self, x: float, y: float, radius: float) -> list[Entity]:
        """Every entity within *radius* of (x, y), observer or not."""
        return self.grid.within(x, y, radius)

    # -- the tick ------------------------------------------------------------------

    def update(
        self,
        moved: list[Entity],
        started: Iterable[Entity] = (),
        stopped: Iterable[Entity] = (),
    ) -> dict[int, list[str]]:
        """After a step: the lines each observer gets this tick.

        *moved* changed position; *started* began a walk or changed its
        destination and walks on; *stopped* ended a walk.  Observers with
        nothing to hear are left out of the result.  Rescans and band pairs
        settle who sees whom (``ent``/``del``); then each moved entity's
        ``pos`` goes to its protocol-1 watchers and each walk change to its
        protocol-2 ones, with no test per observer.  Pairs made this tick
        join ``watchers`` only after that, so they get the ``ent`` (and the
        ``wlk`` that follows it) alone.
        """
        tick = next(self._ticks)
        due = self._crowded[tick % CROWD_RESCAN_TICKS]
        if not moved and not due and not self._recheck and not started and not stopped:
            return {}
        anchor, grid = self._anchor, self.grid
        where, size, refile = grid._where, grid.cell_size, grid.move
        floor = math.floor
        strayed: list[Entity] = []
        moved_ids: set[int] = set()
        for e in moved:
            eid, x, y = e.id, e.x, e.y
            moved_ids.add(eid)
            if where[eid] != (floor(x / size), floor(y / size)):
                refile(e)
            ax, ay, trigger2 = anchor[eid]
            if (x - ax) * (x - ax) + (y - ay) * (y - ay) > trigger2:
                strayed.append(e)
        rescanned = {e.id for e in strayed}
        entities = self._entities
        # A crowded observer that walks is rescanned as it strays anyway.
        due = [oid for oid in due if (o := entities.get(oid)) is not None and o.dest is None]
        for oid in itertools.chain(due, self._recheck):
            if oid not in rescanned and oid in entities:
                rescanned.add(oid)
                strayed.append(entities[oid])
        self._recheck = set()
        # A defaultdict: ``setdefault(oid, [])`` would build and drop a list
        # for each of the ~15 lines per observer per tick.
        out: Lines = defaultdict(list)
        joined: list[tuple[int, int]] = []
        done: set[int] = set()
        for e in strayed:
            self._rescan(e, out, done, joined)
            done.add(e.id)
        self._band_pass(moved, moved_ids, rescanned, out, joined)
        pos = replies.pos
        steppers = self.steppers
        for e in moved:
            stepping = steppers[e.id]
            if stepping:
                line = pos(e)
                for oid in stepping:
                    out[oid].append(line)
        self._walk_pass(started, stopped, out)
        self._join(joined)
        return out

    def _band_pass(
        self,
        moved: list[Entity],
        moved_ids: set[int],
        rescanned: set[int],
        out: Lines,
        joined: list[tuple[int, int]],
    ) -> None:
        """Measure the band pairs of the moved entities that were not rescanned."""
        entities, band, seen, r2 = self._entities, self._band, self.seen, self._r2
        watchers = self.watchers
        for e in moved:
            eid = e.id
            e_band = band[eid]
            if not e_band or eid in rescanned:
                continue
            ex, ey, e_watchers = e.x, e.y, watchers[eid]
            for fid in e_band:
                if fid in rescanned or (fid < eid and fid in moved_ids):
                    continue  # measured by f's rescan, or from f's side
                f = entities[fid]
                dx, dy = f.x - ex, f.y - ey
                in_view = dx * dx + dy * dy <= r2
                # Watchers lag seen only for pairs made this tick, in view.
                if in_view is (fid in e_watchers) and in_view is (eid in watchers[fid]):
                    continue
                f_seen = seen.get(fid)
                if f_seen is not None and in_view is not (eid in f_seen):
                    self._settle(fid, f_seen, e, in_view, out, joined)
                e_seen = seen.get(eid)
                if e_seen is not None and in_view is not (fid in e_seen):
                    self._settle(eid, e_seen, f, in_view, out, joined)

    def _walk_pass(self, started: Iterable[Entity], stopped: Iterable[Entity], out: Lines) -> None:
        """Tell protocol-2 watchers of each walk that started, changed or ended."""
        walkers = self._walk_observers
        if not walkers:
            return
        watchers = self.watchers
        for lines_of, entities in ((replies.wlk, started), (replies.pos, stopped)):
            for e in entities:
                known_by = watchers.get(e.id)
                if not known_by:
                    continue
                line = lines_of(e)
                for oid in known_by:
                    if oid in walkers:
                        out[oid].append(line)

    # -- telling and untelling -----------------------------------------------------

    def _settle(
        self,
        oid: int,
        o_seen: set[int],
        e: Entity,
        in_view: bool,
        out: Lines,
        joined: list[tuple[int, int]],
    ) -> None:
        """Observer *oid*'s knowledge of *e* disagrees with *in_view*: fix it if allowed.

        Leaving view always tells; coming into view tells only an observer
        with a free slot (a full one picks newcomers at its rescans).
        """
        if not in_view:
            self._untell(oid, o_seen, e.id, out)
        elif self.cap is None or len(o_seen) <= self.cap:
            self._tell(oid, o_seen, e, out, joined)
        else:  # more in view than shown: look for nearer ones on its turn
            self._crowded[oid % CROWD_RESCAN_TICKS].add(oid)

    def _tell(
        self, oid: int, o_seen: set[int], e: Entity, out: Lines, joined: list[tuple[int, int]]
    ) -> None:
        o_seen.add(e.id)
        lines = out[oid]
        lines.append(replies.ent(e))
        if e.dest is not None and oid in self._walk_observers:
            lines.append(replies.wlk(e))
        joined.append((e.id, oid))

    def _untell(self, oid: int, o_seen: set[int], eid: int, out: Lines) -> None:
        o_seen.discard(eid)
        self.watchers[eid].discard(oid)
        self.steppers[eid].discard(oid)
        out[oid].append(replies.delete(eid))
        self._freed(oid)

    def _freed(self, oid: int) -> None:
        """*oid* lost an entity: if it was crowded, fill the slot next tick."""
        if self.cap is not None and oid in self._crowded[oid % CROWD_RESCAN_TICKS]:
            self._recheck.add(oid)

    def _join(self, joined: list[tuple[int, int]]) -> None:
        """Add this tick's new pairs to ``watchers`` (those not undone since)."""
        seen, watchers, steppers, walkers = self.seen, self.watchers, self.steppers, None
        for eid, oid in joined:
            o_seen = seen.get(oid)
            if o_seen is None or eid not in o_seen or eid not in watchers:
                continue
            watchers[eid].add(oid)
            if walkers is None:
                walkers = self._walk_observers
            if oid not in walkers:
                steppers[eid].add(oid)

    # -- rescans -------------------------------------------------------------------

    def _partners(
        self, e: Entity, visible: dict[int, float]
    ) -> Iterable[Iterable[tuple[int, Entity]]]:
        """What a rescan of *e* measures, as groups of (id, entity) pairs.

        The cells within reach, then the partners of the pairs *e* is in
        that those cells did not hold.  With a cap and more in the cells
        than it wants, the nearest cells only (:func:`~mudserver.core.crowd.nearest`).
        """
        bucket_of = self.grid.bucket
        buckets = [bucket_of(c) for c in self.grid.within_square(e.x, e.y, self._reach)]
        wanted = self._wanted
        if wanted is not None and sum(map(len, buckets)) > wanted + 1:
            return self._nearest_partners(e, wanted, visible)
        measured = {k for bucket in buckets for k in bucket}
        groups: list[Iterable[tuple[int, Entity]]] = [bucket.items() for bucket in buckets]
        groups.append(self._known_elsewhere(e.id, measured))
        return groups

    def _nearest_partners(
        self, e: Entity, wanted: int, visible: dict[int, float]
    ) -> Iterator[Iterable[tuple[int, Entity]]]:
        measured: set[int] = set()
        yield from nearest(self.grid, e, self._reach, wanted, visible, measured, self._random)
        yield self._known_elsewhere(e.id, measured)

    def _known_elsewhere(self, eid: int, measured: set[int]) -> list[tuple[int, Entity]]:
        """The partners of the pairs *eid* is in that are not in *measured*.

        A rescan settles every pair of the entity it anchors anew, wherever
        the partner is (beyond reach: out of view).
        """
        entities = self._entities
        known = self.watchers[eid].union(self.seen.get(eid, ()))
        known.difference_update(measured)
        known.discard(eid)
        return [(fid, entities[fid]) for fid in known]

    def _rescan(
        self,
        e: Entity,
        out: Lines,
        done: set[int],
        joined: list[tuple[int, int]],
    ) -> None:
        """Anchor *e* where it stands, measure the pairs it may be in, reclassify.

        Pairs with an entity in *done* (rescanned earlier this tick) were
        measured then from the other side; only e's own view and the band
        are settled again for them.  With a cap, the nearest cells are read
        until enough partners within the radius are found (of a cell larger
        than what is still wanted, a random window), then the pairs e is
        already in, wherever they are.
        """
        eid, ex, ey = e.id, e.x, e.y
        trigger = self.slack * self._random.uniform(JITTER_LOW, 1.0)
        self._anchor[eid] = (ex, ey, trigger * trigger)
        band, anchor, lo2, hi2 = self._band, self._anchor, self._band_lo2, self._band_hi2
        maybe_lo2, maybe_hi2 = self._maybe_band_lo2, self._maybe_band_hi2
        e_band = band[eid]
        for fid in e_band:
            band[fid].discard(eid)
        # Cleared, not replaced: a new set per rescan would live long enough
        # to reach the oldest GC generation and set off full collections.
        e_band.clear()
        seen, r2, cap, crowded = self.seen, self._r2, self.cap, self._crowded
        e_watchers = self.watchers[eid]
        e_seen = seen.get(eid)
        entities = self._entities
        #: Partners within the radius, with their squared distance.
        visible: dict[int, float] = {}
        for items in self._partners(e, visible):
            for fid, f in items:
                if fid == eid:
                    continue
                dx, dy = f.x - ex, f.y - ey
                d2 = dx * dx + dy * dy
                in_view = d2 <= r2
                if in_view:
                    visible[fid] = d2
                # What f knows of e: watchers lag seen only for pairs made
                # this tick, which are in view, so this test finds every change.
                if in_view is not (fid in e_watchers) and fid not in done:
                    f_seen = seen.get(fid)
                    if f_seen is not None and in_view is not (eid in f_seen):
                        if in_view and cap is not None and len(f_seen) > cap:
                            crowded[fid % CROWD_RESCAN_TICKS].add(fid)  # _settle, inlined
                        else:
                            self._settle(fid, f_seen, e, in_view, out, joined)
                if maybe_lo2 <= d2 <= maybe_hi2:
                    fx, fy, _ = anchor[fid]
                    da2 = (fx - ex) * (fx - ex) + (fy - ey) * (fy - ey)
                    if lo2 <= da2 <= hi2:
                        e_band.add(fid)
                        band[fid].add(eid)
        if e_seen is None:
            return
        # What e knows: everything visible, or with a cap the nearest of it.
        if cap is not None and len(visible) > cap:
            chosen = choose(e_seen, visible, cap)
            crowded[eid % CROWD_RESCAN_TICKS].add(eid)
        else:
            chosen = visible.keys()
            if cap is not None:
                crowded[eid % CROWD_RESCAN_TICKS].discard(eid)
        for fid in [i for i in e_seen if i not in chosen and i != eid]:
            self._untell(eid, e_seen, fid, out)
        for fid in [i for i in chosen if i not in e_seen]:
            self._tell(eid, e_seen, entities[fid], out, joined)
        # Its own choice freed no slot that it should look at again.
        self._recheck.discard(eid)
