"""The simulated world: entities with positions, stepped by elapsed time.

Pure Python.  Time enters only as ``step(dt)``: the Twisted service calls it
from a ``LoopingCall`` with the real elapsed time, tests call it with fixed
``dt`` values.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["ARRIVAL_TOLERANCE", "Entity", "World"]

#: An entity this close to its destination has arrived: half the 0.01 the
#: protocol shows.  The tick's real ``dt`` wobbles around 1/tick-rate, so the
#: last step of a walk often ends a few thousandths short; without this the
#: walk took one more step, and sent one more ``pos`` line identical to the
#: one before.
ARRIVAL_TOLERANCE = 0.005


@dataclass(eq=False, slots=True)
class Entity:
    """Something with a position in the world; players walk toward ``dest``.

    Entities compare by identity: two players are never "equal".
    """

    id: int
    kind: str
    name: str
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    #: Where the entity is walking to, or ``None`` when it stands still.
    dest: tuple[float, float, float] | None = field(default=None)
    #: Units per second toward ``dest``.
    speed: float = 0.0

    @property
    def position(self) -> tuple[float, float, float]:
        return (self.x, self.y, self.z)

    def step(self, dt: float) -> bool:
        """Advance *dt* seconds toward ``dest``; return whether it moved.

        The entity stops exactly on its destination instead of overshooting.
        """
        reach = self.speed * dt
        if self.dest is None or reach <= 0:
            return False
        dx, dy, dz = (self.dest[0] - self.x, self.dest[1] - self.y, self.dest[2] - self.z)
        distance = math.sqrt(dx * dx + dy * dy + dz * dz)
        if distance <= reach + ARRIVAL_TOLERANCE:
            moved = distance > 0
            self.x, self.y, self.z = self.dest
            self.dest = None
            return moved
        scale = reach / distance
        self.x += dx * scale
        self.y += dy * scale
        self.z += dz * scale
        return True


class World:
    """All entities, by id.  Ids are never reused during a process's life.

    A :meth:`walk` may ask for a *turn interval*: the least time since the
    entity's destination last changed.  One sooner than that waits for the
    step at which the interval is over, and only the last one waiting
    counts.  A protocol-2 player clicking several times a second then costs
    one ``wlk`` per interval, not one per tick (``docs/protocol.md``,
    section 15).
    """

    def __init__(self) -> None:
        #: Seconds stepped so far.
        self.time = 0.0
        self._last_dt = 0.0
        #: Entity id -> the world time its destination last changed.
        self._turned_at: dict[int, float] = {}
        #: Entity id -> (entity, destination, interval) of a walk waiting its turn.
        self._waiting: dict[int, tuple[Entity, tuple[float, float, float], float]] = {}
        self._entities: dict[int, Entity] = {}
        #: Entities with a destination: the only ones a step has to look at.
        self._walking: dict[int, Entity] = {}
        #: Walks started or re-aimed since the last step, by entity id.
        self._turned: dict[int, Entity] = {}
        #: Walks the last step started or re-aimed that go on after it: what
        #: protocol 2 announces with ``wlk``.
        self.started: list[Entity] = []
        #: Walks that ended in the last step (arrived, or re-aimed at the
        #: spot the entity stood on): what protocol 2 announces with ``pos``.
        self.stopped: list[Entity] = []
        #: Of those, the walks that reached the destination they were given,
        #: not ended by :meth:`stop`: where a thing's ``on_arrive`` comes from.
        self.arrived: list[Entity] = []
        #: Ids of entities told to :meth:`stop` since the last step.
        self._halted: set[int] = set()
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._entities)

    def __iter__(self) -> Iterator[Entity]:
        return iter(self._entities.values())

    def __contains__(self, entity: object) -> bool:
        return isinstance(entity, Entity) and self._entities.get(entity.id) is entity

    def get(self, entity_id: int) -> Entity | None:
        return self._entities.get(entity_id)

    def spawn(
        self,
        kind: str,
        name: str,
        position: tuple[float, float, float] = (0.0, 0.0, 0.0),
        speed: float = 0.0,
    ) -> Entity:
        """Create an entity with a fresh id and add it to the world."""
        entity = Entity(next(self._ids), kind, name, *position, speed=speed)
        self._entities[entity.id] = entity
        return entity

    def remove(self, entity: Entity) -> None:
        """Take *entity* out of the world (a no-op if it is not in it)."""
        if self._entities.get(entity.id) is entity:
            del self._entities[entity.id]
            self._walking.pop(entity.id, None)
            self._turned.pop(entity.id, None)
            self._turned_at.pop(entity.id, None)
            self._waiting.pop(entity.id, None)

    def walk(
        self, entity: Entity, dest: tuple[float, float, float], turn_interval: float = 0.0
    ) -> None:
        """Send *entity* toward *dest*; it moves on the following steps.

        Walking on toward the destination it already has is no change: no
        new walk starts (protocol 2 sends nothing for it).  Within
        *turn_interval* of the last change, the walk waits (see the class).
        """
        eid = entity.id
        if entity.dest == dest:
            self._waiting.pop(eid, None)  # keeps walking where it walks
            return
        if entity not in self:
            entity.dest = dest
            return
        if turn_interval and self.time - self._turned_at.get(eid, -math.inf) < (
            turn_interval - self._last_dt / 2
        ):
            self._waiting[eid] = (entity, dest, turn_interval)
            return
        self._turn(entity, dest)

    def stop(self, entity: Entity) -> None:
        """End *entity*'s walk where it stands; the next step reports it in :attr:`stopped`."""
        self._waiting.pop(entity.id, None)
        if entity.dest is not None and entity in self:
            self._halted.add(entity.id)
            self._turn(entity, entity.position)

    def _turn(self, entity: Entity, dest: tuple[float, float, float]) -> None:
        entity.dest = dest
        self._walking[entity.id] = entity
        self._turned[entity.id] = entity
        self._turned_at[entity.id] = self.time

    def step(self, dt: float) -> list[Entity]:
        """Advance every walking entity by *dt* seconds; return those that moved.

        Also sets :attr:`started` and :attr:`stopped`, the walk changes of
        this step.  Standing entities cost nothing, so an idle world steps
        for free.
        """
        if self._waiting:
            turned_at = self._turned_at
            for eid, (entity, dest, interval) in list(self._waiting.items()):
                if turned_at.get(eid, -math.inf) <= self.time - (interval - dt / 2):
                    del self._waiting[eid]
                    self._turn(entity, dest)
        self.time += dt
        self._last_dt = dt
        walking = self._walking
        moved = [e for e in walking.values() if e.step(dt)]
        stopped = [e for e in walking.values() if e.dest is None]
        for e in stopped:
            del walking[e.id]
        turned, self._turned = self._turned, {}
        self.started = [e for e in turned.values() if e.dest is not None]
        self.stopped = stopped
        halted, self._halted = self._halted, set()
        self.arrived = [e for e in stopped if e.id not in halted] if halted else stopped
        return moved
