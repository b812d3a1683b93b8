"""A login waiting for password hashing is not timed out as idle."""

from __future__ import annotations

from twisted.internet import defer, task
from twisted.internet.testing import StringTransport

from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.shell.server import MudFactory
from mudserver.store.accounts import Account


def test_idle_timeout_waits_for_a_slow_password_check() -> None:
    clock = task.Clock()
    pending: list[defer.Deferred[Account | None]] = []

    def authenticate(name: str, password: str) -> defer.Deferred[Account | None]:
        pending.append(defer.Deferred())
        return pending[-1]

    game = Game(Settings(idle_timeout=15.0), lambda account: None)
    protocol = MudFactory(game, authenticate, clock).buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(b"con foo,1234,1\n")
    clock.advance(60)  # a long queue of logins ahead of this one
    assert transport.value() == b""
    pending[0].callback(Account("foo", {}, 0.0, 0.0, 0.0))
    assert transport.value().startswith(b"wel 1,foo,")
    clock.advance(14)
    assert b"bye" not in transport.value()
    clock.advance(2)  # idle again after the login: the usual timeout applies
    assert transport.value().endswith(b"bye timeout\n")
