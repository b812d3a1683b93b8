"""The ban list in PostgreSQL: one row per ban, every change told to every shard.

Plain Python with psycopg 3, no Twisted, and nothing of :mod:`mudserver.limits`:
a ban crosses this module as its JSON form (``kind``, ``target``, ``reason``,
``since``, ``until``, as in the ban file), and the shell turns it into a
:class:`~mudserver.limits.bans.Ban`, checked as strictly as a file's.

Why it is built so:

* A change and its ``NOTIFY mudserver_bans`` are one transaction: PostgreSQL
  delivers the notification only if the change committed, and to every shard
  listening, so a ban made on one shard holds on all of them at once.
* The notification carries no ban: a shard told of a change reads the whole
  list again (a few hundred rows), so a notification it missed while its
  listening connection was down is made good by the next read, which it also
  does whenever that connection is new.
* Values are bound parameters; the table and channel names are constants.
"""

from __future__ import annotations

from typing import Any

import psycopg

from mudserver.store.pgconn import Connections

__all__ = ["BANS_CHANNEL", "BanTable"]

#: The channel on which a change of the ban list is told to every shard.
BANS_CHANNEL = "mudserver_bans"

_PUT = """
    INSERT INTO mudserver_bans (target, kind, reason, since, until) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (target) DO UPDATE SET
        kind = EXCLUDED.kind, reason = EXCLUDED.reason,
        since = EXCLUDED.since, until = EXCLUDED.until
"""


class BanTable:
    """The table ``mudserver_bans``; every method may block (call it from a thread)."""

    def __init__(self, conninfo: str) -> None:
        self._connections = Connections(conninfo)

    def describe(self) -> str:
        return self._connections.describe()

    def load(self) -> list[dict[str, Any]]:
        """Every ban stored, expired ones too (the caller knows the time), by target."""
        rows = self._connections.run(
            lambda c: c.execute(
                "SELECT kind, target, reason, since, until FROM mudserver_bans ORDER BY target"
            ).fetchall()
        )
        return [
            {"kind": kind, "target": target, "reason": reason, "since": since, "until": until}
            for kind, target, reason, since, until in rows
        ]

    def put(self, ban: dict[str, Any]) -> None:
        """Store *ban* (replacing one of the same target) and tell every shard.

        Bans that ended before this one began are deleted in passing, so the
        table holds what is in force, as the ban file does.
        """
        row = (ban["target"], ban["kind"], ban["reason"], ban["since"], ban["until"])

        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                conn.execute("DELETE FROM mudserver_bans WHERE until <= %s", (ban["since"],))
                conn.execute(_PUT, row)
                conn.execute("SELECT pg_notify(%s, %s)", (BANS_CHANNEL, ban["target"]))

        self._connections.run(work)

    def remove(self, target: str) -> bool:
        """Lift the ban of *target* (canonical form) and tell every shard; False if none."""

        def work(conn: psycopg.Connection[Any]) -> bool:
            with conn.transaction():
                gone = conn.execute(
                    "DELETE FROM mudserver_bans WHERE target = %s", (target,)
                ).rowcount
                if gone:
                    conn.execute("SELECT pg_notify(%s, %s)", (BANS_CHANNEL, target))
                return gone > 0

        return self._connections.run(work)

    def close(self) -> None:
        self._connections.close()
