"""Connections to PostgreSQL for the store's threads: one per thread, replaced once if broken.

Plain Python with psycopg 3, no Twisted.  Every part of the store that talks
to the database (the accounts, the bans, the shards' console) runs its
statements through a :class:`Connections`, so they share one rule for
failures:

* Each thread has its own connection (psycopg connections serialise their
  queries), opened on first use, in autocommit mode: a statement is its own
  transaction unless the caller opens one.
* A connection that breaks is dropped and the work retried once on a new
  one, so a database restart costs one error at most; when the database
  cannot be reached :class:`~mudserver.store.base.StoreUnavailable` says so
  and the caller decides (``err unavailable`` at login, a save retried later,
  a console command answered with the error).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict

from mudserver.store.base import StoreUnavailable

__all__ = ["CONNECTION_ERRORS", "CONNECT_TIMEOUT", "Connections", "describe"]

T = TypeVar("T")

#: Seconds to wait for a connection before calling the database unavailable.
CONNECT_TIMEOUT = 5

#: Errors that mean "the connection or the server is gone", not "bad query".
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def describe(conninfo: str) -> str:
    """Host, port, database and user of *conninfo*, without the password."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "PostgreSQL (unparsable connection string)"
    keys = ("host", "port", "dbname", "user")
    shown = " ".join(f"{k}={parts[k]}" for k in keys if k in parts)
    return f"PostgreSQL {shown}".rstrip()


class Connections:
    """One connection per calling thread to the database *conninfo* names."""

    def __init__(self, conninfo: str) -> None:
        """Remember where; nothing connects until the first :meth:`run`."""
        self.conninfo = conninfo
        self._local = threading.local()
        self._open: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()

    def describe(self) -> str:
        return describe(self.conninfo)

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(f"cannot reach {self.describe()}: {exc}") from None
        with self._lock:
            self._open.append(conn)
        self._local.conn = conn
        return conn

    def _drop(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        try:
            conn.close()
        except Exception:  # closing a broken connection must not mask why it broke
            pass

    def run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run *work* on this thread's connection, once more on a new one if it broke."""
        conn = getattr(self._local, "conn", None)
        fresh = conn is None or conn.closed
        if fresh:
            conn = self._connect()
        assert conn is not None
        try:
            return work(conn)
        except CONNECTION_ERRORS as exc:
            self._drop(conn)
            if fresh:
                raise StoreUnavailable(f"lost {self.describe()}: {exc}") from None
        conn = self._connect()
        try:
            return work(conn)
        except CONNECTION_ERRORS as exc:
            self._drop(conn)
            raise StoreUnavailable(f"lost {self.describe()}: {exc}") from None

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            connections, self._open = self._open, []
        for conn in connections:
            conn.close()
