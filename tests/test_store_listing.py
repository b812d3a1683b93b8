"""The operator's account listing and deletion, the same in both stores.

Each test runs against the file store and against a real PostgreSQL (that
half skips without one): the listing's pattern, order and pages, and a
delete that leaves the other accounts alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mudserver.account import InvalidName
from mudserver.store.base import Store, name_pattern
from mudserver.store.files import FileStore
from tests.crowd import CHEAP


@pytest.fixture(params=["files", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "files":
        yield FileStore(tmp_path, CHEAP)
        return
    from mudserver.store.postgres import PostgresStore

    url = request.getfixturevalue("pg_url")
    opened = PostgresStore(url, CHEAP)
    opened.initialize()
    yield opened
    opened.close()


NAMES = ["Alice", "bob", "Bobby", "carol_1", "carolx1", "dave"]


def names(store: Store, pattern: str = "*", after: str = "", limit: int = 100) -> list[str]:
    return [a.name for a in store.list_accounts(name_pattern(pattern), after, limit)]


def test_patterns_are_globs_over_names() -> None:
    assert name_pattern("") == "*"
    assert name_pattern("Bob") == "*bob*"
    assert name_pattern("b*") == "b*"
    assert name_pattern("?ob") == "?ob"
    for bad in ("a b", "x%", "a'--", "é", "a" * 65):
        with pytest.raises(InvalidName):
            name_pattern(bad)


def test_listing_matches_pages_and_counts(store: Store) -> None:
    for name in NAMES:
        store.create(name, "pw")
    assert names(store) == NAMES
    assert store.count_accounts(name_pattern("")) == 6
    assert names(store, "bob") == ["bob", "Bobby"]
    assert names(store, "B*") == ["bob", "Bobby"]
    assert names(store, "?ob") == ["bob"]
    # "_" is a name character, not a wildcard: carolx1 is not carol_1.
    assert names(store, "carol_*") == ["carol_1"]
    assert store.count_accounts(name_pattern("carol_*")) == 1
    assert names(store, "nobody") == []
    # Pages: each starts after the last name of the one before.
    first = names(store, limit=4)
    assert first == NAMES[:4]
    assert names(store, after=first[-1], limit=4) == NAMES[4:]
    assert names(store, limit=0) == []
    (info,) = store.list_accounts(name_pattern("dave"))
    assert info.created is not None and not info.damaged


def test_delete_removes_one_account(store: Store) -> None:
    store.create("foo", "pw")
    store.create("bar", "pw")
    assert store.delete("FOO")
    assert store.load("foo") is None
    assert not store.delete("foo")
    assert not store.delete("../bar")
    assert names(store) == ["bar"]
    store.create("Foo", "new")  # the name is free again
    assert store.authenticate("foo", "new") is not None


def test_a_damaged_file_is_listed_as_damaged(tmp_path: Path) -> None:
    store = FileStore(tmp_path, CHEAP)
    store.create("good", "pw")
    (store.users_dir / "bad.json").write_text("{not json")
    listed: Any = store.list_accounts()
    assert [(a.name, a.damaged) for a in listed] == [("bad", True), ("good", False)]
    assert json.loads((store.users_dir / "good.json").read_text())["name"] == "good"
