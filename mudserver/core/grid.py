"""A uniform grid over the ground plane: who is near a point, in a few dict reads.

A cell is one integer, ``cx * STRIDE + cy`` for the cell ``(cx, cy)``, so
that the cell at offset ``(dx, dy)`` from another is the other plus
``dx * STRIDE + dy``: the views read the cells around an entity by adding
precomputed offsets, without building a tuple per cell
(:mod:`mudserver.core.cells`).

Used by the views (:mod:`mudserver.core.interest`) and the proximity traps;
pure Python.
"""

from __future__ import annotations

import math

from mudserver.core.world import Entity

__all__ = ["STRIDE", "Cell", "Grid", "offset", "split"]

#: Cell numbers along y are below half of this in size (2^31 cells each way).
STRIDE = 1 << 32
_HALF = STRIDE >> 1

#: A cell, or an offset between cells, as one integer.
Cell = int


def offset(dx: int, dy: int) -> Cell:
    """The integer for the cell (dx, dy), or the offset (dx, dy) between two cells."""
    return dx * STRIDE + dy


def split(cell: Cell) -> tuple[int, int]:
    """The (cx, cy) of a cell (or an offset) from its integer."""
    cy = (cell + _HALF) % STRIDE - _HALF
    return ((cell - cy) // STRIDE, cy)


class Grid:
    """Entities bucketed into square cells of the ground plane."""

    def __init__(self, cell_size: float) -> None:
        if not cell_size > 0:
            raise ValueError("cell_size must be positive")
        self.cell_size = cell_size
        #: Cell -> the entities filed there, by id (read it; change it through the methods).
        self.cells: dict[Cell, dict[int, Entity]] = {}
        #: The cell each entity was last filed under, by entity id.
        self._where: dict[int, Cell] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._where

    def where(self, entity_id: int) -> Cell:
        """The cell *entity_id* is filed under."""
        return self._where[entity_id]

    def cell_of(self, x: float, y: float) -> Cell:
        size = self.cell_size
        return math.floor(x / size) * STRIDE + math.floor(y / size)

    def file(self, entity: Entity, x: float, y: float) -> None:
        """File *entity* under the cell of (x, y): where it is, or its anchor."""
        size = self.cell_size
        self.file_cell(entity, math.floor(x / size) * STRIDE + math.floor(y / size))

    def file_cell(self, entity: Entity, cell: Cell) -> None:
        """File *entity* under *cell*."""
        eid = entity.id
        old = self._where.get(eid)
        if cell == old:
            return
        cells = self.cells
        if old is not None:
            bucket = cells[old]
            del bucket[eid]
            if not bucket:
                del cells[old]
        bucket = cells.get(cell)
        if bucket is None:
            cells[cell] = {eid: entity}
        else:
            bucket[eid] = entity
        self._where[eid] = cell

    def remove(self, entity: Entity) -> None:
        cell = self._where.pop(entity.id, None)
        if cell is None:
            return
        bucket = self.cells[cell]
        del bucket[entity.id]
        if not bucket:
            del self.cells[cell]

    def within_square(self, x: float, y: float, half: float) -> list[Cell]:
        """The non-empty cells overlapping the square of half-side *half* around (x, y).

        Together a superset of the entities within *half*; anything not in
        them is farther than *half* on x or y.
        """
        size = self.cell_size
        x0, x1 = math.floor((x - half) / size), math.floor((x + half) / size) + 1
        y0, y1 = math.floor((y - half) / size), math.floor((y + half) / size) + 1
        cells = self.cells
        return [
            key
            for cx in range(x0, x1)
            for key in range(cx * STRIDE + y0, cx * STRIDE + y1)
            if key in cells
        ]

    def get(self, cell: Cell) -> dict[int, Entity] | None:
        """The entities filed under *cell*, by id, or ``None`` if it is empty."""
        return self.cells.get(cell)

    def bucket(self, cell: Cell) -> dict[int, Entity]:
        """The entities filed under *cell*, by id (the cell must be non-empty)."""
        return self.cells[cell]

    def within(self, x: float, y: float, radius: float, slack: float = 0.0) -> list[Entity]:
        """The entities at most *radius* from (x, y) on the ground plane, where they are now.

        *slack*: how far an entity may be from where it is filed.
        """
        r2 = radius * radius
        found = []
        cells = self.cells
        for cell in self.within_square(x, y, radius + slack):
            for e in cells[cell].values():
                dx, dy = e.x - x, e.y - y
                if dx * dx + dy * dy <= r2:
                    found.append(e)
        return found
