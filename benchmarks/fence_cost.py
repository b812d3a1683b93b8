"""What does a shard's fenced save cost as the cluster holds more account locks?  Prints it.

Usage (from the repository root)::

    python benchmarks/fence_cost.py [--locks 1000,5000,20000] [--batch 67] [--repeat 30]

A shard writes a save only while it still holds the account's advisory lock,
checked in the same statement against ``pg_locks`` (``_FENCED_UPSERT`` in
:mod:`mudserver.store.postgres`).  ``pg_locks`` is a view over a copy of the
whole shared lock table, so the check grows with the number of accounts
playing on all shards together.  This starts a throwaway cluster (as
:mod:`tests.pg` does, with room for the largest lock count), holds LOCKS
advisory locks on one connection as a shard does, and times a write of
BATCH accounts (a shard's autosave step at 2,000 players and the default
30 s interval is 67) three ways, alternating in one sitting: the shipped
fenced ``save_many`` (one read of ``pg_locks`` per batch), the first
version's statement (one read per row, kept here as ``PER_ROW``), and
``save_many`` without a fence.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mudserver.store.accounts import Account, hash_password
from mudserver.store.ownership import Ownership
from mudserver.store.passwords import Argon2Params
from mudserver.store.postgres import PostgresStore, _lock_ids
from tests.pg import start_cluster

#: The fenced upsert as first shipped: pg_locks read once for every row.
PER_ROW = """
    INSERT INTO mudserver_accounts (name_key, name, password, x, y, z)
    SELECT %s, %s, %s, %s, %s, %s
    WHERE EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND pid = %s
          AND classid = %s::oid AND objid = %s::oid AND objsubid = 1
    )
    ON CONFLICT (name_key) DO UPDATE SET
        name = EXCLUDED.name, password = EXCLUDED.password,
        x = EXCLUDED.x, y = EXCLUDED.y, z = EXCLUDED.z, saved = now()
"""


def per_row(conn: psycopg.Connection[Any], batch: list[Account], pid: int) -> None:
    rows = [
        (a.name.lower(), a.name, Jsonb(a.password), a.x, a.y, a.z, pid, *_lock_ids(a.name))
        for a in batch
    ]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(PER_ROW, rows)


def measure(url: str, names: list[str], batch: list[Account], repeat: int) -> list[float]:
    """Hold a lock on each of *names* as a shard does; the median ms of each way to write."""
    owner = Ownership(url, "bench")
    fenced, plain = PostgresStore(url), PostgresStore(url)
    conn = psycopg.connect(url, autocommit=True)
    try:
        for name in names:
            owner.try_claim(name)
        pid = owner.pid
        assert pid is not None
        fenced.fence = lambda: pid
        ways: list[Callable[[], None]] = [
            lambda: fenced.save_many(batch),
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
        batch = [Account(n, record, 1.0, 2.0, 0.0) for n in names[: args.batch]]
        print(f"a batch of {args.batch} saves, median of {args.repeat}, ms:\n")
        print("| locks held | fenced, pg_locks per batch | fenced, per row (first) | unfenced |")
        print("|---:|---:|---:|---:|")
        for count in counts:
            b, r, u = measure(url, names[:count], batch, args.repeat)
            print(f"| {count:,} | {b:.1f} | {r:.1f} | {u:.1f} |")
    finally:
        cluster.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
