"""The band and the cell crossings: the timed events that keep views exact between rescans.

Part of the views (:mod:`mudserver.core.interest`, whose docstring has the
theory).  Two kinds of timer, both computed once per walk change:

* **A cell crossing** (:meth:`Pairs._cross`): when a walker's walk takes it
  into another grid cell.  Then only the cells whose class (``IN``,
  ``BAND``, ``OUT``: :mod:`mudserver.core.cells`) the move changed are read,
  and each pair met there is banded (timed) or unbanded (settled once,
  surely in or surely out until the next crossing of either side).
* **A band pair** (:meth:`Pairs._check`): when the distance of a pair in
  the band may cross the radius.  The timer measures the pair, settles
  what each side was told, and times the next crossing.

With a crowd cap, only pairs that can change what somebody is told are
kept in the band: those with an open observer, and those where one side
was told about the other (every ``tell`` bands its pair).  A full observer
crossing a cell reads the open observers' grid and the entities it was
told about or told of, not a crowd's every member.

Pure Python.
"""

from __future__ import annotations

import math

from mudserver.core.cells import BAND, OUT, CellGeometry
from mudserver.core.grid import STRIDE, Cell, Grid
from mudserver.core.kinetics import NEXT_STEP, entry_time, exit_time
from mudserver.core.views import Lines, Views
from mudserver.core.wheel import Wheel
from mudserver.core.world import Entity

__all__ = ["LOW", "SHIFT", "Joined", "Pairs", "pair_key"]

#: A pair's key: the lower id in the high bits, the higher in the low ones.
SHIFT = 32
LOW = (1 << SHIFT) - 1
_INF = math.inf

Joined = list[tuple[int, int]]


def pair_key(a: int, b: int) -> int:
    return a << SHIFT | b if a < b else b << SHIFT | a


class Pairs:
    """The band pairs and crossings of :class:`~mudserver.core.interest.Interest` (a mixin)."""

    cap: int | None
    cells: CellGeometry
    grid: Grid
    views: Views
    _r2: float
    _exit2: float
    _entry2: float
    _size: float
    _open_grid: Grid
    _entities: dict[int, Entity]
    _band: dict[int, set[int]]
    _pairs: Wheel[int]
    _crossings: Wheel[int]

    def _check(self, e: Entity, f: Entity, now: float, out: Lines, joined: Joined) -> None:
        """Measure a band pair, settle what each side was told, time its next crossing.

        A pair that can no longer change what anybody is told (two full
        observers, or a thing and a full observer, neither told about the
        other) leaves the band: a rescan brings it back when it matters.
        The hottest code of the views (every walk change times its band
        pairs): :meth:`_settle` and :meth:`_time`, inlined.
        """
        if e.moving:
            t = now - e.t0
            ex, ey = e.x0 + e.vx * t, e.y0 + e.vy * t
        else:
            ex, ey = e.x0, e.y0
        if f.moving:
            t = now - f.t0
            dx, dy = f.x0 + f.vx * t - ex, f.y0 + f.vy * t - ey
        else:
            dx, dy = f.x0 - ex, f.y0 - ey
        in_view = dx * dx + dy * dy <= self._r2
        eid, fid = e.id, f.id
        views = self.views
        seen = views.seen
        f_seen, e_seen = seen.get(fid), seen.get(eid)
        if f_seen is not None and in_view is not (eid in f_seen):
            views.settle(fid, f_seen, e, in_view, out, joined)
        if e_seen is not None and in_view is not (fid in e_seen):
            views.settle(eid, e_seen, f, in_view, out, joined)
        cap = self.cap
        if cap is not None and not (
            (e_seen is not None and (len(e_seen) <= cap or fid in e_seen))
            or (f_seen is not None and (len(f_seen) <= cap or eid in f_seen))
        ):
            self._unband(eid, fid)
            return
        wx, wy = f.vx - e.vx, f.vy - e.vy
        if in_view:
            t = exit_time(dx, dy, wx, wy, self._exit2)
        else:
            t = entry_time(dx, dy, wx, wy, self._entry2)
        key = eid << SHIFT | fid if eid < fid else fid << SHIFT | eid
        if t == _INF:
            self._pairs.cancel(key)
        else:
            self._pairs.schedule(key, now + (t or NEXT_STEP))

    def _retime(self, e: Entity, now: float, out: Lines, joined: Joined) -> None:
        """*e*'s walk changed: measure, settle and time every band pair it is in.

        :meth:`_check` for each of them, with what they share computed once:
        a walk change is the most frequent event of a walking world.
        """
        eid = e.id
        e_band = self._band[eid]
        if not e_band:
            return
        if e.moving:
            t = now - e.t0
            ex, ey = e.x0 + e.vx * t, e.y0 + e.vy * t
        else:
            ex, ey = e.x0, e.y0
        evx, evy = e.vx, e.vy
        entities, views, cap = self._entities, self.views, self.cap
        seen = views.seen
        e_seen = seen.get(eid)
        r2, exit2, entry2 = self._r2, self._exit2, self._entry2
        schedule, cancel = self._pairs.schedule, self._pairs.cancel
        idle: list[int] = []
        for fid in e_band:
            f = entities[fid]
            if f.moving:
                t = now - f.t0
                dx, dy = f.x0 + f.vx * t - ex, f.y0 + f.vy * t - ey
            else:
                dx, dy = f.x0 - ex, f.y0 - ey
            in_view = dx * dx + dy * dy <= r2
            f_seen = seen.get(fid)
            if f_seen is not None and in_view is not (eid in f_seen):
                views.settle(fid, f_seen, e, in_view, out, joined)
            if e_seen is not None and in_view is not (fid in e_seen):
                views.settle(eid, e_seen, f, in_view, out, joined)
            if cap is not None and not (
                (e_seen is not None and (len(e_seen) <= cap or fid in e_seen))
                or (f_seen is not None and (len(f_seen) <= cap or eid in f_seen))
            ):
                idle.append(fid)
                continue
            if in_view:
                t = exit_time(dx, dy, f.vx - evx, f.vy - evy, exit2)
            else:
                t = entry_time(dx, dy, f.vx - evx, f.vy - evy, entry2)
            key = eid << SHIFT | fid if eid < fid else fid << SHIFT | eid
            if t == _INF:
                cancel(key)
            else:
                schedule(key, now + (t or NEXT_STEP))
        for fid in idle:
            self._unband(eid, fid)

    def _settle(
        self, e: Entity, f: Entity, now: float, out: Lines, joined: Joined
    ) -> tuple[float, float, bool]:
        """Measure (e, f) and make what each side was told agree; return (dx, dy, in view)."""
        if e.moving:
            t = now - e.t0
            ex, ey = e.x0 + e.vx * t, e.y0 + e.vy * t
        else:
            ex, ey = e.x0, e.y0
        if f.moving:
            t = now - f.t0
            dx, dy = f.x0 + f.vx * t - ex, f.y0 + f.vy * t - ey
        else:
            dx, dy = f.x0 - ex, f.y0 - ey
        in_view = dx * dx + dy * dy <= self._r2
        views = self.views
        seen = views.seen
        f_seen = seen.get(f.id)
        if f_seen is not None and in_view is not (e.id in f_seen):
            views.settle(f.id, f_seen, e, in_view, out, joined)
        e_seen = seen.get(e.id)
        if e_seen is not None and in_view is not (f.id in e_seen):
            views.settle(e.id, e_seen, f, in_view, out, joined)
        return dx, dy, in_view

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
    ) -> None:
        """Time when the pair (relative position d, velocity w) may next cross the radius."""
        if in_view:
            t = exit_time(dx, dy, wx, wy, self._exit2)
        else:
            t = entry_time(dx, dy, wx, wy, self._entry2)
        key = eid << SHIFT | fid if eid < fid else fid << SHIFT | eid
        if t == _INF:
            self._pairs.cancel(key)
        else:
            self._pairs.schedule(key, now + (t or NEXT_STEP))

    def _band_pair(self, e: Entity, f: Entity, now: float, out: Lines, joined: Joined) -> None:
        """Put (e, f) in the band, measured, settled and timed."""
        self._band[e.id].add(f.id)
        self._band[f.id].add(e.id)
        self._check(e, f, now, out, joined)

    def _unband(self, eid: int, fid: int) -> None:
        self._band[eid].discard(fid)
        self._band[fid].discard(eid)
        self._pairs.cancel(pair_key(eid, fid))

    # -- crossings -----------------------------------------------------------------

    def _cross(self, e: Entity, now: float, out: Lines, joined: Joined) -> None:
        """Refile *e* in the cell it is in now, settle the pairs whose class that changed,
        and time when its walk takes it out of that cell."""
        eid = e.id
        vx, vy = e.vx, e.vy
        if e.moving:
            t = now - e.t0
            x, y = e.x0 + vx * t, e.y0 + vy * t
        else:
            x, y = e.x0, e.y0
        size = self._size
        cx, cy = math.floor(x / size), math.floor(y / size)
        new = cx * STRIDE + cy
        old = self.grid.where(eid)
        if new != old:
            self.grid.file_cell(e, new)
            if eid in self._open_grid:
                self._open_grid.file_cell(e, new)
            self._moved_cell(e, old, new, now, out, joined)
        if not (vx or vy):
            self._crossings.cancel(eid)
            return
        when = _INF
        if vx > 0:
            when = ((cx + 1) * size - x) / vx
        elif vx < 0:
            when = (cx * size - x) / vx
        if vy > 0:
            when = min(when, ((cy + 1) * size - y) / vy)
        elif vy < 0:
            when = min(when, (cy * size - y) / vy)
        # At a border already (rounding): the next step finds it across.
        self._crossings.schedule(eid, now + (when if when > 0 else NEXT_STEP))

    def _moved_cell(
        self, e: Entity, old: Cell, new: Cell, now: float, out: Lines, joined: Joined
    ) -> None:
        """*e* went from cell *old* to *new*: every pair whose class changed, and that can
        change what somebody is told, is banded (timed) or unbanded (settled once)."""
        eid = e.id
        views = self.views
        e_seen = views.seen.get(eid)
        e_open = e_seen is not None and (self.cap is None or len(e_seen) <= self.cap)
        # An open observer is in a pair with everything; otherwise only with
        # open observers and with those it was told about or told of.
        get = (self.grid if e_open else self._open_grid).cells.get
        for off, _, new_class in self.cells.transitions(new - old):
            bucket = get(new + off)
            if bucket:
                for fid, f in bucket.items():
                    if fid != eid:
                        self._reclass(e, f, new_class, now, out, joined)
        if e_open:
            return
        told = views.watchers[eid].union(e_seen or ())
        told.discard(eid)
        if not told:
            return
        where, classes, entities = self.grid.where, self.cells.classes, self._entities
        in_open = self._open_grid
        for fid in told:
            if fid in in_open:
                continue  # read above, with the open observers
            cell = where(fid)
            new_class = classes.get(cell - new, OUT)
            if classes.get(cell - old, OUT) != new_class:
                self._reclass(e, entities[fid], new_class, now, out, joined)

    def _reclass(
        self, e: Entity, f: Entity, new_class: int, now: float, out: Lines, joined: Joined
    ) -> None:
        if new_class == BAND:
            self._band_pair(e, f, now, out, joined)
        else:
            self._settle(e, f, now, out, joined)  # where it surely is now
            self._unband(e.id, f.id)
