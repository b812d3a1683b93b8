"""The sample game's rules: a message of the day, and who has been around (game-wide hooks)."""

from __future__ import annotations

from mudserver import game
from mudserver.game import Player


class Rules(game.Rules):
    """Tells each player the message of the day at login and counts their visits.

    Shows: :meth:`~mudserver.game.Rules.setup` (checks the world's parameters
    once, so a bad value stops the start or the reload), ``on_login`` and
    ``on_logout``, and per-player state written by the rules.
    """

    motd: str = "Welcome to the sample world."

    def setup(self) -> None:
        if not self.motd.strip():
            raise ValueError("rules.motd must not be empty")

    def on_login(self, player: Player) -> None:
        visits = player.data["visits"] = player.data.get("visits", 0) + 1
        suffix = "" if visits == 1 else f" (visit {visits})"
        player.tell(self.motd + suffix)

    def on_logout(self, player: Player) -> None:
        player.data["last_place"] = [round(player.x, 1), round(player.y, 1)]
