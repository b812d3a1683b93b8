"""The console's commands across shards, in process: a fake database between two relays.

Each shard is a Game with its Operations and a Relay; the "database" is a
fake Cluster that hands requests and answers from one relay to the other
the way notifications would (or drops them, for a shard that hangs), on a
fake clock whose thread pool runs each call at once.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.shell.countdown import Countdown
from mudserver.shell.gamehost import ReloadFailed
from mudserver.shell.operations import MAX_ANNOUNCEMENT, Operations
from mudserver.shell.relay import OTHERS, Relay
from mudserver.store.base import StoreUnavailable
from mudserver.store.cluster import Request, ShardInfo, parse_answer, parse_request
from tests.test_game import SaveRecorder
from tests.test_moderation import login
from tests.test_service_hardening import FakeReactor, SyncPool


class Reactor(FakeReactor):
    def __init__(self) -> None:
        super().__init__()
        self.callFromThread = lambda f, *args: f(*args)  # type: ignore[method-assign]

    def getThreadPool(self) -> SyncPool:
        return SyncPool()


class Database:
    """What the shards share: who is up, requests out, answers stored."""

    def __init__(self, reactor: Reactor) -> None:
        self.reactor = reactor
        self.relays: dict[str, Relay] = {}
        self.up = {"a", "b"}
        self.known = ["a", "b", "c"]
        self.stored: dict[str, dict[str, dict[str, Any]]] = {}
        self.deaf: set[str] = set()  # shards that never hear requests
        self.down = False

    def cluster(self, shard: str) -> Any:
        database = self

        class Cluster:
            def shards(self) -> list[ShardInfo]:
                if database.down:
                    raise StoreUnavailable("the database is down")
                return [ShardInfo(n, "host", 0.0, n in database.up) for n in database.known]

            def request(self, request: Request) -> None:
                payload = _payload(request)
                for name, relay in database.relays.items():
                    if name not in database.deaf:
                        database.reactor.callLater(0.01, relay.requested, payload)

            def answer(self, request: str, answer: dict[str, Any]) -> None:
                database.stored.setdefault(request, {})[shard] = answer
                notice = f'{{"request": "{request}", "shard": "{shard}"}}'
                for relay in database.relays.values():
                    database.reactor.callLater(0.01, relay.answered, notice)

            def answers(self, request: str) -> dict[str, dict[str, Any]]:
                return dict(database.stored.get(request, {}))

            def forget(self, request: str) -> None:
                database.stored.pop(request, None)

        return Cluster()


def _payload(request: Request) -> str:
    import json

    return json.dumps(
        {
            "id": request.id,
            "from": request.sender,
            "to": list(request.targets),
            "command": request.command,
            "args": request.args,
        }
    )


def _reloaded() -> str:
    return "reloaded: 1 thing took the new code"


def _broken() -> str:
    raise ReloadFailed("world.toml: things.sign: no such class")


#: Shard a reloads, shard b's new world file is broken.
reloads = {"a": _reloaded, "b": _broken}


def cluster() -> tuple[Reactor, Database, dict[str, Game], dict[str, list[float]]]:
    reactor = Reactor()
    database = Database(reactor)
    games: dict[str, Game] = {}
    stopped: dict[str, list[float]] = {}
    for name in ("a", "b"):
        game = games[name] = Game(Settings(), SaveRecorder())
        stops = stopped[name] = []
        countdown = Countdown(game, reactor, lambda s=stops: s.append(reactor.seconds()))
        operations = Operations(game, reactor, countdown, reload=reloads[name])
        database.relays[name] = Relay(name, database.cluster(name), operations, reactor)
    return reactor, database, games, stopped


def ask(reactor: Reactor, relay: Relay, *args: Any) -> dict[str, dict[str, Any]]:
    results: list[Any] = []
    defer.ensureDeferred(relay.ask(*args)).addBoth(results.append)
    while not results:
        reactor.advance(0.01)
    (result,) = results
    if hasattr(result, "raiseException"):
        result.raiseException()
    return result  # type: ignore[no-any-return]


def test_a_command_for_every_shard_is_answered_by_each() -> None:
    reactor, database, games, _ = cluster()
    login(games["a"], "alice")
    login(games["b"], "bob")
    login(games["b"], "bea")
    answers = ask(reactor, database.relays["a"], None, "who", {}, 5.0)
    assert sorted(answers) == ["a", "b"]
    assert [r["name"] for r in answers["b"]["rows"]] == ["bea", "bob"]
    answers = ask(reactor, database.relays["a"], ["b", "c", "d"], "kick", {"name": "bob"}, 5.0)
    assert answers == {
        "b": {"kicked": True},
        "c": {"error": "not running"},
        "d": {"error": "no such shard"},
    }
    assert games["b"].player("bob") is None
    assert database.stored == {}  # the asker deleted the answers it read


def test_a_shard_that_does_not_answer_is_reported_not_waited_for() -> None:
    reactor, database, _, _ = cluster()
    database.deaf.add("b")
    started = reactor.seconds()
    answers = ask(reactor, database.relays["a"], None, "announce", {"text": "hi"}, 2.0)
    assert answers == {"a": {"players": 0}, "b": {"error": "no answer within 2 s"}}
    assert 2.0 <= reactor.seconds() - started < 2.1


def test_with_the_database_down_this_shard_still_answers_and_says_so() -> None:
    reactor, database, _, _ = cluster()
    database.down = True
    answers = ask(reactor, database.relays["a"], None, "cancel", {}, 2.0)
    assert answers["a"] == {"cancelled": False}
    assert answers[OTHERS]["error"].startswith("cannot reach the other shards")
    answers = ask(reactor, database.relays["a"], ["a"], "cancel", {}, 2.0)
    assert answers == {"a": {"cancelled": False}}


def test_a_relayed_shutdown_starts_its_countdown_only_once_answered() -> None:
    reactor, database, _, stopped = cluster()
    answers = ask(reactor, database.relays["a"], ["b"], "shutdown", {"seconds": 0}, 2.0)
    assert answers == {"b": {"seconds": 0.0}}
    reactor.advance(0.01)
    assert stopped["b"] and not stopped["a"]
    bad = ask(reactor, database.relays["a"], None, "shutdown", {"seconds": -1}, 2.0)
    assert set(bad) == {"a", "b"} and all("0 to 86400" in a["error"] for a in bad.values())


def test_bad_requests_are_answers_not_crashes() -> None:
    reactor, database, _, _ = cluster()
    too_long = {"text": "x" * (MAX_ANNOUNCEMENT + 1)}
    long = ask(reactor, database.relays["a"], ["a"], "announce", too_long, 1.0)
    assert "at most" in long["a"]["error"]
    odd = ask(reactor, database.relays["a"], None, "kick", {"name": 5}, 1.0)
    assert all("name must be text" in a["error"] for a in odd.values())
    unknown = ask(reactor, database.relays["a"], ["a"], "x", {}, 1.0)
    assert "no such command" in unknown["a"]["error"]
    for junk in ("", "{}", "[1]", '{"id": "x", "from": "a", "to": [], "command": "who"}'):
        assert parse_request(junk) is None
        assert parse_answer(junk) is None
    database.relays["b"].requested("not json")  # ignored, nothing raised


def test_a_reload_reports_each_shards_summary_or_failure() -> None:
    reactor, database, _, _ = cluster()
    answers = ask(reactor, database.relays["b"], None, "reload", {}, 2.0)
    assert answers == {
        "a": {"summary": "reloaded: 1 thing took the new code"},
        "b": {"error": "world.toml: things.sign: no such class"},
    }
