"""Advisory-lock ownership of accounts, against a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mudserver.store.base import StoreUnavailable
from mudserver.store.ownership import (
    SAY_CHANNEL,
    TAKEOVER_CHANNEL,
    Listener,
    Ownership,
    account_key,
    parse_say,
    parse_takeover,
)
from mudserver.store.postgres import PostgresStore
from tests.pg import Cluster, cluster_or_skip
from tests.support import free_port


def with_schema(url: str) -> str:
    """*url*, its database holding the accounts table: a claim raises the account's token."""
    store = PostgresStore(url)
    try:
        store.initialize()
    finally:
        store.close()
    return url


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    return with_schema(pg_cluster.database())


def test_keys_ignore_case_and_differ_between_names() -> None:
    assert account_key("Foo") == account_key("foo")
    assert account_key("foo") != account_key("fo0")
    assert -(2**63) <= account_key("foo") < 2**63


def test_one_shard_at_a_time_and_reentrant_within_one(pg_url: str) -> None:
    a, b = Ownership(pg_url, "a"), Ownership(pg_url, "b")
    try:
        assert a.try_claim("foo")
        assert a.try_claim("FOO")  # a second login on the same shard
        assert not b.try_claim("foo")
        a.release("foo")
        assert not b.try_claim("foo")  # still held once
        a.release("foo")
        assert b.try_claim("foo")
        assert b.holds("Foo") and not a.holds("foo")
        a.release("foo")  # not held: nothing happens
        assert not a.try_claim("foo")
    finally:
        a.close()
        b.close()


def test_closing_gives_everything_back(pg_url: str) -> None:
    a, b = Ownership(pg_url, "a"), Ownership(pg_url, "b")
    try:
        assert a.try_claim("foo") and a.try_claim("bar")
        a.close()
        assert b.try_claim("foo") and b.try_claim("bar")
    finally:
        b.close()


def test_locks_lost_with_the_connection_are_taken_again_or_reported(pg_url: str) -> None:
    a, b = Ownership(pg_url, "a"), Ownership(pg_url, "b")
    try:
        assert a.try_claim("kept") and a.try_claim("taken")
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        assert b.try_claim("taken")  # free while a had no connection
        assert a.check() == ["taken"]  # a new connection took back what it could
        assert a.holds("kept") and not a.holds("taken")
        assert not b.try_claim("kept")
    finally:
        a.close()
        b.close()


def test_asking_and_saying_reach_a_listener(pg_url: str) -> None:
    listener = Listener(pg_url, (TAKEOVER_CHANNEL, SAY_CHANNEL))
    a = Ownership(pg_url, "a")
    try:
        assert listener.wait(0.1) == []  # connects and listens
        a.ask("foo")
        a.say("foo", "héllo, 'world'")
        got = listener.wait(2.0)
        while len(got) < 2:
            got += listener.wait(2.0)
        (c1, p1), (c2, p2) = got
        assert c1 == TAKEOVER_CHANNEL and parse_takeover(p1) == ("foo", "a")
        assert c2 == SAY_CHANNEL and parse_say(p2) == ("a", "foo", "héllo, 'world'")
    finally:
        listener.close()
        a.close()


@pytest.mark.parametrize(
    "payload",
    ["", "nope", "[]", '{"name": 1, "shard": "a"}', '{"name": "foo"}', "[" * 7000, "1e999"],
)
def test_malformed_notifications_are_ignored(payload: str) -> None:
    assert parse_takeover(payload) is None
    assert parse_say(payload) is None


def test_a_say_from_a_bad_name_is_ignored() -> None:
    assert parse_say(json.dumps({"shard": "a", "name": "x y", "text": "hi"})) is None


def test_no_database_is_unavailable() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    with pytest.raises(StoreUnavailable):
        Ownership(url, "a").try_claim("foo")
    with pytest.raises(StoreUnavailable):
        Listener(url).wait(0.1)


@given(st.text(max_size=200) | st.from_regex(r'\{"(name|shard|text)": .*\}', fullmatch=True))
def test_no_payload_makes_parsing_raise(payload: str) -> None:
    parsed = parse_say(payload)
    assert parsed is None or all(isinstance(v, str) for v in parsed)
    taken = parse_takeover(payload)
    assert taken is None or all(isinstance(v, str) for v in taken)


@pytest.fixture(scope="module")
def small_lock_table() -> Iterator[Cluster]:
    """A cluster whose shared lock table holds about 2,000 locks, not 13,000."""
    with cluster_or_skip("-c max_locks_per_transaction=10") as cluster:
        yield cluster


def test_a_full_lock_table_refuses_a_claim_and_keeps_the_locks_held(
    small_lock_table: Cluster,
) -> None:
    """Out of lock space, a login is refused with what to do; the shard's players keep theirs.

    psycopg reports "out of shared memory" with the class it uses for a
    broken connection: closing the connection for it would let go of
    every account the shard holds.
    """
    url = with_schema(small_lock_table.database())
    shard = Ownership(url, "a")
    filler = psycopg.connect(url, autocommit=True)
    try:
        assert shard.try_claim("foo")
        pid = shard.pid
        with pytest.raises(psycopg.errors.OutOfMemory):  # session locks outlive the error
            filler.execute("SELECT count(pg_advisory_lock(g)) FROM generate_series(1, 100000) g")
        with pytest.raises(StoreUnavailable, match="raise max_locks_per_transaction"):
            shard.try_claim("bar")
        assert shard.pid == pid and shard.holds("foo") and not shard.holds("bar")
        assert shard.check() == []  # the connection, and foo's lock on it, are still there
        # Room again: unlocked at once (a closed connection's backend lets go a little later).
        filler.execute("SELECT pg_advisory_unlock_all()")
        with psycopg.connect(url, autocommit=True) as other:
            taken = other.execute("SELECT pg_try_advisory_lock(%s)", (account_key("foo"),))
            assert taken.fetchone() == (False,)  # still the shard's
        assert shard.try_claim("bar")
    finally:
        filler.close()
        shard.close()


def test_an_account_taken_and_given_back_meanwhile_refuses_the_old_shards_saves(
    pg_url: str,
) -> None:
    """Shard a's lock connection breaks; b claims the account, saves and lets go; a takes
    its lock back none the wiser.  The token tells: a's late save is refused, named."""
    store = PostgresStore(pg_url)
    store.fenced = True
    store.create("x", "pw", 1.0, 1.0, 0.0)
    a, b = Ownership(pg_url, "a"), Ownership(pg_url, "b")
    try:
        assert a.try_claim("x")
        on_a = store.load("x")
        assert on_a is not None
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (a.pid,))
        assert b.try_claim("x")  # the lock went with a's connection
        on_b = store.load("x")
        assert on_b is not None and on_b.lease == (on_a.lease or 0) + 1
        assert store.save_many([dataclasses.replace(on_b, x=8.0)]) == []
        b.release("x")
        assert a.check() == []  # a took the lock back: the lock cannot tell
        assert a.holds("x")
        assert store.save_many([dataclasses.replace(on_a, x=3.0)]) == ["x"]
        assert store.load("x").x == 8.0  # type: ignore[union-attr]
    finally:
        a.close()
        b.close()
        store.close()
