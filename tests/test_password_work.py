"""The cap on password work shared by logins and sign-ups, and the login pipeline's writes.

:class:`~mudserver.limits.passwordwork.PasswordWork` alone (sans-IO, plain
calls), then inside a real :class:`~mudserver.shell.service.GameService` on a
fake clock whose login pool holds each job until the test runs it: a flood
of sign-ups never takes the last slot from a login, and a login waiting for
a slot goes before the sign-ups waiting with it.  Then what the pipeline
writes: the store decides whether a name is free, and a password change is
never undone by a save that was waiting to be retried.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from twisted.python.failure import Failure

from mudserver.config import Settings
from mudserver.limits.passwordwork import Kind, PasswordWork
from mudserver.shell.saves import SAVE_RETRY
from mudserver.shell.service import GameService
from mudserver.store.files import FileStore
from tests.harness import CHEAP
from tests.test_service_hardening import connect, stop, synchronous_service
from tests.test_store_unavailable import FlakyStore

PASSWORD = "long enough"

# -- PasswordWork ---------------------------------------------------------------------


def test_jobs_beyond_the_slots_wait_and_logins_go_first() -> None:
    work = PasswordWork(slots=2, signup_slots=1)
    started: list[str] = []
    for i in range(3):
        work.submit(Kind.SIGNUP, lambda i=i: started.append(f"s{i}"))
    assert started == ["s0"]  # one slot is the sign-ups' most
    work.submit(Kind.LOGIN, lambda: started.append("l0"))
    work.submit(Kind.LOGIN, lambda: started.append("l1"))
    assert started == ["s0", "l0"]  # the other slot: a login, at once
    work.done(Kind.SIGNUP)
    assert started == ["s0", "l0", "l1"]  # the freed slot: the waiting login first
    work.done(Kind.LOGIN)
    assert started == ["s0", "l0", "l1", "s1"]
    assert work.running == {Kind.LOGIN: 1, Kind.SIGNUP: 1}
    assert [len(q) for q in work.waiting.values()] == [0, 1]


def test_sign_ups_never_hold_every_slot() -> None:
    work = PasswordWork(slots=4, signup_slots=3)
    for _ in range(100):
        work.submit(Kind.SIGNUP, lambda: None)
    assert work.running[Kind.SIGNUP] == 3
    logins: list[int] = []
    work.submit(Kind.LOGIN, lambda: logins.append(1))
    assert logins == [1]


def test_jobs_that_end_at_once_do_not_recurse() -> None:
    """A job that reports its end from inside its start (a failed dispatch, a test's
    synchronous pool) lets the next one start from the loop, not from within itself."""
    work = PasswordWork(slots=2, signup_slots=1)
    done: list[int] = []

    def job(i: int) -> Callable[[], None]:
        return lambda: (done.append(i), work.done(Kind.SIGNUP))  # type: ignore[func-returns-value]

    work.running[Kind.SIGNUP] = 1  # a slow one holds the sign-ups' slot meanwhile
    for i in range(5000):
        work.submit(Kind.SIGNUP, job(i))
    work.done(Kind.SIGNUP)
    assert done == list(range(5000))
    assert work.running == {Kind.LOGIN: 0, Kind.SIGNUP: 0}


@pytest.mark.parametrize(("slots", "signup_slots"), [(1, 1), (2, 2), (0, 0)])
def test_logins_always_keep_a_slot(slots: int, signup_slots: int) -> None:
    with pytest.raises(ValueError):
        PasswordWork(slots, signup_slots)
    PasswordWork(1, 0)  # a server that takes no sign-ups may hash on one thread


# -- inside the service -----------------------------------------------------------------


class HeldPool:
    """A login pool whose jobs wait until the test runs them, one by one."""

    def __init__(self) -> None:
        self.held: list[tuple[Callable[[bool, Any], None], Callable[..., Any], tuple[Any, ...]]]
        self.held = []

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def callInThreadWithCallback(
        self, on_result: Callable[[bool, Any], None], f: Callable[..., Any], *args: Any
    ) -> None:
        self.held.append((on_result, f, args))

    def kinds(self) -> list[str]:
        """What each held job is: a login's check, or a sign-up's new record."""
        return [{"check": "login", "make_record": "signup"}[f.__name__] for _, f, _ in self.held]

    def run(self, index: int = 0) -> None:
        on_result, f, args = self.held.pop(index)
        try:
            result, ok = f(*args), True
        except Exception:
            result, ok = Failure(), False
        on_result(ok, result)


def held_service(tmp_path: Path) -> tuple[GameService, HeldPool]:
    store = FileStore(tmp_path, CHEAP)
    for name in ("foo", "bar"):
        store.create(name, PASSWORD)
    settings = Settings(password_work=2, signup_work=1, signups_per_hour=100)
    service, _ = synchronous_service(store, settings)
    pool = HeldPool()
    service.logins.pool = pool  # type: ignore[assignment]
    return service, pool


def test_a_flood_of_sign_ups_leaves_logins_their_slot(tmp_path: Path) -> None:
    service, pool = held_service(tmp_path)
    strangers = [connect(service, f"10.0.1.{i}") for i in range(20)]
    for i, (protocol, _) in enumerate(strangers):
        protocol.dataReceived(f"new s{i},{PASSWORD},1\n".encode())
    assert pool.kinds() == ["signup"]  # 19 wait on the reactor, not on a thread
    foo, foo_out = connect(service)
    foo.dataReceived(f"con foo,{PASSWORD},1\n".encode())
    assert pool.kinds() == ["signup", "login"]  # at once, past the waiting sign-ups
    bar, bar_out = connect(service)
    bar.dataReceived(f"con bar,{PASSWORD},1\n".encode())
    assert pool.kinds() == ["signup", "login"]  # the cap: two at once
    pool.run(1)
    assert foo_out.value().startswith(b"wel ")
    assert pool.kinds() == ["signup", "login"]  # bar's turn came before the sign-ups'
    pool.run(1)
    assert bar_out.value().startswith(b"wel ")
    while pool.held:
        assert pool.kinds() == ["signup"]  # never more than their one slot
        pool.run()
    assert all(out.value().startswith(b"wel ") for _, out in strangers)
    assert len(service.game) == 22
    stop(service)


def test_the_store_decides_whether_a_name_is_free(tmp_path: Path) -> None:
    """Two sign-ups for one name that both passed the cheap check (two shards, say):
    the insert refuses the second, which gets err taken and writes nothing."""
    store = FileStore(tmp_path, CHEAP)
    store.create("taken", PASSWORD)
    before = (tmp_path / "users" / "taken.json").read_bytes()
    service, _ = synchronous_service(store)
    store.exists = lambda name: False  # type: ignore[method-assign]
    protocol, transport = connect(service)
    protocol.dataReceived(b"new TAKEN,other password,1\n")
    assert transport.value() == b"err taken,that name is taken; pick another\n"
    assert (tmp_path / "users" / "taken.json").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "users").iterdir()) == ["taken.json"]
    stop(service)


def test_a_save_waiting_for_a_retry_does_not_undo_a_password_change(tmp_path: Path) -> None:
    """The snapshot holds the old password record; written after the change, it carries
    the new one (PasswordRecords, applied by the save queue at every try)."""
    store = FlakyStore(tmp_path, CHEAP)
    store.writes = []
    store.create("foo", PASSWORD)
    service, reactor = synchronous_service(store)
    protocol, transport = connect(service)
    protocol.dataReceived(f"con foo,{PASSWORD},1\nmov 5,0,0\n".encode())
    reactor.advance(0.1)
    reactor.advance(0.1)
    store.down = True
    reactor.advance(0.8)  # the autosave of 5,0,0 fails, and waits for its retry
    store.down = False
    transport.clear()
    protocol.dataReceived(b"pwd long enough,a new password\n")
    assert transport.value() == b"ack pwd\n"
    reactor.advance(SAVE_RETRY[0])  # the retry lands
    assert store.writes[-1] == ("foo", 5.0)
    assert store.authenticate("foo", "a new password") is not None
    assert store.authenticate("foo", PASSWORD) is None
    stop(service)
