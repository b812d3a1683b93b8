"""The library's requests that have answers: use, register, change_password.

With a fake transport and ``task.Clock`` (what is sent, which line answers
which request, typed errors), then the blocking client against the real
server for what today's server already answers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer, reactor, task
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial import unittest

from mudserver.client import (
    DEFAULT_USE_WAIT,
    Ack,
    BadLogin,
    BadVerb,
    BlockingClient,
    ConnectionClosed,
    MudClient,
    NameTaken,
    NoSuchThing,
    NotLoggedIn,
    ServerError,
    Told,
    TooFar,
    UnknownCommand,
    WeakPassword,
    Welcome,
    WrongPassword,
    connect,
    parse,
)
from mudserver.client.answers import USE_ERRORS, Request, Waiting
from mudserver.client.errors import server_error
from tests.support import (
    SHARED_SERVER,
    LineClient,
    ServerProcess,
    running_server,
)
from tests.test_client import run_example


def fake_client() -> tuple[MudClient, StringTransport, task.Clock]:
    clock, transport = task.Clock(), StringTransport()
    client = MudClient(clock=clock, keepalive=None)
    client.makeConnection(transport)
    return client, transport, clock


def result_of(d: defer.Deferred[Any]) -> list[object]:
    """What *d* has fired with so far: [] while it waits, [value] or [Failure] once fired."""
    results: list[object] = []
    d.addBoth(results.append)
    return results


def failure(results: list[object]) -> Failure:
    assert len(results) == 1 and isinstance(results[0], Failure), results
    return results[0]


def test_use_sends_the_shortest_line_that_says_it() -> None:
    client, transport, _ = fake_client()
    client.use(7)
    client.use(7, "READ")
    client.use(9, "ask", "where is the well, then? 100%")
    client.use(parse("ent 12,npc,greeter,1.00,0.00,0.00"), text="hello")  # an entity, by its id
    assert transport.value() == (
        b"use 7\nuse 7,read\nuse 9,ask,where is the well%2C then? 100%25\nuse 12,use,hello\n"
    )
    for target, verb in [(0, "use"), (-3, "use"), (True, "use"), (7, "two words"), (7, "")]:
        with pytest.raises(ValueError):
            client.use(target, verb)  # type: ignore[arg-type]


def test_use_is_answered_by_its_things_msg_or_a_typed_error() -> None:
    client, _, clock = fake_client()
    far, sign, guard = client.use(12), client.use(7, "read"), client.use(9)
    far_got, sign_got, guard_got = result_of(far), result_of(sign), result_of(guard)
    # The refusal comes at once, the answers with the next tick, in any order:
    # each msg finds the use of its thing.
    client.dataReceived(b"err toofar,come within 10 units of it first\n")
    client.dataReceived(b"msg 9,guard,Move along.\nmsg 7,signpost,North%2C the meadow.\n")
    assert failure(far_got).check(TooFar) and far_got[0].value.code == "toofar"  # type: ignore[union-attr]
    assert sign_got == [Told(7, "signpost", "North, the meadow.")]
    assert guard_got == [Told(9, "guard", "Move along.")]
    silent = result_of(client.use(12, "poke"))
    clock.advance(DEFAULT_USE_WAIT - 0.01)
    assert silent == []
    clock.advance(0.01)
    assert silent == [None]  # a thing need not answer
    assert clock.getDelayedCalls() == []


def test_an_old_server_that_lacks_a_command_fails_the_request() -> None:
    client, _, _ = fake_client()
    got = result_of(client.use(7, "read"))
    client.dataReceived(b"err badcmd,unknown command 'use'\n")
    assert failure(got).check(UnknownCommand)
    got = result_of(client.register("newbie", "long enough"))
    client.dataReceived(b"err badcmd,unknown command 'new'\n")
    assert failure(got).check(UnknownCommand)


def test_register_is_answered_as_a_login() -> None:
    client, transport, _ = fake_client()
    taken = result_of(client.register("foo", "a,long password", "2"))
    assert transport.value() == b"new foo,a%2Clong password,2\n"
    client.dataReceived(b"err taken,that name is taken\n")
    assert failure(taken).check(NameTaken)
    weak = result_of(client.register("newbie", "short"))
    client.dataReceived(b"err weakpass,at least 8 characters\n")
    assert failure(weak).check(WeakPassword) and isinstance(failure(weak).value, ServerError)
    made = result_of(client.register("newbie", "long enough"))
    client.dataReceived(b"wel 5,newbie,0.00,0.00,0.00\nent 5,player,newbie,0.00,0.00,0.00\n")
    assert made == [Welcome(5, "newbie", 0.0, 0.0, 0.0)] and len(client.world) == 1


def test_a_banned_name_ends_the_sign_up_with_the_connection() -> None:
    client, _, _ = fake_client()
    got = result_of(client.register("griefer", "long enough"))
    client.dataReceived(b"bye banned\n")
    client.connectionLost(Failure(ConnectionClosed("test")))
    assert failure(got).check(ConnectionClosed) and failure(got).value.reason == "banned"


def test_change_password_is_acknowledged_or_refused() -> None:
    client, transport, _ = fake_client()
    wrong = result_of(client.change_password("nope", "a new, longer one"))
    assert transport.value() == b"pwd nope,a new%2C longer one\n"
    # A line that answers nothing (someone's chat) leaves it waiting.
    client.dataReceived(b"say 2,bar,hi\n")
    assert wrong == []
    client.dataReceived(b"err badpass,the old password is wrong\n")
    assert failure(wrong).check(WrongPassword)
    done = result_of(client.change_password("1234", "a new, longer one"))
    client.dataReceived(b"ack pwd\n")
    assert done == [None]


def test_errors_answer_the_oldest_request_that_can_take_them() -> None:
    waiting = Waiting()
    use = waiting.add(Request("use", USE_ERRORS, 7))
    login = waiting.add(Request("login", frozenset({"badlogin"})))
    assert waiting.answer(parse("err badlogin,no")) is login
    assert waiting.answer(parse("err notlogged,log in first")) is use
    assert waiting.answer(parse("ack pwd")) is None and len(waiting) == 0


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("badlogin", BadLogin),
        ("notlogged", NotLoggedIn),
        ("badverb", BadVerb),
        ("zzz", ServerError),
    ],
)
def test_every_err_code_has_its_type(code: str, kind: type[ServerError]) -> None:
    error = server_error(code, "why")
    assert type(error) is kind and (error.code, error.message) == (code, "why")
    assert str(error) == f"why ({code})"


def test_ack_of_something_else_answers_no_password_change() -> None:
    assert not Request("password", frozenset()).answered_by(Ack("zzz"))


# -- against today's server ------------------------------------------------------------


def test_blocking_use_of_nothing_is_a_typed_error(server: ServerProcess) -> None:
    with BlockingClient(server.host, server.port, timeout=5) as client:
        with pytest.raises(NotLoggedIn):
            client.use(7)
        client.login("foo", "1234")
        with pytest.raises(NoSuchThing):
            client.use(7, "read")
        with pytest.raises(NoSuchThing):  # a player is no thing
            client.use(client.world.me)  # type: ignore[arg-type]
        assert client.quit() == "quit"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The sample game (Ada, the signpost, sheep, the apple tree...), quick walkers."""
    tmp = tmp_path_factory.mktemp("sample")
    with running_server(tmp, "--game=sample", "--speed=50", *SHARED_SERVER) as process:
        yield process


def test_blocking_client_uses_the_sample_games_things(sample: ServerProcess) -> None:
    with BlockingClient(sample.host, sample.port, timeout=5) as client:
        client.login("foo", "1234")
        things = {e.name: e for e in client.world if e.kind != "player"}
        assert things["Ada"].kind == "npc" and things["sheep"].kind == "creature"
        sign = things["signpost"]
        told = client.use(sign, "read")
        assert told is not None and (told.id, told.name) == (sign.id, "signpost")
        assert told.text.startswith("North-west: the meadow.")
        with pytest.raises(BadVerb) as refused:
            client.use(sign.id, "eat")
        assert "read" in refused.value.message  # it says which verbs it knows
        with pytest.raises(TooFar):
            client.use(things["sheep"])
        with pytest.raises(NoSuchThing):
            client.use(10**9)
        assert client.quit() == "quit"


class SampleGameTests(unittest.TestCase):
    """The Twisted client's ``use`` against the sample game."""

    @pytest.fixture(autouse=True)
    def attach(self, sample: ServerProcess) -> None:
        self.sample = sample

    async def test_use_fires_with_the_answer_or_a_typed_error(self) -> None:
        client = await connect(self.sample.host, self.sample.port)
        self.addCleanup(client.close)
        await client.login("bar", "4321")
        tree = client.world.by_name("apple tree")
        assert tree is not None and tree.kind == "thing"
        with pytest.raises(TooFar):  # 12.8 away
            await client.use(tree, "count")
        client.move(tree.x - 2, tree.y, 0)
        for _ in range(50):
            me = client.world.me
            if me is not None and not me.walking and me.reported == (tree.x - 2, tree.y, 0):
                break
            await task.deferLater(reactor, 0.05, lambda: None)
        told = await client.use(tree, "count")
        assert told is not None and told.text.startswith("You have ")
        await client.quit()


def test_sign_up_and_password_change_by_line_and_by_library(server: ServerProcess) -> None:
    """``new`` and ``pwd`` as ``nc`` types them, then the library's typed answers."""
    name = f"lib{os.getpid() % 100000}"
    with LineClient(server.host, server.port) as raw:
        raw.send(f"new {name},a long password,1")
        assert raw.read_until(lambda line: line.startswith(("wel ", "err ")))[-1].startswith("wel ")
        raw.send("pwd a long password,another long one")
        assert raw.read_until(lambda line: line.startswith(("ack ", "err ")))[-1] == "ack pwd"
    with BlockingClient(server.host, server.port, timeout=5) as client:
        with pytest.raises(NameTaken):
            client.register(name.upper(), "a third long one")
        with pytest.raises(WeakPassword):
            client.register(f"{name}x", "short")
        with pytest.raises(BadLogin):
            client.login(name, "a long password")
        assert client.login(name, "another long one").name == name
        with pytest.raises(WrongPassword):
            client.change_password("a long password", "a third long one")
        client.change_password("another long one", "a third long one")
        assert client.quit() == "quit"
    with BlockingClient(server.host, server.port, timeout=5) as again:
        assert again.login(name, "a third long one").name == name
        made = BlockingClient(server.host, server.port, timeout=5)
        with made:
            assert made.register(f"{name}y", "a long password").name == f"{name}y"


def test_the_read_sign_example(sample: ServerProcess, tmp_path: Path) -> None:
    """docs/clients.md's blocking example on the sample game prints what it says it does."""
    script = run_example(tmp_path, "read_sign.py", sample.port)
    try:
        output, _ = script.communicate(timeout=15)
    finally:
        script.kill()
    assert script.returncode == 0, output
    assert output.splitlines() == [
        "North-west: the meadow. South-east: the apple tree. Be kind to the sheep.",
        "signpost knows: use, read",
    ]
