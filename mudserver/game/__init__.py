"""The game API: what a game author imports to put things in the world.

::

    from mudserver.game import Player, Rules, Thing

    class Parrot(Thing):
        kind = "creature"
        verbs = ("pet",)
        phrase: str = "Pieces of eight!"      # a parameter the world file may set

        def on_spawn(self) -> None:
            self.every(30, self.squawk)

        def squawk(self) -> None:
            self.say(self.phrase)

        def on_use(self, player: Player, verb: str, text: str) -> str:
            player.data["pets"] = player.data.get("pets", 0) + 1
            return f"The parrot nibbles your ear ({player.data['pets']} pets so far)."

A game is a package of such classes (and optionally a ``Rules`` class),
found by ``--game``; its world file lists what exists at start.  docs/game.md
is the tutorial and the reference.  No Twisted here: the game runs inside the
sans-IO core, on the core's tick.
"""

from mudserver.game.player import Player
from mudserver.game.thing import Rules, Thing, World
from mudserver.game.timers import Timer

__all__ = ["Player", "Rules", "Thing", "Timer", "World"]
