"""What the operator's console does to a game: who is on, kick, ban, announce, countdown.

The admin socket (:mod:`mudserver.shell.adminsocket`) only turns requests into
calls of these functions and their results into answers; everything it
decides (who is listed, who is kicked by a ban) is here, sans-IO and testable
with a plain :class:`~mudserver.core.game.Game`.  Only the game's public API
is used: ``players()``, ``player(name)``, ``sessions``, ``bans`` and
``announce``, and of a session what :class:`~mudserver.core.game.Client` holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mudserver.core.game import Game
from mudserver.limits.bans import Ban
from mudserver.wire import replies

__all__ = [
    "COUNTDOWN_MARKS",
    "PlayerRow",
    "who_rows",
    "kick",
    "ban",
    "enforce",
    "announce",
    "countdown",
    "countdown_text",
]

#: Seconds before a shutdown at which players are warned (besides at its start).
COUNTDOWN_MARKS = (3600, 1800, 900, 600, 300, 120, 60, 30, 10, 5)


@dataclass(frozen=True, slots=True)
class PlayerRow:
    """One line of the operator's ``who``."""

    name: str
    host: str
    version: str
    x: float
    y: float
    z: float
    #: Seconds since the player's last line.
    idle: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def who_rows(game: Game, now: float) -> list[PlayerRow]:
    """Every player online, sorted by name, for the operator."""
    rows = []
    for session in game.players():
        account, entity = session.account, session.entity
        if account is None or entity is None:
            continue
        rows.append(
            PlayerRow(
                account.name,
                session.host,
                session.version,
                float(entity.x),
                float(entity.y),
                float(entity.z),
                max(0.0, float(now - session.last_input)),
            )
        )
    rows.sort(key=lambda row: row.name.lower())
    return rows


def kick(game: Game, name: str, reason: str = "") -> bool:
    """Close *name*'s session with ``bye kicked`` (it is saved as it leaves).

    The reason, if any, reaches the player first as a ``sys`` line.  False if
    nobody by that name is playing.
    """
    session = game.player(name)
    if session is None:
        return False
    if reason:
        session.send(replies.system(f"kicked: {reason}"))
    session.close("kicked")
    return True


def ban(
    game: Game, target: str, now: float, duration: float | None = None, reason: str = ""
) -> tuple[Ban, list[str]]:
    """Ban *target* and close, with ``bye banned``, every connection it covers.

    Returns the ban and the labels of the connections closed (see
    :func:`enforce`).  Raises :class:`~mudserver.limits.bans.BanError` for a
    target that is neither a name, an address nor a range.
    """
    made = game.bans.add(target, now, duration, reason)
    return made, enforce(game, made, now)


def enforce(game: Game, made: Ban, now: float) -> list[str]:
    """Close, with ``bye banned``, every connection *made* covers (a ban just made here,
    or one another shard made); the labels of those closed: account names for
    players, addresses for connections not logged in."""
    if made.expired(now):
        return []
    if made.kind == "name":
        session = game.player(made.target)
        covered = [session] if session is not None else []
    else:
        covered = [s for s in list(game.sessions) if game.bans.address_banned(s.host, now)]
    closed: list[str] = []
    for session in covered:
        if made.reason:
            session.send(replies.system(f"banned: {made.reason}"))
        closed.append(session.account.name if session.account else session.host)
        session.close("banned")
    return closed


def announce(game: Game, text: str) -> int:
    """Tell every player *text* in a ``sys`` line; return how many will hear it."""
    game.announce(text)
    return len(game)


def countdown(seconds: float, marks: tuple[float, ...] = COUNTDOWN_MARKS) -> list[float]:
    """The remaining seconds at which a shutdown in *seconds* is announced.

    Once at the start, then at every mark still ahead, latest first:
    ``countdown(45)`` is ``[45, 30, 10, 5]``.  Nothing for a shutdown now.
    """
    if seconds <= 0:
        return []
    return [seconds, *sorted((m for m in marks if m < seconds), reverse=True)]


def countdown_text(remaining: float, message: str = "") -> str:
    """What players read *remaining* seconds before the shutdown."""
    if remaining >= 120 and remaining % 60 == 0:
        when = f"{remaining / 60:g} minutes"
    else:
        when = f"{remaining:g} second{'' if remaining == 1 else 's'}"
    text = f"server shutting down in {when}"
    return f"{text}: {message}" if message else text
