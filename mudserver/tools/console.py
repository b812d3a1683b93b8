"""What each of ``mudserver-admin``'s commands asks the server, and what it prints.

:class:`Console` runs one command over a connected AMP protocol and returns
its result twice: as JSON for scripts (``--json``) and as text for people.
Answers from several shards are shown per shard (``2 players online: a 1,
b 1``), and each shard that answered with an error (not running, no answer
in time) becomes a line of :attr:`Console.problems`, which makes the exit
status 1.  The command line itself is :mod:`mudserver.tools.admin`.
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from typing import Any

from twisted.protocols import amp

from mudserver.limits.bans import parse_duration
from mudserver.shell import admincommands as commands

__all__ = ["AdminError", "Console"]


class AdminError(Exception):
    """Something to tell the operator in one line, then exit with status 1."""


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
        lines = [f"{head}: {_counts(answers)}" if sharded and _counts(answers) else head]
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
        here = f" on shard {answer['shard']}" if answer["shard"] else ""
        if answer["closed"]:
            text += f"; disconnected {', '.join(answer['closed'])}{here}"
        if answer["shard"]:
            text += "; every other shard closes what it covers as it hears of the ban"
        return {"ban": made, "closed": answer["closed"], "shard": answer["shard"]}, text

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

    async def _reload(self) -> tuple[Any, str]:
        answers = (await self.call(commands.Reload, **self.scope))["answers"]
        done = [a for a in answers if a["text"] is not None]
        if _sharded(answers):
            return answers, "\n".join(f"{a['shard']}: {a['text']}" for a in done)
        return answers, "\n".join(a["text"] for a in done)

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
                commands.Accounts,
                pattern=self.args.pattern,
                after=after,
                limit=page,
                count=total is None,
            )
            total = answer["total"] if total is None else total
            rows += answer["rows"]
            if len(answer["rows"]) < page:
                break
            after = answer["rows"][-1]["name"]
        lines = [_plural(total or 0, "account")]
        if len(rows) != total:
            start = f" after {self.args.after}" if self.args.after else ""
            lines[0] += f" ({len(rows)} listed{start})"
        if rows:
            lines.append(f"{'NAME':<25} {'CREATED (UTC)':<20} LAST SEEN (UTC)")
        for r in rows:
            if r["damaged"]:
                lines.append(f"{r['name']:<25} (damaged: its stored data cannot be read)")
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
