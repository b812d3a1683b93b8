"""When the account store cannot be reached: in-process, on a fake clock.

Logins get ``err unavailable`` (no failed login counted, the client may try
again), and saves are retried with backoff until they land; a snapshot
overtaken by a newer one of the same account is never written after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mudserver.account import Account
from mudserver.shell.saves import SAVE_RETRY
from mudserver.shell.service import GameService
from mudserver.store.base import StoreUnavailable
from mudserver.store.files import FileStore
from tests.harness import CHEAP
from tests.test_service_hardening import FakeReactor, connect, stop, synchronous_service


class FlakyStore(FileStore):
    """A file store that can be switched off like a database."""

    down = False
    writes: list[tuple[str, float]]

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("cannot reach the database")

    def load(self, name: str) -> Account | None:
        self._check()
        return super().load(name)

    def save(self, account: Account) -> None:
        self._check()
        super().save(account)
        self.writes.append((account.name, account.x))


class RefusingStore(FlakyStore):
    """Refuses the saves of some accounts, as PostgreSQL refuses a shard's save of an
    account that another shard has claimed since."""

    refusing: frozenset[str] = frozenset()

    def save_many(self, accounts: Any) -> list[str]:
        accounts = list(accounts)
        super().save_many(a for a in accounts if a.name not in self.refusing)
        return [a.name for a in accounts if a.name in self.refusing]


def service_on(tmp_path: Path) -> tuple[GameService, FakeReactor, RefusingStore]:
    store = RefusingStore(tmp_path, CHEAP)
    store.writes = []
    store.create("foo", "pw")
    service, reactor = synchronous_service(store)
    return service, reactor, store


def test_a_login_while_the_store_is_down_is_unavailable_not_bad(tmp_path: Path) -> None:
    service, _, store = service_on(tmp_path)
    protocol, transport = connect(service)
    store.down = True
    for _ in range(service.settings.max_failed_logins + 1):
        transport.clear()
        protocol.dataReceived(b"con foo,pw,1\n")
        assert transport.value().startswith(b"err unavailable,")
    assert not transport.disconnecting  # not counted as failed logins
    assert service.game.stats.failed_logins == 0
    store.down = False
    transport.clear()
    protocol.dataReceived(b"con foo,pw,1\n")
    assert transport.value().startswith(b"wel ")
    stop(service)


def test_saves_are_retried_with_backoff_until_they_land(tmp_path: Path) -> None:
    service, reactor, store = service_on(tmp_path)
    protocol, transport = connect(service)
    protocol.dataReceived(b"con foo,pw,1\nmov 10,0,0\n")
    reactor.advance(0.1)
    reactor.advance(0.1)
    assert b"pos 1,10.00,0.00,0.00\n" in transport.value()
    store.down = True
    protocol.dataReceived(b"bye\n")  # leaves: the only snapshot is this one
    reactor.pump([SAVE_RETRY[0]] * 3)  # three failed retries, the delay doubling
    assert store.writes[-1] == ("foo", 0.0)  # only the save at login so far
    store.down = False
    reactor.advance(SAVE_RETRY[1])
    assert store.writes[-1] == ("foo", 10.0)
    on_disk = store.load("foo")
    assert on_disk is not None and on_disk.x == 10.0
    stop(service)


def test_an_overtaken_snapshot_is_not_written_after_the_newer_one(tmp_path: Path) -> None:
    service, reactor, store = service_on(tmp_path)
    password = store.load("foo").password  # type: ignore[union-attr]
    store.down = True
    service.saves.save(Account("foo", password, 1.0))  # fails, waits to retry
    store.down = False
    service.saves.save(Account("foo", password, 2.0))  # lands at once
    reactor.advance(SAVE_RETRY[1])
    assert [x for name, x in store.writes if name == "foo"] == [2.0]
    assert store.load("foo").x == 2.0  # type: ignore[union-attr]
    assert service.saves.newest == {}
    stop(service)


def test_autosave_writes_a_slice_as_one_batch(tmp_path: Path) -> None:
    service, reactor, store = service_on(tmp_path)
    store.create("bar", "pw")
    batches: list[list[str]] = []
    save_many = store.save_many

    def recording(accounts: Any) -> list[str]:
        accounts = list(accounts)
        batches.append([a.name for a in accounts])
        return save_many(accounts)

    store.save_many = recording  # type: ignore[method-assign]
    for name in ("foo", "bar"):
        protocol, _ = connect(service)
        protocol.dataReceived(f"con {name},pw,1\nmov 5,5,0\n".encode())
    batches.clear()  # each join saved its player alone
    reactor.advance(1.0)
    assert len(batches) == 1
    assert sorted(batches[0]) == ["bar", "foo"]
    stop(service)


def test_a_refused_save_closes_the_player_it_came_from(tmp_path: Path) -> None:
    """Another shard claimed the account: this one's player is closed, its move unsaved."""
    service, reactor, store = service_on(tmp_path)
    protocol, transport = connect(service)
    protocol.dataReceived(b"con foo,pw,1\n")
    store.refusing = frozenset({"foo"})
    protocol.dataReceived(b"mov 5,5,0\n")
    reactor.advance(1.0)  # the autosave's write is refused
    assert transport.value().endswith(b"bye replaced\n")
    assert (store.load("foo").x, store.load("foo").y) == (0.0, 0.0)  # type: ignore[union-attr]
    assert service.saves.newest == {}  # refused is done with, not retried
    stop(service)


def test_a_refused_save_of_an_earlier_player_leaves_the_current_one(tmp_path: Path) -> None:
    """A snapshot taken under an older token (an earlier player of the account) is refused;
    the player now playing, loaded with a newer token, plays on."""
    service, _, store = service_on(tmp_path)
    protocol, transport = connect(service)
    protocol.dataReceived(b"con foo,pw,1\n")
    playing = service.game.player("foo")
    assert playing is not None and playing.account is not None
    playing.account.lease = 2
    store.refusing = frozenset({"foo"})
    service.saves.save(Account("foo", playing.account.password, 9.0, lease=1))
    assert not transport.value().endswith(b"bye replaced\n")
    assert service.game.player("foo") is playing
    stop(service)
