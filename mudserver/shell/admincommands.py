"""What crosses the admin socket: the console's commands, their arguments and answers.

Why AMP: the console is a handful of request/response commands with typed
arguments and typed answers (a list of rows, a boolean, an error for a bad
ban target), which is exactly what Twisted's Asynchronous Messaging Protocol
gives: each command is a class listing its arguments and response, errors
travel as named error codes, and requests are matched to answers by tag, so
the client library is ten lines.  A line protocol of our own would need a
parser and escaping; HTTP would need routing, JSON schemas and a story for
authentication.  AMP's one limit, 64 KiB per value, is met by paging the
lists that can grow (``who``, ``bans``, ``accounts``).

The commands that act on players and the game (``who``, ``kick``,
``announce``, ``shutdown``, ``cancel``, ``reload``) take an optional list of ``shards`` (none: every
shard that is up) and a ``timeout`` for the other shards' answers, and
answer with one :data:`SHARD_ANSWER` per shard.  A server that is not a
shard answers as the one shard named ``""``.  Both ends of the socket are
this package, so the two sides always agree on these classes.
"""

from __future__ import annotations

from typing import ClassVar

from twisted.protocols import amp

from mudserver.account import AccountError
from mudserver.limits.bans import BanError
from mudserver.store.base import StoreUnavailable

__all__ = [
    "ADMIN_SOCKET",
    "PAGE",
    "SHARD_ANSWER",
    "Accounts",
    "Announce",
    "Ban",
    "Bans",
    "Cancel",
    "Delete",
    "Kick",
    "NotSharded",
    "Reload",
    "ResetPassword",
    "Shards",
    "Shutdown",
    "Unban",
    "Who",
]

#: The admin socket's name in the data directory (a shard's: ``admin-NAME.sock``).
ADMIN_SOCKET = "admin.sock"

#: Rows per page of ``who``, ``bans`` and ``accounts``: 200 rows of ~100 bytes
#: stay well under AMP's 64 KiB per value.
PAGE = 200

#: The arguments or response of an AMP command: wire names and types.
Fields = list[tuple[bytes, amp.Argument]]


class NotSharded(Exception):
    """``--shard`` was given to a server that is not a shard."""


_ROW = [
    (b"shard", amp.Unicode()),
    (b"name", amp.Unicode()),
    (b"host", amp.Unicode()),
    (b"version", amp.Unicode()),
    (b"x", amp.Float()),
    (b"y", amp.Float()),
    (b"z", amp.Float()),
    (b"idle", amp.Float()),
]

_BAN = [
    (b"kind", amp.Unicode()),
    (b"target", amp.Unicode()),
    (b"reason", amp.Unicode()),
    (b"since", amp.Float()),
    (b"until", amp.Float(optional=True)),
]

#: One shard's part of an answer: its error, or its count (players for
#: ``who`` and ``announce``; 1 where ``kick`` kicked or ``cancel`` cancelled),
#: or its words (what a ``reload`` did).
SHARD_ANSWER = [
    (b"shard", amp.Unicode()),
    (b"error", amp.Unicode(optional=True)),
    (b"count", amp.Integer(optional=True)),
    (b"text", amp.Unicode(optional=True)),
]

#: Where a command goes, for those that act on players.
_SCOPE: Fields = [
    (b"shards", amp.ListOf(amp.Unicode(), optional=True)),
    (b"timeout", amp.Float(optional=True)),
]

#: Errors every command may answer with (in this order: StoreUnavailable is an
#: AccountError, and AMP picks the first class that matches).
_ERRORS: dict[type[Exception], bytes] = {
    NotSharded: b"NOT_SHARDED",
    StoreUnavailable: b"UNAVAILABLE",
}


class Who(amp.Command):
    """Players online, one page of rows sorted by shard and name.

    The first page (offset 0) asks the shards; the following pages of the
    same connection page through what they answered then.
    """

    arguments: ClassVar[Fields] = [(b"offset", amp.Integer()), (b"limit", amp.Integer()), *_SCOPE]
    response: ClassVar[Fields] = [
        (b"total", amp.Integer()),
        (b"rows", amp.AmpList(_ROW)),
        (b"answers", amp.AmpList(SHARD_ANSWER)),
    ]
    errors: ClassVar[dict[type[Exception], bytes]] = _ERRORS


class Kick(amp.Command):
    arguments: ClassVar[Fields] = [(b"name", amp.Unicode()), (b"reason", amp.Unicode()), *_SCOPE]
    response: ClassVar[Fields] = [
        (b"kicked", amp.Boolean()),
        (b"answers", amp.AmpList(SHARD_ANSWER)),
    ]
    errors: ClassVar[dict[type[Exception], bytes]] = _ERRORS


class Ban(amp.Command):
    arguments: ClassVar[Fields] = [
        (b"target", amp.Unicode()),
        (b"duration", amp.Float(optional=True)),
        (b"reason", amp.Unicode()),
    ]
    response: ClassVar[Fields] = [
        (b"ban", amp.AmpList(_BAN)),
        #: The connections closed on the shard that made the ban (named here;
        #: ``""``: not a shard); the others close theirs as they hear of it.
        (b"closed", amp.ListOf(amp.Unicode())),
        (b"shard", amp.Unicode()),
    ]
    errors: ClassVar[dict[type[Exception], bytes]] = {BanError: b"BAD_TARGET", **_ERRORS}


class Unban(amp.Command):
    arguments: ClassVar[Fields] = [(b"target", amp.Unicode())]
    response: ClassVar[Fields] = [(b"lifted", amp.Boolean())]
    errors: ClassVar[dict[type[Exception], bytes]] = {BanError: b"BAD_TARGET", **_ERRORS}


class Bans(amp.Command):
    arguments: ClassVar[Fields] = [(b"offset", amp.Integer()), (b"limit", amp.Integer())]
    response: ClassVar[Fields] = [(b"total", amp.Integer()), (b"bans", amp.AmpList(_BAN))]


class Announce(amp.Command):
    arguments: ClassVar[Fields] = [(b"text", amp.Unicode()), *_SCOPE]
    response: ClassVar[Fields] = [
        (b"players", amp.Integer()),
        (b"answers", amp.AmpList(SHARD_ANSWER)),
    ]
    errors: ClassVar[dict[type[Exception], bytes]] = _ERRORS


class Shutdown(amp.Command):
    arguments: ClassVar[Fields] = [(b"seconds", amp.Float()), (b"message", amp.Unicode()), *_SCOPE]
    response: ClassVar[Fields] = [
        (b"seconds", amp.Float()),
        (b"answers", amp.AmpList(SHARD_ANSWER)),
    ]
    errors: ClassVar[dict[type[Exception], bytes]] = {ValueError: b"BAD_SECONDS", **_ERRORS}


class Cancel(amp.Command):
    arguments: ClassVar[Fields] = [*_SCOPE]
    response: ClassVar[Fields] = [
        (b"cancelled", amp.Boolean()),
        (b"answers", amp.AmpList(SHARD_ANSWER)),
    ]
    errors: ClassVar[dict[type[Exception], bytes]] = _ERRORS


class Reload(amp.Command):
    """Re-read the game's code and world file; each shard's summary, or why nothing changed."""

    arguments: ClassVar[Fields] = [*_SCOPE]
    response: ClassVar[Fields] = [(b"answers", amp.AmpList(SHARD_ANSWER))]
    errors: ClassVar[dict[type[Exception], bytes]] = _ERRORS


class Shards(amp.Command):
    """The shards the database knows of, and which are up."""

    arguments: ClassVar[Fields] = []
    response: ClassVar[Fields] = [
        (
            b"shards",
            amp.AmpList(
                [
                    (b"name", amp.Unicode()),
                    (b"host", amp.Unicode()),
                    (b"started", amp.Float()),
                    (b"up", amp.Boolean()),
                ]
            ),
        ),
    ]
    errors: ClassVar[dict[type[Exception], bytes]] = _ERRORS


class Accounts(amp.Command):
    """One page of the accounts whose names match a pattern, after a name; with
    ``count``, how many match in all (a second query: the console asks once)."""

    arguments: ClassVar[Fields] = [
        (b"pattern", amp.Unicode()),
        (b"after", amp.Unicode()),
        (b"limit", amp.Integer()),
        (b"count", amp.Boolean()),
    ]
    response: ClassVar[Fields] = [
        (b"total", amp.Integer(optional=True)),
        (
            b"rows",
            amp.AmpList(
                [
                    (b"name", amp.Unicode()),
                    (b"created", amp.Float(optional=True)),
                    (b"last_seen", amp.Float(optional=True)),
                    (b"damaged", amp.Boolean()),
                ]
            ),
        ),
    ]
    errors: ClassVar[dict[type[Exception], bytes]] = {**_ERRORS, AccountError: b"BAD_PATTERN"}


class Delete(amp.Command):
    """Delete an account for good, its player kicked first wherever it plays."""

    arguments: ClassVar[Fields] = [(b"name", amp.Unicode()), (b"timeout", amp.Float(optional=True))]
    response: ClassVar[Fields] = [
        (b"deleted", amp.Boolean()),
        (b"kicked", amp.ListOf(amp.Unicode())),
    ]
    errors: ClassVar[dict[type[Exception], bytes]] = {**_ERRORS, AccountError: b"BAD_ACCOUNT"}


class ResetPassword(amp.Command):
    """A new random password for an account (shown once), its player kicked first."""

    arguments: ClassVar[Fields] = [(b"name", amp.Unicode()), (b"timeout", amp.Float(optional=True))]
    response: ClassVar[Fields] = [
        (b"password", amp.Unicode(optional=True)),
        (b"kicked", amp.ListOf(amp.Unicode())),
    ]
    errors: ClassVar[dict[type[Exception], bytes]] = {**_ERRORS, AccountError: b"BAD_ACCOUNT"}
