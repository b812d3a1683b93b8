"""Proximity traps: who is within a radius of a thing, told as players come and go.

A trap is a holder entity and a radius; a target (a player) is *inside* it
while its distance to the holder on the ground plane is at most the radius,
at the end of a step.  :meth:`Proximity.update` reports each change since
the last update as ``(holder, target, entered)``, in a deterministic order.
A trap added next to a target reports ``entered`` at the next update;
removing a trap or a target reports nothing (the caller knows).

Pure Python; the game runtime (:mod:`mudserver.game`) owns one.
"""

from __future__ import annotations

from mudserver.core.world import Entity

__all__ = ["Proximity"]

Event = tuple[Entity, Entity, bool]


class Proximity:
    """Traps around holders, and the targets inside each."""

    def __init__(self, max_radius: float) -> None:
        if not max_radius > 0:
            raise ValueError("max_radius must be positive")
        self.max_radius = max_radius
        #: Holder id -> (holder, radius).
        self._traps: dict[int, tuple[Entity, float]] = {}
        self._targets: dict[int, Entity] = {}
        #: Holder id -> ids of the targets inside, as last reported.
        self._inside: dict[int, set[int]] = {}

    def add_trap(self, holder: Entity, radius: float) -> None:
        """Watch *radius* around *holder* (again, with a new radius, if it had a trap)."""
        if not 0 < radius <= self.max_radius:
            raise ValueError(f"a trap's radius must be above 0 and at most {self.max_radius:g}")
        self._traps[holder.id] = (holder, radius)
        self._inside.setdefault(holder.id, set())

    def remove_trap(self, holder: Entity) -> None:
        self._traps.pop(holder.id, None)
        self._inside.pop(holder.id, None)

    def add_target(self, entity: Entity) -> None:
        self._targets[entity.id] = entity

    def remove_target(self, entity: Entity) -> list[Entity]:
        """Stop tracking *entity*; the holders of the traps it was inside."""
        self._targets.pop(entity.id, None)
        holders = []
        for holder_id, inside in self._inside.items():
            if entity.id in inside:
                inside.discard(entity.id)
                holders.append(self._traps[holder_id][0])
        return holders

    def inside(self, holder: Entity) -> list[Entity]:
        """The targets inside *holder*'s trap, as last reported."""
        targets = self._targets
        return [targets[i] for i in sorted(self._inside.get(holder.id, ())) if i in targets]

    def update(self) -> list[Event]:
        """Every change since the last update: (holder, target, entered)."""
        events: list[Event] = []
        targets = list(self._targets.values())
        for holder_id in sorted(self._traps):
            holder, radius = self._traps[holder_id]
            r2 = radius * radius
            hx, hy = holder.x, holder.y
            now = {
                t.id for t in targets if t is not holder and (t.x - hx) ** 2 + (t.y - hy) ** 2 <= r2
            }
            before = self._inside[holder_id]
            if now == before:
                continue
            for target_id in sorted(before - now):
                events.append((holder, self._targets[target_id], False))
            for target_id in sorted(now - before):
                events.append((holder, self._targets[target_id], True))
            self._inside[holder_id] = now
        return events
