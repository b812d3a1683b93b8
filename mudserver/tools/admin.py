"""``mudserver-admin``: the operator's console of a running server, or of all its shards.

Talks AMP (:mod:`mudserver.shell.admincommands`) over a server's UNIX socket:
``--socket PATH``, or the one in ``--data DIR`` (``admin.sock``, or a
shard's ``admin-NAME.sock``; with several there, the named shard's, else the
first that answers).  Output is for people by default and one JSON document
with ``--json``, for scripts.

With shards, one socket is enough: the shard it reaches carries ``who``,
``kick``, ``announce``, ``shutdown`` and ``cancel`` to every shard that is
up (``--shard NAME``, repeatable, narrows that), through the database they
share, and reports each shard's answer; a shard that did not answer within
``--timeout`` makes the exit status 1.  Bans and accounts are the store's,
shared by every shard.

The socket is connected with a plain blocking ``connect`` first, so the
two common mistakes get a precise answer: no server (no socket, or nobody
listening) and the wrong OS user (permission denied).  The connected socket
is then handed to the reactor for AMP.
"""

from __future__ import annotations

import argparse
import errno
import json
import socket
import sys
from pathlib import Path
from typing import Any

from twisted.internet import defer, task
from twisted.internet.protocol import Factory
from twisted.protocols import amp

from mudserver.limits.bans import BanError
from mudserver.shell import admincommands as commands
from mudserver.tools.console import AdminError, Console

__all__ = ["AdminError", "main"]

#: Commands that act on the players or the game of each shard, and take ``--shard``.
PER_SHARD = ("who", "kick", "announce", "shutdown", "cancel", "reload")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mudserver-admin", description="Operate a running mudserver, or all its shards."
    )
    parser.add_argument("--data", default="./data", help="the server's data directory")
    parser.add_argument(
        "--socket", help="the admin socket (default: the one in DATA, or a shard's there)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")
    parser.add_argument(
        "--shard",
        action="append",
        dest="shards",
        metavar="NAME",
        help="only this shard (repeatable); default: every shard that is up",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="seconds to wait for the other shards' answers (default 5)",
    )
    commands_ = parser.add_subparsers(dest="command", required=True)
    commands_.add_parser("who", help="players online (per shard)")
    kick = commands_.add_parser("kick", help="disconnect a player with 'bye kicked'")
    kick.add_argument("name")
    kick.add_argument("reason", nargs="*")
    ban = commands_.add_parser("ban", help="ban an account name, address or CIDR range")
    ban.add_argument("target")
    ban.add_argument("--for", dest="duration", help="e.g. 90s, 15m, 2h, 7d (default: for good)")
    ban.add_argument("reason", nargs="*")
    unban = commands_.add_parser("unban", help="lift a ban")
    unban.add_argument("target")
    commands_.add_parser("bans", help="the bans in force")
    announce = commands_.add_parser("announce", help="a system message to every player")
    announce.add_argument("text", nargs="+")
    shutdown = commands_.add_parser("shutdown", help="count down, then stop (everyone saved)")
    shutdown.add_argument("--in", dest="seconds", type=float, default=0.0)
    shutdown.add_argument("message", nargs="*")
    commands_.add_parser("cancel", help="stop a shutdown countdown")
    commands_.add_parser(
        "reload",
        help="re-read the game's code and world file (players stay; a failure changes nothing)",
    )
    commands_.add_parser("shards", help="the shards of the store, and which are up")
    accounts = commands_.add_parser("accounts", help="accounts: name, created, last seen")
    accounts.add_argument(
        "pattern", nargs="?", default="", help="e.g. 'bo*' or 'b?b'; plain text: names holding it"
    )
    accounts.add_argument("--limit", type=int, help="list at most this many")
    accounts.add_argument("--after", default="", help="start after this name (the next page)")
    delete = commands_.add_parser("delete", help="delete an account for good (kicked first)")
    delete.add_argument("name")
    reset = commands_.add_parser(
        "reset-password", help="give an account a new random password, printed once"
    )
    reset.add_argument("name")
    return parser


def connect(path: str) -> socket.socket:
    """A socket connected to the server's admin socket, or an :class:`AdminError`."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        if e.errno in (errno.ENOENT, errno.ECONNREFUSED):
            raise AdminError(f"the server is not running (no admin socket at {path})") from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise AdminError(
                f"permission denied on {path}: the admin socket belongs to the server's OS "
                "user; run mudserver-admin as that user"
            ) from None
        raise AdminError(f"cannot connect to {path}: {e.strerror}") from None
    return sock


def candidates(data: Path, shards: list[str] | None) -> list[Path]:
    """The admin sockets in *data* to try, in order: a named shard's first, then the
    lone server's, then every shard's."""
    found = sorted(data.glob("admin-*.sock"))
    first = [data / f"admin-{shards[0]}.sock"] if shards and len(shards) == 1 else []
    return [*first, data / commands.ADMIN_SOCKET, *(p for p in found if p not in first)]


def connect_any(args: argparse.Namespace) -> socket.socket:
    """The socket ``--socket`` names, or the first in ``--data`` that answers."""
    if args.socket:
        return connect(args.socket)
    data = Path(args.data)
    denied: AdminError | None = None
    for path in candidates(data, args.shards):
        try:
            return connect(str(path))
        except AdminError as e:
            if "permission denied" in str(e):
                denied = denied or e
    if denied is not None:
        raise denied
    raise AdminError(f"the server is not running (no admin socket in {data})")


class _Console(amp.AMP):
    def __init__(self) -> None:
        super().__init__()
        self.ready: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        super().connectionMade()
        self.ready.callback(None)


async def _main(reactor: Any, args: argparse.Namespace) -> list[str]:
    sock = connect_any(args)
    proto = _Console()
    try:
        reactor.adoptStreamConnection(
            sock.fileno(), socket.AF_UNIX, Factory.forProtocol(lambda: proto)
        )
    finally:
        sock.close()  # the reactor holds its own duplicate
    await proto.ready
    console = Console(proto, args)
    try:
        result, text = await console.run()
    finally:
        proto.transport.loseConnection()
    if args.json or text:
        print(json.dumps(result, indent=2) if args.json else text)
    return console.problems


#: The free-text argument of each command that has one.
_TEXT = {"kick": "reason", "ban": "reason", "announce": "text", "shutdown": "message"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse *argv*; words after an option (``ban X --for 2h some reason``) join the text."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    field = _TEXT.get(args.command)
    if extra and (field is None or any(word.startswith("-") for word in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra and field is not None:
        setattr(args, field, getattr(args, field) + extra)
    if args.shards and args.command not in PER_SHARD:
        parser.error(f"--shard does not apply to {args.command}: it is the store's, shared")
    if not 0 < args.timeout <= 60:
        parser.error("--timeout must be above 0 and at most 60 seconds")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    status = 0

    async def guarded(reactor: Any) -> None:
        nonlocal status
        try:
            problems = await _main(reactor, args)
        except (AdminError, BanError) as e:
            _fail(args, str(e))
            status = 1
        except amp.RemoteAmpError as e:
            _fail(args, e.description.decode() if isinstance(e.description, bytes) else str(e))
            status = 1
        else:
            for problem in problems:
                print(f"mudserver-admin: {problem}", file=sys.stderr)
            status = 1 if problems else 0

    try:
        task.react(lambda reactor: defer.ensureDeferred(guarded(reactor)))
    except SystemExit as e:
        if e.code:
            raise
    sys.exit(status)


def _fail(args: argparse.Namespace, message: str) -> None:
    if args.json:
        print(json.dumps({"error": message}))
    print(f"mudserver-admin: {message}", file=sys.stderr)


if __name__ == "__main__":
    main()
