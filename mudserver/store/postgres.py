"""Accounts in PostgreSQL: one row per account, shared by several servers.

Plain Python with psycopg 3 and no Twisted: the shell calls these methods
from its worker threads, as it does the file store's.  Why it is built so:

* Every value a client sends reaches SQL only as a bound parameter; table and
  column names are constants of this module.
* Each thread has its own connection, replaced once if it broke, and
  :class:`~mudserver.store.base.StoreUnavailable` when the database cannot be reached
  (:mod:`mudserver.store.pgconn`).
* Names are unique case-insensitively through the primary key ``name_key``
  (the lower-cased name), as the file store's lower-cased file names.
* A save is one ``INSERT ... ON CONFLICT DO UPDATE``: atomic, and repeating it
  is harmless.  :meth:`PostgresStore.save_many` writes a slice in one
  transaction.
* The schema carries a version and is created or migrated under an advisory
  lock, so servers starting together do it once (:mod:`mudserver.store.schema`).
* **Shards fence their saves with a token** (column ``lease``): a shard that
  claims an account raises it (:data:`RAISE_LEASE`, on its lock connection,
  holding the account's advisory lock), the row it then loads carries the new
  value, and each of its saves writes only where the row still holds that
  value (:data:`_FENCED_SAVE`).  Once another shard has claimed the account,
  the first one's saves, even retries already under way, change nothing, and
  :meth:`PostgresStore.save_many` names them so the shard can close its
  player.  This holds however the first shard lost the account, including an
  account another shard claimed and gave back while the first one's lock
  connection was down (the lock alone cannot tell), and it costs one index
  lookup per row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from mudserver.account import (
    NAME_RULE,
    Account,
    AccountExists,
    CorruptAccount,
    InvalidName,
    valid_name,
)
from mudserver.store.base import AccountInfo, PasswordChecks, hash_password, read_account
from mudserver.store.passwords import DEFAULT_PARAMS, PasswordParams
from mudserver.store.pgconn import Connections, describe
from mudserver.store.schema import MIGRATIONS, SCHEMA_VERSION, SchemaError, migrate, schema_version

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "PostgresStore",
    "SchemaError",
    "account_key",
    "like_pattern",
]

T = TypeVar("T")


_UPSERT = """
    INSERT INTO mudserver_accounts (name_key, name, password, x, y, z, data)
    VALUES (%s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (name_key) DO UPDATE SET
        name = EXCLUDED.name, password = EXCLUDED.password,
        x = EXCLUDED.x, y = EXCLUDED.y, z = EXCLUDED.z, data = EXCLUDED.data, saved = now()
"""
#: A shard's save: the position (and password record) of accounts whose row
#: still holds the token the shard read when it claimed them.  One statement
#: for the batch; ``RETURNING`` says which rows it wrote, so the others can
#: be reported as refused.  A shard only saves accounts that exist (a login
#: loaded them), so there is nothing to insert.
_FENCED_SAVE = """
    UPDATE mudserver_accounts AS a SET
        name = r.name, password = r.password::jsonb, x = r.x, y = r.y, z = r.z,
        data = r.data::jsonb, saved = now()
    FROM unnest(
        %s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[], %s::float8[],
        %s::text[], %s::bigint[]
    ) AS r(name_key, name, password, x, y, z, data, lease)
    WHERE a.name_key = r.name_key AND a.lease = r.lease
    RETURNING a.name_key
"""
#: What a shard runs when it has just taken the account's advisory lock: the
#: new token, which its saves of the account must then match.
RAISE_LEASE = "UPDATE mudserver_accounts SET lease = lease + 1 WHERE name_key = %s RETURNING lease"
_INSERT = """
    INSERT INTO mudserver_accounts (name_key, name, password, x, y, z, data, created)
    VALUES (%s, %s, %s, %s, %s, %s, %s, COALESCE(to_timestamp(%s), now()))
"""
_SELECT = (
    "SELECT name, password, x, y, z, data, extract(epoch FROM created),"
    " extract(epoch FROM saved), lease FROM mudserver_accounts"
)


#: The operator's listing: a LIKE over the primary key, one page after a name.
_LIST = """
    SELECT name, extract(epoch FROM created), extract(epoch FROM saved) FROM mudserver_accounts
    WHERE name_key LIKE %s ESCAPE '\\' AND name_key > %s ORDER BY name_key LIMIT %s
"""


def like_pattern(glob: str) -> str:
    """The ``LIKE`` pattern of a lower-cased glob from :func:`~mudserver.store.base.name_pattern`.

    ``_`` is a name character and a ``LIKE`` wildcard, so it is escaped
    (with ``%`` and the escape character itself) before the glob's own
    wildcards become ``LIKE``'s.
    """
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def account_key(name: str) -> int:
    """The advisory-lock key of account *name* (a signed 64-bit integer)."""
    digest = hashlib.sha256(b"mudserver-account:" + name.lower().encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _row(account: Account) -> tuple[Any, ...]:
    """The parameters of one row, refusing anything :meth:`PostgresStore.load` would reject."""
    try:
        read_account(account.to_json())
    except CorruptAccount as exc:
        raise ValueError(f"refusing to write invalid account: {exc}") from None
    return (
        account.name.lower(),
        account.name,
        Jsonb(dict(account.password)),
        account.x,
        account.y,
        account.z,
        Jsonb(account.data),
    )


def _account(row: tuple[Any, ...]) -> Account:
    """An Account from a row, checked as strictly as an account file."""
    name, password, x, y, z, data, created, saved, lease = row
    account = read_account(
        {
            "version": 2,
            "name": name,
            "password": password,
            "position": [x, y, z],
            "data": data,
            "created": None if created is None else float(created),
            "last_seen": None if saved is None else float(saved),
        }
    )
    account.lease = int(lease)
    return account


class PostgresStore(PasswordChecks):
    """Accounts in the table ``mudserver_accounts`` of one PostgreSQL database."""

    def __init__(
        self, conninfo: str, hash_params: PasswordParams = DEFAULT_PARAMS, fenced: bool = False
    ) -> None:
        """Remember where; nothing connects until :meth:`initialize` or a first call.

        *fenced* (a shard): saves land only where the row still holds the token
        the account was loaded with (see ``_FENCED_SAVE``).
        """
        self.conninfo = conninfo
        self._init_passwords(hash_params)
        self._connections = Connections(conninfo)
        self.fenced = fenced

    def describe(self) -> str:
        """Host, port, database and user, without the password."""
        return describe(self.conninfo)

    def _run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run *work* on this thread's connection (see :mod:`mudserver.store.pgconn`)."""
        return self._connections.run(work)

    def close(self) -> None:
        """Close every thread's connection."""
        self._connections.close()

    # -- schema --------------------------------------------------------------------

    def initialize(self) -> int:
        """Create or migrate the schema; the version found before (0: none).

        SchemaError if the database is newer than this code.
        """
        return self._run(migrate)

    def schema_version(self) -> int:
        """The version the database holds (0: no schema yet)."""
        return self._run(schema_version)

    # -- accounts ------------------------------------------------------------------

    def exists(self, name: str) -> bool:
        if not valid_name(name):
            return False
        return self._run(
            lambda c: (
                c.execute(
                    "SELECT 1 FROM mudserver_accounts WHERE name_key = %s", (name.lower(),)
                ).fetchone()
                is not None
            )
        )

    def load(self, name: str) -> Account | None:
        """None if unknown or invalid; CorruptAccount if the row holds bad data."""
        if not valid_name(name):
            return None
        row = self._run(
            lambda c: c.execute(f"{_SELECT} WHERE name_key = %s", (name.lower(),)).fetchone()
        )
        if row is None:
            return None
        try:
            return _account(row)
        except CorruptAccount as exc:
            raise CorruptAccount(f"account row {name.lower()!r}: {exc}") from None

    def accounts(self) -> Iterator[Account]:
        """Every account, in name order."""
        rows = self._run(lambda c: c.execute(f"{_SELECT} ORDER BY name_key").fetchall())
        for row in rows:
            yield _account(row)

    def count_accounts(self, pattern: str = "*") -> int:
        like = like_pattern(pattern)
        row = self._run(
            lambda c: c.execute(
                "SELECT count(*) FROM mudserver_accounts WHERE name_key LIKE %s ESCAPE '\\'",
                (like,),
            ).fetchone()
        )
        return 0 if row is None else int(row[0])

    def list_accounts(
        self, pattern: str = "*", after: str = "", limit: int = 100
    ) -> list[AccountInfo]:
        """One page, by the primary key's order: the index serves ``>`` and ``LIMIT``."""
        params = (like_pattern(pattern), after.lower(), max(0, limit))
        rows = self._run(lambda c: c.execute(_LIST, params).fetchall())
        return [
            AccountInfo(
                name,
                None if created is None else float(created),
                None if saved is None else float(saved),
            )
            for name, created, saved in rows
        ]

    def delete(self, name: str) -> bool:
        """One ``DELETE``; a shard's later saves of the account find no row and are refused."""
        if not valid_name(name):
            return False
        return self._run(
            lambda c: (
                c.execute(
                    "DELETE FROM mudserver_accounts WHERE name_key = %s", (name.lower(),)
                ).rowcount
                > 0
            )
        )

    def create(
        self, name: str, password: str, x: float = 0.0, y: float = 0.0, z: float = 0.0
    ) -> Account:
        if not valid_name(name):
            raise InvalidName(f"invalid name {name!r}: {NAME_RULE}")
        if self.exists(name):  # cheap early answer; the primary key is the real check
            raise AccountExists(f"account {name!r} already exists")
        account = Account(
            name, hash_password(password, self.hash_params), float(x), float(y), float(z)
        )
        self.insert(account)
        return account

    def insert(self, account: Account) -> None:
        """Add *account* as it is; its creation date is kept, or now for a new one."""
        row = (*_row(account), account.created)
        try:
            self._run(lambda c: c.execute(_INSERT, row))
        except psycopg.errors.UniqueViolation:
            raise AccountExists(f"account {account.name!r} already exists") from None

    def upgrade_password(
        self, name: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Account | None:
        """Swap the record only where the row still holds *old*; one statement, atomic."""
        if not valid_name(name):
            return None
        self._run(
            lambda c: c.execute(
                "UPDATE mudserver_accounts SET password = %s WHERE name_key = %s AND password = %s",
                (Jsonb(dict(new)), name.lower(), Jsonb(dict(old))),
            )
        )
        return self.load(name)

    def save(self, account: Account) -> None:
        """Write *account* (see :meth:`save_many`; a refused save is not an error here)."""
        self.save_many([account])

    def save_many(self, accounts: Iterable[Account]) -> list[str]:
        """One transaction for the lot: all of them land, or none.

        :attr:`fenced` (a shard): an account whose row no longer holds the
        token it was loaded with is left as it is (another shard claimed it
        since); the names of those are returned.
        """
        accounts = list(accounts)
        if not accounts:
            return []
        rows = [_row(account) for account in accounts]
        if not self.fenced:

            def work(conn: psycopg.Connection[Any]) -> None:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(_UPSERT, rows)

            self._run(work)
            return []
        if any(a.lease is None for a in accounts):
            raise ValueError("a shard saves only accounts it loaded (they carry a token)")
        if len({row[0] for row in rows}) != len(rows):
            # One statement may not update a row twice; the shell never sends two.
            raise ValueError("a fenced batch holds two saves of one account")
        columns: list[list[Any]] = [
            [row[0] for row in rows],
            [row[1] for row in rows],
            [json.dumps(dict(a.password)) for a in accounts],
            [row[3] for row in rows],
            [row[4] for row in rows],
            [row[5] for row in rows],
            [json.dumps(a.data) for a in accounts],
            [a.lease for a in accounts],
        ]
        written = {
            key for (key,) in self._run(lambda c: c.execute(_FENCED_SAVE, columns).fetchall())
        }
        return [a.name for a in accounts if a.name.lower() not in written]

    def saved_since(self, keys: list[str], seconds: float) -> int:
        """How many of the accounts *keys* (lower-cased names) were written in the last
        *seconds*: whether the autosave keeps up, read from the database's own clock."""
        row = self._run(
            lambda c: c.execute(
                "SELECT count(*) FROM mudserver_accounts"
                " WHERE name_key = ANY(%s) AND saved >= now() - make_interval(secs => %s)",
                (keys, float(seconds)),
            ).fetchone()
        )
        return 0 if row is None else int(row[0])

    def remove_stale_temp_files(self, older_than: float = 60.0) -> int:
        """Nothing to clean up: an interrupted transaction leaves nothing behind."""
        return 0
