"""``mudserver-admin``: the operator's console of a running server.

Talks AMP (see :mod:`mudserver.shell.adminsocket`) over the server's UNIX socket,
``DATA/admin.sock`` unless ``--socket`` says otherwise.  Output is for
people by default and one JSON document with ``--json``, for scripts.

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

from mudserver.limits.bans import BanError, parse_duration
from mudserver.shell import adminsocket
from mudserver.shell.gamehost import ReloadFailed

__all__ = ["main", "AdminError"]


class AdminError(Exception):
    """Something to tell the operator in one line, then exit with status 1."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mudserver-admin", description="Operate a running mudserver."
    )
    parser.add_argument("--data", default="./data", help="the server's data directory")
    parser.add_argument(
        "--socket", help=f"the admin socket (default DATA/{adminsocket.ADMIN_SOCKET})"
    )
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("who", help="players online")
    kick = commands.add_parser("kick", help="disconnect a player with 'bye kicked'")
    kick.add_argument("name")
    kick.add_argument("reason", nargs="*")
    ban = commands.add_parser("ban", help="ban an account name, address or CIDR range")
    ban.add_argument("target")
    ban.add_argument("--for", dest="duration", help="e.g. 90s, 15m, 2h, 7d (default: for good)")
    ban.add_argument("reason", nargs="*")
    unban = commands.add_parser("unban", help="lift a ban")
    unban.add_argument("target")
    commands.add_parser("bans", help="the bans in force")
    announce = commands.add_parser("announce", help="a system message to every player")
    announce.add_argument("text", nargs="+")
    shutdown = commands.add_parser("shutdown", help="count down, then stop (everyone saved)")
    shutdown.add_argument("--in", dest="seconds", type=float, default=0.0)
    shutdown.add_argument("message", nargs="*")
    commands.add_parser("cancel", help="stop a shutdown countdown")
    commands.add_parser(
        "reload",
        help="re-read the game's code and world file (players stay; a failure changes nothing)",
    )
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


async def _paged(proto: amp.AMP, command: type[amp.Command], key: str) -> list[dict[str, Any]]:
    """Every row of a paged listing."""
    rows: list[dict[str, Any]] = []
    while True:
        answer = await proto.callRemote(command, offset=len(rows), limit=adminsocket.PAGE)
        rows += answer[key]
        if not answer[key] or len(rows) >= answer["total"]:
            return rows


async def run(proto: amp.AMP, args: argparse.Namespace) -> tuple[Any, str]:
    """Do *args*' command; return (JSON result, text for people)."""
    match args.command:
        case "who":
            rows = await _paged(proto, adminsocket.Who, "rows")
            lines = [f"{len(rows)} player{'' if len(rows) == 1 else 's'} online"]
            if rows:
                lines.append(f"{'NAME':<20} {'ADDRESS':<39} {'V':<2} {'POSITION':<28} IDLE")
            for r in rows:
                where = f"{r['x']:.1f},{r['y']:.1f},{r['z']:.1f}"
                idle = f"{r['idle']:.0f}s"
                lines.append(
                    f"{r['name']:<20} {r['host']:<39} {r['version']:<2} {where:<28} {idle}"
                )
            return rows, "\n".join(lines)
        case "kick":
            answer = await proto.callRemote(
                adminsocket.Kick, name=args.name, reason=" ".join(args.reason)
            )
            if not answer["kicked"]:
                raise AdminError(f"{args.name} is not online")
            return answer, f"kicked {args.name}"
        case "ban":
            duration = parse_duration(args.duration) if args.duration else None
            answer = await proto.callRemote(
                adminsocket.Ban, target=args.target, duration=duration, reason=" ".join(args.reason)
            )
            made = answer["ban"][0]
            until = "for good" if made["until"] is None else f"for {args.duration}"
            text = f"banned {made['target']} {until}"
            if answer["closed"]:
                text += f"; disconnected {', '.join(answer['closed'])}"
            return {"ban": made, "closed": answer["closed"]}, text
        case "unban":
            answer = await proto.callRemote(adminsocket.Unban, target=args.target)
            if not answer["lifted"]:
                raise AdminError(f"{args.target} is not banned")
            return answer, f"lifted the ban of {args.target}"
        case "bans":
            bans = await _paged(proto, adminsocket.Bans, "bans")
            lines = [f"{len(bans)} ban{'' if len(bans) == 1 else 's'}"]
            for b in bans:
                until = "for good" if b["until"] is None else f"until {_when(b['until'])}"
                reason = f" ({b['reason']})" if b["reason"] else ""
                lines.append(f"{b['kind']:<8} {b['target']:<40} {until}{reason}")
            return bans, "\n".join(lines)
        case "announce":
            answer = await proto.callRemote(adminsocket.Announce, text=" ".join(args.text))
            return answer, f"announced to {answer['players']} players"
        case "shutdown":
            answer = await proto.callRemote(
                adminsocket.Shutdown, seconds=args.seconds, message=" ".join(args.message)
            )
            return answer, f"shutting down in {answer['seconds']:g} s"
        case "cancel":
            answer = await proto.callRemote(adminsocket.Cancel)
            if not answer["cancelled"]:
                raise AdminError("no shutdown is counting down")
            return answer, "shutdown cancelled"
        case "reload":
            answer = await proto.callRemote(adminsocket.Reload)
            return answer, answer["summary"]
    raise AdminError(f"unknown command {args.command}")


def _when(epoch: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class _Console(amp.AMP):
    def __init__(self) -> None:
        super().__init__()
        self.ready: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        super().connectionMade()
        self.ready.callback(None)


async def _main(reactor: Any, args: argparse.Namespace) -> None:
    path = args.socket or str(Path(args.data) / adminsocket.ADMIN_SOCKET)
    sock = connect(path)
    proto = _Console()
    try:
        reactor.adoptStreamConnection(
            sock.fileno(), socket.AF_UNIX, Factory.forProtocol(lambda: proto)
        )
    finally:
        sock.close()  # the reactor holds its own duplicate
    await proto.ready
    try:
        result, text = await run(proto, args)
    finally:
        proto.transport.loseConnection()
    print(json.dumps(result, indent=2) if args.json else text)


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
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    status = 0

    async def guarded(reactor: Any) -> None:
        nonlocal status
        try:
            await _main(reactor, args)
        except (AdminError, BanError, ReloadFailed, adminsocket.NoGame) as e:
            _fail(args, str(e))
            status = 1
        except amp.RemoteAmpError as e:
            _fail(args, e.description.decode() if isinstance(e.description, bytes) else str(e))
            status = 1

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
