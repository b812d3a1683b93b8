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
  movement changes a distance, so a tick re-examines only pairs where at
  least one side moved: an observer that moved recomputes its whole view
  from the cells around it; an observer that stood still is only checked
  against the moved entities near it or known to it.  Each pair is examined
  once per tick, and an idle world costs nothing.
* Each moved entity's ``pos`` line is formatted once per tick and shared by
  every observer that gets it.

Pure Python, no reactor: the game calls it with entities and gets lines back.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from mudserver import replies
from mudserver.world import Entity

__all__ = ["Grid", "Interest"]

Cell = tuple[int, int]


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

    def near(self, x: float, y: float, radius: float) -> Iterator[Entity]:
        """Every entity in the cells overlapping the square of half-side *radius*.

        A superset of the entities within *radius*; anything not yielded is
        farther than *radius* on x or y.
        """
        size = self.cell_size
        x0, x1 = math.floor((x - radius) / size), math.floor((x + radius) / size)
        y0, y1 = math.floor((y - radius) / size), math.floor((y + radius) / size)
        cells = self._cells
        for cx in range(x0, x1 + 1):
            for cy in range(y0, y1 + 1):
                bucket = cells.get((cx, cy))
                if bucket:
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
    """Who has been told about whom, kept up to date as entities come, go and move."""

    def __init__(self, radius: float) -> None:
        if not radius > 0:
            raise ValueError("radius must be positive")
        self.radius = radius
        self._r2 = radius * radius
        self.grid = Grid(radius)
        #: Observer id -> ids of the entities it has been told about (itself included).
        self.seen: dict[int, set[int]] = {}
        #: Entity id -> ids of the observers that have been told about it.
        self.watchers: dict[int, set[int]] = {}

    def in_view(self, observer: Entity, entity: Entity) -> bool:
        dx, dy = entity.x - observer.x, entity.y - observer.y
        return dx * dx + dy * dy <= self._r2

    def add(self, entity: Entity, observer: bool) -> tuple[list[Entity], list[int]]:
        """Put *entity* in the world.

        Returns the entities it now sees (empty unless *observer*; itself
        included) and the ids of the other observers that now see it: the
        caller sends them ``ent`` lines.
        """
        self.grid.add(entity)
        self.watchers[entity.id] = set()
        near = self.grid.within(entity.x, entity.y, self.radius)
        told = []
        for other in near:
            if other is not entity and other.id in self.seen:
                self.seen[other.id].add(entity.id)
                self.watchers[entity.id].add(other.id)
                told.append(other.id)
        if not observer:
            return [], told
        self.seen[entity.id] = {e.id for e in near}
        for e in near:
            self.watchers[e.id].add(entity.id)
        return near, told

    def remove(self, entity: Entity) -> list[int]:
        """Take *entity* out; return the other observers that must get ``del``."""
        self.grid.remove(entity)
        watchers = self.watchers.pop(entity.id, set())
        seen = self.seen.pop(entity.id, set())
        for observer_id in watchers:
            if observer_id != entity.id:
                self.seen[observer_id].discard(entity.id)
        for entity_id in seen:
            known_by = self.watchers.get(entity_id)
            if known_by is not None:
                known_by.discard(entity.id)
        watchers.discard(entity.id)
        return list(watchers)

    def update(self, moved: list[Entity]) -> dict[int, list[str]]:
        """After *moved* changed position: the lines each observer gets this tick.

        Observers with nothing to hear are left out of the result.
        """
        if not moved:
            return {}
        grid, seen, watchers = self.grid, self.seen, self.watchers
        radius, r2 = self.radius, self._r2
        pos_line: dict[int, str] = {}
        for e in moved:
            grid.move(e)
            pos_line[e.id] = replies.pos(e)
        out: dict[int, list[str]] = {}
        moved_observers = [e for e in moved if e.id in seen]
        moving = {e.id for e in moved_observers}

        # Observers that moved: their whole view is recomputed from the grid.
        for o in moved_observers:
            ox, oy, oid = o.x, o.y, o.id
            old = seen[oid]
            new: set[int] = set()
            lines: list[str] = []
            for e in grid.near(ox, oy, radius):
                dx, dy = e.x - ox, e.y - oy
                if dx * dx + dy * dy <= r2:
                    eid = e.id
                    new.add(eid)
                    if eid in old:
                        line = pos_line.get(eid)
                        if line is not None:
                            lines.append(line)
                    else:
                        lines.append(replies.ent(e))
                        watchers[eid].add(oid)
            if len(new) != len(old) or not new.issuperset(old):
                for eid in old - new:
                    lines.append(replies.delete(eid))
                    watchers[eid].discard(oid)
            seen[oid] = new
            if lines:
                out[oid] = lines

        # Observers that stood still: only the moved entities near them or
        # known to them can have changed what they see.
        for e in moved:
            ex, ey, eid = e.x, e.y, e.id
            line = pos_line[eid]
            known_by = watchers[eid]
            checked: set[int] = set()
            for o in grid.near(ex, ey, radius):
                oid = o.id
                if oid in moving or oid not in seen:
                    continue
                checked.add(oid)
                dx, dy = ex - o.x, ey - o.y
                if dx * dx + dy * dy <= r2:
                    if oid in known_by:
                        out.setdefault(oid, []).append(line)
                    else:
                        out.setdefault(oid, []).append(replies.ent(e))
                        known_by.add(oid)
                        seen[oid].add(eid)
                elif oid in known_by:
                    out.setdefault(oid, []).append(replies.delete(eid))
                    known_by.discard(oid)
                    seen[oid].discard(eid)
            gone = [oid for oid in known_by if oid not in checked and oid not in moving]
            for oid in gone:
                out.setdefault(oid, []).append(replies.delete(eid))
                known_by.discard(oid)
                seen[oid].discard(eid)
        return out

    def hearers(self, x: float, y: float, radius: float) -> list[int]:
        """Observers within *radius* of (x, y): who hears a local ``say``."""
        return [e.id for e in self.grid.within(x, y, radius) if e.id in self.seen]
