"""A login waiting for password hashing is not timed out as idle."""

from __future__ import annotations

from mudserver.account import Account
from mudserver.config import Settings
from tests.harness import Harness, PendingLogins


def test_idle_timeout_waits_for_a_slow_password_check() -> None:
    logins = PendingLogins()
    harness = Harness(Settings(idle_timeout=15.0), authenticate=logins)
    client = harness.connect()
    client.send("con foo,1234,1")
    harness.clock.advance(60)  # a long queue of logins ahead of this one
    assert client.received() == b""
    logins.answer(lambda name, password: Account("foo", {}, 0.0, 0.0, 0.0))
    assert client.received().startswith(b"wel 1,foo,")
    harness.clock.advance(14)
    assert b"bye" not in client.received()
    harness.clock.advance(2)  # idle again after the login: the usual timeout applies
    assert client.received().endswith(b"bye timeout\n")
