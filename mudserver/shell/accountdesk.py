"""The console's account commands, in the server: list, delete, reset a password.

Accounts live in the store every shard shares, so any one server can list,
delete or reset any account; what makes it delicate is a player of the
account who is playing, here or on another shard, and whose saves would
write the old account back.  So a delete or a reset:

1. kicks the player wherever it plays (*kick*: every shard, through the
   relay, or this server alone);
2. on a shard, claims the account (:meth:`Shard.claim`): that waits until
   any other shard has saved and given it back, and raises its fencing
   token, so no save from elsewhere lands afterwards;
3. reads the account's password record on the account's own save thread
   (behind every save queued for it), retires that version
   (:meth:`SaveQueue.retire`: a player who logged in meanwhile cannot write
   it back), and deletes the account or swaps in the new record there, only
   if the record is still the one read (else it reads again);
4. kicks again any player of the retired version here.

A new password is random, shown once to the operator, and hashed with the
store's current parameters on the login pool, never on the reactor, in its
turn with the logins (:meth:`Logins.for_console`): the cap on password work
(``--password-work``) holds for resets too.  Listings run there as well.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import threads
from twisted.logger import Logger

from mudserver.account import Account
from mudserver.core import moderation
from mudserver.core.game import Game
from mudserver.shell.login import Logins
from mudserver.shell.saves import SaveQueue
from mudserver.store.base import AccountInfo, Store, name_pattern

if TYPE_CHECKING:  # psycopg, behind shards, is an optional extra
    from mudserver.shell.shard import Shard

__all__ = ["PASSWORD_BYTES", "AccountDesk"]

#: Random bytes in a reset password: 16 characters of URL-safe base64.
PASSWORD_BYTES = 12

#: Kicks a player wherever it plays (name, reason); the shards it was kicked on.
Kick = Callable[[str, str], Awaitable[list[str]]]


class AccountDesk:
    """Lists, deletes and resets accounts for the console."""

    log = Logger()

    def __init__(
        self,
        store: Store,
        game: Game,
        saves: SaveQueue,
        logins: Logins,
        reactor: Any,
        shard: Shard | None = None,
    ) -> None:
        """*logins*: where password work and the listing run (its pool, under its cap)."""
        self.store = store
        self.game = game
        self.saves = saves
        self.logins = logins
        self.reactor = reactor
        self.shard = shard

    def _on_save_thread(self, name: str, f: Callable[..., Any], *args: Any) -> Any:
        return threads.deferToThreadPool(self.reactor, self.saves.pool_of(name), f, *args)

    def _on_pool(self, f: Callable[..., Any], *args: Any) -> Any:
        return self.logins.for_console(f, *args)

    async def listing(
        self, pattern: str, after: str, limit: int, count: bool = True
    ) -> tuple[int | None, list[AccountInfo]]:
        """One page of accounts matching *pattern* after *after*, and, with *count*, how
        many match in all (the console asks on its first page only).  InvalidName for a
        bad pattern."""
        glob = name_pattern(pattern)
        page = await self._on_pool(self.store.list_accounts, glob, after, limit)
        total = await self._on_pool(self.store.count_accounts, glob) if count else None
        return total, page

    async def delete(self, name: str, kick: Kick) -> list[str] | None:
        """Delete account *name*: the shards its player was kicked on, or None if no such
        account."""
        kicked = await kick(name, "account deleted")
        found = await self._retire_then(name, self._delete_if)
        if found:
            self.log.info("operator deleted the account {name}", name=name)
        return kicked if found else None

    async def reset_password(self, name: str, kick: Kick) -> tuple[str, list[str]] | None:
        """Give *name* a new random password: it, and the shards its player was kicked on;
        None if no such account."""
        kicked = await kick(name, "password reset")
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        record = await self._on_pool(self.store.hash, password)

        def swap(name: str, old: dict[str, Any]) -> bool:
            account = self.store.upgrade_password(name, old, record)
            return account is not None and account.password == record

        found = await self._retire_then(name, swap)
        if not found:
            return None
        self.log.info("operator reset the password of {name}", name=name)
        return password, kicked

    def _delete_if(self, name: str, old: dict[str, Any]) -> bool:
        account = self.store.load(name)
        if account is None or account.password != old:
            return False
        return self.store.delete(name)

    async def _retire_then(self, name: str, change: Callable[[str, dict[str, Any]], bool]) -> bool:
        """Steps 2 to 4 of the module docstring; False if there is no such account."""
        if self.shard is not None:
            await self.shard.claim(name)  # a hold given back below only once it is held
        try:
            while True:
                account: Account | None = await self._on_save_thread(name, self.store.load, name)
                if account is None:
                    return False
                self.saves.retire(name, account.password)
                if await self._on_save_thread(name, change, name, account.password):
                    break
            session = self.game.player(name)
            if (
                session is not None
                and session.account is not None
                and session.account.password == account.password
            ):
                moderation.kick(self.game, name)
            return True
        finally:
            if self.shard is not None:
                self.shard.give_back(name)
