"""What the server needs from an account store, whichever engine keeps it.

Two stores satisfy :class:`Store`: :class:`~mudserver.store.files.FileStore`
(one JSON file per account, the default) and
:class:`~mudserver.store.postgres.PostgresStore` (one row per account, shared
by several server processes).  The shell calls every method from worker
threads, never from the reactor, so each may block.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from mudserver.account import Account, AccountError, CorruptAccount, InvalidName
from mudserver.store import passwords
from mudserver.store.passwords import DEFAULT_PARAMS, InvalidPasswordRecord, PasswordParams

__all__ = [
    "AccountInfo",
    "PasswordChecks",
    "Store",
    "StoreUnavailable",
    "hash_password",
    "name_pattern",
    "read_account",
    "verify_password",
]


#: What a listing pattern may hold: name characters and the two wildcards.
_PATTERN_RE = re.compile(r"[A-Za-z0-9_*?]{1,64}")


def name_pattern(text: str) -> str:
    """*text* as a lower-cased glob over account names, for :meth:`Store.list_accounts`.

    ``*`` stands for any run of characters and ``?`` for one; a pattern
    without either matches the names that contain it (``foo`` finds ``foo``,
    ``foobar`` and ``bigfoo``), and an empty one every name.  InvalidName for
    a character no name holds, so nothing else reaches a query or a glob.
    """
    if not text:
        return "*"
    if not _PATTERN_RE.fullmatch(text):
        raise InvalidName(f"not a name pattern: {text[:40]!r} (name characters, * and ?, up to 64)")
    text = text.lower()
    return text if "*" in text or "?" in text else f"*{text}*"


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """One line of the operator's account listing: no password record, no game data."""

    name: str
    #: Seconds since the epoch; ``None`` where the store never recorded it.
    created: float | None
    last_seen: float | None
    #: The stored account could not be read (the listing goes on past it).
    damaged: bool = False


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

    def count_accounts(self, pattern: str = "*") -> int:
        """How many accounts have a name matching *pattern* (see :func:`name_pattern`)."""
        ...

    def list_accounts(
        self, pattern: str = "*", after: str = "", limit: int = 100
    ) -> list[AccountInfo]:
        """At most *limit* accounts matching *pattern*, in name order, the first after *after*.

        One page of the operator's listing: the next page starts after the
        last name of this one, so a page costs the same wherever it starts
        and accounts made or deleted meanwhile shift nothing.
        """
        ...

    def delete(self, name: str) -> bool:
        """Remove the account for good; False if there was none (or the name is invalid).

        The caller makes sure no save of it comes afterwards (the server
        closes the player first and orders the delete after its saves).
        """
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


def read_account(data: Any) -> Account:
    """An account from its stored JSON form, its password record checked too.

    CorruptAccount for anything :meth:`Account.from_json` refuses and for a
    password record of an unknown algorithm or with bad parameters.
    """
    account = Account.from_json(data)
    try:
        passwords.parse_record(account.password)
    except InvalidPasswordRecord as exc:
        raise CorruptAccount(str(exc)) from None
    return account


def hash_password(password: str, params: PasswordParams = DEFAULT_PARAMS) -> dict[str, Any]:
    """A fresh password record (see :func:`mudserver.store.passwords.hash_password`)."""
    return passwords.hash_password(password, params)


def verify_password(password: str, record: dict[str, Any]) -> bool:
    """Whether *password* matches *record*; CorruptAccount for a malformed record."""
    try:
        return passwords.verify_password(password, record)
    except InvalidPasswordRecord as exc:
        raise CorruptAccount(str(exc)) from None


class PasswordChecks:
    """The password work every store does alike, over the store's own :meth:`load`.

    Hashing and verifying are the same whatever keeps the records (files or
    PostgreSQL); only how an account is read differs.  A store calls
    :meth:`_init_passwords` in its ``__init__``.
    """

    hash_params: PasswordParams
    _dummy_record: dict[str, Any]

    def _init_passwords(self, hash_params: PasswordParams) -> None:
        self.hash_params = hash_params
        #: What unknown names are verified against (see :meth:`authenticate`).
        self._dummy_record = hash_password(secrets.token_urlsafe(16), hash_params)

    def load(self, name: str) -> Account | None:
        raise NotImplementedError

    def authenticate(self, name: str, password: str) -> Account | None:
        """The Account if *password* is right, else None.

        Unknown and invalid names are verified against a dummy record so they
        cost the same hashing work as a wrong password at the current
        parameters (timing must not reveal which names exist).  CorruptAccount
        propagates so the server can log it.
        """
        account = self.load(name)
        if account is None:
            verify_password(password, self._dummy_record)
            return None
        if verify_password(password, account.password):
            return account
        return None

    def needs_rehash(self, account: Account) -> bool:
        """Whether *account*'s password record is older or weaker than :attr:`hash_params`."""
        try:
            return passwords.needs_rehash(account.password, self.hash_params)
        except InvalidPasswordRecord as exc:
            raise CorruptAccount(str(exc)) from None

    def hash(self, password: str) -> dict[str, Any]:
        """A new password record with the current parameters (slow: not on the reactor)."""
        return hash_password(password, self.hash_params)
