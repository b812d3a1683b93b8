"""Objects: a sign to read, a tree that drops apples, and apples players pick up and count."""

from __future__ import annotations

import random

from mudserver.game import Player, Thing


class Sign(Thing):
    """A signpost: ``use ID`` or ``use ID,read`` shows its text.  Shows: :meth:`on_use` alone."""

    kind = "thing"
    verbs = ("read",)
    text: str = "Welcome."

    def on_use(self, player: Player, verb: str, text: str) -> str:
        return self.text


class AppleTree(Thing):
    """Drops an apple now and then (at most a few on the ground) and counts a player's apples.

    Shows: :meth:`every`, :meth:`spawn` of another class, :meth:`near`, and
    per-player state read back (``player.data``, saved with the player).
    """

    kind = "thing"
    verbs = ("count", "shake")
    #: Seconds between drops, and the most apples lying around it.
    drop_every: float = 20.0
    most: int = 3
    spread: float = 3.0

    def on_spawn(self) -> None:
        self.every(self.drop_every, self.drop)
        self.drop()

    def apples_around(self) -> list[Apple]:
        return [t for t in self.near(self.spread + 1.0) if isinstance(t, Apple)]

    def drop(self) -> None:
        if len(self.apples_around()) < self.most:
            angle_x, angle_y = random.uniform(-1, 1), random.uniform(-1, 1)
            at = (self.x + angle_x * self.spread, self.y + angle_y * self.spread, 0.0)
            self.spawn(Apple, "apple", at)

    def on_use(self, player: Player, verb: str, text: str) -> str:
        if verb == "shake":
            self.drop()
            return "You shake the tree."
        return f"You have {player.data.get('apples', 0)} apples."


class Apple(Thing):
    """An apple on the ground: using it picks it up (it goes, and the player's count goes up)."""

    kind = "thing"
    verbs = ("take",)

    def on_use(self, player: Player, verb: str, text: str) -> str:
        apples = player.data["apples"] = player.data.get("apples", 0) + 1
        self.despawn()
        return f"You pick up the apple. You have {apples} apples."
