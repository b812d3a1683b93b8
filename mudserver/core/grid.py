"""A uniform grid over the ground plane: who is near a point, in a few dict reads.

Used by :mod:`mudserver.core.interest`; pure Python.
"""

from __future__ import annotations

import math

from mudserver.core.world import Entity

__all__ = ["Cell", "Grid"]

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

    def file(self, entity: Entity, x: float, y: float) -> None:
        """File *entity* under the cell of (x, y): where it is, or its anchor."""
        size = self.cell_size
        cell = (math.floor(x / size), math.floor(y / size))
        old = self._where.get(entity.id)
        if cell == old:
            return
        if old is not None:
            bucket = self._cells[old]
            del bucket[entity.id]
            if not bucket:
                del self._cells[old]
        bucket = self._cells.get(cell)
        if bucket is None:
            self._cells[cell] = {entity.id: entity}
        else:
            bucket[entity.id] = entity
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

    def within_square(self, x: float, y: float, half: float) -> list[Cell]:
        """The non-empty cells overlapping the square of half-side *half* around (x, y).

        Together a superset of the entities within *half*; anything not in
        them is farther than *half* on x or y.
        """
        size = self.cell_size
        x0, x1 = math.floor((x - half) / size), math.floor((x + half) / size) + 1
        y0, y1 = math.floor((y - half) / size), math.floor((y + half) / size) + 1
        cells = self._cells
        return [(cx, cy) for cx in range(x0, x1) for cy in range(y0, y1) if (cx, cy) in cells]

    def bucket(self, cell: Cell) -> dict[int, Entity]:
        """The entities filed under *cell*, by id (the cell must be non-empty)."""
        return self._cells[cell]

    def within(self, x: float, y: float, radius: float, slack: float = 0.0) -> list[Entity]:
        """The entities at most *radius* from (x, y) on the ground plane, where they are now.

        *slack*: how far an entity may be from where it is filed (its anchor).
        """
        r2 = radius * radius
        found = []
        cells = self._cells
        for cell in self.within_square(x, y, radius + slack):
            for e in cells[cell].values():
                dx, dy = e.x - x, e.y - y
                if dx * dx + dy * dy <= r2:
                    found.append(e)
        return found
