"""Creatures: sheep that wander (timers, walks, random choices) and a dog that steps every tick."""

from __future__ import annotations

import random

from mudserver.game import Player, Thing


class Sheep(Thing):
    """Wanders its meadow, a few seconds' pause between walks, and bleats now and then.

    Shows: an area parameter, :meth:`after` chained (a timer sets the next),
    :meth:`say` within a radius, and costing nothing between its timers.
    """

    kind = "creature"
    verbs = ("pet",)
    speed: float = 1.2
    #: The meadow: (x, y) of two opposite corners.
    area: tuple[tuple[float, float], tuple[float, float]] = ((-40.0, 10.0), (-10.0, 35.0))
    #: Seconds between walks, at least and at most.
    pause: tuple[float, float] = (3.0, 9.0)
    bleat: str = "Baa."
    #: Chance of a bleat at each stop.
    chattiness: float = 0.15

    def on_spawn(self) -> None:
        self.after(random.uniform(*self.pause), self.wander)

    def wander(self) -> None:
        (x0, y0), (x1, y1) = self.area
        self.walk_to(
            random.uniform(min(x0, x1), max(x0, x1)), random.uniform(min(y0, y1), max(y0, y1))
        )

    def on_arrive(self) -> None:
        if random.random() < self.chattiness:
            self.say(self.bleat, radius=15)
        self.after(random.uniform(*self.pause), self.wander)

    def on_use(self, player: Player, verb: str, text: str) -> str:
        return f"The {self.name} looks at you and chews. {self.bleat}"


class Dog(Thing):
    """Follows the nearest player within its nose's reach, re-aiming once a second.

    Shows: :meth:`step` (called every tick, only because this class defines
    it) and :meth:`players_near`.  Most things should use timers instead.
    """

    kind = "creature"
    speed: float = 4.0
    nose: float = 20.0
    home: tuple[float, float] = (0.0, -8.0)

    #: State: seconds since it last looked around.
    since = 0.0

    def step(self, dt: float) -> None:
        self.since += dt
        if self.since < 1.0:
            return
        self.since = 0.0
        near = self.players_near(self.nose)
        if near:
            target = near[0]
            if self.distance_to(target) > 2.0:
                self.walk_to(target.x + 1.0, target.y + 1.0)
        elif self.distance_to_home() > 1.0 and not self.walking:
            self.walk_to(*self.home)

    def distance_to_home(self) -> float:
        return ((self.x - self.home[0]) ** 2 + (self.y - self.home[1]) ** 2) ** 0.5

    def on_use(self, player: Player, verb: str, text: str) -> str:
        return f"{self.name} wags its tail."
