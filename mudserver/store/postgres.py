"""Accounts in PostgreSQL: one row per account, shared by several servers.

Plain Python with psycopg 3 and no Twisted: the shell calls these methods
from its worker threads, as it does the file store's.  Why it is built so:

* Every value a client sends reaches SQL only as a bound parameter; table and
  column names are constants of this module.
* Each thread has its own connection (psycopg connections serialise their
  queries), opened on first use.  A connection that breaks is dropped and the
  call retried once on a new one, so a database restart costs one error at
  most; when the database cannot be reached :class:`StoreUnavailable` says so
  and the caller decides (``err unavailable`` at login, a save retried later).
* Names are unique case-insensitively through the primary key ``name_key``
  (the lower-cased name), as the file store's lower-cased file names.
* A save is one ``INSERT ... ON CONFLICT DO UPDATE``: atomic, and repeating it
  is harmless.  :meth:`PostgresStore.save_many` writes a slice in one
  transaction.
* The schema carries a version (table ``mudserver_schema``) and is created or
  migrated under an advisory lock, so servers starting together do it once.
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
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from mudserver.account import (
    NAME_RULE,
    Account,
    AccountError,
    AccountExists,
    CorruptAccount,
    InvalidName,
    valid_name,
)
from mudserver.store.base import PasswordChecks, StoreUnavailable, hash_password, read_account
from mudserver.store.passwords import DEFAULT_PARAMS, PasswordParams

__all__ = ["SCHEMA_VERSION", "PostgresStore", "SchemaError", "account_key"]

T = TypeVar("T")

#: The schema this code reads and writes; :data:`MIGRATIONS` gets a database there.
SCHEMA_VERSION = 3
#: Key of the advisory lock held while the schema is created or migrated.
SCHEMA_LOCK = 0x6D75_6473  # "muds"
#: Seconds to wait for a connection before calling the database unavailable.
CONNECT_TIMEOUT = 5

#: ``MIGRATIONS[v]`` takes a database from schema version ``v`` to ``v + 1``.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE mudserver_accounts (
        name_key text PRIMARY KEY,
        name text NOT NULL,
        password jsonb NOT NULL,
        x double precision NOT NULL,
        y double precision NOT NULL,
        z double precision NOT NULL,
        saved timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT name_key_is_lower_name CHECK (name_key = lower(name)),
        CONSTRAINT name_is_valid CHECK (name ~ '^[A-Za-z0-9_]{1,24}$')
    )
    """,
    # 2: the fencing token of shards' saves.
    "ALTER TABLE mudserver_accounts ADD COLUMN lease bigint NOT NULL DEFAULT 0",
    # 3: the game's per-player data, and when an account was made (NULL: before
    # this version).  ``saved`` already says when it was last seen.
    """
    ALTER TABLE mudserver_accounts
        ADD COLUMN data jsonb NOT NULL DEFAULT '{}'::jsonb
            CONSTRAINT data_is_an_object CHECK (jsonb_typeof(data) = 'object'),
        ADD COLUMN created timestamptz;
    ALTER TABLE mudserver_accounts ALTER COLUMN created SET DEFAULT now()
    """,
]
assert len(MIGRATIONS) == SCHEMA_VERSION

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


def account_key(name: str) -> int:
    """The advisory-lock key of account *name* (a signed 64-bit integer)."""
    digest = hashlib.sha256(b"mudserver-account:" + name.lower().encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


#: Errors that mean "the connection or the server is gone", not "bad query".
_CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


class SchemaError(AccountError):
    """The database holds a schema this mudserver does not know (a newer one)."""


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

    def __init__(self, conninfo: str, hash_params: PasswordParams = DEFAULT_PARAMS) -> None:
        """Remember where; nothing connects until :meth:`initialize` or a first call."""
        self.conninfo = conninfo
        self._init_passwords(hash_params)
        self._local = threading.local()
        self._connections: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        #: For a shard: saves land only where the row still holds the token
        #: the account was loaded with (see ``_FENCED_SAVE``).
        self.fenced = False

    def describe(self) -> str:
        """Host, port, database and user, without the password."""
        try:
            parts = conninfo_to_dict(self.conninfo)
        except psycopg.ProgrammingError:
            return "PostgreSQL (unparsable connection string)"
        keys = ("host", "port", "dbname", "user")
        shown = " ".join(f"{k}={parts[k]}" for k in keys if k in parts)
        return f"PostgreSQL {shown}".rstrip()

    # -- connections ---------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except _CONNECTION_ERRORS as exc:
            raise StoreUnavailable(f"cannot reach {self.describe()}: {exc}") from None
        with self._lock:
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def _drop(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        try:
            conn.close()
        except Exception:  # closing a broken connection must not mask why it broke
            pass

    def _run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run *work* on this thread's connection, once more on a new one if it broke."""
        conn = getattr(self._local, "conn", None)
        fresh = conn is None or conn.closed
        if fresh:
            conn = self._connect()
        assert conn is not None
        try:
            return work(conn)
        except _CONNECTION_ERRORS as exc:
            self._drop(conn)
            if fresh:
                raise StoreUnavailable(f"lost {self.describe()}: {exc}") from None
        conn = self._connect()
        try:
            return work(conn)
        except _CONNECTION_ERRORS as exc:
            self._drop(conn)
            raise StoreUnavailable(f"lost {self.describe()}: {exc}") from None

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    # -- schema --------------------------------------------------------------------

    def initialize(self) -> int:
        """Create or migrate the schema; return the version found before (0: none).

        SchemaError if the database is newer than this code.
        """

        def work(conn: psycopg.Connection[Any]) -> int:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS mudserver_schema ("
                    " only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),"
                    " version integer NOT NULL)"
                )
                row = conn.execute("SELECT version FROM mudserver_schema").fetchone()
                found = 0 if row is None else int(row[0])
                if found > SCHEMA_VERSION:
                    raise SchemaError(
                        f"the database has schema version {found}; this mudserver knows "
                        f"up to {SCHEMA_VERSION}: upgrade mudserver"
                    )
                for version in range(found, SCHEMA_VERSION):
                    conn.execute(MIGRATIONS[version].encode())
                conn.execute(
                    "INSERT INTO mudserver_schema (version) VALUES (%s)"
                    " ON CONFLICT (only_row) DO UPDATE SET version = EXCLUDED.version",
                    (SCHEMA_VERSION,),
                )
                return found

        return self._run(work)

    def schema_version(self) -> int:
        """The version the database holds (0: no schema yet)."""

        def work(conn: psycopg.Connection[Any]) -> int:
            exists = conn.execute("SELECT to_regclass('mudserver_schema')").fetchone()
            if exists is None or exists[0] is None:
                return 0
            row = conn.execute("SELECT version FROM mudserver_schema").fetchone()
            return 0 if row is None else int(row[0])

        return self._run(work)

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
