"""Bot accounts for a benchmark run, in whichever store the servers use.

The runner makes them before it starts a server (straight into the store,
all with one cheap password record unless real hashing is measured) and,
after the window, asks the store how many of them it shows saved within the
last autosave interval: the figure that says the autosave kept up.
"""

from __future__ import annotations

import random
import string
import time

from mudserver.account import Account
from mudserver.bench.bots import account_name
from mudserver.store.base import Store, hash_password
from mudserver.store.files import FileStore
from mudserver.store.passwords import Argon2Params, PasswordParams

__all__ = ["BOT_HASH", "ensure_accounts", "saved_since", "shard_prefixes"]

#: Cheap Argon2id for bot accounts (8 KiB, one pass): logins cost what the record says.
BOT_HASH = Argon2Params(time_cost=1, memory_cost=8)


def shard_prefixes(prefix: str, shards: int) -> list[str]:
    """The bot-account prefix of each shard: ``prefix`` alone, or one letter each."""
    if shards <= 1:
        return [prefix]
    if shards > len(string.ascii_lowercase):
        raise ValueError(f"at most {len(string.ascii_lowercase)} shards")
    return [prefix + letter for letter in string.ascii_lowercase[:shards]]


def ensure_accounts(
    store: Store,
    count: int,
    prefix: str,
    password: str,
    half: float,
    params: PasswordParams = BOT_HASH,
    spawn: str = "scattered",
) -> float:
    """Create bot accounts 0..count-1 that are missing; return the seconds it took.

    Scattered, each starts at a random point of the world, so bots are spread
    out from their first tick (everybody at 0,0,0 would all see each other).
    At the origin that crowd is the point: every account is put back at
    0,0,0, since the previous run saved wherever its bot walked to.

    All of them share one password record (one salt): hashing 2,000
    passwords at the real cost would take over a minute, and a login still
    verifies the record at its full cost, which is what a run measures.
    """
    started = time.monotonic()
    rnd = random.Random(count)
    existing = {a.name.lower(): a for a in store.accounts() if a.name.startswith(prefix)}
    record = hash_password(password, params)
    writes: list[Account] = []
    for index in range(count):
        name = account_name(prefix, index)
        x, y = rnd.uniform(-half, half), rnd.uniform(-half, half)
        if spawn == "origin":
            x = y = 0.0
        account = existing.get(name.lower())
        if account is None:
            writes.append(Account(name, record, x, y, 0.0))
        elif spawn == "origin" and (account.x, account.y, account.z) != (0.0, 0.0, 0.0):
            writes.append(Account(name, account.password, 0.0, 0.0, 0.0))
    for start in range(0, len(writes), 500):  # one transaction per 500 in PostgreSQL
        store.save_many(writes[start : start + 500])
    return time.monotonic() - started


def saved_since(store: Store, names: list[str], seconds: float) -> int:
    """How many of the accounts *names* the store shows saved in the last *seconds*.

    The file store's answer is each file's modification time; PostgreSQL's
    is the ``saved`` column that every write sets.
    """
    if isinstance(store, FileStore):
        since = time.time() - seconds
        count = 0
        for name in names:
            try:
                count += store.path_for(name).stat().st_mtime >= since
            except OSError:
                pass
        return count
    from mudserver.store.postgres import PostgresStore

    assert isinstance(store, PostgresStore)
    return store.saved_since([n.lower() for n in names], seconds)
