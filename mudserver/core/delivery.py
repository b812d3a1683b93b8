"""Who is told what: one interface, two ways to decide, chosen once at start.

The game asks a :class:`Delivery` what a player who just joined sees, who
must hear of a thing or player that arrived or left, who hears a local
``say``, what is near a spot, and what each player gets at the end of a
tick.  Players *observe* (they are told what they see); the things of the
game (its NPCs, creatures and objects) are seen but see nothing.  Two
implementations answer:

* :class:`ViewDelivery` (``--mode interest``, the default): a player is told
  about the entities within its view radius, at most ``--max-in-view`` of
  them (see :mod:`mudserver.core.interest`).
* :class:`BroadcastDelivery` (``--mode broadcast``): everybody is told about
  everything, the quadratic way servers start with, kept to compare.

Both speak both protocol versions: a player that *walks* (protocol 2) gets
``wlk`` when a walk starts or changes and ``pos`` when it ends; the others
get a ``pos`` line for every step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from mudserver.core.interest import Interest
from mudserver.core.world import Entity, World
from mudserver.wire import replies

__all__ = ["BroadcastDelivery", "Delivery", "ViewDelivery", "introductions"]


def introductions(entities: list[Entity], walks: bool) -> str:
    """The ``ent`` lines that show *entities* to a newcomer, each walk's ``wlk`` after it."""
    ent, wlk = replies.ent, replies.wlk
    if not walks:
        return "".join(ent(e) for e in entities)
    return "".join(ent(e) + wlk(e) if e.dest is not None else ent(e) for e in entities)


class Delivery(Protocol):
    """What the game needs to know about who is told what."""

    def join(self, entity: Entity, walks: bool) -> tuple[str, list[int]]:
        """Add a player's entity; *walks*: it speaks protocol 2.

        Returns the lines that show it what it sees (itself first), and the
        ids of the other players that now see it.
        """
        ...

    def add(self, entity: Entity) -> list[int]:
        """Add a thing: seen by players, seeing nothing.

        Returns the ids of the players that now see it: the caller sends
        them ``ent`` (protocol 2 ones also its ``wlk``, if it walks already).
        """
        ...

    def leave(self, entity: Entity) -> list[int]:
        """Remove a player's or a thing's entity; return the ids of the players that must
        get ``del``."""
        ...

    def hearers(self, speaker: Entity, radius: float) -> list[int]:
        """The ids of the players within *radius* of *speaker*, on the ground plane."""
        ...

    def near(self, x: float, y: float, radius: float) -> list[Entity]:
        """Every entity, players and things, within *radius* of (x, y) on the ground plane now."""
        ...

    def in_view(self, entity: Entity) -> list[Entity]:
        """The entities the player of *entity* has been told about, itself included."""
        ...

    def tick(
        self, moved: list[Entity], started: list[Entity], stopped: list[Entity]
    ) -> Mapping[int, list[str]]:
        """After a world step: the lines each player gets, by entity id.

        Players with nothing to hear may be left out.  The lists are the
        delivery's: read them, never change them.
        """
        ...


class ViewDelivery:
    """Each player is told about what is within its view radius (and under the cap)."""

    def __init__(self, world: World, radius: float, cap: int | None) -> None:
        self.world = world
        self.interest = Interest(world, radius, cap)

    def join(self, entity: Entity, walks: bool) -> tuple[str, list[int]]:
        in_view, told = self.interest.add(entity, observer=True, walks=walks)
        return introductions(in_view, walks), told

    def add(self, entity: Entity) -> list[int]:
        return self.interest.add(entity, observer=False)[1]

    def leave(self, entity: Entity) -> list[int]:
        return self.interest.remove(entity)

    def hearers(self, speaker: Entity, radius: float) -> list[int]:
        return self.interest.hearers(speaker.x, speaker.y, radius)

    def near(self, x: float, y: float, radius: float) -> list[Entity]:
        return self.interest.near(x, y, radius)

    def in_view(self, entity: Entity) -> list[Entity]:
        return self.interest.in_view(entity.id)

    def tick(
        self, moved: list[Entity], started: list[Entity], stopped: list[Entity]
    ) -> Mapping[int, list[str]]:
        return self.interest.update(started, stopped, self.world.arrived)


class BroadcastDelivery:
    """Everybody is told about everything: N players cost N² lines a tick."""

    def __init__(self, world: World) -> None:
        self.world = world
        #: Player entity ids by protocol: those that get every step, those that walk.
        self._steppers: set[int] = set()
        self._walkers: set[int] = set()

    def join(self, entity: Entity, walks: bool) -> tuple[str, list[int]]:
        players = self._steppers | self._walkers
        told = [e.id for e in self.world if e.id in players and e is not entity]
        (self._walkers if walks else self._steppers).add(entity.id)
        return introductions(list(self.world), walks), told

    def add(self, entity: Entity) -> list[int]:
        return [*self._steppers, *self._walkers]

    def leave(self, entity: Entity) -> list[int]:
        self._steppers.discard(entity.id)
        self._walkers.discard(entity.id)
        return [*self._steppers, *self._walkers]

    def hearers(self, speaker: Entity, radius: float) -> list[int]:
        players = self._steppers | self._walkers
        return [e.id for e in self.near(speaker.x, speaker.y, radius) if e.id in players]

    def near(self, x: float, y: float, radius: float) -> list[Entity]:
        r2 = radius * radius
        return [e for e in self.world if (e.x - x) ** 2 + (e.y - y) ** 2 <= r2]

    def in_view(self, entity: Entity) -> list[Entity]:
        return list(self.world)

    def tick(
        self, moved: list[Entity], started: list[Entity], stopped: list[Entity]
    ) -> Mapping[int, list[str]]:
        out: dict[int, list[str]] = {}
        if moved and self._steppers:
            steps = [replies.pos(e) for e in moved]
            out.update(dict.fromkeys(self._steppers, steps))
        if (started or stopped) and self._walkers:
            walks = [replies.wlk(e) for e in started] + [replies.pos(e) for e in stopped]
            out.update(dict.fromkeys(self._walkers, walks))
        return out
