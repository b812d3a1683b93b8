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
import datetime
import errno
import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet import defer, task
from twisted.internet.protocol import Factory
from twisted.protocols import amp

from mudserver.limits.bans import BanError, parse_duration
from mudserver.shell import admincommands as commands

__all__ = ["AdminError", "main"]

#: Commands that act on the players of each shard, and take ``--shard``.
PER_SHARD = ("who", "kick", "announce", "shutdown", "cancel")


class AdminError(Exception):
    """Something to tell the operator in one line, then exit with status 1."""


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


async def _paged(
    proto: amp.AMP, command: type[amp.Command], key: str, **more: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every row of a paged listing, and the first page's whole answer."""
    rows: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    while True:
        answer = await proto.callRemote(command, offset=len(rows), limit=commands.PAGE, **more)
        first = first or answer
        rows += answer[key]
        if not answer[key] or len(rows) >= answer["total"]:
            return rows, first


def _shard_label(shard: str) -> str:
    return "other shards" if shard == "*" else f"shard {shard}"


def _problems(answers: list[dict[str, Any]]) -> list[str]:
    """One line per shard that answered with an error."""
    return [
        f"{_shard_label(a['shard'])}: {a['error']}" if a["shard"] else a["error"]
        for a in answers
        if a.get("error")
    ]


def _sharded(answers: list[dict[str, Any]]) -> bool:
    return any(a["shard"] for a in answers)


def _counts(answers: list[dict[str, Any]]) -> str:
    """``a 2, b 3``: each shard's count."""
    return ", ".join(f"{a['shard']} {a['count']}" for a in answers if a["count"] is not None)


def _done_on(answers: list[dict[str, Any]]) -> str:
    return ", ".join(a["shard"] for a in answers if not a.get("error") and a["shard"] != "*")


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class Console:
    """Runs one command; what it found out, for people and for scripts."""

    def __init__(self, proto: amp.AMP, args: argparse.Namespace) -> None:
        self.proto = proto
        self.args = args
        #: Lines about shards that did not answer: the exit status becomes 1.
        self.problems: list[str] = []

    @property
    def scope(self) -> dict[str, Any]:
        return {"shards": self.args.shards, "timeout": self.args.timeout}

    async def call(self, command: type[amp.Command], **arguments: Any) -> dict[str, Any]:
        answer: dict[str, Any] = await self.proto.callRemote(command, **arguments)
        self.problems += _problems(answer.get("answers", []))
        return answer

    async def run(self) -> tuple[Any, str]:
        """Do the command; return (JSON result, text for people)."""
        handler: Callable[[], Any] = getattr(self, "_" + self.args.command.replace("-", "_"))
        return await handler()  # type: ignore[no-any-return]

    async def _who(self) -> tuple[Any, str]:
        rows, first = await _paged(self.proto, commands.Who, "rows", **self.scope)
        answers = first["answers"]
        self.problems += _problems(answers)
        sharded = _sharded(answers)
        head = f"{_plural(len(rows), 'player')} online"
        lines = [f"{head}: {_counts(answers)}" if sharded else head]
        width = max([5, *(len(r["shard"]) for r in rows)]) + 1
        if rows:
            shard = f"{'SHARD':<{width}}" if sharded else ""
            lines.append(f"{shard}{'NAME':<20} {'ADDRESS':<39} {'V':<2} {'POSITION':<28} IDLE")
        for r in rows:
            where = f"{r['x']:.1f},{r['y']:.1f},{r['z']:.1f}"
            shard = f"{r['shard']:<{width}}" if sharded else ""
            lines.append(
                f"{shard}{r['name']:<20} {r['host']:<39} {r['version']:<2} {where:<28} "
                f"{r['idle']:.0f}s"
            )
        if not sharded:
            rows = [{k: v for k, v in r.items() if k != "shard"} for r in rows]
        return rows, "\n".join(lines)

    async def _kick(self) -> tuple[Any, str]:
        answer = await self.call(
            commands.Kick, name=self.args.name, reason=" ".join(self.args.reason), **self.scope
        )
        if not answer["kicked"]:
            raise AdminError(f"{self.args.name} is not online")
        where = [a["shard"] for a in answer["answers"] if a["count"]]
        text = f"kicked {self.args.name}"
        return answer, f"{text} on shard {', '.join(where)}" if any(where) else text

    async def _ban(self) -> tuple[Any, str]:
        duration = parse_duration(self.args.duration) if self.args.duration else None
        answer = await self.call(
            commands.Ban,
            target=self.args.target,
            duration=duration,
            reason=" ".join(self.args.reason),
        )
        made = answer["ban"][0]
        until = "for good" if made["until"] is None else f"for {self.args.duration}"
        text = f"banned {made['target']} {until}"
        if answer["closed"]:
            text += f"; disconnected {', '.join(answer['closed'])}"
        return {"ban": made, "closed": answer["closed"]}, text

    async def _unban(self) -> tuple[Any, str]:
        answer = await self.call(commands.Unban, target=self.args.target)
        if not answer["lifted"]:
            raise AdminError(f"{self.args.target} is not banned")
        return answer, f"lifted the ban of {self.args.target}"

    async def _bans(self) -> tuple[Any, str]:
        bans, _ = await _paged(self.proto, commands.Bans, "bans")
        lines = [_plural(len(bans), "ban")]
        for b in bans:
            until = "for good" if b["until"] is None else f"until {_when(b['until'])} UTC"
            reason = f" ({b['reason']})" if b["reason"] else ""
            lines.append(f"{b['kind']:<8} {b['target']:<40} {until}{reason}")
        return bans, "\n".join(lines)

    async def _announce(self) -> tuple[Any, str]:
        answer = await self.call(commands.Announce, text=" ".join(self.args.text), **self.scope)
        text = f"announced to {_plural(answer['players'], 'player')}"
        if _sharded(answer["answers"]):
            text += f": {_counts(answer['answers'])}"
        return answer, text

    async def _shutdown(self) -> tuple[Any, str]:
        answer = await self.call(
            commands.Shutdown,
            seconds=self.args.seconds,
            message=" ".join(self.args.message),
            **self.scope,
        )
        text = f"shutting down in {answer['seconds']:g} s"
        if _sharded(answer["answers"]):
            text += f": {_done_on(answer['answers']) or 'no shard'}"
        return answer, text

    async def _cancel(self) -> tuple[Any, str]:
        answer = await self.call(commands.Cancel, **self.scope)
        if not answer["cancelled"]:
            raise AdminError("no shutdown is counting down")
        where = [a["shard"] for a in answer["answers"] if a["count"]]
        text = "shutdown cancelled"
        return answer, f"{text} on {', '.join(where)}" if any(where) else text

    async def _shards(self) -> tuple[Any, str]:
        shards = (await self.call(commands.Shards))["shards"]
        up = sum(s["up"] for s in shards)
        lines = [f"{_plural(len(shards), 'shard')}, {up} up"]
        if shards:
            lines.append(f"{'NAME':<33} {'HOST':<30} {'STARTED (UTC)':<20} UP")
        for s in shards:
            state = "yes" if s["up"] else "no"
            lines.append(f"{s['name']:<33} {s['host']:<30} {_when(s['started']):<20} {state}")
        return shards, "\n".join(lines)

    async def _accounts(self) -> tuple[Any, str]:
        limit = self.args.limit
        rows: list[dict[str, Any]] = []
        after, total = self.args.after, None
        while limit is None or len(rows) < limit:
            page = commands.PAGE if limit is None else min(commands.PAGE, limit - len(rows))
            answer = await self.call(
                commands.Accounts, pattern=self.args.pattern, after=after, limit=page
            )
            total = answer["total"] if total is None else total
            rows += answer["rows"]
            if len(answer["rows"]) < page:
                break
            after = answer["rows"][-1]["name"]
        shown = f"{len(rows)} of {total}" if total is not None and total != len(rows) else ""
        lines = [f"{_plural(total or 0, 'account')}" + (f" ({shown} listed)" if shown else "")]
        if rows:
            lines.append(f"{'NAME':<25} {'CREATED (UTC)':<20} LAST SEEN (UTC)")
        for r in rows:
            if r["damaged"]:
                lines.append(f"{r['name']:<25} (damaged: the server's log says why)")
                continue
            lines.append(f"{r['name']:<25} {_when(r['created']):<20} {_when(r['last_seen'])}")
        return rows, "\n".join(lines)

    async def _delete(self) -> tuple[Any, str]:
        answer = await self.call(commands.Delete, name=self.args.name, timeout=self.args.timeout)
        if not answer["deleted"]:
            raise AdminError(f"there is no account {self.args.name}")
        return answer, f"deleted {self.args.name}{_kicked(answer['kicked'])}"

    async def _reset_password(self) -> tuple[Any, str]:
        answer = await self.call(
            commands.ResetPassword, name=self.args.name, timeout=self.args.timeout
        )
        if answer["password"] is None:
            raise AdminError(f"there is no account {self.args.name}")
        result = {"name": self.args.name, **answer}
        text = (
            f"new password of {self.args.name}: {answer['password']}\n"
            f"(shown this once; give it to the player){_kicked(answer['kicked'])}"
        )
        return result, text


def _kicked(where: list[str]) -> str:
    if not where:
        return ""
    shards = [s for s in where if s]
    return f"; kicked it first on shard {', '.join(shards)}" if shards else "; kicked it first"


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
