"""Tests for mudserver.store.passwords and the upgrade of old hashes at login."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import argon2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mudserver.account import CorruptAccount
from mudserver.store.files import FileStore
from mudserver.store.passwords import (
    ARGON2_MINIMUM,
    DEFAULT_PARAMS,
    Argon2Params,
    InvalidPasswordRecord,
    ScryptParams,
    hash_password,
    needs_rehash,
    parse_record,
    verify_password,
)
from tests.support import REPO

#: Cheap Argon2id so the suite stays fast (one test uses the real cost).
CHEAP = Argon2Params(time_cost=1, memory_cost=8)
CHEAP_SCRYPT = ScryptParams(n=2**4)


def test_default_is_owasp_argon2id() -> None:
    assert DEFAULT_PARAMS == ARGON2_MINIMUM
    assert (DEFAULT_PARAMS.memory_cost, DEFAULT_PARAMS.time_cost) == (19456, 2)
    assert DEFAULT_PARAMS.parallelism == 1
    record = hash_password("secret")
    assert record["algorithm"] == "argon2id"
    assert record["hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password("secret", record)
    assert not verify_password("Secret", record)


def test_argon2_round_trip_and_salt() -> None:
    a, b = hash_password("pw", CHEAP), hash_password("pw", CHEAP)
    assert a != b  # fresh salt each time
    assert verify_password("pw", a) and verify_password("pw", b)
    assert not verify_password("", a)
    assert parse_record(a) == CHEAP


@given(st.text())
def test_any_text_hashes_and_verifies(password: str) -> None:
    record = hash_password(password, CHEAP)
    assert verify_password(password, record)
    assert not verify_password(password + "x", record)


def test_shipped_scrypt_accounts_still_verify() -> None:
    for name, password in (("foo", "1234"), ("bar", "4321")):
        record = json.loads((REPO / "data" / "users" / f"{name}.json").read_text())["password"]
        assert record["algorithm"] == "scrypt"
        assert verify_password(password, record)
        assert not verify_password("wrong", record)
        assert needs_rehash(record)


@pytest.mark.parametrize(
    ("record_params", "current", "expected"),
    [
        (CHEAP, CHEAP, False),
        (ARGON2_MINIMUM, ARGON2_MINIMUM, False),
        (CHEAP, ARGON2_MINIMUM, True),
        (Argon2Params(time_cost=2, memory_cost=8), Argon2Params(time_cost=3, memory_cost=8), True),
        (
            Argon2Params(time_cost=3, memory_cost=64),
            Argon2Params(time_cost=2, memory_cost=32),
            False,
        ),
        (
            Argon2Params(time_cost=3, memory_cost=16),
            Argon2Params(time_cost=2, memory_cost=32),
            True,
        ),
        (CHEAP_SCRYPT, CHEAP, True),
        (CHEAP, CHEAP_SCRYPT, True),
        (CHEAP_SCRYPT, CHEAP_SCRYPT, False),
        (ScryptParams(n=2**5), CHEAP_SCRYPT, False),
    ],
)
def test_needs_rehash(record_params: Any, current: Any, expected: bool) -> None:
    """Another algorithm or any lower cost: rehash; higher on every count: keep."""
    assert needs_rehash(hash_password("pw", record_params), current) is expected


def test_owasp_minimum_admits_the_cheat_sheet_settings_only() -> None:
    for memory, passes in ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5)):
        assert Argon2Params(time_cost=passes, memory_cost=memory).meets_minimum()
    for memory, passes in ((19456, 1), (12288, 2), (7168, 4), (4096, 10), (65536, 1)):
        expected = memory * passes >= 35840 and memory >= 7168
        assert Argon2Params(time_cost=passes, memory_cost=memory).meets_minimum() is expected
    assert not CHEAP.meets_minimum()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_cost": 0},
        {"time_cost": 65},
        {"memory_cost": 4},
        {"memory_cost": 2**21},
        {"parallelism": 0},
        {"parallelism": 2, "memory_cost": 8},
        {"time_cost": True},
        {"hash_len": 8},
    ],
)
def test_bad_argon2_params_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Argon2Params(**kwargs)


def _argon2(hash_text: Any) -> dict[str, Any]:
    return {"algorithm": "argon2id", "hash": hash_text}


@pytest.mark.parametrize(
    "record",
    [
        _argon2("not a hash"),
        _argon2(12),
        _argon2(argon2.PasswordHasher(1, 8, 1, type=argon2.Type.I).hash("x")),
        _argon2("$argon2id$v=19$m=8,t=1000000,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
        _argon2("$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
        {"algorithm": "argon2id", "hash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", "n": 1},
        {"algorithm": "bcrypt", "hash": "x"},
        {"algorithm": "scrypt"},
        [],
    ],
    ids=[
        "garbage",
        "number",
        "argon2i",
        "endless passes",
        "4 GiB",
        "extra key",
        "bcrypt",
        "scrypt without fields",
        "not an object",
    ],
)
def test_bad_records_are_invalid_not_crashes(record: Any) -> None:
    with pytest.raises(InvalidPasswordRecord):
        parse_record(record)
    with pytest.raises(InvalidPasswordRecord):
        verify_password("x", record)


@given(st.text(max_size=120))
def test_hostile_hash_strings_never_crash(text: str) -> None:
    record = _argon2("$argon2id$" + text)
    try:
        verify_password("pw", record)
    except InvalidPasswordRecord:
        pass


# --- the store: unknown names, upgrades ---------------------------------------


def test_unknown_name_costs_one_argon2_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(tmp_path, CHEAP)
    store.create("foo", "right")
    calls: list[str] = []
    real = argon2.PasswordHasher.verify

    def counting(self: argon2.PasswordHasher, hash: str, password: bytes) -> bool:
        calls.append(argon2.extract_parameters(hash).memory_cost)
        return real(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    for name, password in (("foo", "wrong"), ("nobody", "x"), ("../etc", "x"), ("FOO", "right")):
        calls.clear()
        store.authenticate(name, password)
        assert calls == [CHEAP.memory_cost], name


def test_upgrade_password_rewrites_only_the_old_record(tmp_path: Path) -> None:
    store = FileStore(tmp_path, CHEAP)
    shutil.copy(REPO / "data" / "users" / "foo.json", store.users_dir / "foo.json")
    account = store.authenticate("foo", "1234")
    assert account is not None and store.needs_rehash(account)
    new = store.hash("1234")
    moved = store.load("foo")
    assert moved is not None
    moved.x = 42.0
    store.save(moved)  # a position save that landed after the check
    upgraded = store.upgrade_password("foo", account.password, new)
    assert upgraded is not None and upgraded.password == new and upgraded.x == 42.0
    on_disk = store.load("foo")
    assert on_disk == upgraded and not store.needs_rehash(on_disk)
    assert store.authenticate("foo", "1234") is not None
    # A record that changed meanwhile is left alone.
    assert store.upgrade_password("foo", account.password, store.hash("1234")) == on_disk
    assert store.load("foo") == on_disk
    assert list(store.users_dir.glob(".*.tmp")) == []


def test_corrupt_record_is_a_corrupt_account(tmp_path: Path) -> None:
    store = FileStore(tmp_path, CHEAP)
    store.create("foo", "pw")
    path = store.users_dir / "foo.json"
    data = json.loads(path.read_text())
    data["password"]["hash"] = "$argon2id$v=19$m=8,t=99999,p=1$c2FsdHNhbHQ$aGFzaA"
    path.write_text(json.dumps(data))
    with pytest.raises(CorruptAccount):
        store.load("foo")


# --- the running server: upgrade at login, ordered with position saves -----------


def _record(data: Path, name: str) -> dict[str, Any]:
    return json.loads((data / "users" / f"{name}.json").read_text())  # type: ignore[no-any-return]


def test_login_upgrades_scrypt_and_the_last_position_is_kept(tmp_path: Path) -> None:
    """A login that re-hashes, then a walk and a logout: the file has both."""
    from tests.support import LineClient, running_server

    with running_server(tmp_path, "--speed=100", "--tick-rate=20") as server:
        before = (server.data / "users" / "bar.json").read_bytes()
        with LineClient(server.host, server.port) as client:
            assert client.login("bar", "wrong").startswith("err ")
        assert (server.data / "users" / "bar.json").read_bytes() == before

        with LineClient(server.host, server.port) as client:
            welcome = client.login("foo", "1234")
            own = welcome.split(" ", 1)[1].split(",", 1)[0]
            client.send("mov 30,40,0")
            client.read_until(lambda line: line == f"pos {own},30.00,40.00,0.00")
            client.send("bye")
            client.read_until(lambda line: line.startswith("bye "))
        assert server.stop() in (0, -15, 143)
    assert "re-hashed the password of foo" in server.log_text()
    assert "re-hashed the password of bar" not in server.log_text()
    foo = _record(server.data, "foo")
    assert foo["password"]["algorithm"] == "argon2id"
    assert foo["password"]["hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    # Where it stood at logout; a late tick may leave it a step's rounding
    # short of the destination its last pos already showed (30.00,40.00).
    assert [round(v, 2) for v in foo["position"]] == [30.0, 40.0, 0.0]
    assert verify_password("1234", foo["password"])
    assert _record(server.data, "bar")["password"]["algorithm"] == "scrypt"
    assert list((server.data / "users").glob(".*.tmp")) == []


def test_no_rehash_keeps_old_records(tmp_path: Path) -> None:
    from tests.support import LineClient, running_server

    with running_server(tmp_path, "--no-rehash") as server:
        with LineClient(server.host, server.port) as client:
            assert client.login("foo", "1234").startswith("wel ")
            client.send("bye")
            client.read_until(lambda line: line.startswith("bye "))
        server.stop()
    assert _record(server.data, "foo")["password"]["algorithm"] == "scrypt"
