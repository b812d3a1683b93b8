"""What a client has been told about the world, kept up to date.

The server never answers "where is everybody?"; it tells each client once
(``wel`` + ``ent``) and then sends changes (``ent``, ``pos``, ``del``).
:class:`WorldMirror` folds those messages into a table a bot or a UI can
read at any time.  It is sans-IO: feed it messages with :meth:`apply`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mudserver.client.messages import Bye, Delete, Entity, Message, Position, Welcome

__all__ = ["Thing", "WorldMirror"]


@dataclass
class Thing:
    """One entity as last reported by the server (positions rounded to 0.01)."""

    id: int
    kind: str
    name: str
    x: float
    y: float
    z: float

    @property
    def position(self) -> tuple[float, float, float]:
        return (self.x, self.y, self.z)


class WorldMirror:
    """Entities by id, plus which one is this client's own player."""

    def __init__(self) -> None:
        self.entities: dict[int, Thing] = {}
        #: The id from the last ``wel``; ``None`` before login and after ``bye``.
        self.self_id: int | None = None

    def __len__(self) -> int:
        return len(self.entities)

    def __iter__(self) -> Iterator[Thing]:
        return iter(list(self.entities.values()))

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self.entities

    def get(self, entity_id: int) -> Thing | None:
        return self.entities.get(entity_id)

    @property
    def me(self) -> Thing | None:
        """This client's own player, once logged in."""
        return None if self.self_id is None else self.entities.get(self.self_id)

    def by_name(self, name: str) -> Thing | None:
        """The entity called *name* (account names are case-insensitive)."""
        wanted = name.lower()
        return next((t for t in self.entities.values() if t.name.lower() == wanted), None)

    def apply(self, message: Message) -> Thing | None:
        """Fold one server message in; return the entity it touched, if any.

        For ``del`` the returned entity is the one just forgotten, so a UI can
        still say who left.
        """
        match message:
            case Welcome(id=entity_id, name=name, x=x, y=y, z=z):
                # A new login is a new view of the world: the ent lines that
                # follow list everything, so nothing old is worth keeping.
                self.entities.clear()
                self.self_id = entity_id
                thing = Thing(entity_id, "player", name, x, y, z)
                self.entities[entity_id] = thing
                return thing
            case Entity(id=entity_id, kind=kind, name=name, x=x, y=y, z=z):
                thing = Thing(entity_id, kind, name, x, y, z)
                self.entities[entity_id] = thing
                return thing
            case Position(id=entity_id, x=x, y=y, z=z):
                found = self.entities.get(entity_id)
                if found is not None:
                    found.x, found.y, found.z = x, y, z
                return found
            case Delete(id=entity_id):
                return self.entities.pop(entity_id, None)
            case Bye():
                self.entities.clear()
                self.self_id = None
        return None
