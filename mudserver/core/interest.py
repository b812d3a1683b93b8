"""Interest management: which entities each player is told about.

A player is told about the entities within ``radius`` of it on the ground
plane (x, y): ``ent`` when one comes into view, ``pos`` while it moves in
view, ``del`` when it leaves view or the world.  Telling everybody about
everything costs a tick the square of the players; this module keeps the
cost proportional to the entities that moved and their neighbours.

How:

* A uniform :class:`Grid` of square cells one radius wide buckets every
  entity, so "who is near (x, y)" looks at 3 x 3 cells, not the world.
* :class:`Interest` remembers, for each observer, the ids it has been told
  about (``seen``) and, for each entity, who knows it (``watchers``).  Only
  movement changes a distance, so a tick looks only at pairs with a moved
  side, each pair once for both directions (distance is symmetric), and
  only at the pairs near the edge of view at that (see :class:`Interest`).
  An idle world costs nothing.
* Each moved entity's ``pos`` line is formatted once per tick and shared by
  every observer that gets it.

Pure Python, no reactor: the game calls it with entities and gets lines back.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator

from mudserver.core.world import Entity
from mudserver.wire import replies

__all__ = ["Grid", "Interest"]

Cell = tuple[int, int]

#: How far an entity may stray from its anchor before a rescan, as a share of
#: the view radius.  More slack means fewer rescans but more band pairs to
#: measure every tick; between 1/20 and 1/10 the total cost hardly changes.
SLACK = 1 / 20

#: An entity is rescanned after straying between ``JITTER_LOW * slack`` and
#: ``slack``, drawn anew each time.  With one fixed distance, players walking
#: at one speed rescan in lockstep groups that a late tick merges for good
#: (every player moves further in it): a 2,000-player bench saw 10 to 750
#: rescans per tick instead of an even ~180.  The jitter spreads them again.
JITTER_LOW = 0.8

#: What a non-observer has seen.
_NOTHING: frozenset[int] = frozenset()


class Grid:
    """Entities bucketed into square cells of the ground plane."""

    def __init__(self, cell_size: float) -> None:
        if not cell_size > 0:
            raise ValueError("cell_size must be positive")
        self.cell_size = cell_size
        self._cells: dict[Cell, dict[int, Entity]] = {}
        #: The cell each entity was last filed under, by entity id.
        self._where: dict[int, Cell] = {}

    def __len__(self) -> int:
        return len(self._where)

    def cell_of(self, x: float, y: float) -> Cell:
        size = self.cell_size
        return (math.floor(x / size), math.floor(y / size))

    def add(self, entity: Entity) -> None:
        cell = self.cell_of(entity.x, entity.y)
        self._cells.setdefault(cell, {})[entity.id] = entity
        self._where[entity.id] = cell

    def remove(self, entity: Entity) -> None:
        cell = self._where.pop(entity.id, None)
        if cell is None:
            return
        bucket = self._cells[cell]
        del bucket[entity.id]
        if not bucket:
            del self._cells[cell]

    def move(self, entity: Entity) -> None:
        """Refile *entity* after its position changed (cheap when the cell did not)."""
        cell = self.cell_of(entity.x, entity.y)
        old = self._where.get(entity.id)
        if cell == old:
            return
        if old is not None:
            bucket = self._cells[old]
            del bucket[entity.id]
            if not bucket:
                del self._cells[old]
        self._cells.setdefault(cell, {})[entity.id] = entity
        self._where[entity.id] = cell

    def buckets_near(self, x: float, y: float, radius: float) -> list[dict[int, Entity]]:
        """The non-empty cells overlapping the square of half-side *radius*, as id -> entity.

        Together a superset of the entities within *radius*; anything not in
        them is farther than *radius* on x or y.  Cells, not entities, so the
        hot loop of a rescan iterates plain dicts.
        """
        size = self.cell_size
        x0, x1 = math.floor((x - radius) / size), math.floor((x + radius) / size) + 1
        y0, y1 = math.floor((y - radius) / size), math.floor((y + radius) / size) + 1
        cells = self._cells
        return [
            bucket
            for cx in range(x0, x1)
            for cy in range(y0, y1)
            if (bucket := cells.get((cx, cy)))
        ]

    def near(self, x: float, y: float, radius: float) -> Iterator[Entity]:
        """Every entity in the cells overlapping the square of half-side *radius*."""
        for bucket in self.buckets_near(x, y, radius):
            yield from bucket.values()

    def within(self, x: float, y: float, radius: float) -> list[Entity]:
        """The entities at most *radius* from (x, y) on the ground plane."""
        r2 = radius * radius
        found = []
        for e in self.near(x, y, radius):
            dx, dy = e.x - x, e.y - y
            if dx * dx + dy * dy <= r2:
                found.append(e)
        return found


class Interest:
    """Who has been told about whom, kept up to date as entities come, go and move.

    Exact, but lazy about pairs whose answer cannot change: each entity has
    an *anchor*, where it stood when its pairs were last classified, and is
    reclassified ("rescanned") once it strays from it by more than its
    trigger, a random distance of at most ``slack`` (see ``JITTER_LOW``).
    Two entities both within ``slack`` of their anchors are within
    ``2 * slack`` of their anchors' distance, so a pair whose anchors are
    more than that away from the radius is surely in view (or surely out)
    until one of them is rescanned.  Only the remaining *band* pairs are
    measured on every tick that moves them; a moved entity's ``pos`` goes
    to its sure watchers without any arithmetic.
    """

    def __init__(self, radius: float) -> None:
        if not radius > 0:
            raise ValueError("radius must be positive")
        self.radius = radius
        self._r2 = radius * radius
        #: How far an entity walks from its anchor before it is rescanned.
        self.slack = radius * SLACK
        hair = radius * 1e-9  # a little more, against rounding
        band = 2 * self.slack + hair
        self._band_lo2 = max(0.0, radius - band) ** 2
        self._band_hi2 = (radius + band) ** 2
        #: How far a rescan looks: every partner whose anchor may be in the band.
        self._reach = radius + band + self.slack
        #: A partner whose distance is outside these bounds cannot have its
        #: anchor in the band: no anchor is more than ``slack`` from its entity
        #: (a partner that strayed further is rescanned later in the same tick).
        self._maybe_band_lo2 = max(0.0, radius - band - self.slack - hair) ** 2
        self._maybe_band_hi2 = (self._reach + hair) ** 2
        self.grid = Grid(radius)
        self._entities: dict[int, Entity] = {}
        #: Entity id -> (x, y, d2): where it was last rescanned, and the squared
        #: distance from there that sets off its next rescan.
        self._anchor: dict[int, tuple[float, float, float]] = {}
        #: Draws the rescan triggers; seeded, so that a run can be repeated.
        self._random = random.Random(0)
        #: Entity id -> ids of the partners whose pair is in the band (symmetric).
        self._band: dict[int, set[int]] = {}
        #: Observer id -> ids of the entities it has been told about (itself included).
        self.seen: dict[int, set[int]] = {}
        #: Entity id -> ids of the observers that have been told about it.
        self.watchers: dict[int, set[int]] = {}

    def add(self, entity: Entity, observer: bool) -> tuple[list[Entity], list[int]]:
        """Put *entity* in the world.

        Returns the entities it now sees (empty unless *observer*; itself
        first) and the ids of the other observers that now see it: the
        caller sends them ``ent`` lines.
        """
        eid = entity.id
        self.grid.add(entity)
        self._entities[eid] = entity
        self._band[eid] = set()
        self.watchers[eid] = set()
        if observer:
            self.seen[eid] = {eid}
            self.watchers[eid].add(eid)
        out: defaultdict[int, list[str]] = defaultdict(list)
        joined: list[tuple[int, int]] = []
        self._rescan(entity, out, set(), joined)
        for entity_id, observer_id in joined:
            self.watchers[entity_id].add(observer_id)
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
        for fid in self._band.pop(eid, set()):
            self._band[fid].discard(eid)
        watchers = self.watchers.pop(eid, set())
        seen = self.seen.pop(eid, set())
        for observer_id in watchers:
            if observer_id != eid:
                self.seen[observer_id].discard(eid)
        for entity_id in seen:
            known_by = self.watchers.get(entity_id)
            if known_by is not None:
                known_by.discard(eid)
        watchers.discard(eid)
        return list(watchers)

    def update(self, moved: list[Entity]) -> dict[int, list[str]]:
        """After *moved* changed position: the lines each observer gets this tick.

        Observers with nothing to hear are left out of the result.  Three
        passes: rescans and band pairs settle who sees whom (``ent``/``del``),
        then each moved entity's ``pos`` goes to everybody who already knew
        it, with no test per observer.  Pairs made this tick join
        ``watchers`` only after that, so they get the ``ent`` alone.
        """
        if not moved:
            return {}
        anchor, grid = self._anchor, self.grid
        where, size, refile = grid._where, grid.cell_size, grid.move
        floor, pos = math.floor, replies.pos
        pos_line: dict[int, str] = {}
        strayed: list[Entity] = []
        for e in moved:
            eid, x, y = e.id, e.x, e.y
            if where[eid] != (floor(x / size), floor(y / size)):
                refile(e)
            pos_line[eid] = pos(e)
            ax, ay, trigger2 = anchor[eid]
            if (x - ax) * (x - ax) + (y - ay) * (y - ay) > trigger2:
                strayed.append(e)
        # A defaultdict: ``setdefault(oid, [])`` would build and drop a list
        # for each of the ~15 lines per observer per tick.
        out: defaultdict[int, list[str]] = defaultdict(list)
        joined: list[tuple[int, int]] = []
        rescanned = {e.id for e in strayed}
        done: set[int] = set()
        for e in strayed:
            self._rescan(e, out, done, joined)
            done.add(e.id)
        entities, band, watchers, r2 = self._entities, self._band, self.watchers, self._r2
        examine = self._examine
        for e in moved:
            eid = e.id
            e_band = band[eid]
            if not e_band or eid in rescanned:
                continue
            ex, ey, e_watchers = e.x, e.y, watchers[eid]
            for fid in e_band:
                if fid in rescanned or (fid < eid and fid in pos_line):
                    continue  # examined by f's rescan, or from f's side
                f = entities[fid]
                dx, dy = f.x - ex, f.y - ey
                in_view = dx * dx + dy * dy <= r2
                if in_view is not (fid in e_watchers) or in_view is not (eid in watchers[fid]):
                    examine(e, f, in_view, out, joined)
        for e in moved:
            line = pos_line[e.id]
            for oid in watchers[e.id]:
                out[oid].append(line)
        for eid, oid in joined:
            watchers[eid].add(oid)
        return out

    def _examine(
        self,
        e: Entity,
        f: Entity,
        in_view: bool,
        out: defaultdict[int, list[str]],
        joined: list[tuple[int, int]],
    ) -> None:
        """Tell each observer of the pair (e, f) that the other came into or left view.

        A new pair goes to *joined*, for the caller to add to ``watchers``
        once this tick's ``pos`` lines are out.  The two mirrored halves stay
        written out: this is the hot path, and a helper call per half costs a
        measurable share.
        """
        eid, fid = e.id, f.id
        seen, watchers = self.seen, self.watchers
        f_seen = seen.get(fid)
        if f_seen is not None:  # what f knows of e
            if eid in f_seen:
                if not in_view:
                    out[fid].append(replies.delete(eid))
                    f_seen.discard(eid)
                    watchers[eid].discard(fid)
            elif in_view:
                out[fid].append(replies.ent(e))
                f_seen.add(eid)
                joined.append((eid, fid))
        e_seen = seen.get(eid)
        if e_seen is not None:  # what e knows of f
            if fid in e_seen:
                if not in_view:
                    out[eid].append(replies.delete(fid))
                    e_seen.discard(fid)
                    watchers[fid].discard(eid)
            elif in_view:
                out[eid].append(replies.ent(f))
                e_seen.add(fid)
                joined.append((fid, eid))

    def _rescan(
        self,
        e: Entity,
        out: defaultdict[int, list[str]],
        done: set[int],
        joined: list[tuple[int, int]],
    ) -> None:
        """Anchor *e* where it stands, measure every pair it may be in, reclassify.

        Pairs with an entity in *done* (rescanned earlier this tick) were
        measured then; they are only reclassified.
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
        watchers, r2, examine = self.watchers, self._r2, self._examine
        e_watchers = watchers[eid]
        e_seen = self.seen.get(eid, _NOTHING)  # e knows f: eid in watchers[fid]
        near: set[int] = set()
        for bucket in self.grid.buckets_near(ex, ey, self._reach):
            near.update(bucket)
            for fid, f in bucket.items():
                if fid == eid:
                    continue
                dx, dy = f.x - ex, f.y - ey
                d2 = dx * dx + dy * dy
                if fid not in done:
                    in_view = d2 <= r2
                    if in_view is not (fid in e_watchers) or in_view is not (fid in e_seen):
                        examine(e, f, in_view, out, joined)
                if maybe_lo2 <= d2 <= maybe_hi2:
                    fx, fy, _ = anchor[fid]
                    da2 = (fx - ex) * (fx - ex) + (fy - ey) * (fy - ey)
                    if lo2 <= da2 <= hi2:
                        e_band.add(fid)
                        band[fid].add(eid)
        # Known pairs beyond the reach are out of view.
        for oid in [o for o in e_watchers if o not in near]:
            out[oid].append(replies.delete(eid))
            self.seen[oid].discard(eid)
            e_watchers.discard(oid)
        if e_seen is not _NOTHING:
            for fid in [i for i in e_seen if i not in near]:
                out[eid].append(replies.delete(fid))
                e_seen.discard(fid)
                watchers[fid].discard(eid)

    def hearers(self, x: float, y: float, radius: float) -> list[int]:
        """Observers within *radius* of (x, y): who hears a local ``say``."""
        return [e.id for e in self.grid.within(x, y, radius) if e.id in self.seen]
