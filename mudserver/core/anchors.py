"""Anchors: where each entity was last measured from, and when it will have strayed.

The certificate that lets the views and the proximity traps leave most
pairs alone: each entity has an *anchor*, where it stood when its pairs
were last classified, and a *trigger*, a distance of at most ``slack``.
While two entities are both within their triggers of their anchors, their
distance is within ``2 * slack`` of their anchors' distance, so a pair
whose anchors are farther than that from a radius is surely inside it (or
surely outside) and needs no attention at all.

A walk is a straight line, so when a walker will pass its trigger is a
root of a quadratic (:func:`~mudserver.core.kinetics.exit_time`), computed
when it is anchored and again when its walk changes, and put on a
:class:`~mudserver.core.wheel.Wheel`.  Nothing is measured in between: a
walker costs nothing per tick, a standing entity has no timer at all.

The trigger is drawn between ``JITTER_LOW * slack`` and ``slack`` each
time.  With one fixed distance, walkers at one speed stray in lockstep
groups that one late tick merges for good (a 2,000-player bench saw 10 to
750 rescans per tick instead of an even ~180): the jitter spreads them.

Pure Python.
"""

from __future__ import annotations

import math
import random

from mudserver.core.kinetics import MARGIN, exit_time
from mudserver.core.wheel import Wheel
from mudserver.core.world import Entity

__all__ = ["JITTER_LOW", "Anchors", "ground"]

#: An entity is rescanned after straying between ``JITTER_LOW * slack`` and
#: ``slack`` from its anchor, drawn anew each time (see the module doc).
JITTER_LOW = 0.8


def ground(e: Entity, now: float) -> tuple[float, float]:
    """Where *e* is on the ground plane at time *now* (its world's current time)."""
    if e.moving:
        t = now - e.t0
        return (e.x0 + e.vx * t, e.y0 + e.vy * t)
    return (e.x0, e.y0)


class Anchors:
    """Anchors and triggers by entity id, and the wheel of their strays."""

    def __init__(self, slack: float, rng: random.Random) -> None:
        if not slack > 0:
            raise ValueError("slack must be positive")
        self.slack = slack
        self._random = rng
        #: Entity id -> (x, y, squared trigger) of its anchor.
        self.where: dict[int, tuple[float, float, float]] = {}
        #: Entity id -> when it passes its trigger, as its walk goes now.
        self.strays: Wheel[int] = Wheel()

    def __contains__(self, eid: object) -> bool:
        return eid in self.where

    def anchor(self, e: Entity, x: float, y: float, now: float) -> None:
        """Anchor *e* at (x, y), where it is at *now*, and time its next stray."""
        trigger = self.slack * self._random.uniform(JITTER_LOW, 1.0)
        trigger2 = trigger * trigger
        self.where[e.id] = (x, y, trigger2)
        if e.moving:
            self._time(e.id, x, y, e.vx, e.vy, trigger2, now, x, y)
        else:
            self.strays.cancel(e.id)

    def walk_changed(self, e: Entity, now: float) -> bool:
        """*e*'s walk changed: time its stray anew; return whether it has strayed already."""
        ax, ay, trigger2 = self.where[e.id]
        x, y = ground(e, now)
        if (x - ax) * (x - ax) + (y - ay) * (y - ay) > trigger2 * (1 - MARGIN):
            self.strays.cancel(e.id)
            return True
        if e.moving:
            self._time(e.id, ax, ay, e.vx, e.vy, trigger2, now, x, y)
        else:
            self.strays.cancel(e.id)
        return False

    def _time(
        self,
        eid: int,
        ax: float,
        ay: float,
        vx: float,
        vy: float,
        trigger2: float,
        now: float,
        x: float,
        y: float,
    ) -> None:
        # A hair inside the trigger: rounding can only make the rescan early.
        t = exit_time(x - ax, y - ay, vx, vy, trigger2 * (1 - MARGIN))
        if math.isinf(t):
            self.strays.cancel(eid)
        else:
            self.strays.schedule(eid, now + t)

    def drop(self, eid: int) -> None:
        self.where.pop(eid, None)
        self.strays.cancel(eid)

    def due(self, now: float) -> list[int]:
        """The ids of the entities that have strayed by *now* (their timers are popped)."""
        return self.strays.due(now)
