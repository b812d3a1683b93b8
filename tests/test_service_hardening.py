"""GameService in-process on a task.Clock: failed saves and where passwords are hashed.

Thread pools are replaced by a synchronous stand-in for the save tests, so
time is fully controlled; the login test keeps the real pool and checks the
thread the hash ran on.
"""

from __future__ import annotations

import errno
import gc
import os
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEventAsClassicLogText, globalLogPublisher
from twisted.python.failure import Failure

from mudserver.config import Settings
from mudserver.shell.service import GameService
from mudserver.store import accounts
from mudserver.store.accounts import Account, AccountStore, HashParams
from mudserver.store.passwords import Argon2Params

CHEAP = HashParams(n=2**4)


class FakeReactor(Clock):
    """A Clock that also takes calls from threads, run when the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.from_threads: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()

    def callFromThread(self, f: Callable[..., Any], *args: Any) -> None:
        self.from_threads.put((f, args))

    def run_thread_calls(self, timeout: float = 5.0) -> None:
        f, args = self.from_threads.get(timeout=timeout)
        f(*args)
        while not self.from_threads.empty():
            f, args = self.from_threads.get_nowait()
            f(*args)


class SyncPool:
    """Runs 'threaded' work at once, on the caller's thread."""

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def callInThreadWithCallback(
        self, on_result: Callable[[bool, Any], None], f: Callable[..., Any], *args: Any
    ) -> None:
        try:
            result, ok = f(*args), True
        except Exception:
            result, ok = Failure(), False
        on_result(ok, result)


@pytest.fixture
def logged() -> Iterator[list[str]]:
    messages: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        messages.append(formatEventAsClassicLogText(event))

    globalLogPublisher.addObserver(observe)
    yield messages
    globalLogPublisher.removeObserver(observe)


def playing_service(tmp_path: Path) -> tuple[GameService, FakeReactor, StringTransport]:
    store = AccountStore(tmp_path, CHEAP)
    store.create("foo", "pw")
    reactor = FakeReactor()
    service = GameService(Settings(autosave=1.0, speed=100.0), store, reactor)
    service._save_pools = [SyncPool()]  # type: ignore[list-item]
    service._login_pool = SyncPool()  # type: ignore[assignment]
    reactor.callFromThread = lambda f, *args: f(*args)  # type: ignore[method-assign]
    service.startService()
    addr = IPv4Address("TCP", "10.0.0.1", 4000)
    protocol = service.factory.buildProtocol(addr)
    transport = StringTransport(peerAddress=addr)
    protocol.makeConnection(transport)
    protocol.dataReceived(b"con foo,pw,1\nmov 10,0,0\n")
    assert transport.value().startswith(b"wel ")
    reactor.advance(0.1)
    reactor.advance(0.1)  # two ticks at 100 units/s: arrived at 10,0,0
    assert b"pos 1,10.00,0.00,0.00\n" in transport.value()
    return service, reactor, transport


def fail_with(error: int) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(error, os.strerror(error))

    return fail


@pytest.mark.parametrize(
    ("function", "error"),
    [("fsync", errno.ENOSPC), ("replace", errno.EACCES), ("fdopen", errno.EDQUOT)],
)
def test_failed_save_keeps_the_good_file_and_is_retried(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    logged: list[str],
    function: str,
    error: int,
) -> None:
    service, reactor, _ = playing_service(tmp_path)
    store = service.store
    with monkeypatch.context() as patch:
        patch.setattr(accounts.os, function, fail_with(error))
        reactor.advance(1.0)  # autosave: the write fails
    assert any("could not save" in message for message in logged)
    assert not any("Traceback" in message for message in logged)
    on_disk = store.load("foo")
    assert on_disk is not None and (on_disk.x, on_disk.y, on_disk.z) == (0.0, 0.0, 0.0)
    assert sorted(p.name for p in store.users_dir.iterdir()) == ["foo.json"]  # no debris
    reactor.advance(1.0)  # the next autosave retries, though foo has not moved since
    on_disk = store.load("foo")
    assert on_disk is not None and (on_disk.x, on_disk.y, on_disk.z) == (10.0, 0.0, 0.0)
    service.stopService()


def test_autosave_spreads_the_saves_over_its_interval(tmp_path: Path) -> None:
    """With --autosave 30, a step each second saves a thirtieth of the players."""
    store = AccountStore(tmp_path, CHEAP)
    service = GameService(Settings(autosave=30.0, idle_timeout=100.0), store, FakeReactor())
    saved: list[str] = []
    service.save = lambda account: saved.append(account.name)  # type: ignore[method-assign]
    service.game._save = service.save
    for i in range(60):
        store.create(f"p{i}", "pw")
    reactor: FakeReactor = service.reactor  # type: ignore[assignment]
    service._save_pools = [SyncPool()]  # type: ignore[list-item]
    service._login_pool = SyncPool()  # type: ignore[assignment]
    reactor.callFromThread = lambda f, *args: f(*args)  # type: ignore[method-assign]
    service.startService()
    for i in range(60):
        addr = IPv4Address("TCP", f"10.0.0.{i}", 4000)
        protocol = service.factory.buildProtocol(addr)
        protocol.makeConnection(StringTransport(peerAddress=addr))
        protocol.dataReceived(f"con p{i},pw,1\nmov 1000,0,0\n".encode())
    assert len(service.game) == 60
    saved.clear()  # the saves at login
    per_second = []
    for _ in range(30):
        before = len(saved)
        reactor.advance(1.0)
        per_second.append(len(saved) - before)
    assert sorted(saved) == sorted(f"p{i}" for i in range(60))  # everybody, once
    assert max(per_second) <= 6  # about 2 a second, never all at once
    service.stopService()


def test_shutdown_saves_every_player(tmp_path: Path) -> None:
    service, _reactor, transport = playing_service(tmp_path)
    service.stopService()
    assert transport.value().endswith(b"bye shutdown\n")
    on_disk = service.store.load("foo")
    assert on_disk is not None and (on_disk.x, on_disk.y, on_disk.z) == (10.0, 0.0, 0.0)


def test_passwords_are_hashed_on_the_login_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = AccountStore(tmp_path, CHEAP)
    store.create("foo", "pw")
    reactor = FakeReactor()
    service = GameService(Settings(), store, reactor)
    hashed_on: list[str] = []
    authenticate = store.authenticate

    def spy(name: str, password: str) -> Account | None:
        hashed_on.append(threading.current_thread().name)
        return authenticate(name, password)

    monkeypatch.setattr(store, "authenticate", spy)
    # A verified account is read again on its save thread (see authenticate).
    pools = [service._login_pool, *service._save_pools]
    for pool in pools:
        pool.start()
    try:
        results: list[Any] = []
        service.authenticate("foo", "pw").addCallback(results.append)
        service.authenticate("nobody", "pw").addCallback(results.append)
        while len(results) < 2:
            reactor.run_thread_calls()
    finally:
        for pool in pools:
            pool.stop()
    assert [r.name if r else r for r in results] in (["foo", None], [None, "foo"])
    assert len(hashed_on) == 2
    assert all("mudserver-login" in name for name in hashed_on), hashed_on
    assert threading.current_thread().name not in hashed_on


def test_garbage_is_collected_between_ticks_not_during_them(tmp_path: Path) -> None:
    was_enabled = gc.isenabled()
    service = GameService(Settings(), AccountStore(tmp_path, CHEAP), FakeReactor())
    reactor: FakeReactor = service.reactor  # type: ignore[assignment]
    service.startService()
    try:
        assert not gc.isenabled()  # no collection can interrupt a tick
        young = gc.get_threshold()[0]
        kept = [[] for _ in range(young * 2)]  # containers enough for a collection
        assert gc.get_count()[0] >= young
        collected: list[int] = []
        gc.callbacks.append(lambda phase, info: collected.append(info["generation"]))
        try:
            reactor.advance(0.1)  # one tick, then the collection that is due
        finally:
            gc.callbacks.pop()
        assert collected and gc.get_count()[0] < young
        assert len(kept) == young * 2
    finally:
        service.stopService()
    assert gc.isenabled() == was_enabled


class FakeCollector:
    """Stands in for the ``gc`` module: counts and generation sizes set by the test."""

    def __init__(self, count: tuple[int, int, int], oldest: int) -> None:
        self.count, self.oldest = count, oldest
        self.collected: list[int] = []

    def get_threshold(self) -> tuple[int, int, int]:
        return (700, 10, 10)

    def get_count(self) -> tuple[int, int, int]:
        return self.count

    def get_objects(self, generation: int) -> list[object]:
        assert generation == 2
        return [None] * self.oldest

    def collect(self, generation: int) -> int:
        self.collected.append(generation)
        return 0


@pytest.mark.parametrize(
    ("count", "oldest", "expected"),
    [
        ((100, 9, 9), 1000, []),  # not due: the young generation is below its threshold
        ((700, 3, 9), 1000, [0]),
        ((700, 10, 3), 1000, [1]),
        ((700, 10, 10), 1200, [1]),  # the oldest grew by a fifth since: not worth a full one
        ((700, 10, 10), 1300, [2]),  # by more than a quarter: full collection
    ],
)
def test_a_full_collection_waits_until_the_oldest_generation_grew_by_a_quarter(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    count: tuple[int, int, int],
    oldest: int,
    expected: list[int],
) -> None:
    service = GameService(Settings(), AccountStore(tmp_path, CHEAP), FakeReactor())
    service._gc_long_lived = 1000  # what the last full collection left
    collector = FakeCollector(count, oldest)
    monkeypatch.setattr("mudserver.shell.service.gc", collector)
    service._collect_garbage()
    assert collector.collected == expected
    assert service._gc_long_lived == (oldest if expected == [2] else 1000)


#: Cheap Argon2id as the "current" parameters: CHEAP scrypt records are older.
CURRENT = Argon2Params(time_cost=1, memory_cost=8)


def test_an_old_hash_is_hashed_on_the_login_pool_and_written_on_the_save_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    AccountStore(tmp_path, CHEAP).create("foo", "pw")
    store = AccountStore(tmp_path, CURRENT)
    reactor = FakeReactor()
    service = GameService(Settings(), store, reactor)
    threads_of: dict[str, list[str]] = {"hash": [], "upgrade": []}
    hash_, upgrade = store.hash, store.upgrade_password

    def spy_hash(password: str) -> dict[str, Any]:
        threads_of["hash"].append(threading.current_thread().name)
        return hash_(password)

    def spy_upgrade(*args: Any) -> Account | None:
        threads_of["upgrade"].append(threading.current_thread().name)
        return upgrade(*args)

    monkeypatch.setattr(store, "hash", spy_hash)
    monkeypatch.setattr(store, "upgrade_password", spy_upgrade)
    pools = [service._login_pool, *service._save_pools]
    for pool in pools:
        pool.start()
    try:
        results: list[Any] = []
        service.authenticate("foo", "wrong").addCallback(results.append)
        while len(results) < 1:
            reactor.run_thread_calls()
        assert results == [None] and threads_of == {"hash": [], "upgrade": []}
        service.authenticate("foo", "pw").addCallback(results.append)
        while len(results) < 2:
            reactor.run_thread_calls()
    finally:
        for pool in pools:
            pool.stop()
    account = results[1]
    assert account.password["algorithm"] == "argon2id"
    assert store.load("foo") == account
    assert ["mudserver-login" in name for name in threads_of["hash"]] == [True]
    assert ["mudserver-save" in name for name in threads_of["upgrade"]] == [True]


def test_a_failed_rehash_write_is_made_good_by_the_next_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logged: list[str]
) -> None:
    AccountStore(tmp_path, CHEAP).create("foo", "pw")
    store = AccountStore(tmp_path, CURRENT)
    reactor = FakeReactor()
    service = GameService(Settings(autosave=1.0, speed=100.0), store, reactor)
    service._save_pools = [SyncPool()]  # type: ignore[list-item]
    service._login_pool = SyncPool()  # type: ignore[assignment]
    reactor.callFromThread = lambda f, *args: f(*args)  # type: ignore[method-assign]
    service.startService()
    monkeypatch.setattr(store, "upgrade_password", fail_with(errno.ENOSPC))
    addr = IPv4Address("TCP", "10.0.0.1", 4000)
    protocol = service.factory.buildProtocol(addr)
    transport = StringTransport(peerAddress=addr)
    protocol.makeConnection(transport)
    protocol.dataReceived(b"con foo,pw,1\nmov 10,0,0\n")
    assert transport.value().startswith(b"wel ")
    assert any("could not re-hash foo" in message for message in logged)
    # The save at join already carries the new hash (GameService.save swaps it in).
    assert store.load("foo").password["algorithm"] == "argon2id"  # type: ignore[union-attr]
    reactor.advance(0.1)
    reactor.advance(0.1)
    reactor.advance(1.0)  # autosave
    on_disk = store.load("foo")
    assert on_disk is not None and on_disk.password["algorithm"] == "argon2id"
    assert (on_disk.x, on_disk.y) == (10.0, 0.0)
    assert store.authenticate("foo", "pw") is not None
    service.stopService()
