"""What each observer has been told: the lines that keep a client's picture of the world.

:class:`~mudserver.core.interest.Interest` decides *when* an entity comes
into an observer's view or leaves it; :class:`Views` keeps who has been told
about whom, and writes the lines that say so and that follow movement:

* ``ent`` when an entity comes into view (followed by its ``wlk`` for a
  protocol-2 observer if it walks), ``del`` when it leaves view or the world.
* **Protocol 1** (``pos`` for every step): each entity that walks and has
  protocol-1 watchers is in :attr:`Views.stepped`; every tick each gets one
  ``pos`` line, formatted once, appended for each of those watchers.  An
  entity nobody watches with protocol 1 costs nothing per tick: the clients
  that asked for every step pay for it.
* **Protocol 2** (walks): a ``wlk`` when a walk starts or changes, a ``pos``
  when it ends, to the protocol-2 watchers only.

``watchers[e]`` holds every observer told about e; ``steppers[e]`` the
protocol-1 ones among them.  Pairs made in a tick join them only after that
tick's movement lines, so a newcomer gets its ``ent`` (and ``wlk``) alone.

**The crowd cap** (:mod:`mudserver.core.crowd`): an observer already shown
``cap`` others is *full*, one with a free slot *open*.  An open observer is
told of every entity that comes into view; a full one is not (it picks
newcomers at its rescans).  Each time an observer turns full or open it is
noted in :attr:`Views.changed`, for the interest to reschedule it.

Pure Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from mudserver.core.world import Entity
from mudserver.wire import replies

__all__ = ["Lines", "Views"]

Lines = defaultdict[int, list[str]]


class Views:
    """Who has been told about whom, and the lines of each change."""

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        #: Observer id -> ids of the entities it has been told about (itself included).
        self.seen: dict[int, set[int]] = {}
        #: Entity id -> ids of the observers that have been told about it.
        self.watchers: dict[int, set[int]] = {}
        #: Entity id -> the protocol-1 observers among its watchers.
        self.steppers: dict[int, set[int]] = {}
        #: Observers that follow walks (protocol 2) instead of every step.
        self.walk_observers: set[int] = set()
        #: Moving entities with protocol-1 watchers: each gets a ``pos`` every tick.
        self.stepped: dict[int, Entity] = {}
        #: Observers that turned full or open since the interest last looked.
        self.changed: set[int] = set()

    def add(self, entity: Entity, observer: bool, walks: bool) -> None:
        eid = entity.id
        self.watchers[eid] = set()
        self.steppers[eid] = set()
        if observer:
            self.seen[eid] = {eid}
            self.watchers[eid].add(eid)
            if walks:
                self.walk_observers.add(eid)
            else:
                self.steppers[eid].add(eid)
                if entity.moving:
                    self.stepped[eid] = entity

    def remove(self, eid: int) -> list[int]:
        """Forget *eid*; return the other observers that must get ``del``."""
        self.walk_observers.discard(eid)
        self.changed.discard(eid)
        self.stepped.pop(eid, None)
        self.steppers.pop(eid, None)
        watchers = self.watchers.pop(eid, set())
        seen = self.seen.pop(eid, set())
        for observer_id in watchers:
            if observer_id != eid:
                o_seen = self.seen[observer_id]
                o_seen.discard(eid)
                if len(o_seen) == self.cap:
                    self.changed.add(observer_id)
        for entity_id in seen:
            if entity_id in self.watchers:
                self.watchers[entity_id].discard(eid)
                self._unstep(entity_id, eid)
        watchers.discard(eid)
        return list(watchers)

    # -- telling and untelling -----------------------------------------------------

    def is_open(self, oid: int) -> bool:
        """Whether observer *oid* has a free slot (always, without a cap)."""
        return self.cap is None or len(self.seen[oid]) <= self.cap

    def settle(
        self,
        oid: int,
        o_seen: set[int],
        e: Entity,
        in_view: bool,
        out: Lines,
        joined: list[tuple[int, int]],
    ) -> None:
        """Observer *oid*'s knowledge of *e* disagrees with *in_view*: fix it if allowed.

        Leaving view always tells; coming into view tells only an observer
        with a free slot (a full one picks newcomers at its rescans).
        """
        if not in_view:
            self.untell(oid, o_seen, e.id, out)
        elif self.cap is None or len(o_seen) <= self.cap:
            self.tell(oid, o_seen, e, out, joined)

    def tell(
        self, oid: int, o_seen: set[int], e: Entity, out: Lines, joined: list[tuple[int, int]]
    ) -> None:
        o_seen.add(e.id)
        cap = self.cap
        if cap is not None and len(o_seen) == cap + 1:
            self.changed.add(oid)
        lines = out[oid]
        lines.append(replies.ent(e))
        if e.dest is not None and oid in self.walk_observers:
            lines.append(replies.wlk(e))
        joined.append((e.id, oid))

    def untell(self, oid: int, o_seen: set[int], eid: int, out: Lines) -> None:
        o_seen.discard(eid)
        self.watchers[eid].discard(oid)
        self._unstep(eid, oid)
        out[oid].append(replies.delete(eid))
        if len(o_seen) == self.cap:
            self.changed.add(oid)

    def _unstep(self, eid: int, oid: int) -> None:
        stepping = self.steppers[eid]
        if oid in stepping:
            stepping.discard(oid)
            if not stepping:
                self.stepped.pop(eid, None)

    def join(self, joined: list[tuple[int, int]], entities: dict[int, Entity]) -> None:
        """Add this tick's new pairs to ``watchers`` (those not undone since)."""
        seen, watchers, steppers = self.seen, self.watchers, self.steppers
        walkers, stepped = self.walk_observers, self.stepped
        for eid, oid in joined:
            o_seen = seen.get(oid)
            if o_seen is None or eid not in o_seen or eid not in watchers:
                continue
            watchers[eid].add(oid)
            if oid not in walkers:
                steppers[eid].add(oid)
                e = entities[eid]
                if e.moving:
                    stepped[eid] = e

    # -- movement lines ----------------------------------------------------------------

    def walks_changed(
        self, started: Iterable[Entity], arrived: Iterable[Entity], halted: Iterable[Entity]
    ) -> None:
        """Who gets a ``pos`` this tick and on: walks that started (moving now) or
        arrived (a last step, even one begun since the last tick) do, walks that
        ended without a last step (stop, a turn on the spot) do not."""
        steppers, stepped = self.steppers, self.stepped
        for e in started:
            if e.moving and steppers.get(e.id):
                stepped[e.id] = e
        for e in arrived:
            if steppers.get(e.id):
                stepped[e.id] = e
        for e in halted:
            stepped.pop(e.id, None)

    def pos_pass(self, now: float, out: Lines) -> None:
        """One ``pos`` per moving entity to each of its protocol-1 watchers."""
        steppers = self.steppers
        for eid, e in self.stepped.items():
            t = now - e.t0
            x, y, z = e.x0 + e.vx * t, e.y0 + e.vy * t, e.z0 + e.vz * t
            line = "pos %d,%.2f,%.2f,%.2f\n" % (eid, x, y, z)  # noqa: UP031 - replies.pos
            if "-0.00" in line:
                line = replies.pos(e)
            for oid in steppers[eid]:
                out[oid].append(line)

    def arrived(self, arrived: Iterable[Entity]) -> None:
        """Walks that ended with this tick's step: their last ``pos`` is out."""
        for e in arrived:
            self.stepped.pop(e.id, None)

    def walk_pass(self, started: Iterable[Entity], stopped: Iterable[Entity], out: Lines) -> None:
        """Tell protocol-2 watchers of each walk that started, changed or ended."""
        walkers = self.walk_observers
        if not walkers:
            return
        watchers = self.watchers
        for lines_of, entities in ((replies.wlk, started), (replies.pos, stopped)):
            for e in entities:
                known_by = watchers.get(e.id)
                if not known_by:
                    continue
                line = lines_of(e)
                for oid in known_by:
                    if oid in walkers:
                        out[oid].append(line)
