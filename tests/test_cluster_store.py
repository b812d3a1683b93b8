"""What shards share besides accounts, against a real PostgreSQL: names, requests, bans.

A shard is up while it holds the lock on its name (and only one may), the
console's requests and answers go through the database, and the ban table
tells every listener of each change in the change's own transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from mudserver.limits.bans import Ban, BanList, make_ban
from mudserver.shell.bankeeper import read_bans
from mudserver.store.bans import BANS_CHANNEL, BanTable
from mudserver.store.cluster import (
    ANSWER_CHANNEL,
    CONSOLE_CHANNEL,
    Cluster,
    Request,
    parse_answer,
    parse_request,
)
from mudserver.store.ownership import Listener, Ownership
from mudserver.store.postgres import PostgresStore
from tests.crowd import CHEAP


def initialized(url: str) -> None:
    store = PostgresStore(url, CHEAP)
    store.initialize()
    store.close()


def notifications(listener: Listener, count: int) -> list[tuple[str, str]]:
    got: list[tuple[str, str]] = []
    for _ in range(20):  # each wait returns at the first packet, or after 0.5 s
        got += listener.wait(0.5)
        if len(got) >= count:
            break
    return got


def test_a_shard_is_up_while_it_holds_its_name_and_one_name_runs_once(pg_url: str) -> None:
    initialized(pg_url)
    a, again, b = Ownership(pg_url, "a"), Ownership(pg_url, "a"), Ownership(pg_url, "b")
    cluster = Cluster(pg_url, "a")
    try:
        assert a.take_name() and b.take_name()
        assert not again.take_name()  # a second shard "a" is refused
        for name in ("a", "b"):
            Cluster(pg_url, name).register("host-" + name)
        assert [(s.name, s.host, s.up) for s in cluster.shards()] == [
            ("a", "host-a", True),
            ("b", "host-b", True),
        ]
        b.close()  # as a shard that stops, or dies
        assert [(s.name, s.up) for s in cluster.shards()] == [("a", True), ("b", False)]
        with psycopg.connect(pg_url, autocommit=True) as admin:  # a database restart, say
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        assert a.check() == [] and a.named  # the new connection took the name again
        assert [(s.name, s.up) for s in cluster.shards()] == [("a", True), ("b", False)]
    finally:
        for ownership in (a, again, b):
            ownership.close()
        cluster.close()


def test_requests_and_answers_cross_the_database(pg_url: str) -> None:
    initialized(pg_url)
    listener = Listener(pg_url, (CONSOLE_CHANNEL, ANSWER_CHANNEL))
    asker, answerer = Cluster(pg_url, "a"), Cluster(pg_url, "b")
    try:
        assert listener.wait(0.1) == []
        request = Request(str(uuid.uuid4()), "a", ("b",), "who", {"x": "ünï"})
        asker.request(request)
        answerer.answer(request.id, {"rows": [{"name": "bob"}] * 500})  # over 8000 bytes
        (sent, told) = notifications(listener, 2)
        assert sent[0] == CONSOLE_CHANNEL and parse_request(sent[1]) == request
        assert told[0] == ANSWER_CHANNEL and parse_answer(told[1]) == (request.id, "b")
        assert len(asker.answers(request.id)["b"]["rows"]) == 500
        asker.forget(request.id)
        assert asker.answers(request.id) == {}
    finally:
        listener.close()
        asker.close()
        answerer.close()


def test_the_ban_table_keeps_bans_and_tells_every_listener(pg_url: str) -> None:
    initialized(pg_url)
    listener = Listener(pg_url, (BANS_CHANNEL,))
    table = BanTable(pg_url)
    try:
        assert listener.wait(0.1) == []
        table.put(make_ban("10.0.0.0/8", now=100.0, duration=50.0, reason="spam, bots").to_json())
        table.put(make_ban("Foo", now=160.0, reason="grief").to_json())  # the first has ended
        assert [channel for channel, _ in notifications(listener, 2)] == [BANS_CHANNEL] * 2
        loaded = read_bans(table.load(), "test")
        assert loaded == [Ban("name", "foo", "grief", 160.0, None)]
        assert table.remove("foo") and not table.remove("foo")
        assert notifications(listener, 1) == [(BANS_CHANNEL, "foo")]
        assert table.load() == []
    finally:
        listener.close()
        table.close()


def test_replacing_the_list_names_the_bans_new_to_it() -> None:
    bans = BanList()
    old = bans.add("foo", now=1.0)
    new = [old, make_ban("bar", now=2.0), make_ban("10.1.0.0/16", now=2.0)]
    assert bans.replace(new) == new[1:]
    assert bans.replace(new) == []
    assert bans.replace([new[1]]) == [] and bans.name_banned("foo", 3.0) is None
    changed = make_ban("bar", now=5.0, duration=60.0)
    assert bans.replace([changed]) == [changed]


def test_a_read_of_the_table_keeps_the_changes_not_written_yet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ban made (or lifted) here changes the list in memory at once; a read of the
    table that was under way before its write must not undo it."""
    from twisted.internet import defer, task

    from mudserver.config import Settings
    from mudserver.core.game import Game
    from mudserver.shell import bankeeper
    from tests.test_game import SaveRecorder

    calls: list[tuple[defer.Deferred[Any], Any]] = []

    def to_thread(f: Any, *args: Any) -> defer.Deferred[Any]:
        d: defer.Deferred[Any] = defer.Deferred()  # each call still under way
        calls.append((d, f(*args)))
        return d

    monkeypatch.setattr(bankeeper.threads, "deferToThread", to_thread)
    old = make_ban("old", now=1.0)

    class Table:
        def __init__(self) -> None:
            self.rows = [old.to_json()]

        def load(self) -> list[dict[str, Any]]:
            return list(self.rows)

        def put(self, ban: dict[str, Any]) -> None:
            self.rows.append(ban)

        def remove(self, target: str) -> bool:
            self.rows = [r for r in self.rows if r["target"] != target]
            return True

        def describe(self) -> str:
            return "table"

    game = Game(Settings(), SaveRecorder())
    keeper = bankeeper.TableBans(game, task.Clock(), Table())  # type: ignore[arg-type]
    game.bans.put(old)
    reload = defer.ensureDeferred(keeper.reload())  # reads the table: old only
    new = game.bans.add("new", now=2.0)  # the console, meanwhile
    game.bans.remove("old")
    done = [defer.ensureDeferred(keeper.put(new)), defer.ensureDeferred(keeper.lift(old))]
    read, rows = calls.pop(0)
    read.callback(rows)
    assert reload.called
    assert [b.target for b in game.bans.bans(3.0)] == ["new"]  # not undone by the old read
    while calls:
        d, result = calls.pop(0)
        d.callback(result)
    assert all(d.called for d in done)
    assert keeper._unwritten == {}
