"""The PostgreSQL account store against a real PostgreSQL (skipped without one).

The same guarantees as the file store: strict loading, case-insensitive
unique names, client text only as parameters, atomic saves and batches, a
versioned schema, and :class:`StoreUnavailable` (never a hang or a raw
driver error) when the database cannot be reached.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from mudserver.account import Account, AccountExists, CorruptAccount, InvalidName
from mudserver.store.base import Store, StoreUnavailable, hash_password
from mudserver.store.files import FileStore
from mudserver.store.postgres import RAISE_LEASE, SCHEMA_VERSION, PostgresStore, SchemaError
from mudserver.store.spec import StoreSpecError, is_database, open_store
from tests.crowd import CHEAP
from tests.support import free_port


@pytest.fixture
def store(pg_url: str) -> Any:
    opened = open_store(pg_url, "", CHEAP)
    assert isinstance(opened, PostgresStore)
    yield opened
    opened.close()


def sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query.encode(), params)
        return cur.fetchall() if cur.description else []


def test_both_stores_satisfy_the_interface(store: PostgresStore, tmp_path: Any) -> None:
    assert isinstance(store, Store)
    assert isinstance(FileStore(tmp_path, CHEAP), Store)


def test_store_specs() -> None:
    assert is_database("postgresql://mud@db/mud")
    assert is_database("postgres://db/mud")
    assert is_database("host=db dbname=mud")
    assert not is_database("files")
    assert not is_database("./data")
    with pytest.raises(StoreSpecError):
        open_store("mysql://db", "")


def test_create_load_authenticate(store: PostgresStore) -> None:
    store.create("Foo", "secret", 1.5, -2.0, 3.25)
    loaded = store.load("FOO")
    assert loaded is not None
    assert (loaded.name, loaded.x, loaded.y, loaded.z) == ("Foo", 1.5, -2.0, 3.25)
    assert store.authenticate("foo", "secret") == loaded
    assert store.authenticate("foo", "wrong") is None
    assert store.authenticate("nobody", "secret") is None
    assert store.exists("fOO") and not store.exists("bar")
    assert store.describe().startswith("PostgreSQL host=127.0.0.1")


def test_names_are_unique_whatever_their_case(store: PostgresStore, pg_url: str) -> None:
    store.create("Foo", "a")
    with pytest.raises(AccountExists):
        store.create("FOO", "b")
    with pytest.raises(AccountExists):
        store.insert(Account("fOo", hash_password("c", CHEAP)))
    assert sql(pg_url, "SELECT name FROM mudserver_accounts") == [("Foo",)]


@pytest.mark.parametrize("name", ["x'; DROP TABLE mudserver_accounts; --", "a b", "", "é" * 3])
def test_hostile_names_never_reach_the_database(store: PostgresStore, name: str) -> None:
    with pytest.raises(InvalidName):
        store.create(name, "pw")
    assert store.load(name) is None
    assert store.authenticate(name, "pw") is None
    assert not store.exists(name)
    assert list(store.accounts()) == []


def test_hostile_passwords_are_only_parameters(store: PostgresStore) -> None:
    password = "'); DROP TABLE mudserver_accounts; --\\x00"
    store.create("foo", password)
    assert store.authenticate("foo", password) is not None


def test_save_is_an_upsert_and_refuses_what_load_would_reject(store: PostgresStore) -> None:
    account = store.create("foo", "pw")
    store.save(Account("foo", account.password, 7.0, 8.0, 9.0))
    loaded = store.load("foo")
    assert loaded is not None and (loaded.x, loaded.y, loaded.z) == (7.0, 8.0, 9.0)
    with pytest.raises(ValueError):
        store.save(Account("foo", account.password, math.nan, 0.0, 0.0))
    loaded = store.load("foo")
    assert loaded is not None and loaded.x == 7.0


def test_a_batch_lands_whole_or_not_at_all(store: PostgresStore, pg_url: str) -> None:
    a = store.create("a", "pw")
    b = store.create("b", "pw")
    store.save_many([Account("a", a.password, 1.0), Account("b", b.password, 2.0)])
    assert sql(pg_url, "SELECT name, x FROM mudserver_accounts ORDER BY name") == [
        ("a", 1.0),
        ("b", 2.0),
    ]
    # A row the database refuses (a trigger stands in for any failure at
    # commit time) takes the whole batch back with it.
    sql(
        pg_url,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.name = 'b' THEN RAISE EXCEPTION 'no'; END IF; RETURN NEW; END $$",
    )
    sql(
        pg_url,
        "CREATE TRIGGER refuse BEFORE UPDATE ON mudserver_accounts "
        "FOR EACH ROW EXECUTE FUNCTION refuse()",
    )
    with pytest.raises(psycopg.Error):
        store.save_many([Account("a", a.password, 5.0), Account("b", b.password, 5.0)])
    assert sql(pg_url, "SELECT name, x FROM mudserver_accounts ORDER BY name") == [
        ("a", 1.0),
        ("b", 2.0),
    ]
    store.save(Account("a", a.password, 6.0))  # the connection is still usable
    assert sql(pg_url, "SELECT x FROM mudserver_accounts WHERE name = 'a'") == [(6.0,)]


def test_upgrade_password_only_replaces_the_record_it_was_given(store: PostgresStore) -> None:
    old = store.create("foo", "pw").password
    new = hash_password("pw", CHEAP)
    other = hash_password("pw", CHEAP)
    assert store.upgrade_password("foo", other, new).password == old  # type: ignore[union-attr]
    assert store.upgrade_password("foo", old, new).password == new  # type: ignore[union-attr]
    assert store.upgrade_password("nobody", old, new) is None


def test_a_damaged_row_is_reported_not_used(store: PostgresStore, pg_url: str) -> None:
    store.create("foo", "pw")
    sql(pg_url, "UPDATE mudserver_accounts SET x = 'NaN'")
    with pytest.raises(CorruptAccount):
        store.load("foo")
    sql(pg_url, """UPDATE mudserver_accounts SET x = 0, password = '{"algorithm": "md5"}'""")
    with pytest.raises(CorruptAccount):
        store.authenticate("foo", "pw")


def test_the_schema_is_versioned(pg_url: str) -> None:
    store = PostgresStore(pg_url, CHEAP)
    try:
        assert store.schema_version() == 0
        assert store.initialize() == 0
        assert store.initialize() == SCHEMA_VERSION  # a second start changes nothing
        assert store.schema_version() == SCHEMA_VERSION
        sql(pg_url, "UPDATE mudserver_schema SET version = 99")
        with pytest.raises(SchemaError, match="schema version 99"):
            store.initialize()
    finally:
        store.close()


def test_an_unreachable_database_is_unavailable_not_a_hang(pg_cluster: Any) -> None:
    store = PostgresStore(f"postgresql://postgres@127.0.0.1:{free_port()}/x", CHEAP)
    with pytest.raises(StoreUnavailable):
        store.load("foo")
    with pytest.raises(StoreUnavailable):
        store.save(Account("foo", hash_password("pw", CHEAP)))
    with pytest.raises(StoreUnavailable):
        store.initialize()


def test_a_broken_connection_is_replaced_once(store: PostgresStore, pg_url: str) -> None:
    store.create("foo", "pw")
    sql(
        pg_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    assert store.load("foo") is not None  # the dead connection was dropped and replaced


def test_a_shards_save_lands_only_while_no_other_shard_claimed_the_account(
    store: PostgresStore, pg_url: str
) -> None:
    """A shard that lost an account must not overwrite the new owner's position, not even
    with a retry already under way, and must learn that it was refused."""
    store.create("x", "pw", 1.0, 1.0, 0.0)
    store.fenced = True
    sql(pg_url, RAISE_LEASE, "x")  # shard a claims x
    mine = store.load("x")
    assert mine is not None and mine.lease == 1
    assert store.save_many([dataclasses.replace(mine, x=2.0)]) == []
    assert sql(pg_url, "SELECT x FROM mudserver_accounts WHERE name_key = 'x'") == [(2.0,)]
    sql(pg_url, RAISE_LEASE, "x")  # shard b claims it
    theirs = store.load("x")
    assert theirs is not None and theirs.lease == 2
    assert store.save_many([dataclasses.replace(mine, x=3.0)]) == ["x"]  # a's late save
    store.save(dataclasses.replace(mine, x=3.5))  # the same through save(): refused silently
    assert sql(pg_url, "SELECT x FROM mudserver_accounts WHERE name_key = 'x'") == [(2.0,)]
    assert store.save_many([dataclasses.replace(theirs, x=4.0)]) == []
    assert sql(pg_url, "SELECT x FROM mudserver_accounts WHERE name_key = 'x'") == [(4.0,)]
    with pytest.raises(ValueError, match="carry a token"):
        store.save_many([Account("x", mine.password, 5.0)])  # never loaded: no token


def test_a_fenced_batch_writes_exactly_the_accounts_still_owned(
    store: PostgresStore, pg_url: str
) -> None:
    """One batch, one statement: the accounts whose token still matches land, the others
    stay as they are and are named."""
    names = [f"p{i}" for i in range(12)]
    for name in names:
        store.create(name, "pw", 1.0, 1.0, 0.0)
    store.fenced = True
    loaded = [store.load(name) for name in names]
    taken = set(names[::3])  # p0, p3, p6, p9: claimed by another shard since
    for name in taken:
        sql(pg_url, RAISE_LEASE, name)
    batch = [dataclasses.replace(a, x=5.0) for a in loaded if a is not None]
    assert sorted(store.save_many(batch)) == sorted(taken)
    rows = dict(sql(pg_url, "SELECT name_key, x FROM mudserver_accounts"))
    assert rows == {name: 1.0 if name in taken else 5.0 for name in names}


def test_a_version_1_database_is_migrated_with_its_accounts(pg_url: str) -> None:
    """A database made by the first schema (no token column) is brought to the current
    one at start; its accounts keep their data and start at token 0."""
    from mudserver.store.postgres import MIGRATIONS

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(MIGRATIONS[0].encode())
        conn.execute(
            "CREATE TABLE mudserver_schema (only_row boolean PRIMARY KEY DEFAULT true"
            " CHECK (only_row), version integer NOT NULL)"
        )
        conn.execute("INSERT INTO mudserver_schema (version) VALUES (1)")
        conn.execute(
            "INSERT INTO mudserver_accounts (name_key, name, password, x, y, z)"
            " VALUES ('old', 'Old', %s, 7, 8, 9)",
            (Jsonb(hash_password("pw", CHEAP)),),
        )
    store = PostgresStore(pg_url, CHEAP)
    try:
        assert store.initialize() == 1
        assert store.schema_version() == SCHEMA_VERSION
        old = store.authenticate("old", "pw")
        assert old is not None and (old.name, old.x, old.y, old.z, old.lease) == (
            "Old",
            7.0,
            8.0,
            9.0,
            0,
        )
        assert (old.data, old.created) == ({}, None)  # schema 3: made before dates were kept
        old.data = {"apples": 2}
        store.save(old)
        again = store.load("old")
        assert again is not None and again.data == {"apples": 2} and again.last_seen
    finally:
        store.close()


def test_player_data_and_dates_round_trip(pg_url: str) -> None:
    """The game's per-player data is saved with the position, by upsert and fenced."""
    store = PostgresStore(pg_url, CHEAP)
    try:
        store.initialize()
        account = store.create("Keeper", "pw")
        account.data = {"apples": 3, "seen": ["sign"], "note": "ünï"}
        store.save(account)
        loaded = store.load("keeper")
        assert loaded is not None and loaded.data == account.data
        assert loaded.created is not None and loaded.last_seen is not None
        store.fenced = True
        loaded.data["apples"] = 4
        assert store.save_many([loaded]) == []
        again = store.load("keeper")
        assert again is not None and again.data["apples"] == 4
        with pytest.raises(psycopg.errors.CheckViolation):
            sql(pg_url, "UPDATE mudserver_accounts SET data = '[1]'")
    finally:
        store.close()
