"""Tests for mudserver.store.files: hashing, validation, atomic storage."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from mudserver.account import Account, AccountExists, CorruptAccount, InvalidName, valid_name
from mudserver.store import files, passwords
from mudserver.store.base import hash_password, read_account, verify_password
from mudserver.store.files import FileStore
from mudserver.store.passwords import DEFAULT_PARAMS, ScryptParams

#: Cheap scrypt so the suite stays fast; one test below uses the defaults.
CHEAP = ScryptParams(n=2**4, r=8, p=1)

BAD_NAMES = [
    "",
    "../x",
    "..",
    ".",
    "a/b",
    "a\\b",
    "/etc/passwd",
    "x" * 25,
    "foo\x00",
    "foo\n",
    "foo ",
    " foo",
    "foo.json",
    "ｆｏｏ",  # fullwidth letters: \w would accept them
    "fóo",
    "名前",
    "foo-bar",
]


def make_store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "data", hash_params=CHEAP)


def all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def counting_scrypt(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Wrap hashlib.scrypt; the returned list grows by one per call."""
    calls: list[int] = []
    real = hashlib.scrypt

    def wrapper(*args: Any, **kwargs: Any) -> bytes:
        calls.append(kwargs["n"])
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", wrapper)
    return calls


# --- names -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "Foo", "foo_bar", "A1_b2", "x" * 24, "_"])
def test_valid_names(name: str) -> None:
    assert valid_name(name)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_names_rejected_everywhere(tmp_path: Path, name: str) -> None:
    store = make_store(tmp_path)
    before = all_files(tmp_path)
    assert not valid_name(name)
    with pytest.raises(InvalidName, match="1-24 characters"):
        store.path_for(name)
    with pytest.raises(InvalidName):
        store.create(name, "pw")
    assert store.load(name) is None
    assert store.exists(name) is False
    assert store.authenticate(name, "pw") is None
    assert all_files(tmp_path) == before


def test_non_string_name_is_invalid(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert not valid_name(None)  # type: ignore[arg-type]
    assert store.load(123) is None  # type: ignore[arg-type]


# --- hashing ---------------------------------------------------------------


def test_hash_and_verify() -> None:
    record = hash_password("secret", CHEAP)
    assert verify_password("secret", record)
    assert not verify_password("Secret", record)
    assert not verify_password("", record)
    assert record["algorithm"] == "scrypt"
    assert (record["n"], record["r"], record["p"], record["dklen"]) == (16, 8, 1, 32)
    assert len(bytes.fromhex(record["salt"])) == 16
    assert len(bytes.fromhex(record["hash"])) == 32


def test_same_password_different_salt() -> None:
    a, b = hash_password("secret", CHEAP), hash_password("secret", CHEAP)
    assert a["salt"] != b["salt"]
    assert a["hash"] != b["hash"]


def test_odd_passwords_hash(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    for pw in ["\udcff lone surrogate", "é%,\x00", "x" * 10_000]:
        store.create("u", pw)
        assert store.authenticate("u", pw) is not None
        assert store.authenticate("u", pw + "!") is None
        (store.users_dir / "u.json").unlink()


def test_verify_uses_record_params() -> None:
    record = hash_password("pw", ScryptParams(n=2**5, r=4, p=2, dklen=20))
    assert record["dklen"] == 20 and record["n"] == 32
    assert verify_password("pw", record)


def test_default_params_round_trip(tmp_path: Path) -> None:
    """One real-cost test: the shipped defaults work end to end."""
    store = FileStore(tmp_path)
    assert store.hash_params == DEFAULT_PARAMS
    store.create("Real", "1234")
    text = (tmp_path / "users" / "real.json").read_text()
    record = json.loads(text)["password"]
    assert record["algorithm"] == "argon2id"
    assert record["hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert store.authenticate("real", "1234") is not None
    assert store.authenticate("real", "4321") is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 3},
        {"n": 1},
        {"r": 0},
        {"p": 0},
        {"dklen": 4},
        {"salt_bytes": 2},
        {"n": 2**16, "r": 1},
        {"n": 2**20, "r": 16},
        {"n": True},
    ],
)
def test_bad_hash_params(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ScryptParams(**kwargs)


# --- create / load / save --------------------------------------------------


def test_create_load_round_trip(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    created = store.create("Foo", "secret", 1.5, -2, 3e10)
    path = store.users_dir / "foo.json"
    assert path.is_file()
    assert store.path_for("FOO") == path
    assert store.exists("fOo")
    loaded = store.load("FOO")
    assert loaded == created
    assert loaded is not None
    assert loaded.name == "Foo"
    assert (loaded.x, loaded.y, loaded.z) == (1.5, -2.0, 3e10)
    assert isinstance(loaded.y, float)


def test_file_contents(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.create("Foo", "hunter2-secret")
    text = (store.users_dir / "foo.json").read_text()
    assert "hunter2" not in text
    data = json.loads(text)
    assert data["version"] == 2
    assert data["name"] == "Foo"
    assert data["position"] == [0.0, 0.0, 0.0]
    assert data["data"] == {}
    assert isinstance(data["created"], float)
    assert data["password"]["algorithm"] == "scrypt"
    assert {"salt", "hash", "n", "r", "p", "dklen"} <= set(data["password"])


def test_save_round_trip(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    account = store.create("Bar", "pw")
    account.x, account.y, account.z = 10.25, 20.0, -30.5
    store.save(account)
    loaded = store.load("bar")
    assert loaded is not None
    assert (loaded.x, loaded.y, loaded.z) == (10.25, 20.0, -30.5)
    assert store.authenticate("BAR", "pw") == loaded
    assert [p.name for p in store.users_dir.iterdir()] == ["bar.json"]


def test_save_replaces_file_fully(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    account = store.create("Bar", "pw")
    path = store.users_dir / "bar.json"
    path.write_text(path.read_text() + " " * 5000)  # longer old file
    account.x = 1.0
    store.save(account)
    written = json.loads(path.read_text())
    assert written.pop("last_seen") > 0
    expected = account.to_json()
    del expected["last_seen"]
    assert written == expected
    assert len(path.read_text()) < 1000


def test_create_refuses_existing_any_case(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.create("foo", "one")
    for name in ["foo", "FOO", "Foo"]:
        with pytest.raises(AccountExists):
            store.create(name, "two")
    assert store.authenticate("foo", "one") is not None
    assert store.authenticate("foo", "two") is None


def test_create_does_not_clobber_concurrent_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process creates the file after our existence check: link must fail."""
    store = make_store(tmp_path)
    other = make_store(tmp_path)
    real_hash = files.hash_password

    def racing_hash(password: str, params: ScryptParams = CHEAP) -> dict[str, Any]:
        monkeypatch.setattr(files, "hash_password", real_hash)
        other.create("Race", "winner")
        return real_hash(password, params)

    monkeypatch.setattr(files, "hash_password", racing_hash)
    with pytest.raises(AccountExists):
        store.create("race", "loser")
    assert store.authenticate("race", "winner") is not None
    assert [p.name for p in store.users_dir.iterdir()] == ["race.json"]


def test_load_unknown_is_none(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert store.load("nobody") is None
    assert not store.exists("nobody")


def test_users_dir_created(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "a" / "b", CHEAP)
    assert store.users_dir == tmp_path / "a" / "b" / "users"
    assert store.users_dir.is_dir()


# --- atomic save -----------------------------------------------------------


@pytest.mark.parametrize("target", ["fsync", "replace"])
def test_failed_save_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    store = make_store(tmp_path)
    account = store.create("Foo", "pw", 1, 2, 3)
    path = store.users_dir / "foo.json"
    old = path.read_bytes()

    def boom(*args: Any) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, target, boom)
    account.x = 99.0
    with pytest.raises(OSError, match="disk on fire"):
        store.save(account)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert [p.name for p in store.users_dir.iterdir()] == ["foo.json"]
    loaded = store.load("foo")
    assert loaded is not None and loaded.x == 1.0


def test_failed_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure halfway through writing the bytes (e.g. disk full)."""
    store = make_store(tmp_path)
    account = store.create("Foo", "pw")
    path = store.users_dir / "foo.json"
    old = path.read_bytes()
    real_fdopen = os.fdopen

    class HalfFile:
        def __init__(self, f: Any) -> None:
            self.f = f

        def __enter__(self) -> HalfFile:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

        def write(self, text: str) -> int:
            self.f.write(text[: len(text) // 2])
            self.f.flush()
            raise OSError("No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: HalfFile(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match="No space"):
        store.save(account)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert [p.name for p in store.users_dir.iterdir()] == ["foo.json"]


def test_failed_create_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = make_store(tmp_path)

    def boom(*args: Any) -> None:
        raise OSError("no fsync today")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        store.create("Foo", "pw")
    monkeypatch.undo()
    assert list(store.users_dir.iterdir()) == []


def test_save_refuses_unloadable_account(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    account = store.create("Foo", "pw")
    old = (store.users_dir / "foo.json").read_bytes()
    account.x = float("nan")
    with pytest.raises(ValueError):
        store.save(account)
    assert (store.users_dir / "foo.json").read_bytes() == old
    with pytest.raises(ValueError):
        store.create("Baz", "pw", x=float("inf"))
    assert not store.exists("baz")
    assert [p.name for p in store.users_dir.iterdir()] == ["foo.json"]


def test_save_invalid_name(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    account = Account("../evil", hash_password("pw", CHEAP))
    with pytest.raises(InvalidName):
        store.save(account)
    assert all_files(tmp_path) == {tmp_path / "data", store.users_dir}


# --- corrupt files ---------------------------------------------------------


def good_data() -> dict[str, Any]:
    return Account("Foo", hash_password("pw", CHEAP), 1.0, 2.0, 3.0).to_json()


def mutate(change: Any) -> dict[str, Any]:
    data = good_data()
    change(data)
    return data


CORRUPT_DATA: list[Any] = [
    [],
    "Foo",
    None,
    mutate(lambda d: d.pop("position")),
    mutate(lambda d: d.update(extra=1)),
    mutate(lambda d: d.update(version=3)),
    mutate(lambda d: d.update(version=1)),  # version 1 has no data or dates
    mutate(lambda d: d.update(version=True)),
    mutate(lambda d: d.update(data=[1, 2])),
    mutate(lambda d: d.update(data=None)),
    mutate(lambda d: d.update(created="yesterday")),
    mutate(lambda d: d.update(last_seen=float("nan"))),
    mutate(lambda d: d.update(name="../foo")),
    mutate(lambda d: d.update(name=7)),
    mutate(lambda d: d.update(position=[1.0, 2.0])),
    mutate(lambda d: d.update(position=[1.0, 2.0, "3"])),
    mutate(lambda d: d.update(position=[1.0, 2.0, True])),
    mutate(lambda d: d.update(position=[float("nan"), 0.0, 0.0])),
    mutate(lambda d: d.update(position=[float("inf"), 0.0, 0.0])),
    mutate(lambda d: d.update(position=[10**400, 0.0, 0.0])),
    mutate(lambda d: d.update(position={"x": 1})),
    mutate(lambda d: d.update(password="plaintext")),
    mutate(lambda d: d["password"].update(algorithm="md5")),
    mutate(lambda d: d["password"].update(salt="zz")),
    mutate(lambda d: d["password"].update(salt="")),
    mutate(lambda d: d["password"].update(hash="ab cd")),
    mutate(lambda d: d["password"].update(hash="abcd")),
    mutate(lambda d: d["password"].update(n=15)),
    mutate(lambda d: d["password"].update(n="16")),
    mutate(lambda d: d["password"].update(r=0)),
    mutate(lambda d: d["password"].update(n=2**40)),
    mutate(lambda d: d["password"].pop("dklen")),
]


@pytest.mark.parametrize("data", CORRUPT_DATA)
def test_from_json_rejects(data: Any) -> None:
    with pytest.raises(CorruptAccount):
        read_account(data)


def test_a_version_1_file_is_read_with_empty_data(tmp_path: Path) -> None:
    """Files written before per-player data still load, and are written as version 2."""
    store = make_store(tmp_path)
    old = {
        "version": 1,
        "name": "Old",
        "password": hash_password("pw", CHEAP),
        "position": [1.0, 2.0, 3.0],
    }
    (store.users_dir / "old.json").write_text(json.dumps(old))
    account = store.authenticate("old", "pw")
    assert account is not None
    assert (account.x, account.y, account.z, account.data) == (1.0, 2.0, 3.0, {})
    assert account.created is None
    account.data["apples"] = 3
    store.save(account)
    data = json.loads((store.users_dir / "old.json").read_text())
    assert data["version"] == 2 and data["data"] == {"apples": 3}
    assert isinstance(data["last_seen"], float)


def test_player_data_round_trips(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    account = store.create("Keeper", "pw")
    account.data = {"apples": 2, "quests": {"sheep": [1, 2]}, "note": "ünï"}
    store.save(account)
    loaded = store.load("keeper")
    assert loaded is not None and loaded.data == account.data


def test_from_json_accepts_good() -> None:
    data = good_data()
    account = Account.from_json(json.loads(json.dumps(data)))
    assert account.to_json() == data


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"{",
        b"garbage",
        b"\xff\xfe\x00",
        b"[" * 100_000,
        json.dumps(good_data()).encode()[:-10],  # truncated
        json.dumps(mutate(lambda d: d.update(position=[float("nan"), 0, 0]))).encode(),
        json.dumps(mutate(lambda d: d["password"].update(algorithm="md5"))).encode(),
        json.dumps(mutate(lambda d: d.update(name="Bar"))).encode(),  # wrong file
        b" " * (2 << 20),
    ],
)
def test_load_corrupt_file(tmp_path: Path, text: bytes) -> None:
    store = make_store(tmp_path)
    (store.users_dir / "foo.json").write_bytes(text)
    with pytest.raises(CorruptAccount):
        store.load("foo")
    with pytest.raises(CorruptAccount):
        store.authenticate("Foo", "pw")


def test_load_accepts_handwritten_ints(tmp_path: Path) -> None:
    data = mutate(lambda d: d.update(position=[1, 2, 3]))
    store = make_store(tmp_path)
    (store.users_dir / "foo.json").write_text(json.dumps(data))
    account = store.load("FOO")
    assert account is not None
    assert (account.x, account.y, account.z) == (1.0, 2.0, 3.0)
    assert store.authenticate("foo", "pw") == account


# --- authenticate timing ---------------------------------------------------


def test_unknown_name_costs_scrypt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = make_store(tmp_path)
    store.create("Foo", "right")
    calls = counting_scrypt(monkeypatch)

    assert store.authenticate("foo", "wrong") is None
    wrong = list(calls)
    calls.clear()
    assert store.authenticate("nobody", "wrong") is None
    unknown = list(calls)
    calls.clear()
    assert store.authenticate("../../etc", "wrong") is None
    invalid = list(calls)
    calls.clear()
    assert store.authenticate("FOO", "right") is not None
    right = list(calls)

    assert wrong == unknown == invalid == right == [CHEAP.n]


def test_dummy_record_made_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting_scrypt(monkeypatch)
    store = make_store(tmp_path)
    assert len(calls) == 1  # the dummy record, at construction
    for _ in range(3):
        store.authenticate("nobody", "x")
    assert len(calls) == 4


def test_verify_uses_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = passwords.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(passwords.hmac, "compare_digest", spy)
    record = hash_password("pw", CHEAP)
    assert verify_password("pw", record)
    assert len(seen) == 1


def test_stale_temp_files_of_a_crash_are_removed(tmp_path: Path) -> None:
    store = FileStore(tmp_path, CHEAP)
    store.create("foo", "pw")
    old = store.users_dir / ".abc.tmp"
    fresh = store.users_dir / ".def.tmp"
    old.write_text("{")
    fresh.write_text("{")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert store.remove_stale_temp_files(older_than=60) == 1
    assert not old.exists() and fresh.exists()
    assert store.load("foo") is not None
