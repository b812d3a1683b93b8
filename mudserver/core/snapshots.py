"""When a player must be saved, and what a snapshot of it holds.

A snapshot is a copy of the account with the player's position and the
game's per-player data (:attr:`~mudserver.account.Account.data`) as they are
now, handed to the shell's ``save`` callable, which writes it on a thread.
Why it is built this way:

* **A copy, not the live account.**  Game code changes a player's data
  between ticks while a save thread writes the last snapshot; the snapshot
  holds its own data, decoded from the text it was checked as.
* **Bad data is refused where it is made.**  Game code is trusted, but may
  still put a set or an object into a player's data, or let it grow without
  end.  Each snapshot checks the data (:func:`~mudserver.account.encoded_data`:
  a JSON object of at most ``--max-player-data`` bytes); data that fails keeps
  the last data that passed, the rest of the save (the position) is kept, and
  the log says why, once per new reason.
* **Autosave only what changed**: the position, or the data's text, since the
  player's last snapshot.

Pure Python; the game (:mod:`mudserver.core.game`) owns one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Hashable

from mudserver.account import Account, encoded_data
from mudserver.core.world import Entity

__all__ = ["SaveFunction", "Snapshots"]

log = logging.getLogger(__name__)

SaveFunction = Callable[[Account], object]
Position = tuple[float, float, float]


class Snapshots:
    """Snapshots of the players of one game, and what each was last saved with."""

    def __init__(self, save: SaveFunction, max_data: int) -> None:
        self._save = save
        #: The most bytes a player's data may take as JSON.
        self.max_data = max_data
        #: Per player: (position, data text) of its last snapshot; None: save it.
        self._saved: dict[Hashable, tuple[Position, str] | None] = {}
        #: Per player: the last data text that passed the check.
        self._good: dict[Hashable, str] = {}
        #: Per player: why its data was last refused (logged once per reason).
        self._refused: dict[Hashable, str] = {}

    def start(self, player: Hashable, account: Account) -> None:
        """*player* joined with *account*: its data as loaded is the last good one."""
        self._saved[player] = None
        self._good[player] = self._check(player, account) or "{}"

    def forget(self, player: Hashable) -> None:
        """*player* left; its last snapshot was taken."""
        self._saved.pop(player, None)
        self._good.pop(player, None)
        self._refused.pop(player, None)

    def take(self, player: Hashable, account: Account, entity: Entity) -> None:
        """Hand a snapshot of *account* at *entity*'s position to the store."""
        text = self._data_text(player, account)
        position = entity.position
        self._saved[player] = (position, text)
        x, y, z = position
        self._save(dataclasses.replace(account, x=x, y=y, z=z, data=json.loads(text)))

    def changed(self, player: Hashable, account: Account, entity: Entity) -> bool:
        """Whether *player* moved or its data changed since its last snapshot."""
        saved = self._saved.get(player)
        if saved is None:
            return True
        return entity.position != saved[0] or self._data_text(player, account) != saved[1]

    def failed(self, player: Hashable) -> None:
        """A save of *player* did not land: the next autosave writes it again."""
        if player in self._saved:
            self._saved[player] = None

    def _data_text(self, player: Hashable, account: Account) -> str:
        text = self._check(player, account)
        if text is None:
            return self._good.get(player, "{}")
        self._good[player] = text
        return text

    def _check(self, player: Hashable, account: Account) -> str | None:
        """*account*'s data as JSON text, or None (logged once per reason) if it is refused."""
        try:
            text = encoded_data(account.data, self.max_data)
        except ValueError as exc:
            reason = str(exc)
            if self._refused.get(player) != reason:
                self._refused[player] = reason
                log.warning(
                    "not saving the data of %s (%s); the last good data and the position are saved",
                    account.name,
                    reason,
                )
            return None
        self._refused.pop(player, None)
        return text
