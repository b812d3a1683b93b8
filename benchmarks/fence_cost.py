"""What does a shard's fenced save cost as the shards hold more accounts?  Prints it.

Usage (from the repository root)::

    python benchmarks/fence_cost.py [--locks 1000,5000,20000] [--batch 67] [--repeat 30]

A shard's save must not land once another shard has claimed the account.
The shipped check is a fencing token in the row (``lease``, raised by each
claim, matched by each save: ``_FENCED_SAVE`` in
:mod:`mudserver.store.postgres`).  Before it, two versions checked that the
shard's lock connection still held the account's advisory lock by reading
``pg_locks``, a view over a copy of the whole shared lock table, so the check
grew with the accounts playing on all shards together: once per row (the
first version, ``PER_ROW`` here) and once per batch (the second,
``PER_BATCH``).

This starts a throwaway cluster (as :mod:`tests.pg` does, with room for the
largest lock count), claims LOCKS accounts on one connection as a shard does,
and times a write of BATCH of them (a shard's autosave step at 2,000 players
and the default 30 s interval is 67) four ways, alternating in one sitting:
the token, the two lock checks, and no check at all.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mudserver.account import Account
from mudserver.store.base import hash_password
from mudserver.store.ownership import Ownership
from mudserver.store.passwords import Argon2Params
from mudserver.store.postgres import PostgresStore, account_key
from tests.pg import start_cluster

_SET = """
    ON CONFLICT (name_key) DO UPDATE SET
        name = EXCLUDED.name, password = EXCLUDED.password,
        x = EXCLUDED.x, y = EXCLUDED.y, z = EXCLUDED.z, saved = now()
"""
#: The first version: pg_locks read once for every row.
PER_ROW = (
    """
    INSERT INTO mudserver_accounts (name_key, name, password, x, y, z)
    SELECT %s, %s, %s, %s, %s, %s
    WHERE EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND pid = %s
          AND classid = %s::oid AND objid = %s::oid AND objsubid = 1
    )
"""
    + _SET
)
#: The second version: pg_locks read once for the batch, joined with its rows.
PER_BATCH = (
    """
    WITH held AS MATERIALIZED (
        SELECT classid::bigint AS classid, objid::bigint AS objid FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND pid = %s AND objsubid = 1
    )
    INSERT INTO mudserver_accounts (name_key, name, password, x, y, z)
    SELECT r.name_key, r.name, r.password::jsonb, r.x, r.y, r.z
    FROM unnest(
        %s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[], %s::float8[],
        %s::bigint[], %s::bigint[]
    ) AS r(name_key, name, password, x, y, z, classid, objid)
    JOIN held USING (classid, objid)
"""
    + _SET
)


def lock_ids(name: str) -> tuple[int, int]:
    """How ``pg_locks`` shows the advisory lock of *name*: (classid, objid)."""
    key = account_key(name)
    return (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF


def per_row(conn: psycopg.Connection[Any], batch: list[Account], pid: int) -> None:
    rows = [
        (a.name.lower(), a.name, Jsonb(a.password), a.x, a.y, a.z, pid, *lock_ids(a.name))
        for a in batch
    ]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(PER_ROW, rows)


def per_batch(conn: psycopg.Connection[Any], batch: list[Account], pid: int) -> None:
    ids = [lock_ids(a.name) for a in batch]
    columns = [
        [a.name.lower() for a in batch],
        [a.name for a in batch],
        [json.dumps(a.password) for a in batch],
        [a.x for a in batch],
        [a.y for a in batch],
        [a.z for a in batch],
        [c for c, _ in ids],
        [o for _, o in ids],
    ]
    conn.execute(PER_BATCH, (pid, *columns), prepare=False)


def measure(url: str, names: list[str], size: int, repeat: int) -> list[float]:
    """Claim *names* as a shard does; the median ms of each way to write *size* of them."""
    owner = Ownership(url, "bench")
    fenced, plain = PostgresStore(url, fenced=True), PostgresStore(url)
    conn = psycopg.connect(url, autocommit=True)
    try:
        for name in names:
            owner.try_claim(name)
        pid = owner.pid
        assert pid is not None
        loaded = [fenced.load(name) for name in names[:size]]
        batch = [dataclasses.replace(a, x=1.0, y=2.0) for a in loaded if a is not None]
        ways: list[Callable[[], object]] = [
            lambda: fenced.save_many(batch),
            lambda: per_batch(conn, batch, pid),
            lambda: per_row(conn, batch, pid),
            lambda: plain.save_many(batch),
        ]
        times: list[list[float]] = [[] for _ in ways]
        for _ in range(repeat):
            for way, write in enumerate(ways):
                started = time.perf_counter()
                write()
                times[way].append(1000 * (time.perf_counter() - started))
        return [statistics.median(t) for t in times]
    finally:
        conn.close()
        owner.close()
        fenced.close()
        plain.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--locks", default="1000,5000,20000")
    parser.add_argument("--batch", type=int, default=67)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    counts = [int(c) for c in args.locks.split(",")]
    room = max(64, max(counts) // 150 + 64)  # lock table: this x (max_connections + ...)
    cluster, why = start_cluster(f"-c max_locks_per_transaction={room}")
    if cluster is None:
        print(f"fence_cost: cannot start PostgreSQL: {why}", file=sys.stderr)
        return 1
    try:
        url = cluster.database()
        record = hash_password("pw", Argon2Params(time_cost=1, memory_cost=8))
        store = PostgresStore(url)
        store.initialize()
        names = [f"acct{i:06d}" for i in range(max(counts))]
        store.save_many(Account(n, record) for n in names)
        store.close()
        print(f"a batch of {args.batch} saves, median of {args.repeat}, ms:\n")
        print("| claimed | token (shipped) | pg_locks per batch | pg_locks per row | none |")
        print("|---:|---:|---:|---:|---:|")
        for count in counts:
            token, batch, row, none = measure(url, names[:count], args.batch, args.repeat)
            print(f"| {count:,} | {token:.1f} | {batch:.1f} | {row:.1f} | {none:.1f} |")
    finally:
        cluster.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
