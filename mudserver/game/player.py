"""A player as game code sees it: a name, a place, the game's data on it, a way to tell it things.

Game code never holds a connection: a :class:`Player` is a small handle the
runtime makes when a player joins and marks gone when it leaves, so a hook
that keeps one (a greeter remembering who it greeted) cannot write to a
closed connection or keep a session alive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mudserver.core.world import Entity

__all__ = ["Placed", "Player"]


class Placed:
    """Where a player or a thing is: read from its entity in the world, never stored twice."""

    __slots__ = ()
    _entity: Entity

    @property
    def position(self) -> tuple[float, float, float]:
        """Where it is now."""
        return self._entity.position

    @property
    def x(self) -> float:
        return self._entity.x

    @property
    def y(self) -> float:
        return self._entity.y

    @property
    def z(self) -> float:
        return self._entity.z

    def distance_to(self, other: Placed) -> float:
        """Distance to *other* on the ground plane."""
        return ((other.x - self.x) ** 2 + (other.y - self.y) ** 2) ** 0.5


class Player(Placed):
    """A player in the world, for game code.  Compare players with ``==`` or by ``name``."""

    __slots__ = ("_account_data", "_entity", "_tell", "online")

    def __init__(self, entity: Entity, data: dict[str, Any], tell: Callable[[str], None]) -> None:
        self._entity = entity
        self._account_data = data
        self._tell = tell
        #: False once the player has left the game; what it was told after that is dropped.
        self.online = True

    def __repr__(self) -> str:
        return f"<Player {self.name} #{self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Player) and other._entity is self._entity

    def __hash__(self) -> int:
        return self._entity.id

    @property
    def id(self) -> int:
        """Its entity id, as clients see it (``ent``, ``pos``)."""
        return self._entity.id

    @property
    def name(self) -> str:
        """Its account name, spelled as when the account was made."""
        return self._entity.name

    @property
    def data(self) -> dict[str, Any]:
        """The game's own state on this player: a dict of JSON values, saved with its position.

        Change it in place (``player.data["apples"] = 3``); it is saved at
        logout, with the autosave, and at shutdown, in either store, and is
        here again at the next login (on any shard).  Keep it small
        (``--max-player-data``) and JSON-able: a value JSON cannot hold is not
        saved (the log says so) and the last good data is kept instead.
        """
        return self._account_data

    def tell(self, text: str) -> None:
        """Send *text* to this player alone, from the game itself (``msg 0,,text``)."""
        if self.online:
            self._tell(text)
