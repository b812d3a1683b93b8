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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEventAsClassicLogText
from twisted.python.failure import Failure

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.shell.service import GameService
from mudserver.store import files
from mudserver.store.base import Store
from mudserver.store.files import FileStore
from mudserver.store.passwords import Argon2Params
from tests.harness import CHEAP, log_events


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


@contextmanager
def real_threads(service: GameService) -> Iterator[None]:
    """The service's login and save pools running for real, stopped afterwards."""
    pools = [service.logins.pool, *service.saves.pools]
    for pool in pools:
        pool.start()
    try:
        yield
    finally:
        for pool in pools:
            pool.stop()


def answers(service: GameService, *logins: tuple[str, str]) -> list[Any]:
    """What the service's (threaded) password checks of *logins* fired with, in any order."""
    reactor: FakeReactor = service.reactor  # type: ignore[assignment]
    results: list[Any] = []
    for name, password in logins:
        service.logins.authenticate(name, password).addCallback(results.append)
    while len(results) < len(logins):
        reactor.run_thread_calls()
    return results


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
def logged() -> Iterator[list[dict[str, Any]]]:
    """The events logged while the test runs."""
    with log_events() as events:
        yield events


def as_lines(events: list[dict[str, Any]]) -> list[str]:
    """The lines twistd would write for *events*."""
    return [formatEventAsClassicLogText(event) or "" for event in events]


def synchronous_service(
    store: Store, settings: Settings | None = None
) -> tuple[GameService, FakeReactor]:
    """A started service on a fake clock whose thread pools run each call at once."""
    reactor = FakeReactor()
    service = GameService(settings or Settings(autosave=1.0, speed=100.0), store, reactor)
    service.saves.pools = [SyncPool()]  # type: ignore[list-item]
    service.logins.pool = SyncPool()  # type: ignore[assignment]
    reactor.callFromThread = lambda f, *args: f(*args)  # type: ignore[method-assign]
    service.startService()
    return service, reactor


def connect(service: GameService, host: str = "10.0.0.1") -> tuple[Any, StringTransport]:
    """A connection from *host* to *service*, on a StringTransport."""
    addr = IPv4Address("TCP", host, 4000)
    protocol = service.factory.buildProtocol(addr)
    transport = StringTransport(peerAddress=addr)
    protocol.makeConnection(transport)
    return protocol, transport


def playing_service(tmp_path: Path) -> tuple[GameService, FakeReactor, StringTransport]:
    store = FileStore(tmp_path, CHEAP)
    store.create("foo", "pw")
    service, reactor = synchronous_service(store)
    protocol, transport = connect(service)
    protocol.dataReceived(b"con foo,pw,1\nmov 10,0,0\n")
    assert transport.value().startswith(b"wel ")
    reactor.advance(0.1)
    reactor.advance(0.1)  # two ticks at 100 units/s: arrived at 10,0,0
    assert b"pos 1,10.00,0.00,0.00\n" in transport.value()
    return service, reactor, transport


def stop(service: GameService) -> None:
    """Stop *service* to the end: its StringTransports never report a close, so the
    shutdown waits out its timeout on the fake clock, then aborts them."""
    stopped: list[object] = []
    service.stopService().addBoth(stopped.append)
    reactor: Clock = service.reactor  # type: ignore[assignment]
    reactor.advance(service.settings.shutdown_timeout)
    assert stopped == [None]


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
    logged: list[dict[str, Any]],
    function: str,
    error: int,
) -> None:
    service, reactor, _ = playing_service(tmp_path)
    store = service.store
    with monkeypatch.context() as patch:
        patch.setattr(files.os, function, fail_with(error))
        reactor.advance(1.0)  # autosave: the write fails
    assert any("could not save" in line for line in as_lines(logged))
    assert not any("Traceback" in line for line in as_lines(logged))
    on_disk = store.load("foo")
    assert on_disk is not None and (on_disk.x, on_disk.y, on_disk.z) == (0.0, 0.0, 0.0)
    assert sorted(p.name for p in store.users_dir.iterdir()) == ["foo.json"]  # no debris
    reactor.advance(1.0)  # the next autosave retries, though foo has not moved since
    on_disk = store.load("foo")
    assert on_disk is not None and (on_disk.x, on_disk.y, on_disk.z) == (10.0, 0.0, 0.0)
    stop(service)


def test_autosave_spreads_the_saves_over_its_interval(tmp_path: Path) -> None:
    """With --autosave 30, a step each second saves a thirtieth of the players."""
    store = FileStore(tmp_path, CHEAP)
    service, reactor = synchronous_service(store, Settings(autosave=30.0, idle_timeout=100.0))
    saved: list[str] = []
    service.game.snapshots._save = lambda account: saved.append(account.name)
    for i in range(60):
        store.create(f"p{i}", "pw")
    for i in range(60):
        protocol, _ = connect(service, f"10.0.0.{i}")
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
    stop(service)


def test_shutdown_saves_every_player(tmp_path: Path) -> None:
    service, _reactor, transport = playing_service(tmp_path)
    stop(service)
    assert transport.value().endswith(b"bye shutdown\n")
    on_disk = service.store.load("foo")
    assert on_disk is not None and (on_disk.x, on_disk.y, on_disk.z) == (10.0, 0.0, 0.0)


def test_a_shutdown_that_times_out_still_finishes(
    tmp_path: Path, logged: list[dict[str, Any]]
) -> None:
    """A client that never closes costs the shutdown its timeout, not its end."""
    service, _reactor, transport = playing_service(tmp_path)
    stop(service)  # the StringTransport never reports its close
    assert transport.disconnected  # aborted once the wait was over
    lines = as_lines(logged)
    assert any("gave up waiting for connections and saves" in line for line in lines)
    assert any("mudserver stopped; saved 1 players" in line for line in lines)
    assert not any("Traceback" in line for line in lines)


def test_passwords_are_hashed_on_the_login_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(tmp_path, CHEAP)
    store.create("foo", "pw")
    reactor = FakeReactor()
    service = GameService(Settings(), store, reactor)
    hashed_on: list[str] = []
    authenticate = store.authenticate

    def spy(name: str, password: str) -> Account | None:
        hashed_on.append(threading.current_thread().name)
        return authenticate(name, password)

    monkeypatch.setattr(store, "authenticate", spy)
    # A verified account is read again on its save thread (see Logins.authenticate).
    with real_threads(service):
        results = answers(service, ("foo", "pw"), ("nobody", "pw"))
    assert [r.name if r else r for r in results] in (["foo", None], [None, "foo"])
    assert len(hashed_on) == 2
    assert all("mudserver-login" in name for name in hashed_on), hashed_on
    assert threading.current_thread().name not in hashed_on


def test_garbage_is_collected_between_ticks_not_during_them(tmp_path: Path) -> None:
    was_enabled = gc.isenabled()
    service = GameService(Settings(), FileStore(tmp_path, CHEAP), FakeReactor())
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
        stop(service)
    assert gc.isenabled() == was_enabled


#: Cheap Argon2id as the "current" parameters: CHEAP scrypt records are older.
CURRENT = Argon2Params(time_cost=1, memory_cost=8)


def test_an_old_hash_is_hashed_on_the_login_pool_and_written_on_the_save_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FileStore(tmp_path, CHEAP).create("foo", "pw")
    store = FileStore(tmp_path, CURRENT)
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
    with real_threads(service):
        assert answers(service, ("foo", "wrong")) == [None]
        assert threads_of == {"hash": [], "upgrade": []}
        (account,) = answers(service, ("foo", "pw"))
    assert account.password["algorithm"] == "argon2id"
    assert store.load("foo") == account
    assert ["mudserver-login" in name for name in threads_of["hash"]] == [True]
    assert ["mudserver-save" in name for name in threads_of["upgrade"]] == [True]


def test_a_failed_rehash_write_is_made_good_by_the_next_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logged: list[str]
) -> None:
    FileStore(tmp_path, CHEAP).create("foo", "pw")
    store = FileStore(tmp_path, CURRENT)
    service, reactor = synchronous_service(store)
    monkeypatch.setattr(store, "upgrade_password", fail_with(errno.ENOSPC))
    protocol, transport = connect(service)
    protocol.dataReceived(b"con foo,pw,1\nmov 10,0,0\n")
    assert transport.value().startswith(b"wel ")
    assert any("could not re-hash foo" in line for line in as_lines(logged))
    # The save at join already carries the new hash (PasswordRecords swaps it in).
    assert store.load("foo").password["algorithm"] == "argon2id"  # type: ignore[union-attr]
    reactor.advance(0.1)
    reactor.advance(0.1)
    reactor.advance(1.0)  # autosave
    on_disk = store.load("foo")
    assert on_disk is not None and on_disk.password["algorithm"] == "argon2id"
    assert (on_disk.x, on_disk.y) == (10.0, 0.0)
    assert store.authenticate("foo", "pw") is not None
    stop(service)  # to the end: a service left running keeps its log bridge on
