"""What one server does for the operator's console, however the request reached it.

The commands that act on one server's players and game (``who``, ``kick``,
``announce``, ``shutdown``, ``cancel``, ``reload``) take their arguments as JSON values
and answer with a JSON object, the same whether the console asked this
server over its socket (:mod:`mudserver.shell.adminsocket`) or another shard
passed the request on through the database (:mod:`mudserver.shell.relay`).
What they decide is :mod:`mudserver.core.moderation`'s; this module checks
the arguments (a relayed request comes out of a database, so each value's
type is checked here) and turns the results into answers.

A mistake is an answer with ``error``, not an exception: when every shard
is asked, one shard's refusal must not hide the others' answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mudserver.core import moderation
from mudserver.core.game import Game
from mudserver.shell.countdown import Countdown, check_seconds
from mudserver.shell.gamehost import ReloadFailed

__all__ = ["COMMANDS", "MAX_ANNOUNCEMENT", "Operations", "Outcome"]

#: The commands every shard runs for the console.
COMMANDS = ("who", "kick", "announce", "shutdown", "cancel", "reload")
#: Longest announcement, in characters: it crosses shards as a notification
#: payload (at most 8,000 bytes), and players read it as one ``sys`` line.
MAX_ANNOUNCEMENT = 1000


@dataclass(frozen=True, slots=True)
class Outcome:
    """A command's answer, and what to do once the answer is on its way."""

    answer: dict[str, Any]
    #: Run after the answer was sent: a shutdown starts its countdown only
    #: then, or a shutdown "now" could stop the server before it answered.
    then: Callable[[], object] | None = None


class Operations:
    """Runs the console's per-server commands on this server's game."""

    log = Logger()

    def __init__(
        self,
        game: Game,
        clock: IReactorTime,
        countdown: Countdown,
        reload: Callable[[], str] | None = None,
    ) -> None:
        """*reload* re-reads the game's code and world file and says what it did
        (:class:`~mudserver.shell.gamehost.ReloadFailed` if nothing changed); None: the
        server runs no game."""
        self.game = game
        self.clock = clock
        self.countdown = countdown
        self.reload = reload

    def run(self, command: str, args: dict[str, Any]) -> Outcome:
        """Do *command*; its answer, or ``{"error": ...}`` for a bad command or argument."""
        try:
            return self._run(command, args)
        except (KeyError, TypeError, ValueError) as e:
            return Outcome({"error": f"{command}: {e}"})

    def _run(self, command: str, args: dict[str, Any]) -> Outcome:
        match command:
            case "who":
                rows = moderation.who_rows(self.game, self.clock.seconds())
                return Outcome({"rows": [row.to_json() for row in rows]})
            case "kick":
                name, reason = _text(args, "name"), _text(args, "reason")
                kicked = moderation.kick(self.game, name, reason)
                if kicked:
                    self.log.info("operator kicked {name}", name=name)
                return Outcome({"kicked": kicked})
            case "announce":
                text = _text(args, "text")
                if len(text) > MAX_ANNOUNCEMENT:
                    raise ValueError(f"an announcement holds at most {MAX_ANNOUNCEMENT} characters")
                return Outcome({"players": moderation.announce(self.game, text)})
            case "shutdown":
                seconds = args["seconds"]
                if not isinstance(seconds, int | float):
                    raise TypeError("seconds must be a number")
                seconds = check_seconds(float(seconds))
                message = _text(args, "message")
                return Outcome({"seconds": seconds}, lambda: self.countdown.start(seconds, message))
            case "cancel":
                return Outcome({"cancelled": self.countdown.cancel()})
            case "reload":
                if self.reload is None:
                    return Outcome({"error": "this server runs no game (--game none)"})
                self.log.info("operator reloads the game")
                try:
                    return Outcome({"summary": self.reload()})
                except ReloadFailed as e:
                    return Outcome({"error": str(e)})
        raise ValueError("no such command")


def _text(args: dict[str, Any], key: str) -> str:
    value = args.get(key, "")
    if not isinstance(value, str):
        raise TypeError(f"{key} must be text")
    return value
