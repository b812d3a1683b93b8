"""What the server needs from an account store, whichever engine keeps it.

Two stores satisfy :class:`Store`: :class:`~mudserver.store.accounts.AccountStore`
(one JSON file per account, the default) and
:class:`~mudserver.store.postgres.PostgresStore` (one row per account, shared
by several server processes).  The shell calls every method from worker
threads, never from the reactor, so each may block.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

from mudserver.store.accounts import Account, AccountError
from mudserver.store.passwords import PasswordParams

__all__ = ["Store", "StoreUnavailable"]


class StoreUnavailable(AccountError):
    """The store cannot be reached right now (a database is down or restarting).

    Not the account's fault, so a login gets ``err unavailable`` rather than
    ``err badlogin``, and a save is retried later rather than dropped.
    """


@runtime_checkable
class Store(Protocol):
    """Accounts and their saved positions; see the module docstring."""

    hash_params: PasswordParams

    def describe(self) -> str:
        """Where the accounts live, for log lines (never a password)."""
        ...

    def exists(self, name: str) -> bool: ...

    def load(self, name: str) -> Account | None:
        """None if unknown or invalid; CorruptAccount if the stored data is bad."""
        ...

    def create(
        self, name: str, password: str, x: float = 0.0, y: float = 0.0, z: float = 0.0
    ) -> Account:
        """A new account; InvalidName or AccountExists (names compare case-insensitively)."""
        ...

    def insert(self, account: Account) -> None:
        """Add *account* as it is, hash included (copying stores); AccountExists if taken."""
        ...

    def accounts(self) -> Iterator[Account]:
        """Every account, for copying to another store."""
        ...

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account if *password* is right, at the same cost for unknown names."""
        ...

    def needs_rehash(self, account: Account) -> bool: ...

    def hash(self, password: str) -> dict[str, Any]: ...

    def upgrade_password(
        self, name: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Account | None:
        """Replace the record *old* by *new* only if it is still there; the account."""
        ...

    def save(self, account: Account) -> None:
        """Write *account* atomically: afterwards the old or the new one is there."""
        ...

    def save_many(self, accounts: Iterable[Account]) -> list[str]:
        """Write several accounts, as one transaction where the engine has them.

        Returns the names of the accounts it refused to write: a shard's save
        of an account that another shard has claimed since (its fencing token
        no longer matches).  Only PostgreSQL under shards ever refuses.
        """
        ...

    def remove_stale_temp_files(self, older_than: float = 60.0) -> int:
        """Clean up what a killed process left behind; how many things were removed."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...
