"""The shards of one database: which are up, and the console's requests between them.

Plain Python with psycopg 3, no Twisted.  The operator's console talks to
one shard over its UNIX socket (``mudserver-admin``); that shard carries a
command meant for other shards through the database they share, since
shards may run on different machines:

* **Who is up.**  Each shard registers its name in ``mudserver_shards`` and
  holds an advisory lock on the name (:func:`shard_key`) on its ownership
  connection (:mod:`mudserver.store.ownership`) for as long as it runs.  A
  shard is up exactly while the lock is held: PostgreSQL drops it with the
  connection of a shard that dies, even by ``kill -9``.  The same lock stops
  a second shard of the same name at start.
* **Requests** go out as ``NOTIFY mudserver_console`` (who is asked, the
  command, its arguments); every shard listens, and each one asked runs the
  command and stores its answer as a row of ``mudserver_answers``, with
  ``NOTIFY mudserver_answer`` in the same transaction.  Answers are rows, not
  notification payloads, because a ``who`` of thousands of players is far
  over the 8,000 bytes a payload may hold.
* The asking shard reads the answers, then deletes them; answers nobody
  collected (the asker died) are deleted after :data:`ANSWER_LIFETIME`.

Anyone who may write to this database can send these requests, as they can
change every account: the database's credentials are worth the console's
socket (``docs/security.md``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from mudserver.store.pgconn import Connections

__all__ = [
    "ANSWER_CHANNEL",
    "ANSWER_LIFETIME",
    "CONSOLE_CHANNEL",
    "MAX_REQUEST_BYTES",
    "Cluster",
    "Request",
    "ShardInfo",
    "parse_answer",
    "parse_request",
    "shard_key",
]

#: The channel of the console's requests, and the one saying an answer is stored.
CONSOLE_CHANNEL = "mudserver_console"
ANSWER_CHANNEL = "mudserver_answer"
#: Seconds an answer nobody collected stays in the table.
ANSWER_LIFETIME = 600
#: A request is a notification payload: PostgreSQL stops those at 8,000 bytes.
MAX_REQUEST_BYTES = 7900

_SHARDS = """
    SELECT name, host, extract(epoch FROM started) FROM mudserver_shards ORDER BY name
"""
#: Which of the given lock keys some connection to this database holds.  A
#: 64-bit advisory lock shows in ``pg_locks`` as its high half (``classid``)
#: and its low half (``objid``), with ``objsubid`` 1.
_HELD = """
    SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 1
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND ((classid::bigint << 32) | objid::bigint) = ANY(%s)
"""


def shard_key(name: str) -> int:
    """The advisory-lock key a running shard named *name* holds (signed 64-bit)."""
    digest = hashlib.sha256(b"mudserver-shard:" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """A shard the database knows of."""

    name: str
    host: str
    #: When it last started (epoch seconds).
    started: float
    up: bool


@dataclass(frozen=True, slots=True)
class Request:
    """A console command for some shards, as one of them sent it."""

    id: str
    sender: str
    targets: tuple[str, ...]
    command: str
    args: dict[str, Any]


def parse_request(payload: str) -> Request | None:
    """The request in a console notification, or None if it is malformed."""
    try:
        data = json.loads(payload)
        request = Request(
            str(uuid.UUID(data["id"])),
            data["from"],
            tuple(data["to"]),
            data["command"],
            data["args"],
        )
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    texts = (request.sender, request.command, *request.targets)
    if not all(isinstance(t, str) for t in texts) or not isinstance(request.args, dict):
        return None
    return request


def parse_answer(payload: str) -> tuple[str, str] | None:
    """(request id, answering shard) of an answer notification, or None."""
    try:
        data = json.loads(payload)
        request, shard = str(uuid.UUID(data["request"])), data["shard"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    return (request, shard) if isinstance(shard, str) else None


class Cluster:
    """One shard's view of the others; every method may block (call it from a thread)."""

    def __init__(self, conninfo: str, shard: str) -> None:
        self.shard = shard
        self._connections = Connections(conninfo)

    def register(self, host: str) -> None:
        """Record this shard's name and host (it holds its name's lock already)."""
        self._connections.run(
            lambda c: c.execute(
                "INSERT INTO mudserver_shards (name, host) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, started = now()",
                (self.shard, host),
            )
        )

    def shards(self) -> list[ShardInfo]:
        """Every shard ever registered here, by name, and whether it is up now."""

        def work(conn: psycopg.Connection[Any]) -> list[ShardInfo]:
            rows = conn.execute(_SHARDS).fetchall()
            keys = [shard_key(name) for name, _, _ in rows]
            held = {key for (key,) in conn.execute(_HELD, (keys,)).fetchall()}
            return [
                ShardInfo(name, host, float(started), key in held)
                for (name, host, started), key in zip(rows, keys, strict=True)
            ]

        return self._connections.run(work)

    def request(self, request: Request) -> None:
        """Send *request* to every shard (those not named in it ignore it).

        ValueError if it is over a notification's size.
        """
        payload = json.dumps(
            {
                "id": request.id,
                "from": request.sender,
                "to": list(request.targets),
                "command": request.command,
                "args": request.args,
            },
            ensure_ascii=False,
        )
        if len(payload.encode()) > MAX_REQUEST_BYTES:
            raise ValueError(f"the request is over {MAX_REQUEST_BYTES} bytes")
        self._connections.run(
            lambda c: c.execute("SELECT pg_notify(%s, %s)", (CONSOLE_CHANNEL, payload))
        )

    def answer(self, request: str, answer: dict[str, Any]) -> None:
        """Store this shard's *answer* to *request* and tell the shard that asked."""
        notice = json.dumps({"request": request, "shard": self.shard})

        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO mudserver_answers (request, shard, answer) VALUES (%s, %s, %s)"
                    " ON CONFLICT (request, shard) DO NOTHING",
                    (request, self.shard, Jsonb(answer)),
                )
                conn.execute("SELECT pg_notify(%s, %s)", (ANSWER_CHANNEL, notice))

        self._connections.run(work)

    def answers(self, request: str) -> dict[str, dict[str, Any]]:
        """The answers stored for *request* so far, by shard."""
        rows = self._connections.run(
            lambda c: c.execute(
                "SELECT shard, answer FROM mudserver_answers WHERE request = %s", (request,)
            ).fetchall()
        )
        return {shard: answer for shard, answer in rows}

    def forget(self, request: str) -> None:
        """Delete the answers to *request*, and any nobody collected in time."""
        self._connections.run(
            lambda c: c.execute(
                "DELETE FROM mudserver_answers WHERE request = %s"
                " OR made < now() - make_interval(secs => %s)",
                (request, ANSWER_LIFETIME),
            )
        )

    def close(self) -> None:
        self._connections.close()
