"""The terminal client in tmux, as a newcomer uses it: sign up, play, change the password.

``tests/test_terminal.py`` drives the client through a pseudo-terminal with
pexpect; here it runs on a real terminal emulator (tmux), where what counts is
what the screen shows: the prompts, the world's lines, and never a password.
``.ci/run`` installs ``tmux``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.screen import Screen
from tests.support import REPO, LineClient, ServerProcess, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path, "--game=sample", "--idle-timeout=60") as process:
        yield process


@pytest.fixture
def name() -> str:
    """The newcomer's account name (fresh data directory per test: always free)."""
    return f"tm{os.getpid() % 100000}"


@pytest.fixture
def terminal(server: ServerProcess, name: str) -> Iterator[Screen]:
    """The terminal client signing up *name*, in tmux."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is missing (CI installs it: apt-get install tmux)")
    where = ["--host", server.host, "--port", str(server.port), "--new", "--user", name]
    command = shlex.join([sys.executable, "-m", "mudserver.client", *where])
    # The shell stays when the client exits, so its last words can be read.
    screen = Screen(f"{command}; echo CLIENT-EXIT=$?; sleep 60", env={"PYTHONPATH": str(REPO)})
    try:
        yield screen
    finally:
        screen.close()


def test_sign_up_play_and_change_the_password_in_tmux(
    terminal: Screen, server: ServerProcess, name: str
) -> None:
    terminal.wait_for(rf"password for the new account {name}:")
    terminal.type("tmux first pw")
    terminal.wait_for("the same password again:")
    terminal.type("tmux first pw")
    terminal.wait_for(rf"logged in as {name} \(entity \d+\)")
    # The sample world is there: the greeter stands near the spawn point.
    terminal.type("/who")
    terminal.wait_for(r"Ada \[npc\] #\d+")
    terminal.type("/password")
    terminal.wait_for("current password:")
    terminal.type("tmux first pw")
    terminal.wait_for("new password:")
    terminal.type("tmux second pw")
    terminal.wait_for("new password again:")
    terminal.type("tmux second pw")
    terminal.wait_for("password changed")
    terminal.type("/quit")
    terminal.wait_for("CLIENT-EXIT=0")
    assert "tmux first pw" not in terminal.text()
    assert "tmux second pw" not in terminal.text()
    with LineClient(server.host, server.port) as check:
        assert check.login(name, "tmux second pw").startswith("wel ")
