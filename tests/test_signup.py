"""``new`` and ``pwd`` through the protocol, on a fake clock: every answer a client can get.

A :class:`~tests.harness.Harness` with a real file store (cheap hashes) and a
``task.Clock``: what is asserted is what the client reads and what the store
holds afterwards.  The login pipeline's own share (the pool, the cap on
password work, the store deciding a race) is in ``tests/test_password_work.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from twisted.internet import defer

from mudserver.config import Settings
from mudserver.core.session import State
from mudserver.store.base import StoreUnavailable
from mudserver.store.files import FileStore
from tests.harness import CHEAP, PASSWORDS, Client, FakeLogins, Harness

PASSWORD = "long enough"
HOUR = 3600.0


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Harnesses on a store holding foo and bar; every connection lost at the end."""
    made: list[Harness] = []

    def harness(**settings: object) -> Harness:
        store = FileStore(tmp_path / str(len(made)), CHEAP)
        for name, password in PASSWORDS.items():
            store.create(name, password)
        made.append(Harness(Settings(**settings), store=store, start=1000.0))  # type: ignore[arg-type]
        return made[-1]

    yield harness
    for h in made:
        h.lose_all()
        assert h.clock.getDelayedCalls() == []


def files(h: Harness) -> dict[str, bytes]:
    """Every account file, as bytes: a refused sign-up must leave them all as they were."""
    assert h.store is not None
    return {p.name: p.read_bytes() for p in sorted(h.store.users_dir.iterdir())}


def codes(client: Client) -> list[str]:
    """The code of each line received since the last call (``err taken``, ``wel``...)."""
    return [" ".join(line.split(",")[0].split(" ")[:2]) for line in client.lines()]


# -- new ------------------------------------------------------------------------------


def test_new_makes_the_account_and_logs_in_as_con_does(make: Callable[..., Harness]) -> None:
    h = make()
    newbie = h.connect()
    newbie.send(f"new Newbie,{PASSWORD},2")
    assert newbie.lines() == ["wel 1,Newbie,0.00,0.00,0.00", "ent 1,player,Newbie,0.00,0.00,0.00"]
    assert h.store is not None
    account = h.store.authenticate("NEWBIE", PASSWORD)
    assert account is not None and account.name == "Newbie" and account.created is not None
    assert account.password["algorithm"] == "scrypt"  # the store's own parameters (CHEAP)
    newbie.send("mov 1,0,0")  # it plays: protocol 2, a walk
    h.advance()
    assert newbie.lines() == ["wlk 1,0.50,0.00,0.00,1.00,0.00,0.00,5.00"]
    again = h.connect("10.0.0.9")
    assert again.login("newbie", PASSWORD).startswith("wel 2,Newbie,")
    assert newbie.lines() == ["bye replaced"]
    assert h.game.stats.signups == 1


@pytest.mark.parametrize(
    ("line", "settings", "code"),
    [
        (f"new FOO,{PASSWORD},1", {}, "err taken"),  # case-insensitively
        (f"new bad-name,{PASSWORD},1", {}, "err badname"),
        (f"new {'x' * 25},{PASSWORD},1", {}, "err badname"),
        ("new baz,seven77,1", {}, "err weakpass"),
        ("new baz,twelve chars,1", {"min_password": 13}, "err weakpass"),
        (f"new baz,{PASSWORD},3", {}, "err badproto"),
        (f"new baz,{PASSWORD},1", {"registration": "closed"}, "err closed"),
        ("new baz,1", {}, "err badarg"),
    ],
)
def test_each_refused_sign_up_has_its_code_and_writes_nothing(
    make: Callable[..., Harness], line: str, settings: dict[str, object], code: str
) -> None:
    h = make(**settings)
    before = files(h)
    client = h.connect()
    client.send(line)
    assert codes(client) == [code]
    assert files(h) == before
    assert client.protocol.session.state is State.NEW and not client.closing
    client.send("con foo,1234,1")  # the connection is as good as new
    assert codes(client)[0] == "wel 1"


def test_a_banned_name_cannot_be_made(make: Callable[..., Harness]) -> None:
    h = make()
    h.game.bans.add("griefer", h.clock.seconds())
    client = h.connect()
    client.send(f"new Griefer,{PASSWORD},1")
    assert client.lines() == ["bye banned"] and client.closing
    assert h.store is not None and not h.store.exists("griefer")


def test_new_while_logged_in_is_already(make: Callable[..., Harness]) -> None:
    h = make()
    foo, _ = h.player("foo", "1234")
    foo.send(f"new baz,{PASSWORD},1")
    assert codes(foo) == ["err already"]
    assert h.store is not None and not h.store.exists("baz")


def test_sign_ups_per_address_are_counted_over_an_hour(make: Callable[..., Harness]) -> None:
    """Made and taken names count alike; another address has its own budget."""
    h = make(signups_per_hour=3)
    tries = [("a1", "wel 1"), ("foo", "err taken"), ("a2", "wel 2"), ("a3", "err toomany")]
    for name, code in tries:
        client = h.connect("10.0.0.1")
        client.send(f"new {name},{PASSWORD},1")
        assert codes(client)[0] == code, name
    assert h.store is not None and not h.store.exists("a3")
    elsewhere = h.connect("10.0.0.2")
    elsewhere.send(f"new b1,{PASSWORD},1")
    assert codes(elsewhere)[0] == "wel 3"
    h.clock.advance(HOUR - 10)  # the first one is not yet an hour old
    late = h.connect("10.0.0.1")
    late.send(f"new a3,{PASSWORD},1")
    assert codes(late) == ["err toomany"]
    h.clock.advance(10)
    late.send(f"new a3,{PASSWORD},1")
    assert codes(late)[0] == "wel 4"


def test_an_address_over_its_failed_logins_may_not_sign_up(
    make: Callable[..., Harness],
) -> None:
    h = make(login_failures_per_ip=2, idle_timeout=600.0)
    guesser = h.connect("10.0.0.1")
    guesser.send("con foo,wrong,1", "con foo,wrong,1")
    guesser = h.connect("10.0.0.1")
    guesser.send(f"new baz,{PASSWORD},1")
    assert codes(guesser) == ["err toomany"]
    h.clock.advance(h.game.settings.login_window)
    guesser.send(f"new baz,{PASSWORD},1")
    assert codes(guesser)[0] == "wel 1"


def test_a_sign_up_the_store_could_not_take_is_not_counted() -> None:
    """err unavailable gives the sign-up back to the address's budget."""
    logins = FakeLogins()
    down = True

    def sign_up(name: str, password: str) -> defer.Deferred[object]:
        if down:
            return defer.fail(StoreUnavailable("the database is restarting"))
        return FakeLogins.sign_up(logins, name, password)

    logins.sign_up = sign_up  # type: ignore[method-assign]
    h = Harness(Settings(signups_per_hour=1), authenticate=logins)
    client = h.connect()
    for _ in range(3):
        client.send(f"new baz,{PASSWORD},1")
        assert codes(client) == ["err unavailable"]
    down = False
    client.send(f"new baz,{PASSWORD},1")
    assert codes(client)[0] == "wel 1"
    h.lose_all()


# -- pwd ------------------------------------------------------------------------------


def test_pwd_changes_the_password_and_says_ack(make: Callable[..., Harness]) -> None:
    h = make()
    foo, _ = h.player("foo", "1234")
    foo.send(f"pwd 1234,{PASSWORD}")
    assert foo.lines() == ["ack pwd"]
    assert h.store is not None
    assert h.store.authenticate("foo", "1234") is None
    assert h.store.authenticate("foo", PASSWORD) is not None
    foo.send("bye")  # the save at logout keeps the new password
    assert h.store.authenticate("foo", PASSWORD) is not None
    assert h.game.stats.password_changes == 1


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("pwd 1234,short", "err weakpass"),
        ("pwd 1234", "err badarg"),
        (f"pwd wrong,{PASSWORD}", "err badpass"),
    ],
)
def test_each_refused_password_change_has_its_code_and_changes_nothing(
    make: Callable[..., Harness], line: str, code: str
) -> None:
    h = make()
    foo, _ = h.player("foo", "1234")
    foo.send(line)
    assert codes(foo) == [code]
    assert h.store is not None and h.store.authenticate("foo", "1234") is not None
    assert not foo.closing


def test_pwd_needs_a_login(make: Callable[..., Harness]) -> None:
    client = make().connect()
    client.send(f"pwd 1234,{PASSWORD}")
    assert codes(client) == ["err notlogged"]


def test_wrong_passwords_at_pwd_count_as_failed_logins(make: Callable[..., Harness]) -> None:
    """A stolen session guesses no faster than a login: the account's budget, then bye."""
    h = make(login_failures_per_account=2, idle_timeout=600.0)
    foo, _ = h.player("foo", "1234")
    foo.send(f"pwd guess1,{PASSWORD}", f"pwd guess2,{PASSWORD}")
    assert codes(foo) == ["err badpass", "err badpass"]
    foo.send(f"pwd 1234,{PASSWORD}")  # even the right one: not checked
    assert codes(foo) == ["err toofast"]
    owner = h.connect("10.0.0.7")
    owner.send("con foo,1234,1")
    assert codes(owner) == ["err toofast"]  # the account is throttled for a while
    h.clock.advance(h.game.settings.login_window)
    foo.send(f"pwd guess3,{PASSWORD}")  # the connection's third wrong password
    assert codes(foo) == ["err badpass", "bye badlogin"] and foo.closing
    assert h.store is not None and h.store.authenticate("foo", "1234") is not None
