"""The console's account commands in process: delete and reset against saves in flight.

A GameService on a fake clock whose thread pools run each call at once
(``synchronous_service``), a file store, and sessions on StringTransports.
The case the e2e tests cannot time: a player of the account who is still
playing when the change lands (it logged in between the kick and the
change), whose saves must not write the account, or its old password, back.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from twisted.internet import defer

from mudserver.core import moderation
from mudserver.limits.passwordwork import Kind
from mudserver.shell.accountdesk import AccountDesk
from mudserver.shell.service import GameService
from mudserver.store.files import FileStore
from tests.harness import CHEAP
from tests.test_service_hardening import CURRENT, connect, stop, synchronous_service


def desk_of(service: GameService) -> AccountDesk:
    return AccountDesk(service.store, service.game, service.saves, service.logins, service.reactor)


async def kick_nobody(name: str, reason: str) -> list[str]:
    """A kick that found nobody: the player who logged in 'just after' it."""
    return []


def kick_here(service: GameService) -> Any:
    async def kick(name: str, reason: str) -> list[str]:
        return [""] if moderation.kick(service.game, name, reason) else []

    return kick


def done(d: Any) -> Any:
    """The result of a coroutine whose every step runs at once here."""
    results: list[Any] = []
    defer.ensureDeferred(d).addBoth(results.append)
    (result,) = results
    if hasattr(result, "raiseException"):
        result.raiseException()
    return result


def playing(tmp_path: Path) -> tuple[GameService, FileStore, Any]:
    store = FileStore(tmp_path, CHEAP)
    store.create("foo", "pw", 1.0, 2.0, 3.0)
    service, _ = synchronous_service(store)
    protocol, transport = connect(service)
    protocol.dataReceived(b"con foo,pw,1\n")
    assert transport.value().startswith(b"wel ")
    return service, store, transport


def test_delete_kicks_then_removes_and_nothing_writes_it_back(tmp_path: Path) -> None:
    service, store, transport = playing(tmp_path)
    assert done(desk_of(service).delete("foo", kick_here(service))) == [""]
    assert b"sys kicked: account deleted\nbye kicked\n" in transport.value()
    assert store.load("foo") is None
    assert done(desk_of(service).delete("foo", kick_here(service))) is None
    stop(service)


def test_a_player_still_playing_the_deleted_account_cannot_save_it_back(tmp_path: Path) -> None:
    service, store, transport = playing(tmp_path)
    session = service.game.player("foo")
    assert session is not None and session.account is not None
    stale = dataclasses.replace(session.account, x=9.0)
    assert done(desk_of(service).delete("foo", kick_nobody)) == []
    assert transport.value().endswith(b"bye kicked\n")  # closed after the change
    service.saves.save(stale)  # a snapshot taken before the close, saved late
    service.reactor.advance(1.0)  # an autosave step
    assert store.load("foo") is None
    store.create("foo", "again")  # a new account under the name saves as usual
    service.saves.save(dataclasses.replace(store.load("foo"), x=4.0))  # type: ignore[type-var]
    assert store.load("foo").x == 4.0  # type: ignore[union-attr]
    stop(service)


def test_reset_password_hashes_off_the_reactor_and_old_saves_keep_the_new_one(
    tmp_path: Path,
) -> None:
    service, store, transport = playing(tmp_path)
    session = service.game.player("foo")
    assert session is not None and session.account is not None
    stale = dataclasses.replace(session.account, x=7.0)
    on_login_pool: list[Any] = []
    pool: Any = service.logins.pool
    run = pool.callInThreadWithCallback

    def recording(on_result: Any, f: Any, *args: Any) -> None:
        on_login_pool.append(f)
        run(on_result, f, *args)

    pool.callInThreadWithCallback = recording
    password, kicked = done(desk_of(service).reset_password("foo", kick_nobody))
    assert kicked == [] and len(password) >= 16
    assert store.hash in on_login_pool  # the password work went to the login pool
    assert transport.value().endswith(b"bye kicked\n")
    service.saves.save(stale)  # the old password record must not come back with it
    assert store.authenticate("foo", "pw") is None
    account = store.authenticate("foo", password)
    assert account is not None and (account.x, account.y, account.z) == (1.0, 2.0, 3.0)
    assert done(desk_of(service).reset_password("nobody", kick_nobody)) is None
    stop(service)


def test_the_listing_is_paged_and_counted_once(tmp_path: Path) -> None:
    store = FileStore(tmp_path, CHEAP)
    for name in ("ann", "bea", "cid"):
        store.create(name, "pw")
    service, _ = synchronous_service(store)
    desk = desk_of(service)
    total, page = done(desk.listing("", "", 2))
    assert total == 3 and [a.name for a in page] == ["ann", "bea"]
    total, page = done(desk.listing("", "bea", 2, count=False))
    assert total is None and [a.name for a in page] == ["cid"]
    stop(service)


def test_a_reset_takes_its_turn_under_the_cap_on_password_work(tmp_path: Path) -> None:
    """The reset's hash is password work like a login's: with every slot of
    --password-work taken, it waits for one, and adds no thread beside them."""
    service, store, _ = playing(tmp_path)
    work = service.logins.work
    assert work.running == {Kind.LOGIN: 0, Kind.SIGNUP: 0}
    work.running[Kind.LOGIN] = work.slots  # every slot busy with logins
    hashed: list[str] = []
    hash_ = store.hash

    def spy_hash(password: str) -> dict[str, Any]:
        hashed.append(password)
        return hash_(password)

    store.hash = spy_hash  # type: ignore[method-assign]
    results: list[Any] = []
    defer.ensureDeferred(desk_of(service).reset_password("foo", kick_here(service))).addBoth(
        results.append
    )
    assert hashed == [] and results == []  # waiting for a slot
    work.done(Kind.LOGIN)  # one login ends: the reset takes its slot
    assert len(hashed) == 1 and len(results) == 1
    password, kicked = results[0]
    assert kicked == [""] and store.authenticate("foo", password) is not None
    work.running[Kind.LOGIN] = 0
    stop(service)


def test_a_snapshot_older_than_a_rehash_cannot_bring_back_a_reset_password(
    tmp_path: Path,
) -> None:
    """A snapshot holding the record a re-hash replaced gets the re-hashed one when it
    is written (PasswordRecords); once a reset retired that one, it is dropped."""
    FileStore(tmp_path, CHEAP).create("foo", "pw", 1.0, 2.0, 3.0)
    store = FileStore(tmp_path, CURRENT)  # the login re-hashes the cheap record
    before = store.load("foo")
    assert before is not None
    service, _ = synchronous_service(store)
    protocol, transport = connect(service)
    protocol.dataReceived(b"con foo,pw,1\n")
    assert transport.value().startswith(b"wel ")
    rehashed = store.load("foo")
    assert rehashed is not None and rehashed.password != before.password
    stale = dataclasses.replace(before, x=9.0)  # taken before the re-hash
    password, _ = done(desk_of(service).reset_password("foo", kick_here(service)))
    service.saves.save(stale)
    service.reactor.advance(1.0)  # type: ignore[attr-defined]
    assert store.authenticate("foo", "pw") is None
    account = store.authenticate("foo", password)
    assert account is not None and account.x == 1.0
    stop(service)
