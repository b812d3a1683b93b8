"""A real TinTin++ plays against the real server, in tmux: text, MSSP and GMCP.

A crawler's plain-text MSSP request over a real socket is checked here too.

It runs the script docs/clients.md shows (Telnet debug output on, a GMCP
event that prints the position, an action that shows chat), logs in, walks
and chats with a second player, and reads what TinTin++ shows on its screen.
``.ci/run`` installs ``tintin++`` and ``tmux``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.screen import Screen
from tests.support import LineClient, ServerProcess, running_server

TT = "/usr/games/tt++"

SCRIPT = r"""#config {debug telnet} on
#event {SESSION CONNECTED} {#send {\xFF\xFD\xC9}}
#event {IAC WILL GMCP} {#send {\xFF\xFD\xC9}}
#event {IAC SB GMCP Char.Position IAC SE} {#var here {%0};#showme HERE $here[x],$here[y]}
#action {^say %1,%2,%3$} {#showme CHAT <%2> %3}
#action {^msg %1,%2,%3$} {#showme TOLD <%2> %3}
#event {IAC SB GMCP Comm.Channel.Text IAC SE} CHANNEL
#session mud 127.0.0.1 PORT
""".replace("CHANNEL", "{#var chat {%0};#showme ($chat[channel]) $chat[talker]: $chat[text]}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path, "--name=Test Mud", "--idle-timeout=60") as process:
        yield process


@pytest.fixture
def tintin(tmp_path: Path) -> Iterator[Callable[[ServerProcess], Screen]]:
    """Starts TinTin++ on the script above for a server; every one is gone after the test."""
    if not os.access(TT, os.X_OK):
        pytest.skip(f"{TT} is missing (CI installs it: apt-get install tintin++)")
    if shutil.which("tmux") is None:
        pytest.skip("tmux is missing (CI installs it: apt-get install tmux)")
    screens: list[Screen] = []

    def start(server: ServerProcess) -> Screen:
        script = tmp_path / f"mud{len(screens)}.tin"
        script.write_text(SCRIPT.replace("PORT", str(server.port)))
        screens.append(Screen(f"{TT} -G {script}"))
        return screens[-1]

    try:
        yield start
    finally:
        for screen in screens:
            screen.close()


@pytest.fixture
def screen(server: ServerProcess, tintin: Callable[[ServerProcess], Screen]) -> Screen:
    return tintin(server)


def test_tintin_plays_with_mssp_and_gmcp(server: ServerProcess, screen: Screen) -> None:
    # The script asks for GMCP at connect, which brings the offer of MSSP;
    # TinTin++ accepts MSSP by itself and prints the variables.
    screen.wait_for(r"^RCVD IAC WILL MSSP")
    screen.wait_for(r"^RCVD IAC SB MSSP VAR NAME +VAL Test Mud$")
    screen.wait_for(r"^RCVD IAC SB MSSP VAR PLAYERS +VAL 0$")
    screen.wait_for(r"^RCVD IAC SB MSSP VAR CODEBASE +VAL mudserver \S+$")
    screen.wait_for(r"^RCVD IAC WILL GMCP")

    screen.type("con foo,1234,1")
    wel = screen.wait_for(r"^wel (\d+),foo,")
    foo_id = wel.group(1)
    screen.wait_for(r"^IAC SB GMCP Char.Position IAC SE")
    screen.wait_for(r"^HERE 0.0,0.0$")

    screen.type("mov 1,2,0")
    screen.wait_for(r"^HERE 1.0,2.0$")
    screen.wait_for(rf"^pos {foo_id},1.00,2.00,0.00$")

    with LineClient(server.host, server.port) as bar:
        bar.send("con bar,4321,1")
        bar.read_until(lambda line: line.startswith("wel "))
        screen.wait_for(r"^IAC SB GMCP Room.Entity.Add IAC SE")
        screen.wait_for(r"^ent \d+,player,bar,")
        bar.send("say hello foo")
        screen.wait_for(r"^CHAT <bar> hello foo$")
        screen.wait_for(r"^\(say\) bar: hello foo$")
        screen.wait_for(r"^IAC SB GMCP Comm.Channel.Text IAC SE")
        screen.type("say hi bar")
        bar.read_until(lambda line: line == f"say {foo_id},foo,hi bar")
        bar.send("bye")
        screen.wait_for(r"^IAC SB GMCP Room.Entity.Remove IAC SE")
        screen.wait_for(r"^del \d+$")


def test_tintin_reads_what_a_thing_tells_it(
    tmp_path: Path, tintin: Callable[[ServerProcess], Screen]
) -> None:
    """The sample game: TinTin++ reads the signpost by typing ``use``, as text and as GMCP."""
    with running_server(tmp_path, "--game=sample", "--idle-timeout=60") as server:
        screen = tintin(server)
        screen.wait_for(r"^RCVD IAC WILL GMCP")
        screen.type("con foo,1234,2")
        sign = screen.wait_for(r"^ent (\d+),thing,signpost,").group(1)
        # The game's welcome (msg 0: no name), then Ada's, who sees foo arrive near her.
        screen.wait_for(r"^TOLD <> Welcome to the sample world!")
        screen.wait_for(r"^\(msg\) Ada: Welcome, foo! I am Ada.")
        screen.type(f"use {sign},read")
        screen.wait_for(
            rf"^msg {sign},signpost,North-west: the meadow. South-east: the apple tree."
        )
        screen.wait_for(r"^TOLD <signpost> North-west: the meadow.")
        screen.wait_for(r"^\(msg\) signpost: North-west: the meadow.")
        screen.wait_for(r"^IAC SB GMCP Comm.Channel.Text IAC SE")
        screen.type(f"use {sign},eat")
        screen.wait_for(r"^err badverb,")


def test_crawler_plain_mssp_request_over_tcp(server: ServerProcess) -> None:
    """What a listing crawler without Telnet does; no TinTin++ needed."""
    with LineClient(server.host, server.port) as crawler:
        crawler.send("MSSP-REQUEST")
        lines = crawler.read_until(lambda line: line == "MSSP-REPLY-END\r")
    assert lines[:2] == ["\r", "MSSP-REPLY-START\r"]
    variables = dict(line.rstrip("\r").split("\t") for line in lines[2:-1])
    assert variables["NAME"] == "Test Mud"
    assert variables["PLAYERS"] == "0"
    assert variables["PORT"] == str(server.port)
    assert abs(int(variables["UPTIME"]) - time.time()) < 120
