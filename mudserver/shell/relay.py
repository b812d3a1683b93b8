"""The console across shards: a command carried to the other shards, and their answers.

Twisted glue around :mod:`mudserver.store.cluster`.  The operator's console
reaches one shard over that shard's UNIX socket; when a command is meant for
other shards too (``who`` of the whole cluster, a ``kick`` wherever the
player plays, an ``announce`` to everybody), that shard, the *asking* one:

1. reads which shards are up (each holds a lock on its name while it runs);
2. sends the request once, as a notification every shard hears;
3. runs the command itself, if it is one of those asked;
4. waits for each other shard's answer, at most the console's timeout; a
   shard that did not answer in time is reported so, not waited for.

A shard asked runs the command (:mod:`mudserver.shell.operations`) and
stores its answer; a shutdown's countdown starts only once that answer is
stored.  The database calls run on the reactor's thread pool; everything
else on the reactor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, threads
from twisted.logger import Logger

from mudserver.shell.operations import Operations
from mudserver.store.base import StoreUnavailable
from mudserver.store.cluster import Cluster, Request, ShardInfo, parse_answer, parse_request

__all__ = ["OTHERS", "Relay"]

#: The key of an answer for the shards that could not be listed (no shard has it:
#: shard names are letters, digits, ``_`` and ``-``).
OTHERS = "*"


class _Waiting:
    """The answers one request still waits for."""

    def __init__(self, expected: set[str]) -> None:
        self.expected = expected
        self.answers: dict[str, dict[str, Any]] = {}
        self.done: defer.Deferred[None] = defer.Deferred()

    def take(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers.update({k: v for k, v in answers.items() if k in self.expected})
        if set(self.answers) == self.expected and not self.done.called:
            self.done.callback(None)


class Relay:
    """This shard's side of the console's cross-shard commands."""

    log = Logger()

    def __init__(self, name: str, cluster: Cluster, operations: Operations, reactor: Any) -> None:
        self.name = name
        self.cluster = cluster
        self.operations = operations
        self.reactor = reactor
        self._waiting: dict[str, _Waiting] = {}

    def _thread(self, f: Callable[..., Any], *args: Any) -> defer.Deferred[Any]:
        return threads.deferToThreadPool(self.reactor, self.reactor.getThreadPool(), f, *args)

    async def shards(self) -> list[ShardInfo]:
        """Every shard the database knows of, and whether it is up."""
        return await self._thread(self.cluster.shards)  # type: ignore[no-any-return]

    async def ask(
        self, targets: list[str] | None, command: str, args: dict[str, Any], timeout: float
    ) -> dict[str, dict[str, Any]]:
        """Run *command* on the shards named *targets* (every shard up: ``None``).

        The answer of each shard by name: its command's answer, or
        ``{"error": ...}`` (not running, unknown, no answer in time, the
        database unreachable).  :data:`OTHERS` stands for the shards this
        one could not even list, the database being down.
        """
        answers: dict[str, dict[str, Any]] = {}
        try:
            known = {s.name: s for s in await self.shards()}
            up = {name for name, s in known.items() if s.up} | {self.name}
        except StoreUnavailable as e:
            known, up = {}, {self.name}
            unreached = {"error": f"cannot reach the other shards: {e}"}
            if targets is None:
                answers[OTHERS] = unreached
            else:
                answers.update({t: unreached for t in targets if t != self.name})
        wanted = sorted(set(targets) if targets else up)
        for name in wanted:
            if name not in up and name not in answers:
                answers[name] = {"error": "not running" if name in known else "no such shard"}
        others = {name for name in wanted if name in up and name != self.name}
        sent = await self._send(others, command, args, answers) if others else None
        outcome = None
        if self.name in wanted:
            outcome = self.operations.run(command, args)
            answers[self.name] = outcome.answer
        if sent is not None:
            await self._collect(sent, timeout, answers)
        if outcome is not None and outcome.then is not None:
            outcome.then()
        return answers

    async def _send(
        self,
        others: set[str],
        command: str,
        args: dict[str, Any],
        answers: dict[str, dict[str, Any]],
    ) -> tuple[str, _Waiting] | None:
        request = Request(str(uuid.uuid4()), self.name, tuple(sorted(others)), command, args)
        waiting = _Waiting(others)
        self._waiting[request.id] = waiting
        try:
            await self._thread(self.cluster.request, request)
        except (StoreUnavailable, ValueError) as e:
            del self._waiting[request.id]
            answers.update({name: {"error": f"cannot ask it: {e}"} for name in others})
            return None
        return request.id, waiting

    async def _collect(
        self, sent: tuple[str, _Waiting], timeout: float, answers: dict[str, dict[str, Any]]
    ) -> None:
        request, waiting = sent
        waiting.done.addTimeout(timeout, self.reactor)
        try:
            await waiting.done
        except defer.TimeoutError:
            pass
        finally:
            del self._waiting[request]
            forget = self._thread(self.cluster.forget, request)
            forget.addErrback(lambda f: f.trap(StoreUnavailable))
            forget.addErrback(lambda f: self.log.failure("could not forget answers", f))
        answers.update(waiting.answers)
        for name in waiting.expected - set(waiting.answers):
            answers[name] = {"error": f"no answer within {timeout:g} s"}

    # -- notifications -----------------------------------------------------------------

    def answered(self, payload: str) -> None:
        """Another shard stored its answer to a request: read it, if this shard asked."""
        parsed = parse_answer(payload)
        if parsed is None or parsed[0] not in self._waiting:
            return
        request = parsed[0]
        d = self._thread(self.cluster.answers, request)

        def take(answers: dict[str, dict[str, Any]]) -> None:
            waiting = self._waiting.get(request)
            if waiting is not None:
                waiting.take(answers)

        d.addCallback(take)
        d.addErrback(lambda f: f.trap(StoreUnavailable))  # the request times out
        d.addErrback(lambda f: self.log.failure("could not read answers", f))

    def requested(self, payload: str) -> None:
        """A shard passed on a console command: run it if it is meant for this one."""
        request = parse_request(payload)
        if request is None or request.sender == self.name or self.name not in request.targets:
            return
        self.log.info(
            "console command {command} from shard {sender}",
            command=request.command,
            sender=request.sender,
        )
        outcome = self.operations.run(request.command, request.args)
        d = self._thread(self.cluster.answer, request.id, outcome.answer)

        def answered(_: object) -> None:
            if outcome.then is not None:
                outcome.then()

        d.addCallback(answered)
        d.addErrback(lambda f: self.log.failure("could not answer shard {s}", f, s=request.sender))
