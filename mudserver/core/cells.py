"""The geometry of view cells: which pairs of grid cells are surely in view, surely out, or neither.

The views file every entity in a grid of square cells, ``radius /
CELLS_PER_RADIUS`` wide.  Two entities in cells at offset (dx, dy) from
each other are at least ``dmin`` and at most ``dmax`` apart, whatever their
positions in their cells, so the cell pair alone says:

* ``IN``: ``dmax`` is within the radius: the pair is in view;
* ``OUT``: ``dmin`` is beyond it: out of view;
* ``BAND``: neither: the pair must be timed (its distance may cross the
  radius while both stay in their cells).

These classes are the views' certificates: a pair in ``IN`` or ``OUT``
costs nothing until one of the two walks into another cell.  When one does
(a *crossing*, timed once per walk change), only the partners in the cells
whose class that move changed need a look: :meth:`CellGeometry.transitions`
lists those offsets, a ring of cells on each edge of the band (32 of them
with four cells per radius), not the whole neighbourhood.

Smaller cells make the band thinner (fewer pairs to time at each walk
change) and crossings more frequent; four cells per radius was the least
costly in ``docs/benchmarks.md`` (issue 20).

Pure Python; positions are never read here, only cell numbers.
"""

from __future__ import annotations

import math

from mudserver.core.grid import Cell, offset, split

__all__ = ["BAND", "CELLS_PER_RADIUS", "IN", "OUT", "CellGeometry"]

#: Cells per view radius (the side of a cell is ``radius / CELLS_PER_RADIUS``).
CELLS_PER_RADIUS = 4

IN, BAND, OUT = 0, 1, 2


class CellGeometry:
    """The classes of cell offsets for one radius, and what a move changes."""

    def __init__(self, radius: float, margin: float, per_radius: int = CELLS_PER_RADIUS) -> None:
        """*margin*: how far an entity may be outside its cell (rounding), on each side."""
        self.radius = radius
        self.size = radius / per_radius
        self._margin = margin
        #: Offset (a :data:`~mudserver.core.grid.Cell` difference) -> IN or BAND;
        #: offsets not listed are OUT.
        self.classes: dict[Cell, int] = {}
        reach = per_radius + 2
        near: list[tuple[int, int]] = []
        for dx in range(-reach, reach + 1):
            for dy in range(-reach, reach + 1):
                cls = self._class(dx, dy)
                if cls != OUT:
                    self.classes[offset(dx, dy)] = cls
                    near.append((dx, dy))
        #: The offsets that are not OUT, nearest cell centres first: a crowd's
        #: rescan reads its neighbourhood in this order.
        near.sort(key=lambda o: (o[0] * o[0] + o[1] * o[1], o))
        self.near_first: list[Cell] = [offset(dx, dy) for dx, dy in near]
        self._transitions: dict[Cell, list[tuple[Cell, int, int]]] = {}

    def _class(self, dx: int, dy: int) -> int:
        size, margin, radius = self.size, self._margin, self.radius
        ax, ay = abs(dx), abs(dy)
        near = math.hypot(max(ax - 1, 0) * size, max(ay - 1, 0) * size) - 2 * margin
        far = math.hypot((ax + 1) * size, (ay + 1) * size) + 2 * margin
        if far <= radius:
            return IN
        if near > radius:
            return OUT
        return BAND

    def transitions(self, move: Cell) -> list[tuple[Cell, int, int]]:
        """After an entity moved by the offset *move*: (offset from its new cell, old
        class, new class) of every cell whose class changed."""
        found = self._transitions.get(move)
        if found is None:
            classes = self.classes
            candidates = set(classes)
            candidates.update(o - move for o in classes)
            found = []
            for o in sorted(candidates, key=split):
                old = classes.get(o + move, OUT)
                new = classes.get(o, OUT)
                if old != new:
                    found.append((o, old, new))
            if len(self._transitions) < 4096:  # far jumps are rare: do not keep them all
                self._transitions[move] = found
        return found
