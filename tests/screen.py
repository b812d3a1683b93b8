"""A program on a real terminal: tmux, driven by keys and read from its screen.

The end-to-end tests of the terminal programs a player runs (TinTin++, the
terminal client) start them here, in a detached session on a private tmux
server, type as a person would and read what the screen shows.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

__all__ = ["Screen"]


class Screen:
    """*command* in a detached tmux session on a private tmux server."""

    def __init__(self, command: str, env: dict[str, str] | None = None) -> None:
        self.socket = f"mudserver-test-{os.getpid()}-{time.monotonic_ns()}"
        self.env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        self.env.update(env or {})
        self.tmux("new-session", "-d", "-s", "tt", "-x", "200", "-y", "50", command)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
            env=self.env,
            check=True,
        )
        return done.stdout

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "tt", "-l", text)
        self.tmux("send-keys", "-t", "tt", "Enter")

    def text(self) -> str:
        """The whole screen and its scrollback."""
        return self.tmux("capture-pane", "-p", "-t", "tt", "-S", "-")

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text(), flags=re.M)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not on the screen:\n{self.text()}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"],
            capture_output=True,
            timeout=10,
            env=self.env,
            check=False,
        )
