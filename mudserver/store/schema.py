"""The PostgreSQL schema: its version, the migrations, and bringing a database up to date.

Plain Python with psycopg 3.  The schema carries a version (the one row of
``mudserver_schema``); :func:`migrate` runs, in one transaction and under an
advisory lock (so servers starting together do it once), every migration
from the version found to :data:`SCHEMA_VERSION`, and refuses a database
newer than this code rather than guess at it.  What each table is for is
told where it is read and written: accounts in :mod:`mudserver.store.postgres`,
bans in :mod:`mudserver.store.bans`, shards and the console's answers in
:mod:`mudserver.store.cluster`.
"""

from __future__ import annotations

from typing import Any

import psycopg

from mudserver.account import AccountError

__all__ = [
    "MIGRATIONS",
    "SCHEMA_LOCK",
    "SCHEMA_VERSION",
    "SchemaError",
    "migrate",
    "schema_version",
]


class SchemaError(AccountError):
    """The database holds a schema this mudserver does not know (a newer one)."""


#: The schema this code reads and writes; :data:`MIGRATIONS` gets a database there.
SCHEMA_VERSION = 4
#: Key of the advisory lock held while the schema is created or migrated.
SCHEMA_LOCK = 0x6D75_6473  # "muds"

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
    # 4: what shards share besides accounts: the bans (store/bans.py), and the
    # shards themselves with their answers to the operator's console
    # (store/cluster.py).  Ban times are epoch seconds, as the ban file's, so
    # a ban read back equals the one written.
    """
    CREATE TABLE mudserver_bans (
        target text PRIMARY KEY,
        kind text NOT NULL CONSTRAINT kind_is_known CHECK (kind IN ('name', 'address')),
        reason text NOT NULL DEFAULT '',
        since double precision NOT NULL,
        until double precision CONSTRAINT until_after_since CHECK (until > since)
    );
    CREATE TABLE mudserver_shards (
        name text PRIMARY KEY CONSTRAINT name_is_valid CHECK (name ~ '^[A-Za-z0-9_-]{1,32}$'),
        host text NOT NULL,
        started timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE mudserver_answers (
        request uuid NOT NULL,
        shard text NOT NULL,
        answer jsonb NOT NULL,
        made timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (request, shard)
    )
    """,
]
assert len(MIGRATIONS) == SCHEMA_VERSION


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Create or migrate the schema on *conn*; the version found before (0: none)."""
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


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The version the database on *conn* holds (0: no schema yet)."""
    exists = conn.execute("SELECT to_regclass('mudserver_schema')").fetchone()
    if exists is None or exists[0] is None:
        return 0
    row = conn.execute("SELECT version FROM mudserver_schema").fetchone()
    return 0 if row is None else int(row[0])
