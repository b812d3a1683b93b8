"""The simulated world: entities that stand or walk in straight lines, stepped by elapsed time.

Pure Python.  Time enters only as ``step(dt)``: the Twisted service calls it
from a ``LoopingCall`` with the real elapsed time, tests call it with fixed
``dt`` values.

**A walk is a line, not a loop.**  A walking entity keeps where its walk
started (``x0, y0, z0`` at world time ``t0``) and its velocity; where it is
at any moment is computed from them (:attr:`Entity.x`, :attr:`Entity.position`)
when somebody asks, instead of being advanced every step.  When it will
arrive is known when the walk starts, so the arrival is a timer on a
:class:`~mudserver.core.wheel.Wheel`: a step costs its walk changes and
arrivals, not its walkers, and standing entities cost nothing at all.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Protocol

from mudserver.core.wheel import Wheel

__all__ = ["ARRIVAL_TOLERANCE", "Clock", "Entity", "World"]

#: An entity this close to its destination has arrived: half the 0.01 the
#: protocol shows.  The tick's real ``dt`` wobbles around 1/tick-rate, so the
#: last step of a walk often ends a few thousandths short; without this the
#: walk took one more step, and sent one more ``pos`` line identical to the
#: one before.
ARRIVAL_TOLERANCE = 0.005

Point = tuple[float, float, float]


class Clock(Protocol):
    """What an entity reads the time from: its world."""

    #: Seconds since the world began.
    time: float
    #: The fastest speed any walk has had: how far anything may have gone in a second.
    fastest: float


class _Stopped:
    """The clock of an entity outside any world: time stands still."""

    time = 0.0
    fastest = 0.0


_NO_CLOCK = _Stopped()


class Entity:
    """Something with a position in the world; it stands, or walks toward ``dest``.

    Where it is *now* (at its world's current time, after the last step) is
    :attr:`x`, :attr:`y`, :attr:`z` and :attr:`position`, computed from the
    walk: ``x0 + vx * (time - t0)``.  Only the :class:`World` changes the
    walk fields.  Entities compare by identity: two players are never "equal".
    """

    __slots__ = (
        "clock",
        "dest",
        "id",
        "kind",
        "moving",
        "name",
        "speed",
        "t0",
        "vx",
        "vy",
        "vz",
        "x0",
        "y0",
        "z0",
    )

    def __init__(
        self,
        id: int,
        kind: str,
        name: str,
        x: float = 0.0,
        y: float = 0.0,
        z: float = 0.0,
        dest: Point | None = None,
        speed: float = 0.0,
    ) -> None:
        self.id = id
        self.kind = kind
        self.name = name
        #: Where the entity walks to, or ``None`` when it stands still.
        self.dest = dest
        #: Units per second toward ``dest``.
        self.speed = speed
        #: Where the walk started (or where it stands), at world time ``t0``.
        self.x0, self.y0, self.z0 = x, y, z
        self.t0 = 0.0
        #: Velocity of the walk, units per second; zero while standing.
        self.vx = self.vy = self.vz = 0.0
        #: Whether its position changes with time (a walk with a speed).
        self.moving = False
        #: Where the time comes from: the world that spawned it.
        self.clock: Clock = _NO_CLOCK

    def __repr__(self) -> str:
        return f"Entity({self.id}, {self.kind!r}, {self.name!r}, at={self.position})"

    # Reading a coordinate computes it.  Setting one moves the entity without
    # telling anybody (tests, and entities outside a world's views): a walk in
    # progress goes on, parallel, from the new spot.

    @property
    def x(self) -> float:
        return self.x0 + self.vx * (self.clock.time - self.t0) if self.moving else self.x0

    @x.setter
    def x(self, value: float) -> None:
        self.x0 += value - self.x

    @property
    def y(self) -> float:
        return self.y0 + self.vy * (self.clock.time - self.t0) if self.moving else self.y0

    @y.setter
    def y(self, value: float) -> None:
        self.y0 += value - self.y

    @property
    def z(self) -> float:
        return self.z0 + self.vz * (self.clock.time - self.t0) if self.moving else self.z0

    @z.setter
    def z(self, value: float) -> None:
        self.z0 += value - self.z

    @property
    def position(self) -> Point:
        """Where it is now, as ``(x, y, z)``."""
        if not self.moving:
            return (self.x0, self.y0, self.z0)
        t = self.clock.time - self.t0
        return (self.x0 + self.vx * t, self.y0 + self.vy * t, self.z0 + self.vz * t)

    def _stand(self, at: Point, time: float) -> None:
        """Stand still at *at* from *time* on."""
        self.x0, self.y0, self.z0 = at
        self.t0 = time
        self.vx = self.vy = self.vz = 0.0
        self.moving = False


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
        #: Seconds stepped so far: the time every entity's position is computed for.
        self.time = 0.0
        #: The fastest speed any walk has had (see :class:`Clock`).
        self.fastest = 0.0
        self._last_dt = 0.0
        #: Entity id -> the world time its destination last changed.
        self._turned_at: dict[int, float] = {}
        #: Entity id -> (entity, destination, interval) of a walk waiting its turn.
        self._waiting: dict[int, tuple[Entity, Point, float]] = {}
        self._entities: dict[int, Entity] = {}
        #: Entities that move: what a step reports as moved.
        self._walking: dict[int, Entity] = {}
        #: Entity id -> its arrival, due at the time its walk reaches ``dest``.
        self._arrivals: Wheel[int] = Wheel()
        #: Walks started or re-aimed since the last step, by entity id.
        self._turned: dict[int, Entity] = {}
        #: Walks ended since the last step without arriving (:meth:`stop`, or
        #: a walk to the spot it stands on).
        self._halted: dict[int, Entity] = {}
        #: Walks the last step started or re-aimed that go on after it: what
        #: protocol 2 announces with ``wlk``.
        self.started: list[Entity] = []
        #: Walks that ended in the last step (arrived, stopped, or re-aimed at
        #: the spot the entity stood on): what protocol 2 announces with ``pos``.
        self.stopped: list[Entity] = []
        #: Walks that reached their destination in the last step (not those
        #: stopped or re-aimed), by id: where the game's arrival hooks start.
        self.arrived: list[Entity] = []
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
        position: Point = (0.0, 0.0, 0.0),
        speed: float = 0.0,
    ) -> Entity:
        """Create an entity with a fresh id and add it to the world, standing."""
        entity = Entity(next(self._ids), kind, name, *position, speed=speed)
        entity.t0 = self.time
        entity.clock = self
        self._entities[entity.id] = entity
        return entity

    def remove(self, entity: Entity) -> None:
        """Take *entity* out of the world (a no-op if it is not in it).

        It keeps the position it had: time stops for it.
        """
        eid = entity.id
        if self._entities.get(eid) is entity:
            del self._entities[eid]
            at = entity.position
            entity.clock = _NO_CLOCK
            entity._stand(at, 0.0)
            self._walking.pop(eid, None)
            self._arrivals.cancel(eid)
            self._turned.pop(eid, None)
            self._halted.pop(eid, None)
            self._turned_at.pop(eid, None)
            self._waiting.pop(eid, None)

    def walk(self, entity: Entity, dest: Point, turn_interval: float = 0.0) -> None:
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
        """End *entity*'s walk where it stands now (a no-op if it stands).

        The next step reports it in :attr:`stopped` (protocol 2 observers get
        a ``pos``), not in :attr:`arrived`.  A walk waiting its turn is dropped.
        """
        eid = entity.id
        self._waiting.pop(eid, None)
        if entity.dest is None or entity not in self:
            return
        entity._stand(entity.position, self.time)
        entity.dest = None
        self._walking.pop(eid, None)
        self._arrivals.cancel(eid)
        self._halted[eid] = entity

    def _turn(self, entity: Entity, dest: Point) -> None:
        """Start a walk from where *entity* is now toward *dest*."""
        eid, now = entity.id, self.time
        x, y, z = entity.position
        dx, dy, dz = dest[0] - x, dest[1] - y, dest[2] - z
        distance = math.sqrt(dx * dx + dy * dy + dz * dz)
        self._turned_at[eid] = now
        self._turned[eid] = entity
        self._halted.pop(eid, None)
        entity.dest = dest
        entity.x0, entity.y0, entity.z0, entity.t0 = x, y, z, now
        speed = entity.speed
        if distance == 0 or speed <= 0:
            entity.vx = entity.vy = entity.vz = 0.0
            entity.moving = False
            self._walking.pop(eid, None)
            self._arrivals.cancel(eid)
            if distance == 0:  # already there: the walk ends before it starts
                entity.dest = None
                self._halted[eid] = entity
            return
        scale = speed / distance
        entity.vx, entity.vy, entity.vz = dx * scale, dy * scale, dz * scale
        if speed > self.fastest:
            self.fastest = speed
        entity.moving = True
        self._walking[eid] = entity
        # Arrived at the first step that leaves less than the tolerance to walk.
        self._arrivals.schedule(eid, now + (distance - ARRIVAL_TOLERANCE) / speed)

    def step(self, dt: float) -> list[Entity]:
        """Advance the world by *dt* seconds; return the entities that moved.

        Also sets :attr:`started`, :attr:`stopped` and :attr:`arrived`, the
        walk changes of this step.  Only walks that change or end cost
        anything: a walker's position follows from the time.
        """
        if self._waiting:
            turned_at = self._turned_at
            for eid, (entity, dest, interval) in list(self._waiting.items()):
                if turned_at.get(eid, -math.inf) <= self.time - (interval - dt / 2):
                    del self._waiting[eid]
                    self._turn(entity, dest)
        self._last_dt = dt
        moved: list[Entity] = []
        arrived: list[Entity] = []
        if dt > 0:
            moved = list(self._walking.values())
            self.time += dt
            walking = self._walking
            for eid in self._arrivals.due(self.time):
                entity = walking.pop(eid)
                dest = entity.dest
                assert dest is not None
                entity._stand(dest, self.time)
                entity.dest = None
                arrived.append(entity)
            arrived.sort(key=_by_id)
        turned, self._turned = self._turned, {}
        halted, self._halted = self._halted, {}
        self.started = [e for e in turned.values() if e.dest is not None]
        self.stopped = [*halted.values(), *arrived]
        self.arrived = arrived
        return moved


def _by_id(entity: Entity) -> int:
    return entity.id
