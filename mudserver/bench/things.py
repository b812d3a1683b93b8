"""The game mudserver-bench runs for its game scenarios (``--things``, ``--standing``).

Two kinds of thing, the two costs a living world has: creatures that wander
(walk a little, pause a few seconds, walk again: the cost of walks) and
things that stand and wait on a timer (the cost of timers, and of nothing
else).  A world file of them is written by :mod:`mudserver.bench.scenario`.
"""

from __future__ import annotations

import random

from mudserver.game import Thing

__all__ = ["Idler", "Wanderer"]


class Wanderer(Thing):
    """Walks to a point within ``roam`` of where it is, pauses, walks again; stays in ±``half``."""

    kind = "creature"
    speed: float = 1.5
    roam: float = 40.0
    half: float = 1500.0
    pause: tuple[float, float] = (2.0, 8.0)

    def on_spawn(self) -> None:
        self.after(random.uniform(*self.pause), self.wander)

    def wander(self) -> None:
        half, roam = self.half, self.roam
        x = min(half, max(-half, self.x + random.uniform(-roam, roam)))
        y = min(half, max(-half, self.y + random.uniform(-roam, roam)))
        self.walk_to(x, y)

    def on_arrive(self) -> None:
        self.after(random.uniform(*self.pause), self.wander)


class Idler(Thing):
    """Stands still; every ``period`` seconds (the first at a random phase) its timer counts."""

    kind = "thing"
    period: float = 30.0
    beats = 0

    def on_spawn(self) -> None:
        self.after(random.uniform(0, self.period), self.start)

    def start(self) -> None:
        self.beat()
        self.every(self.period, self.beat)

    def beat(self) -> None:
        self.beats += 1
