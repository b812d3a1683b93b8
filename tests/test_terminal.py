"""``python -m mudserver.client`` driven in a pseudo-terminal, as a person would."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from twisted.internet import task

from mudserver.client import parse
from mudserver.client.display import Display
from tests.support import (
    REPO,
    SHARED_SERVER,
    LineClient,
    ServerProcess,
    free_port,
    running_server,
)

pexpect = pytest.importorskip("pexpect")

#: The rest of one screen line (pexpect's "." also matches line ends).
REST = r"[^\r\n]*"

Spawn = Callable[..., "pexpect.spawn"]


@pytest.fixture
def spawn(server: ServerProcess) -> Iterator[Spawn]:
    """Start terminal clients on *server*; every one is gone after the test."""
    children: list[pexpect.spawn] = []

    def start(*args: str, port: int | None = None) -> pexpect.spawn:
        where = ["--host", server.host, "--port", str(port or server.port)]
        child = pexpect.spawn(
            sys.executable,
            ["-m", "mudserver.client", *where, *args],
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            encoding="utf-8",
            timeout=10,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        child.close(force=True)


def finish(child: pexpect.spawn) -> tuple[int, str]:
    """Wait for the client to exit; its status and what it printed last."""
    child.expect(pexpect.EOF)
    output = child.before
    child.close()
    assert "Traceback" not in output
    return child.exitstatus, output


def test_two_people_chat_and_see_each_other_arrive(spawn: Spawn) -> None:
    foo = spawn("--user", "foo", "--password", "1234")
    foo.expect(r"logged in as foo \(entity \d+\) at \(")
    bar = spawn("--user", "bar", "--password", "4321")
    bar.expect(r"logged in as bar")
    bar.expect(r"foo is here at \(" + REST)
    foo.expect(r"bar appeared at \(" + REST)

    foo.sendline("say hello, world")
    bar.expect(r"foo says: hello, world\r\n")
    foo.expect(r"foo says: hello, world\r\n")
    foo.sendline("say 100%25 literal")  # what a person types is what others read
    bar.expect(r"foo says: 100%25 literal\r\n")

    bar.sendline("mov 10,0,3")  # three ticks at speed 50
    foo.expect(r"bar walks to \(10\.00, 0\.00, 3\.00\)\r\n")
    foo.expect(r"bar arrived at \(10\.00, 0\.00, 3\.00\)\r\n")
    bar.expect(r"you arrived at \(10\.00, 0\.00, 3\.00\)\r\n")
    bar.sendline("mov 10,1,3")  # ends in the tick it starts in: no wlk, just the arrival
    foo.expect(r"bar arrived at \(10\.00, 1\.00, 3\.00\)\r\n")
    assert "walks" not in foo.before

    bar.sendline("/quit")
    status, output = finish(bar)
    assert (status, output.strip().splitlines()[-1]) == (0, "bye.")
    foo.expect(r"bar left\r\n")
    foo.sendline("/who")
    foo.expect(r"foo \(you\) at \(" + REST)
    foo.sendline("/quit")
    assert finish(foo)[0] == 0


@pytest.mark.parametrize("protocol", ["1", "2"])
def test_movement_is_summarised_not_printed_per_tick(
    spawn: Spawn, server: ServerProcess, protocol: str
) -> None:
    watcher = spawn("--user", "foo", "--password", "1234", "--protocol", protocol)
    watcher.expect("logged in as foo")
    walks = protocol == "2"  # version 1 has no walks to announce, only arrivals
    with LineClient(server.host, server.port) as bar:
        bar.login("bar", "4321")
        bar.send("mov 20,0,0")  # 4 ticks at speed 50
        if walks:
            watcher.expect(r"bar walks to \(20\.00, 0\.00, 0\.00\)\r\n")
        watcher.expect(r"bar arrived at \(20\.00, 0\.00, 0\.00\)\r\n")
        assert "arrived" not in watcher.before
        assert "pos" not in watcher.before
        assert "walks" not in watcher.before
        bar.send("mov 0,0,0")
        watcher.expect(r"bar arrived at \(0\.00, 0\.00, 0\.00\)\r\n")
        assert ("bar walks to (0.00, 0.00, 0.00)" in watcher.before) is walks
        watcher.sendline("/who")
        watcher.expect(r"bar at \(0\.00, 0\.00, 0\.00\)\r\n")
    watcher.sendline("/quit")
    finish(watcher)


def test_mistakes_get_one_line_each_never_a_traceback(spawn: Spawn) -> None:
    child = spawn()
    child.expect("type /help for help")
    for typed, answer in [
        ("mov 1,2", "mov needs 3 numbers: x,y,z"),
        ("mov 1,x,2", "not a number: 'x'"),
        ("jmp 1", "unknown command 'jmp'"),
        ("say", "say needs some text"),
        ("/frobnicate", "unknown command /frobnicate"),
        ("say hi", "error: log in first"),  # the server's answer, in words
    ]:
        child.sendline(typed)
        child.expect_exact(answer)
    child.sendline("/help")
    child.expect("/quit")
    child.sendline("con foo,wrong,1")
    child.expect("login failed: unknown user or wrong password")
    child.sendline("bye")
    assert finish(child)[0] == 0


def test_unreachable_server_is_a_clear_error(spawn: Spawn) -> None:
    status, output = finish(spawn(port=free_port()))
    assert status == 1
    assert "cannot connect to 127.0.0.1:" in output


def test_refused_login_exits_with_an_error(spawn: Spawn) -> None:
    status, output = finish(spawn("--user", "foo", "--password", "nope"))
    assert status == 1
    assert "login failed: unknown user or wrong password" in output


def test_server_closing_the_connection_is_reported(spawn: Spawn, server: ServerProcess) -> None:
    child = spawn("--user", "foo", "--password", "1234")
    child.expect("logged in as foo")
    with LineClient(server.host, server.port) as other:
        assert other.login("foo", "1234").startswith("wel ")
        status, output = finish(child)
    assert status == 1
    assert "connection closed by server: replaced" in output


def test_raw_mode_shows_wire_lines_and_ctrl_d_quits(spawn: Spawn) -> None:
    child = spawn("--raw")
    child.expect("type /help for help")
    child.sendline("con bar,4321,1")
    child.expect(r"wel \d+,bar," + REST)
    child.sendline("say 100% sure")
    child.expect(r"say \d+,bar,100%25 sure\r\n")
    child.sendeof()
    child.expect_exact("bye quit")
    assert finish(child)[0] == 0


def test_use_by_name_or_id_and_a_password_never_shown(spawn: Spawn) -> None:
    child = spawn()
    child.logfile_read = screen = io.StringIO()  # everything the terminal showed
    child.expect("type /help for help")
    child.sendline("/use signpost")
    child.expect_exact("not logged in")
    child.sendline("con foo,1234,2")
    child.expect("logged in as foo")
    child.sendline("/use signpost read")  # nothing in this world is called that
    child.expect_exact("nothing called signpost is in view (/who lists what is here)")
    child.sendline("/use 7 read")  # an id goes to the server, which has no thing 7
    child.expect(r"cannot use that: [^\r\n]*7")
    child.sendline("use 7,read,the small print")
    child.expect(r"cannot use that: [^\r\n]*7")
    child.sendline("/use 7 r!ead the sign")
    child.expect_exact("a verb is a word of up to 16 letters, digits or _")

    child.sendline("/password")
    child.expect_exact("current password:")
    child.sendline("secret-old")
    child.expect_exact("new password:")
    child.sendline("secret-new-1")
    child.expect_exact("new password again:")
    child.sendline("secret-new-2")
    child.expect_exact("the two new passwords differ; nothing was changed")
    child.sendline("say echo is back")  # what is typed after the questions shows again
    child.expect_exact("say echo is back")
    child.sendline("pwd 1234")
    child.expect_exact("pwd needs OLD,NEW")
    child.sendline("/quit")
    assert finish(child)[0] == 0
    assert "current password:" in screen.getvalue() and "secret" not in screen.getvalue()


def test_the_sample_games_things_by_kind_and_by_name(spawn: Spawn, tmp_path: Path) -> None:
    with running_server(tmp_path, "--game=sample", *SHARED_SERVER) as sample:
        child = spawn("--user", "foo", "--password", "1234", port=sample.port)
        child.logfile_read = screen = io.StringIO()
        child.expect_exact("Ada [npc] is here at (4.00, 3.00, 0.00)")
        child.expect_exact("the game tells you: Welcome to the sample world!")
        child.expect_exact("Ada tells you: Welcome, foo! I am Ada.")
        child.sendline("/use signpost read")
        child.expect_exact("signpost tells you: North-west: the meadow.")
        child.sendline("/use APPLE TREE count")  # a name of two words, in any case
        child.expect_exact("cannot use that: come within 10 units of it first")
        child.sendline("/who")
        child.expect(r"signpost \[thing\] #\d+ at \(-3\.00, 2\.00, 0\.00\)")
        child.sendline("/quit")
        assert finish(child)[0] == 0
    assert "[creature] walks" not in screen.getvalue()  # Rex and the sheep wander untold


def test_sign_up_and_change_the_password(spawn: Spawn, server: ServerProcess) -> None:
    name = f"tt{os.getpid() % 100000}"
    child = spawn("--new", "--user", name)
    child.expect_exact(f"password for the new account {name}:")
    child.sendline("first password")
    child.expect_exact("the same password again:")
    child.sendline("first password")
    child.expect(rf"logged in as {name} \(entity \d+\)")
    child.sendline("/password")
    child.expect_exact("current password:")
    child.sendline("first password")
    child.expect_exact("new password:")
    child.sendline("second password")
    child.expect_exact("new password again:")
    child.sendline("second password")
    child.expect_exact("password changed")
    child.sendline("/quit")
    status, output = finish(child)
    assert status == 0 and "password\r\n" not in output.replace("password changed", "")
    with LineClient(server.host, server.port) as check:
        assert check.login(name, "second password").startswith("wel ")
    taken = spawn("--new", "--user", name, "--password", "third password")
    status, output = finish(taken)
    assert status == 1 and "sign-up failed: " in output


# -- the display, without a terminal ---------------------------------------------------


def make_display(version: str = "2") -> tuple[Display, list[str], task.Clock]:
    lines: list[str] = []
    clock = task.Clock()
    return Display(lines.append, clock, version=version), lines, clock


def show(display: Display, *wire: str) -> None:
    for line in wire:
        display.show(parse(line))


def test_display_reports_version_1_arrivals_not_ticks() -> None:
    display, lines, clock = make_display("1")
    show(display, "wel 1,foo,0.00,0.00,0.00", "ent 1,player,foo,0.00,0.00,0.00")
    show(display, "ent 2,player,bar,0.00,0.00,0.00")
    clock.advance(0)
    show(display, "ent 3,player,baz,5.00,0.00,0.00")
    assert lines[1:] == ["bar is here at (0.00, 0.00, 0.00)", "baz appeared at (5.00, 0.00, 0.00)"]
    del lines[:]
    for step in range(1, 5):
        show(display, f"pos 2,{step / 2:.2f},0.00,0.00")
        clock.advance(0.1)
    assert lines == []
    clock.advance(0.5)
    assert lines == ["bar arrived at (2.00, 0.00, 0.00)"]


def test_display_reports_my_version_1_arrival_at_my_destination_at_once() -> None:
    display, lines, clock = make_display("1")
    show(display, "wel 1,foo,0.00,0.00,0.00")
    display.moving_to(1, 0, -0.001)
    show(display, "pos 1,0.50,0.00,0.00")
    assert lines[1:] == []
    show(display, "pos 1,1.00,0.00,0.00")
    assert lines[1:] == ["you arrived at (1.00, 0.00, 0.00)"]
    clock.advance(10)
    assert len(lines) == 2


def test_display_tells_version_2_walks_and_where_they_end() -> None:
    display, lines, clock = make_display()
    show(display, "wel 1,foo,0.00,0.00,0.00", "ent 2,player,bar,0.00,0.00,0.00")
    show(display, "wlk 2,0.00,0.00,0.00,10.00,20.00,0.00,5.00")
    clock.advance(10)
    show(display, "pos 2,10.00,20.00,0.00")
    # A walk cut short (a new target, then a stop before it) ends standing.
    show(display, "wlk 2,10.00,20.00,0.00,30.00,20.00,0.00,5.00")
    show(display, "pos 2,12.50,20.00,0.00")
    # Somebody who comes into view while walking: ent, then wlk.
    show(display, "ent 3,player,baz,1.00,1.00,0.00", "wlk 3,1.00,1.00,0.00,2.00,1.00,0.00,1.00")
    # My own walk: I typed where to, so only the end is news.
    show(display, "wlk 1,0.00,0.00,0.00,1.00,0.00,0.00,5.00", "pos 1,1.00,0.00,0.00")
    show(display, "wlk 1,1.00,0.00,0.00,9.00,0.00,0.00,5.00", "pos 1,2.00,0.00,0.00")
    show(display, "pos 2,12.70,20.00,0.00")  # a walk that began and ended in one tick
    assert lines[2:] == [
        "bar walks to (10.00, 20.00, 0.00)",
        "bar arrived at (10.00, 20.00, 0.00)",
        "bar walks to (30.00, 20.00, 0.00)",
        "bar stands at (12.50, 20.00, 0.00)",
        "baz appeared at (1.00, 1.00, 0.00)",
        "baz walks to (2.00, 1.00, 0.00)",
        "you arrived at (1.00, 0.00, 0.00)",
        "you stand at (2.00, 0.00, 0.00)",
        "bar arrived at (12.70, 20.00, 0.00)",
    ]
    clock.advance(10)
    assert len(lines) == 11  # no timers in version 2: nothing more comes


def test_display_shows_control_characters_harmlessly() -> None:
    display, lines, _ = make_display()
    show(display, "say 2,bar,%1B[2Jgotcha%0Anext line", "del 7")
    assert lines == ["bar says: \\x1b[2Jgotcha\\x0anext line", "entity 7 left"]


def test_display_names_things_by_kind_and_tells_what_they_tell_you() -> None:
    display, lines, clock = make_display()
    show(display, "wel 1,foo,0.00,0.00,0.00", "ent 7,npc,greeter,2.00,0.00,0.00")
    clock.advance(0)
    show(
        display,
        "ent 9,creature,sheep,30.00,0.00,0.00",
        "wlk 9,30.00,0.00,0.00,35.00,0.00,0.00,1.00",  # things wander untold
        "pos 9,35.00,0.00,0.00",
        "say 7,greeter,Welcome%2C foo!",
        "msg 7,greeter,The well is east.",
        "msg 0,,You found 3 coins.",
        "ack pwd",
        "err toofar,come within 10 units of it first",
        "err badpass,the current password is wrong",
        "err taken,that name is taken",
        "del 9",
    )
    assert lines[1:] == [
        "greeter [npc] is here at (2.00, 0.00, 0.00)",
        "sheep [creature] appeared at (30.00, 0.00, 0.00)",
        "greeter [npc] says: Welcome, foo!",
        "greeter tells you: The well is east.",
        "the game tells you: You found 3 coins.",
        "password changed",
        "cannot use that: come within 10 units of it first",
        "password not changed: the current password is wrong",
        "sign-up failed: that name is taken",
        "sheep [creature] left",
    ]


def test_display_tells_version_1_things_steps_no_more_than_their_walks() -> None:
    display, lines, clock = make_display("1")
    show(display, "wel 1,foo,0.00,0.00,0.00", "ent 9,creature,sheep,0.00,0.00,0.00")
    show(display, "pos 9,0.50,0.00,0.00", "pos 9,1.00,0.00,0.00")
    clock.advance(10)
    assert lines[1:] == ["sheep [creature] is here at (0.00, 0.00, 0.00)"]
