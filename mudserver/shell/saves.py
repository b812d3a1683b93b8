"""Saves off the reactor: in order per account, batched per autosave step, retried.

:class:`SaveQueue` takes account snapshots from the game (on the reactor
thread) and writes them to the store on threads of its own.  Why it is
built so:

* **One one-thread pool per slice of accounts** (by a hash of the name): the
  saves of one account run on one thread, so they land in the order they
  were made, and a read on that thread (a login's) comes after every write
  queued before it.  Several pools let the file system commit their fsyncs
  together (1,000 saves: ~6 s on one thread, <1 s on 8) and PostgreSQL run
  several transactions at once.
* **Numbered snapshots**: each save gets a number, and before every try a
  snapshot that a newer one of the same account has overtaken is dropped,
  so a retry never writes an old position over a new one.
* **Batches**: inside :meth:`batch` (an autosave step) the snapshots are
  gathered per pool and each pool's lot is written at once: one transaction
  in PostgreSQL, not one per player.
* **Retries**: a write that fails because the store is away
  (:class:`StoreUnavailable`, ``OSError``: a database down, a full disk)
  is tried again with backoff until it lands; anything else is logged and
  dropped.  Shutdown waits for all of them (:meth:`idle`), up to its timeout.
* :meth:`saved` fires once every save of an account made so far has landed
  (or was given up): a shard hands an account to another one only then.
* A save the store **refuses** (a shard's save of an account another shard
  has claimed since: its fencing token no longer matches) is not retried;
  *refused* is told, and the shard closes its player there.
* Saves of the accounts in :attr:`SaveQueue.lost` (another shard owns them
  now) are dropped, even retries already under way.
* Each try writes what *prepare* makes of the snapshot, at the moment it is
  handed to its thread: a snapshot that still holds a password record
  replaced since it was taken (a re-hash, a ``pwd``) gets the new one, so a
  retry never writes an old hash back (see :class:`~mudserver.shell.login.PasswordRecords`).
* **Retired versions**: once the operator deletes an account or resets its
  password, snapshots still carrying the password record it had then are
  dropped (:meth:`retire`), so a player who logged in just before cannot
  write the account back, or its old password.  A snapshot is checked as
  taken and as *prepare* makes it: one holding a record a re-hash replaced
  by the retired one is dropped too.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from twisted.internet import defer, task, threads
from twisted.internet.interfaces import IReactorThreads
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from mudserver.account import Account
from mudserver.shell.metrics import Metrics
from mudserver.store.base import Store, StoreUnavailable

__all__ = ["SAVE_RETRY", "SaveQueue"]

#: Seconds before a failed save is tried again, doubling up to the second.
SAVE_RETRY = (0.5, 30.0)


class SaveQueue:
    """Writes account snapshots on the save threads, in order, until they land."""

    log = Logger()

    def __init__(
        self,
        store: Store,
        reactor: Any,
        metrics: Metrics,
        threads: int = 8,
        refused: Callable[[Account], object] = lambda account: None,
        prepare: Callable[[Account], Account] = lambda account: account,
    ) -> None:
        """*refused(account)*: the store refused this snapshot (another shard claimed it);
        *prepare(account)*: what to write of a snapshot, at each try."""
        self.store = store
        self.reactor = reactor
        self.metrics = metrics
        self.refused = refused
        self.prepare = prepare
        #: Accounts (lower-cased) another shard owns now: their saves are dropped.
        #: A shard adds those it lost; a login that loaded one takes it out again.
        self.lost: set[str] = set()
        self.pools = [ThreadPool(1, 1, name=f"mudserver-save-{i}") for i in range(threads)]
        self._pending: set[defer.Deferred[None]] = set()
        #: Account (lower-cased) -> number of its newest snapshot not yet
        #: written: a retried older snapshot is dropped once a newer one exists.
        self.newest: dict[str, int] = {}
        self._count = 0
        #: Snapshots gathered inside :meth:`batch`, by pool; None outside it.
        self._batch: dict[int, list[tuple[int, Account]]] | None = None
        #: Deferreds of :meth:`saved`, by account (lower-cased).
        self._waiters: dict[str, list[defer.Deferred[None]]] = {}
        #: (account, password record as JSON) of versions the operator retired.
        self._retired: set[tuple[str, str]] = set()

    def start(self) -> None:
        for pool in self.pools:
            pool.start()

    def stop(self) -> None:
        for pool in self.pools:
            pool.stop()

    def idle(self) -> defer.Deferred[Any]:
        """Fires once every write under way or waiting for a retry is done."""
        return defer.DeferredList(list(self._pending), consumeErrors=True)

    def pool_of(self, name: str) -> ThreadPool:
        """The one pool that reads and writes account *name*: its saves stay in order."""
        return self.pools[self._index(name)]

    def _index(self, name: str) -> int:
        return zlib.crc32(name.lower().encode()) % len(self.pools)

    # -- saving --------------------------------------------------------------------

    def retire(self, name: str, record: dict[str, Any]) -> None:
        """Drop, from now on, every snapshot of *name* carrying password *record*.

        The operator deleted the account or replaced its password: a player
        still holding that version must not write it back.  An account made
        again under the name has a new record (a new salt), so its saves
        land.  One entry per deletion or reset, kept while the server runs.
        """
        self._retired.add(_version(name, record))

    def _is_retired(self, account: Account) -> bool:
        """Whether *account* carries a retired record, as taken or as *prepare* makes it
        (a snapshot older than a re-hash gets the record the operator then retired)."""
        if not self._retired:
            return False
        return any(
            _version(a.name, a.password) in self._retired for a in (account, self.prepare(account))
        )

    def save(self, account: Account) -> None:
        """Write *account* on its pool (inside :meth:`batch`: with the rest of the batch)."""
        if account.name.lower() in self.lost:
            self.log.warn("not saving {name}: another shard owns it now", name=account.name)
            return
        if self._is_retired(account):
            self.log.info("not saving {name}: the operator retired that version", name=account.name)
            return
        self._count += 1
        self.newest[account.name.lower()] = self._count
        index = self._index(account.name)
        if self._batch is not None:
            self._batch.setdefault(index, []).append((self._count, account))
        else:
            self._write(index, [(self._count, account)])

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Gather the saves made inside, and write each pool's share of them at once.

        What was gathered is written even if the body raised: the snapshots
        are numbered already, and :meth:`saved` waits for them.
        """
        self._batch = {}
        try:
            yield
        finally:
            batch, self._batch = self._batch, None
            for index, snapshots in batch.items():
                self._write(index, snapshots)

    def saved(self, name: str) -> defer.Deferred[None]:
        """Fires once every save of account *name* made so far has landed (or given up)."""
        key = name.lower()
        if key not in self.newest:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._waiters.setdefault(key, []).append(d)
        return d

    def _write(self, index: int, snapshots: list[tuple[int, Account]]) -> None:
        d = defer.ensureDeferred(self._write_until_done(index, snapshots))
        self._pending.add(d)
        d.addErrback(lambda f: self.log.failure("saving failed", f))
        d.addBoth(lambda _: self._pending.discard(d))

    async def _write_until_done(self, index: int, snapshots: list[tuple[int, Account]]) -> None:
        """Write *snapshots* on pool *index*, again and again while the store fails.

        Before each try, snapshots that a newer one of the same account has
        overtaken are dropped (writing them after it would undo a move), and
        so are those of accounts another shard took meanwhile.
        """
        reactor: IReactorThreads = self.reactor
        delay = SAVE_RETRY[0]
        while True:
            snapshots = [(n, a) for n, a in snapshots if self.newest.get(a.name.lower()) == n]
            for number, account in [(n, a) for n, a in snapshots if a.name.lower() in self.lost]:
                self.log.warn("not saving {name}: another shard owns it now", name=account.name)
                snapshots.remove((number, account))
                self._settle(account.name.lower(), number)
            for number, account in [(n, a) for n, a in snapshots if self._is_retired(a)]:
                snapshots.remove((number, account))
                self._settle(account.name.lower(), number)
            if not snapshots:
                return
            accounts = [self.prepare(a) for _, a in snapshots]
            try:
                seconds, refused = await threads.deferToThreadPool(
                    reactor, self.pools[index], self._timed_write, accounts
                )
                self.metrics.saves.inc(len(accounts) - len(refused))
                self.metrics.save_duration.observe(seconds)
                for account in accounts:
                    if account.name in refused:
                        self.refused(account)
                break
            except (StoreUnavailable, OSError) as e:
                self.metrics.save_failures.inc()
                names = ", ".join(a.name for a in accounts[:5])
                more = f" and {len(accounts) - 5} more" if len(accounts) > 5 else ""
                self.log.error(
                    "could not save {names}{more}; will retry in {delay:.1f} s: {error}",
                    names=names,
                    more=more,
                    delay=delay,
                    error=e,
                )
            except Exception:
                self.log.failure("could not save {count} accounts", count=len(accounts))
                break
            await task.deferLater(self.reactor, delay, lambda: None)
            delay = min(delay * 2, SAVE_RETRY[1])
        for number, account in snapshots:
            self._settle(account.name.lower(), number)

    def _timed_write(self, accounts: list[Account]) -> tuple[float, list[str]]:
        """Write *accounts* (on a save thread); the seconds it took, and the names refused."""
        started = time.perf_counter()
        refused = self.store.save_many(accounts)
        return time.perf_counter() - started, refused

    def _settle(self, key: str, number: int) -> None:
        """Save *number* of account *key* is done with: wake who waits, if it was the newest."""
        if self.newest.get(key) == number:
            del self.newest[key]
            for waiter in self._waiters.pop(key, []):
                waiter.callback(None)


def _version(name: str, record: dict[str, Any]) -> tuple[str, str]:
    """An account version's key: its name and its password record (salted: unique)."""
    return name.lower(), json.dumps(record, sort_keys=True)
