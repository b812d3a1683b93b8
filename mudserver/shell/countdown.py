"""The operator's shutdown countdown: warnings at set marks, then an orderly stop.

The marks and the words are :mod:`mudserver.core.moderation`'s; this module
only schedules them on the reactor's clock (``task.Clock`` in tests).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mudserver.core import moderation
from mudserver.core.game import Game

__all__ = ["MAX_COUNTDOWN", "Countdown", "check_seconds"]

#: The longest countdown to a shutdown, in seconds: a day.
MAX_COUNTDOWN = 86_400.0


def check_seconds(seconds: float) -> float:
    """*seconds* if a countdown may last that long; ValueError if negative, not finite
    or over a day."""
    if not 0 <= seconds <= MAX_COUNTDOWN:
        raise ValueError(f"the countdown must be 0 to {MAX_COUNTDOWN:g} seconds")
    return seconds


class Countdown:
    """Warns every player at the marks of :func:`moderation.countdown`, then stops the server."""

    log = Logger()

    def __init__(self, game: Game, clock: IReactorTime, stop: Callable[[], object]) -> None:
        self.game = game
        self.clock = clock
        self._stop = stop
        self._calls: list[IDelayedCall] = []

    @property
    def running(self) -> bool:
        return any(call.active() for call in self._calls)

    def start(self, seconds: float, message: str = "") -> None:
        """Shut down in *seconds*; replaces a countdown already running.

        ValueError for a time that is negative, not finite or over a day.
        """
        check_seconds(seconds)
        self._cancel_calls()
        self.log.info("shutdown in {seconds} s requested", seconds=seconds)
        for remaining in moderation.countdown(seconds):
            text = moderation.countdown_text(remaining, message)
            self._calls.append(self.clock.callLater(seconds - remaining, self.game.announce, text))
        self._calls.append(self.clock.callLater(seconds, self._finish))

    def cancel(self) -> bool:
        """Stop the countdown; False if none was running."""
        if not self.running:
            return False
        self._cancel_calls()
        self.game.announce("shutdown cancelled")
        self.log.info("shutdown cancelled")
        return True

    def _cancel_calls(self) -> None:
        for call in self._calls:
            if call.active():
                call.cancel()
        self._calls = []

    def _finish(self) -> None:
        self._calls = []
        self.log.info("shutting down as the operator asked")
        self._stop()
