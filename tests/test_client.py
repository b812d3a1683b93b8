"""The client library: typed messages, the world mirror, keepalive, login.

Pure parts are tested directly; the Twisted client with a fake transport and
``task.Clock``; and both clients against the real server on loopback.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import defer, reactor, task
from twisted.internet.error import ConnectError
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial import unittest

from mudserver.client import (
    BlockingClient,
    Bye,
    ConnectionClosed,
    Course,
    Delete,
    Entered,
    Entity,
    Error,
    Message,
    MudClient,
    Position,
    Said,
    ServerError,
    Unknown,
    Walk,
    Welcome,
    WorldMirror,
    connect,
    parse,
)
from tests.support import REPO, LineClient, ServerProcess, free_port, running_server

# -- messages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("wel 3,foo,1.00,0.00,-2.50", Welcome(3, "foo", 1.0, 0.0, -2.5)),
        ("ent 2,player,bar,0.00,0.00,0.00", Entered(2, "player", "bar", 0.0, 0.0, 0.0)),
        ("pos 3,1.30,0.40,0.00\r", Position(3, 1.3, 0.4, 0.0)),
        (
            "wlk 3,1.30,0.40,0.00,10.00,-2.00,0.50,5.00",
            Walk(3, 1.3, 0.4, 0.0, 10.0, -2.0, 0.5, 5.0),
        ),
        ("del 1", Delete(1)),
        ("say 3,foo,100%25 sure%2C mostly", Said(3, "foo", "100% sure, mostly")),
        (
            "err badarg,mov needs 3 numbers: x%2Cy%2Cz",
            Error("badarg", "mov needs 3 numbers: x,y,z"),
        ),
        ("bye timeout", Bye("timeout")),
        ("ent 7,tree,oak,1.00,2.00,3.00,tall", Entered(7, "tree", "oak", 1.0, 2.0, 3.0)),
    ],
)
def test_parse_types_every_server_message(line: str, expected: Message) -> None:
    message = parse(line)
    assert message == expected
    assert type(getattr(message, "id", 0)) is int


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("zap 1,2", None),  # a newer server's message: passed on, untyped
        ("pos 1,2", "pos needs 4 arguments"),
        ("pos x,1.00,2.00,3.00", "invalid literal"),
        ("pos 1,nan,0.00,0.00", "not a finite number"),
        ("del -4", "not an entity id"),
        ("wlk 1,0.00,0.00,0.00,1.00,0.00,0.00", "wlk needs 8 arguments"),
        ("wlk 1,0.00,0.00,0.00,1.00,0.00,0.00,-5.00", "not a speed"),
    ],
)
def test_unknown_and_malformed_lines_pass_through_without_raising(
    line: str, problem: str | None
) -> None:
    message = parse(line)
    assert isinstance(message, Unknown)
    assert message.code == line[:3]
    if problem is None:
        assert message.problem is None
        assert message.args == ("1", "2")
    else:
        assert message.problem is not None and problem in message.problem


# -- world mirror -----------------------------------------------------------------


def test_mirror_follows_wel_ent_pos_del() -> None:
    world = WorldMirror()
    for line in [
        "wel 3,foo,1.00,0.00,0.00",
        "ent 2,player,bar,0.00,0.00,0.00",
        "ent 3,player,foo,1.00,0.00,0.00",
        "pos 2,0.50,0.00,0.00",
        "pos 9,5.00,5.00,5.00",  # never announced: ignored
        "ent 4,player,baz,0.00,0.00,0.00",
        "del 4",
    ]:
        world.apply(parse(line))
    assert world.self_id == 3
    assert world.me == Entity(3, "player", "foo", 1.0, 0.0, 0.0)
    assert sorted(world.entities) == [2, 3]
    assert world.by_name("BAR") == Entity(2, "player", "bar", 0.5, 0.0, 0.0)
    assert world.apply(parse("del 2")) == Entity(2, "player", "bar", 0.5, 0.0, 0.0)
    world.apply(parse("bye quit"))
    assert len(world) == 0 and world.me is None


class FakeClock:
    """Seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_mirror_extrapolates_a_walk_and_stops_at_its_target() -> None:
    clock = FakeClock()
    world = WorldMirror(clock)
    for line in ["wel 1,foo,0.00,0.00,0.00", "ent 2,player,bar,3.00,0.00,0.00"]:
        world.apply(parse(line))
    bar = world.get(2)
    assert bar is not None and bar.walk is None and not bar.walking
    # 3,0,0 -> 3,4,0 is 4 units long: 0.8 s at 5 units/s.
    assert world.apply(parse("wlk 2,3.00,0.00,0.00,3.00,4.00,0.00,5.00")) is bar
    assert bar.walk == Course((3.0, 0.0, 0.0), (3.0, 4.0, 0.0), 5.0, 100.0)
    assert bar.position == (3.0, 0.0, 0.0) and bar.walking
    clock.now += 0.4
    assert bar.position == pytest.approx((3.0, 2.0, 0.0))
    assert bar.position_at(100.2) == pytest.approx((3.0, 1.0, 0.0))
    assert bar.position_at(99.0) == (3.0, 0.0, 0.0)  # never behind the start
    clock.now += 10
    assert bar.position == (3.0, 4.0, 0.0) and not bar.walking  # capped at the target
    assert bar.reported == (3.0, 0.0, 0.0)

    # A new destination while walking: the wlk says where it is now.
    world.apply(parse("wlk 2,3.00,2.00,0.00,0.00,2.00,0.00,5.00"))
    assert bar.position == (3.0, 2.0, 0.0)
    clock.now += 0.3
    assert bar.position == pytest.approx((1.5, 2.0, 0.0))
    # pos in version 2: it stands there (interrupted, say), whatever the walk said.
    world.apply(parse("pos 2,2.00,2.00,0.00"))
    assert bar.walk is None
    clock.now += 5
    assert bar.position == (2.0, 2.0, 0.0)


def test_mirror_follows_version_1_pos_lines_without_walks() -> None:
    clock = FakeClock()
    world = WorldMirror(clock)
    world.apply(parse("wel 1,foo,0.00,0.00,0.00"))
    for step in range(1, 4):
        world.apply(parse(f"pos 1,{step / 2:.2f},0.00,0.00"))
        clock.now += 0.1
        assert world.me is not None and world.me.position == (step / 2, 0.0, 0.0)
    assert world.me.walk is None


def test_mirror_ignores_walks_of_entities_it_was_never_told_about() -> None:
    world = WorldMirror(FakeClock())
    world.apply(parse("wel 1,foo,0.00,0.00,0.00"))
    assert world.apply(parse("wlk 9,0.00,0.00,0.00,1.00,0.00,0.00,5.00")) is None
    assert list(world.entities) == [1]


def test_a_standing_walk_of_length_zero_is_at_its_target() -> None:
    course = Course((1.0, 1.0, 1.0), (1.0, 1.0, 1.0), 5.0, 0.0)
    assert course.position_at(0.0) == (1.0, 1.0, 1.0)
    assert Course((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), 0.0, 0.0).position_at(9.0) == (0, 0, 0)


COORD = st.floats(-1e4, 1e4, allow_nan=False)
POINT = st.tuples(COORD, COORD, COORD)


@given(POINT, POINT, st.floats(0.01, 100), st.lists(st.floats(0, 1e4), min_size=2, max_size=8))
def test_a_course_moves_forward_only_and_never_past_its_target(
    start: tuple[float, float, float],
    target: tuple[float, float, float],
    speed: float,
    times: list[float],
) -> None:
    course = Course(start, target, speed, 0.0)
    walked = [math.dist(start, course.position_at(t)) for t in sorted(times)]
    assert all(d <= course.length * (1 + 1e-9) + 1e-9 for d in walked)
    assert all(a <= b + 1e-6 for a, b in itertools.pairwise(walked))
    for t, d in zip(sorted(times), walked, strict=True):
        assert d == pytest.approx(min(speed * t, course.length), rel=1e-6, abs=1e-6)
    assert course.position_at(course.arrival()) == target


@given(st.lists(st.text(alphabet="0123456789.,-e+naif ", max_size=12), max_size=10))
def test_any_wlk_line_parses_to_a_walk_or_unknown(args: list[str]) -> None:
    message = parse("wlk " + ",".join(args))
    assert isinstance(message, Walk | Unknown)
    if isinstance(message, Walk):
        assert message.speed >= 0 and all(map(math.isfinite, message.target))


# -- the Twisted client with a fake transport ------------------------------------------


class Recorder:
    """A listener that keeps every message and can wait for one."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._cursor = 0
        self._waiting: list[tuple[Callable[[Message], bool], defer.Deferred[Message]]] = []

    def docmd(self, client: object, cmd: Message) -> None:
        self.messages.append(cmd)
        self._check()

    def wait_for(
        self, predicate: Callable[[Message], bool], timeout: float = 5.0
    ) -> defer.Deferred[Message]:
        """The next message (from the last one waited for on) that matches."""
        d: defer.Deferred[Message] = defer.Deferred()
        timer = reactor.callLater(
            timeout, lambda: d.called or d.errback(TimeoutError(f"not seen; got {self.messages}"))
        )
        d.addBoth(lambda r: (timer.active() and timer.cancel(), r)[1])
        self._waiting.append((predicate, d))
        self._check()
        return d

    def _check(self) -> None:
        while self._waiting and self._cursor < len(self.messages):
            message = self.messages[self._cursor]
            self._cursor += 1
            predicate, d = self._waiting[0]
            if predicate(message):
                self._waiting.pop(0)
                d.callback(message)


def fake_client(**kwargs: object) -> tuple[MudClient, StringTransport, task.Clock, Recorder]:
    clock, transport, recorder = task.Clock(), StringTransport(), Recorder()
    client = MudClient(recorder, clock=clock, **kwargs)  # type: ignore[arg-type]
    client.makeConnection(transport)
    return client, transport, clock, recorder


def test_send_escapes_every_argument() -> None:
    client, transport, _, _ = fake_client()
    client.login("foo", "a,b%", "1")
    client.say("hello, world")
    client.move(1, -2.5, 3e-3)
    client.send("idl")
    assert transport.value() == b"con foo,a%2Cb%25,1\nsay hello%2C world\nmov 1.0,-2.5,0.003\nidl\n"
    with pytest.raises(ValueError):
        client.move(float("nan"), 0, 0)


def test_keepalive_sends_idl_only_after_silence() -> None:
    client, transport, clock, _ = fake_client(keepalive=5.0)
    clock.advance(4.9)
    assert transport.value() == b""
    clock.advance(0.1)
    assert transport.value() == b"idl\n"
    clock.advance(2)
    client.say("hi")  # sending counts: the next idl is due 5 s after this
    transport.clear()
    clock.advance(4.9)
    assert transport.value() == b""
    clock.advance(0.1)
    assert transport.value() == b"idl\n"
    client.connectionLost(Failure(ConnectionClosed("test")))
    assert clock.getDelayedCalls() == []


def test_docmd_gets_every_line_and_login_sees_the_whole_world() -> None:
    client, _, _, recorder = fake_client()
    client.move(1, 2, 3)  # before login: its err must not be taken for the login's answer
    seen: list[int] = []
    client.login("foo", "1234").addCallback(lambda w: seen.append(len(client.world)))
    client.dataReceived(
        b"err notlogged,log in first\nwel 3,foo,1.00,0.00,0.00\n"
        b"ent 2,player,bar,0.00,0.00,0.00\nent 3,player,foo,1.00,0.00,0.00\nzzz new\n"
    )
    assert [m.code for m in recorder.messages] == ["err", "wel", "ent", "ent", "zzz"]
    assert seen == [2]
    assert client.welcome == Welcome(3, "foo", 1.0, 0.0, 0.0)


@pytest.mark.parametrize("code", ["badlogin", "unavailable"])
def test_login_failure_carries_the_err_code(code: str) -> None:
    client, _, _, _ = fake_client()
    d = client.login("foo", "nope")
    client.dataReceived(f"err {code},no login now\n".encode())
    failure = failure_of(d)
    assert failure.check(ServerError)
    assert failure.value.code == code


def failure_of(d: defer.Deferred[Welcome]) -> Failure:
    results: list[object] = []
    d.addBoth(results.append)
    assert len(results) == 1 and isinstance(results[0], Failure), results
    return results[0]


# -- against the real server -------------------------------------------------------


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("impatient"), "--idle-timeout", "1") as process:
        yield process


@pytest.fixture
def attach_servers(
    request: pytest.FixtureRequest, server: ServerProcess, impatient_server: ServerProcess
) -> None:
    request.instance.server = server
    request.instance.impatient = impatient_server


@pytest.mark.usefixtures("attach_servers")
class LoopbackTests(unittest.TestCase):
    """The Twisted client against ``twistd -n mudserver`` on 127.0.0.1."""

    server: ServerProcess
    impatient: ServerProcess

    async def open(
        self, server: ServerProcess | None = None, **kwargs: object
    ) -> tuple[MudClient, Recorder]:
        server = server or self.server
        recorder = Recorder()
        client = await connect(server.host, server.port, recorder, **kwargs)  # type: ignore[arg-type]
        self.addCleanup(client.close)
        return client, recorder

    async def test_login_success_fills_the_mirror(self) -> None:
        client, _ = await self.open()
        welcome = await client.login("FOO", "1234")
        assert welcome.name == "foo" and welcome.id >= 1
        assert client.world.me is not None and client.world.me.name == "foo"
        assert await client.quit() == "quit"

    async def test_each_login_failure_code(self) -> None:
        client, _ = await self.open()
        for name, password, version, code in [
            ("foo", "wrong", "1", "badlogin"),
            ("nobody", "1234", "1", "badlogin"),
            ("foo", "1234", "9", "badproto"),
        ]:
            with pytest.raises(ServerError) as caught:
                await client.login(name, password, version)
            assert caught.value.code == code
        await client.login("foo", "1234")
        with pytest.raises(ServerError) as caught:
            await client.login("bar", "4321")
        assert caught.value.code == "already"

        third, _ = await self.open()
        for _ in range(2):
            with pytest.raises(ServerError):
                await third.login("foo", "bad")
        with pytest.raises(ServerError) as caught:
            await third.login("foo", "bad")
        assert caught.value.code == "badlogin"
        assert await third.when_closed() == "badlogin"

    async def test_world_mirror_after_two_clients_move(self) -> None:
        # foo speaks version 2 (the default) and bar version 1: both mirrors
        # end up with both players standing where they walked to.
        foo, foo_seen = await self.open()
        bar, bar_seen = await self.open(version="1")
        foo_id = (await foo.login("foo", "1234")).id
        bar_id = (await bar.login("bar", "4321")).id
        # Longer than one tick's step (5 at speed 50): a walk that ends in the
        # tick it starts in is told as a pos alone.
        foo.move(20, 0, 0)
        bar.move(0, 30, 15)
        expected = {
            foo_id: Entity(foo_id, "player", "foo", 20.0, 0.0, 0.0),
            bar_id: Entity(bar_id, "player", "bar", 0.0, 30.0, 15.0),
        }
        for client, seen in [(foo, foo_seen), (bar, bar_seen)]:
            await seen.wait_for(lambda _, c=client: c.world.entities == expected)
        assert foo.world.self_id == foo_id and bar.world.self_id == bar_id
        walks = [m for m in foo_seen.messages if isinstance(m, Walk)]
        assert {(w.id, w.target) for w in walks} == {
            (foo_id, (20.0, 0.0, 0.0)),
            (bar_id, (0.0, 30.0, 15.0)),
        }
        assert not any(isinstance(m, Walk) for m in bar_seen.messages)
        await bar.quit()
        await foo_seen.wait_for(lambda m: m == Delete(bar_id))
        assert list(foo.world.entities) == [foo_id]

    async def test_docmd_is_called_for_every_server_line(self) -> None:
        lines: list[str] = []

        class Tap(MudClient):
            def lineReceived(self, line: bytes) -> None:
                lines.append(line.decode())
                super().lineReceived(line)

        recorder = Recorder()
        client = Tap(recorder)
        from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

        await connectProtocol(
            TCP4ClientEndpoint(reactor, self.server.host, self.server.port), client
        )
        client.send("jmp", "1")
        await client.login("foo", "1234")
        client.say("one, two")
        client.move(0, 0, 0)
        await recorder.wait_for(lambda m: isinstance(m, Said))
        await client.quit()
        assert [m.code for m in recorder.messages][:2] == ["err", "wel"]
        assert recorder.messages[-1] == Bye("quit")
        assert recorder.messages == [parse(line) for line in lines]

    async def test_keepalive_beats_a_short_idle_timeout(self) -> None:
        kept, kept_seen = await self.open(self.impatient, keepalive=0.3)
        silent, _ = await self.open(self.impatient, keepalive=None)
        await kept.login("foo", "1234")
        await silent.login("bar", "4321")
        assert await silent.when_closed() == "timeout"  # about 1 s: the timeout is real
        await task.deferLater(reactor, 1.0, lambda: None)
        assert kept.close_reason is None
        assert not any(isinstance(m, Bye) for m in kept_seen.messages)

    async def test_connect_to_nobody_fails(self) -> None:
        with pytest.raises(ConnectError):
            await connect("127.0.0.1", free_port())


# -- the blocking client -----------------------------------------------------------


def test_blocking_client_chats_and_mirrors(server: ServerProcess) -> None:
    heard: list[Message] = []

    class Listener:
        def docmd(self, client: object, cmd: Message) -> None:
            heard.append(cmd)

    with BlockingClient(server.host, server.port, Listener(), timeout=5) as foo:
        with BlockingClient(server.host, server.port, timeout=5) as bar:
            with pytest.raises(ServerError) as caught:
                foo.login("foo", "0000")
            assert caught.value.code == "badlogin"
            me = foo.login("foo", "1234")
            bar.login("bar", "4321")
            assert foo.world.me is not None and foo.world.me.id == me.id
            bar.say("100% sure, mostly")
            said = next(m for m in foo if isinstance(m, Said))
            assert (said.name, said.text) == ("bar", "100% sure, mostly")
            assert bar.quit() == "quit"
            assert next(m for m in foo if isinstance(m, Delete)).id not in foo.world
        assert foo.quit() == "quit"
    assert heard[0] == Error("badlogin", "unknown user or wrong password")
    assert heard[-1] == Bye("quit")


def test_blocking_client_works_out_a_walk_between_its_ends(server: ServerProcess) -> None:
    with BlockingClient(server.host, server.port, timeout=5) as foo:
        with BlockingClient(server.host, server.port, timeout=5, version="1") as bar:
            foo.login("foo", "1234")
            bar_id = bar.login("bar", "4321").id
            for _ in foo.messages(until=time.monotonic() + 5):
                if bar_id in foo.world:
                    break
            x, y, z = foo.world.get(bar_id).position  # type: ignore[union-attr]
            bar.move(x + 100, y, z)  # 2 s at the test server's speed of 50
            walk = next(m for m in foo if isinstance(m, Walk) and m.id == bar_id)
            assert walk.target == (x + 100, y, z) and walk.speed == 50.0
            walker = foo.world.get(bar_id)
            assert walker is not None and walker.walking
            # Version 2 sends nothing while the walk goes on; the mirror knows anyway.
            quiet = [
                m for m in foo.messages(time.monotonic() + 0.5) if getattr(m, "id", 0) == bar_id
            ]
            assert quiet == []
            wx, wy, wz = walker.position
            assert walk.x + 10 < wx < x + 100 and (wy, wz) == pytest.approx((y, z))
            stood = next(m for m in foo if isinstance(m, Position) and m.id == bar_id)
            assert stood.position == walk.target == walker.position and walker.walk is None
            # bar speaks version 1: pos lines every tick, and no walks in its mirror.
            steps = [m for m in bar.poll() if isinstance(m, Position) and m.id == bar_id]
            assert len(steps) >= 10 and bar.world.me is not None and bar.world.me.walk is None
        foo.quit()


# -- the examples in docs/clients.md -------------------------------------------------


def doc_example(name: str) -> str:
    """The Python block of docs/clients.md that starts with ``# name``."""
    text = (REPO / "docs" / "clients.md").read_text()
    (block,) = re.findall(rf"```python\n(# {re.escape(name)}.*?)```", text, flags=re.S)
    return block


def run_example(tmp_path: Path, name: str, port: int) -> subprocess.Popen[str]:
    script = tmp_path / name
    script.write_text(doc_example(name))
    return subprocess.Popen(
        [sys.executable, str(script), str(port)],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_echo_bot_example(server: ServerProcess, tmp_path: Path) -> None:
    bot = run_example(tmp_path, "echo_bot.py", server.port)
    try:
        assert bot.stdout is not None
        assert bot.stdout.readline().startswith("logged in as bar; here: ")
        with LineClient(server.host, server.port) as foo:
            foo.login("foo", "1234")
            foo.send("say ping, pong")
            echo = foo.read_until(lambda line: line.startswith("say ") and ",bar," in line)
            assert echo[-1].endswith(",bar,foo said: ping%2C pong")
            with LineClient(server.host, server.port) as bar:
                bar.login("bar", "4321")  # takes the bot's place
                output, _ = bot.communicate(timeout=10)
        assert output == "closed: replaced\n"
        assert bot.returncode == 0
    finally:
        bot.kill()
        bot.wait()


def test_blocking_example(server: ServerProcess, tmp_path: Path) -> None:
    walk = run_example(tmp_path, "walk.py", server.port)
    try:
        output, _ = walk.communicate(timeout=15)
    finally:
        walk.kill()
    assert walk.returncode == 0, output
    lines = output.splitlines()
    assert lines[0].startswith("I am foo, entity ")
    assert "foo says: hello, world" in lines
    assert lines[-1] == "quit: quit"
