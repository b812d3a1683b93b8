"""Which shard plays which account, kept by PostgreSQL itself.

Several server processes (shards) share one account database; an account
may play on one of them at a time.  Plain Python with psycopg, no Twisted:
the shell calls :class:`Ownership` from one thread of its own and runs
:class:`Listener` on another.

* A shard owns an account while it holds a session-level **advisory lock**
  on the account's key, on its one ownership connection.  PostgreSQL
  releases the locks of a connection that dies (a shard killed with
  SIGKILL), so no lease has to run out.  Locks are re-entrant per
  connection: a second login of the same account on the same shard simply
  takes it again, and each leave gives one back.
* A shard that wants an account another one holds says so with
  ``NOTIFY mudserver_takeover`` (payload: the account name and the asking
  shard); the holder closes its player (``bye replaced``), saves it, and
  only then unlocks, so the new shard reads the newest position.
* Claiming an account also raises its fencing token (column ``lease``, see
  :mod:`mudserver.store.postgres`): the lock says who may play it, the token
  makes sure a shard that lost it cannot save it any more.
* Keys are the first 8 bytes of a SHA-256 of the lower-cased name: the same
  account on every shard, and no two accounts sharing a lock in practice.
* The same connection holds the lock on the shard's own name
  (:meth:`Ownership.take_name`): the shard is up while it holds it
  (:mod:`mudserver.store.cluster`), and no second shard of that name starts.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import psycopg

from mudserver.account import valid_name
from mudserver.store.base import StoreUnavailable
from mudserver.store.cluster import shard_key
from mudserver.store.pgconn import CONNECT_TIMEOUT, CONNECTION_ERRORS
from mudserver.store.postgres import RAISE_LEASE, account_key

__all__ = [
    "SAY_CHANNEL",
    "TAKEOVER_CHANNEL",
    "Listener",
    "Ownership",
    "account_key",
    "parse_say",
    "parse_takeover",
]

#: The channel on which shards ask each other for accounts.
TAKEOVER_CHANNEL = "mudserver_takeover"
#: The channel of world-wide chat between shards (``--say-scope cluster``).
SAY_CHANNEL = "mudserver_say"
#: Longest say text passed between shards: PostgreSQL's NOTIFY payloads stop
#: at 8000 bytes, and a 4-byte character is 4 bytes in the JSON below.
MAX_SAY_TEXT = 1500


def parse_takeover(payload: str) -> tuple[str, str] | None:
    """(account name, asking shard) from a takeover notification, or None if malformed."""
    try:
        data = json.loads(payload)
        name, shard = data["name"], data["shard"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    if not isinstance(name, str) or not isinstance(shard, str):
        return None
    return name, shard


def parse_say(payload: str) -> tuple[str, str, str] | None:
    """(speaking shard, name, text) from a say notification, or None if malformed."""
    try:
        data = json.loads(payload)
        shard, name, text = data["shard"], data["name"], data["text"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    if not all(isinstance(v, str) for v in (shard, name, text)) or not valid_name(name):
        return None
    return shard, name, text[:MAX_SAY_TEXT]


def _refused(exc: Exception) -> str:
    """Why the database refused a statement, with what to do about a full lock table."""
    if isinstance(exc, psycopg.errors.OutOfMemory):
        return (
            f"PostgreSQL has no room for another lock ({exc}): every account playing on a "
            "shard holds an advisory lock; raise max_locks_per_transaction"
        )
    return f"the database refused: {exc}"


class _Broken(Exception):
    """The ownership connection broke under a statement."""


class Ownership:
    """One shard's advisory locks; every method from one and the same thread."""

    def __init__(self, conninfo: str, shard: str) -> None:
        self.conninfo = conninfo
        self.shard = shard
        self._conn: psycopg.Connection[Any] | None = None
        #: Locks held, by lower-cased name, with their re-entry count.
        self._held: Counter[str] = Counter()
        #: Accounts whose locks were lost with a connection and taken by another shard.
        self._lost: list[str] = []
        #: The backend pid of the connection that holds the locks, once it holds
        #: them again after a reconnect; ``None`` while it is down.
        self.pid: int | None = None
        #: Whether this shard holds the lock on its name (see :meth:`take_name`).
        self.named = False

    def _connection(self) -> psycopg.Connection[Any]:
        """The ownership connection; a new one takes every held lock again."""
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(f"cannot reach the database: {exc}") from None
        self._conn = conn
        if self.named and not self._try_lock(conn, shard_key(self.shard)):
            # Another process took the name while this one's connection was
            # down: both run under it now; the shell says so in its log.
            self.named = False
        for name, count in list(self._held.items()):
            for _ in range(count):
                try:
                    row = conn.execute(
                        "SELECT pg_try_advisory_lock(%s)", (account_key(name),)
                    ).fetchone()
                except psycopg.errors.OutOfMemory:
                    row = None  # not held, so not ours to save: as if another shard took it
                if not (row and row[0]):
                    del self._held[name]
                    self._lost.append(name)
                    break
        self.pid = conn.info.backend_pid
        return conn

    @staticmethod
    def _try_lock(conn: psycopg.Connection[Any], key: int) -> bool:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        return bool(row and row[0])

    def take_name(self) -> bool:
        """Hold the lock on this shard's name; False if a running shard holds it."""
        if not self.named:
            self.named = bool(
                self._execute("SELECT pg_try_advisory_lock(%s)", (shard_key(self.shard),))
            )
        return self.named

    def _execute(self, query: str, params: tuple[Any, ...]) -> Any:
        """One statement on the ownership connection; its first value.

        psycopg reports a broken connection and a statement the server
        refused (no room left for a lock) with the same class of error.
        Only the first closes the connection: closing it on the second
        would let go of every account this shard holds.  A connection found
        broken (the database restarted since the last statement: the shard
        holds its name from start, so its connection is always an old one)
        is replaced, taking the held locks again, and the statement tried
        once more there.
        """
        try:
            return self._first(query, params)
        except _Broken:
            pass
        try:
            return self._first(query, params)
        except _Broken as broken:
            raise StoreUnavailable(f"lost the database: {broken}") from None

    def _first(self, query: str, params: tuple[Any, ...]) -> Any:
        """Run *query* on the connection; _Broken (and the connection dropped) if it broke."""
        conn = self._connection()
        try:
            row = conn.execute(query.encode(), params).fetchone()
        except CONNECTION_ERRORS as exc:
            if not conn.closed:
                raise StoreUnavailable(_refused(exc)) from None
            self._drop()
            raise _Broken(str(exc)) from None
        return None if row is None else row[0]

    def _drop(self) -> None:
        self.pid = None
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # closing a broken connection must not mask why it broke
                pass
        self._conn = None

    def try_claim(self, name: str) -> bool:
        """Take the account's lock if no other shard holds it (again, if this one does).

        Taking it anew also raises the account's fencing token, so that saves
        by a shard that held it before fail.  Taking it again (a second login
        on this shard) does not: saves within one shard are ordered by the
        shard itself, and its player of the account is the same one.
        """
        key = name.lower()
        anew = self._held[key] == 0
        got = bool(self._execute("SELECT pg_try_advisory_lock(%s)", (account_key(name),)))
        if got:
            self._held[key] += 1
            if anew:
                try:
                    self._execute(RAISE_LEASE, (key,))
                except StoreUnavailable:
                    self.release(name)
                    raise
        return got

    def ask(self, name: str) -> None:
        """Ask the shard that holds *name* to let go of it."""
        payload = json.dumps({"name": name, "shard": self.shard})
        self._execute("SELECT pg_notify(%s, %s)", (TAKEOVER_CHANNEL, payload))

    def say(self, name: str, text: str) -> None:
        """Tell the other shards that *name* said *text* world-wide."""
        payload = json.dumps(
            {"shard": self.shard, "name": name, "text": text[:MAX_SAY_TEXT]}, ensure_ascii=False
        )
        self._execute("SELECT pg_notify(%s, %s)", (SAY_CHANNEL, payload))

    def release(self, name: str) -> None:
        """Give back one hold of *name*; nothing if it was lost with a connection."""
        key = name.lower()
        if self._held[key] <= 0:
            del self._held[key]
            return
        self._held[key] -= 1
        if not self._held[key]:
            del self._held[key]
        if self._conn is None or self._conn.closed:
            return  # the lock went with the connection; a new one will not take it
        try:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (account_key(name),))
        except CONNECTION_ERRORS:
            if self._conn.closed:
                self._drop()

    def holds(self, name: str) -> bool:
        return self._held[name.lower()] > 0

    def check(self) -> list[str]:
        """Make sure the locks are still held; the accounts lost since the last check.

        A connection that broke took its locks with it; the new one takes
        them again, and an account another shard took meanwhile is lost.
        """
        try:
            self._execute("SELECT 1", ())
        except StoreUnavailable:
            self._execute("SELECT 1", ())  # on a new connection, which takes the locks again
        lost, self._lost = self._lost, []
        return lost

    def close(self) -> None:
        """Close the connection, which releases every lock (the name's too)."""
        self._held.clear()
        self.named = False
        self._drop()


class Listener:
    """A connection that LISTENs on channels; :meth:`wait` from one thread only."""

    def __init__(self, conninfo: str, channels: tuple[str, ...] = (TAKEOVER_CHANNEL,)) -> None:
        self.conninfo = conninfo
        self.channels = channels
        self._conn: psycopg.Connection[Any] | None = None
        #: Connections made so far: a new one may have missed notifications.
        self.connects = 0

    def wait(self, timeout: float) -> list[tuple[str, str]]:
        """(channel, payload) of the first notifications to arrive within *timeout* s
        (none if none did); StoreUnavailable if cut off."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(
                    self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT
                )
                for channel in self.channels:  # constants of the store's modules, never input
                    self._conn.execute(f"LISTEN {channel}".encode())
                self.connects += 1
            # stop_after=1: back as soon as a packet of notifications arrived
            # (all of its notifications), not only once the timeout passed.
            received = self._conn.notifies(timeout=timeout, stop_after=1)
            return [(n.channel, n.payload) for n in received]
        except CONNECTION_ERRORS as exc:
            self.close()
            raise StoreUnavailable(f"lost the database: {exc}") from None

    def close(self) -> None:
        """Close the connection (from the thread that waits)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # as in Ownership._drop
                pass
