"""Rescans: everything around one entity measured at once, and the crowd's schedule.

Part of the views (:mod:`mudserver.core.interest`, whose docstring has the
theory).  Between rescans the views are kept by timers
(:mod:`mudserver.core.pairs`); a rescan measures every pair an entity may
be in from scratch.  It comes only:

* when an entity enters the world (a login, a thing added);
* when an observer turns *open* (it has a free slot again, after it was
  full and told of nothing new): its slot is filled at once, and its pairs
  timed;
* for a *full* observer, on a schedule staggered across observers
  (:data:`~mudserver.core.crowd.CROWD_RESCAN_TICKS` while it stands,
  :data:`~mudserver.core.crowd.CROWD_WALK_RESCAN_TICKS` while it walks), to
  pick nearer newcomers: with a cap, a crowd's rescan reads the nearest
  cells only (:func:`~mudserver.core.crowd.nearest`), a bounded amount.

Pure Python.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from mudserver.core.cells import BAND, OUT, CellGeometry
from mudserver.core.crowd import CROWD_RESCAN_TICKS, CROWD_WALK_RESCAN_TICKS, choose, nearest
from mudserver.core.grid import Cell, Grid
from mudserver.core.pairs import Joined
from mudserver.core.views import Lines, Views
from mudserver.core.world import Entity

__all__ = ["Rescans"]


class Rescans:
    """The rescans of :class:`~mudserver.core.interest.Interest` (a mixin)."""

    cap: int | None
    cells: CellGeometry
    grid: Grid
    views: Views
    _r2: float
    _open_grid: Grid
    _random: random.Random
    _wanted: int | None
    _entities: dict[int, Entity]
    _band: dict[int, set[int]]
    _full: list[set[int]]

    if TYPE_CHECKING:  # from Pairs, the other half of Interest

        def _time(
            self,
            eid: int,
            fid: int,
            dx: float,
            dy: float,
            wx: float,
            wy: float,
            in_view: bool,
            now: float,
        ) -> None: ...

        def _unband(self, eid: int, fid: int) -> None: ...

    def _rescans_due(self, tick: int) -> list[int]:
        """The full observers whose turn it is: walkers every
        ``CROWD_WALK_RESCAN_TICKS`` ticks, the others every ``CROWD_RESCAN_TICKS``."""
        if self.cap is None:
            return []
        entities, full = self._entities, self._full
        due = [oid for oid in full[tick % CROWD_WALK_RESCAN_TICKS] if entities[oid].moving]
        for slot in range(tick % CROWD_RESCAN_TICKS, CROWD_WALK_RESCAN_TICKS, CROWD_RESCAN_TICKS):
            due += [oid for oid in full[slot] if not entities[oid].moving]
        return due

    def _place(self, oid: int) -> bool:
        """File observer *oid* as open or full, as its view is now; return whether open."""
        full = self._full[oid % CROWD_WALK_RESCAN_TICKS]
        o = self._entities[oid]
        if self.views.is_open(oid):
            full.discard(oid)
            if oid not in self._open_grid:
                self._open_grid.file_cell(o, self.grid.where(oid))
            return True
        full.add(oid)
        self._open_grid.remove(o)
        return False

    def _settle_slots(self, now: float, out: Lines, joined: Joined) -> None:
        """Observers that turned full or open: refile them, and rescan those open now
        (they were full since they were last rescanned, and told of nothing new):
        their free slots are filled and their pairs timed.  Until none is left."""
        views, entities = self.views, self._entities
        while views.changed:
            changed, views.changed = views.changed, set()
            for oid in sorted(changed):
                if oid in entities and self._place(oid):
                    self._rescan(entities[oid], now, out, joined)

    def _rescan(self, e: Entity, now: float, out: Lines, joined: Joined) -> None:
        """Measure every pair *e* may be in from where it is now, settle and band it.

        An observer then chooses what it is shown (with a cap, the nearest
        of what it found).  A capped observer in a crowd reads its cells
        nearest first and stops once it has found enough within the radius
        (:func:`~mudserver.core.crowd.nearest`); the open observers around
        it and the entities it was told about are read besides.  A thing
        reads only the observers that may see it.  The pairs of those told
        about *e* are timed already (every ``tell`` bands its pair).
        """
        eid = e.id
        if e.moving:
            t = now - e.t0
            ex, ey = e.x0 + e.vx * t, e.y0 + e.vy * t
        else:
            ex, ey = e.x0, e.y0
        views = self.views
        seen, cap = views.seen, self.cap
        e_seen = seen.get(eid)
        observer = e_seen is not None
        cell = self.grid.where(eid)
        visible: dict[int, float] = {}
        measured: set[int] = {eid}
        groups: list[Iterable[tuple[int, Entity]]] = []
        wanted = self._wanted
        if observer and wanted is not None:
            groups.append(
                pair
                for group in nearest(
                    self.grid, cell, self.cells.near_first, wanted, visible, measured, self._random
                )
                for pair in group
            )
        else:
            get = (self.grid if observer else self._open_grid).cells.get
            for off in self.cells.near_first:
                bucket = get(cell + off)
                if bucket:
                    groups.append(bucket.items())
                    measured.update(bucket)
        r2 = self._r2
        #: What may need a band timer: (id, entity, dx, dy, in view).
        met: list[tuple[int, Entity, float, float, bool]] = []
        for group in (*groups, self._around(e, cell, measured, observer, visible)):
            for fid, f in group:
                if fid == eid:
                    continue
                if f.moving:
                    t = now - f.t0
                    dx, dy = f.x0 + f.vx * t - ex, f.y0 + f.vy * t - ey
                else:
                    dx, dy = f.x0 - ex, f.y0 - ey
                d2 = dx * dx + dy * dy
                in_view = d2 <= r2
                if in_view:
                    visible[fid] = d2
                f_seen = seen.get(fid)
                if f_seen is not None:
                    # What f knows of e (a full f is told of nothing new).
                    if in_view is not (eid in f_seen) and (
                        not in_view or cap is None or len(f_seen) <= cap
                    ):
                        views.settle(fid, f_seen, e, in_view, out, joined)
                elif not observer:
                    continue  # two things: neither sees the other
                met.append((fid, f, dx, dy, in_view))
        if e_seen is not None:
            # What e knows: everything visible, or with a cap the nearest of it.
            chosen = (
                choose(e_seen, visible, cap) if cap is not None and len(visible) > cap else visible
            )
            for fid in [i for i in e_seen if i not in chosen and i != eid]:
                views.untell(eid, e_seen, fid, out)
            for fid in [i for i in chosen if i not in e_seen]:
                views.tell(eid, e_seen, self._entities[fid], out, joined)
        self._band_met(e, cell, met, now)

    def _band_met(
        self,
        e: Entity,
        cell: Cell,
        met: list[tuple[int, Entity, float, float, bool]],
        now: float,
    ) -> None:
        """Band and time the pairs a rescan met whose cells are in the band and that can
        change what somebody is told; unband the others it met."""
        eid, cap = e.id, self.cap
        seen = self.views.seen
        e_seen = seen.get(eid)
        every = cap is None or (e_seen is not None and len(e_seen) <= cap)
        band, where, classes, in_open = (
            self._band,
            self.grid.where,
            self.cells.classes,
            self._open_grid,
        )
        e_band = band[eid]
        evx, evy = e.vx, e.vy
        for fid, f, dx, dy, in_view in met:
            if (
                every
                or fid in in_open
                or (e_seen is not None and fid in e_seen)
                or eid in seen.get(fid, ())
            ) and classes.get(where(fid) - cell, OUT) == BAND:
                if fid not in e_band:
                    e_band.add(fid)
                    band[fid].add(eid)
                    self._time(eid, fid, dx, dy, f.vx - evx, f.vy - evy, in_view, now)
            elif fid in e_band:
                self._unband(eid, fid)

    def _around(
        self, e: Entity, cell: Cell, measured: set[int], observer: bool, visible: dict[int, float]
    ) -> Iterator[tuple[int, Entity]]:
        """What a rescan reads after the cells (lazily: once they are read): the open
        observers it did not read (a crowd's rescan stopped early), then what *e* was
        told about, wherever it is."""
        if not observer:
            return
        entities = self._entities
        if self._wanted is not None and len(visible) >= self._wanted:
            get = self._open_grid.cells.get
            for off in self.cells.near_first:
                bucket = get(cell + off)
                if bucket:
                    fresh = [(fid, f) for fid, f in bucket.items() if fid not in measured]
                    measured.update(bucket)
                    yield from fresh
        for fid in self.views.seen[e.id]:
            if fid not in measured:
                yield fid, entities[fid]
