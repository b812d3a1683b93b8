"""The game's code in the running server: loaded at start, reloaded when the operator asks.

The sans-IO work is :mod:`mudserver.game` (the runtime, the loader, the
reload); this module only gives it the server's clock and log, and answers
the admin socket's ``reload``.  A reload runs on the reactor's thread, so it
falls between two ticks by construction: players are never touched, no line
is lost, and the tick it delays is as long as the import and the swap.
"""

from __future__ import annotations

import time

from twisted.logger import Logger

from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.game.loader import GameCode, GameError, reimport
from mudserver.game.reload import ReloadError, apply
from mudserver.game.runtime import Runtime
from mudserver.game.worldfile import WorldError

__all__ = ["GameHost", "ReloadFailed"]


class ReloadFailed(Exception):
    """A reload changed nothing; the message says why in one line (the log has the traceback)."""


class GameHost:
    """Runs a game's code in *game*, and reloads it from where it was loaded."""

    log = Logger()

    def __init__(self, settings: Settings, code: GameCode, world: str | None, data: str) -> None:
        """*world* is ``--world`` as given (None: the default lookup) and *data* ``--data``."""
        self.settings = settings
        self.code = code
        self._world = world
        self._data = data
        #: Game code's time is measured with the process's performance counter.
        self.runtime = Runtime(settings, time.perf_counter)

    def start(self, game: Game) -> None:
        """Set the game up and spawn its world; what the set-up raises stops the start."""
        self.runtime.start(game, self.code)
        self.log.info(
            "game {module}: {count} things from {world}",
            module=self.code.module,
            count=len(self.runtime.things()),
            world=self.code.world.path or "no world file",
        )

    def reload(self) -> str:
        """Import the game afresh, read its world file, put both in the world; a summary.

        :class:`ReloadFailed` if anything fails: the old code goes on.
        """
        started = time.perf_counter()
        try:
            code, undo = reimport(self.code, self._world, self._data, self.settings.bounds)
            try:
                done = apply(self.runtime, code)
            except ReloadError:
                undo()
                raise
        except (GameError, WorldError, ReloadError) as e:
            self.log.failure("reload failed; the game goes on with its old code")
            raise ReloadFailed(str(e)) from e
        self.code = code
        took = (time.perf_counter() - started) * 1000
        summary = f"{done} in {took:.0f} ms"
        self.log.info("{summary}", summary=summary)
        return summary
