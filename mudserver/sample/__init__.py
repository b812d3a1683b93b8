"""The sample game: a small living place at the spawn point, and every part of the game API once.

``twistd -n mudserver`` runs it with ``data/world.toml``: Ada greets whoever
comes near the well, four sheep wander their meadow, Brom the guard walks his
rounds, a signpost can be read, an apple tree drops apples that players pick
up and count (kept on each player, across logins), and Rex the dog follows
the nearest player.  Read it beside docs/game.md; each class says which part
of the API it shows.
"""

from mudserver.sample.creatures import Dog, Sheep
from mudserver.sample.objects import Apple, AppleTree, Sign
from mudserver.sample.people import Greeter, Guard
from mudserver.sample.rules import Rules

__all__ = ["Apple", "AppleTree", "Dog", "Greeter", "Guard", "Rules", "Sheep", "Sign"]
