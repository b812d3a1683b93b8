"""What a client has been told about the world, kept up to date.

The server never answers "where is everybody?"; it tells each client once
(``wel`` + ``ent``) and then sends changes.  :class:`WorldMirror` folds those
messages into a table a bot or a UI can read at any time.  It is sans-IO:
feed it messages with :meth:`WorldMirror.apply`.

Both protocol versions work.  In version 1 every moving entity gets a
``pos`` per tick, so the last reported position is always close to the
truth.  In version 2 the server says once where a walk goes (``wlk``) and
sends ``pos`` only when it ends; the mirror then works the position out
itself (:meth:`Entity.position_at`), from the local time the ``wlk`` arrived.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mudserver.client.messages import Bye, Delete, Entered, Message, Position, Walk, Welcome

__all__ = ["Course", "Entity", "WorldMirror", "Point", "Clock"]

Point = tuple[float, float, float]
#: Seconds from an arbitrary start; :func:`time.monotonic` unless a test injects one.
Clock = Callable[[], float]


@dataclass(frozen=True)
class Course:
    """A walk as a ``wlk`` announced it: from ``start`` to ``target`` at
    ``speed`` units/s, starting at local time ``t0`` (the clock's seconds when
    the line arrived).  The server measures from the tick it sent the line in;
    the difference is the network delay, and ``pos`` corrects it at the end."""

    start: Point
    target: Point
    speed: float
    t0: float

    @property
    def length(self) -> float:
        return math.dist(self.start, self.target)

    def position_at(self, t: float) -> Point:
        """``start + unit(target - start) * min(speed * (t - t0), length)``.

        Never past the target, and never behind the start (for a *t* before
        ``t0``): a walk stops where it was told to stop.
        """
        length = self.length
        walked = self.speed * max(0.0, t - self.t0)
        # The arrival time too: speed * (length / speed) may round below length.
        if length == 0.0 or walked >= length or t >= self.arrival():
            return self.target
        share = walked / length
        sx, sy, sz = self.start
        tx, ty, tz = self.target
        return (sx + (tx - sx) * share, sy + (ty - sy) * share, sz + (tz - sz) * share)

    def arrival(self) -> float:
        """The clock time at which the walk reaches its target."""
        return self.t0 + (self.length / self.speed if self.speed > 0 else math.inf)


@dataclass
class Entity:
    """One entity as the server last reported it (positions rounded to 0.01).

    ``x``, ``y``, ``z`` are where the last ``wel``/``ent``/``pos``/``wlk`` put
    it; ``walk`` is the :class:`Course` it is on (version 2), or ``None`` while
    it stands or when the server speaks version 1.
    """

    id: int
    kind: str
    name: str
    x: float
    y: float
    z: float
    walk: Course | None = None
    clock: Clock = field(default=time.monotonic, compare=False, repr=False)

    @property
    def reported(self) -> Point:
        """The last position the server sent, as it sent it."""
        return (self.x, self.y, self.z)

    def position_at(self, t: float) -> Point:
        """Where the entity is at clock time *t*, by its walk if it has one."""
        if self.walk is None:
            return self.reported
        return self.walk.position_at(t)

    @property
    def position(self) -> Point:
        """Where the entity is now."""
        return self.position_at(self.clock())

    @property
    def walking(self) -> bool:
        """Whether it is on a walk that has not reached its target yet."""
        return self.walk is not None and self.clock() < self.walk.arrival()


class WorldMirror:
    """Entities by id, plus which one is this client's own player.

    *clock* gives the local time a ``wlk`` counts from; the default,
    :func:`time.monotonic`, is what :attr:`Entity.position` reads too.
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.entities: dict[int, Entity] = {}
        #: The id from the last ``wel``; ``None`` before login and after ``bye``.
        self.self_id: int | None = None

    def __len__(self) -> int:
        return len(self.entities)

    def __iter__(self) -> Iterator[Entity]:
        return iter(list(self.entities.values()))

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self.entities

    def get(self, entity_id: int) -> Entity | None:
        return self.entities.get(entity_id)

    @property
    def me(self) -> Entity | None:
        """This client's own player, once logged in."""
        return None if self.self_id is None else self.entities.get(self.self_id)

    def by_name(self, name: str) -> Entity | None:
        """The entity called *name* (account names are case-insensitive)."""
        wanted = name.lower()
        return next((e for e in self.entities.values() if e.name.lower() == wanted), None)

    def apply(self, message: Message) -> Entity | None:
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
                return self._add(Entity(entity_id, "player", name, x, y, z, clock=self.clock))
            case Entered(id=entity_id, kind=kind, name=name, x=x, y=y, z=z):
                return self._add(Entity(entity_id, kind, name, x, y, z, clock=self.clock))
            case Position(id=entity_id, x=x, y=y, z=z):
                found = self.entities.get(entity_id)
                if found is not None:
                    found.x, found.y, found.z = x, y, z
                    found.walk = None  # v2: it stands here; v1: the next pos says more
                return found
            case Walk(id=entity_id, x=x, y=y, z=z, speed=speed):
                found = self.entities.get(entity_id)
                if found is not None:
                    found.x, found.y, found.z = x, y, z
                    found.walk = Course((x, y, z), message.target, speed, self.clock())
                return found
            case Delete(id=entity_id):
                return self.entities.pop(entity_id, None)
            case Bye():
                self.entities.clear()
                self.self_id = None
        return None

    def _add(self, entity: Entity) -> Entity:
        self.entities[entity.id] = entity
        return entity
