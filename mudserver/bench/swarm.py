"""The bots' process seen from the runner: start it, ask it, wait for it, stop it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from typing import IO, Any

from mudserver.bench.bots import SwarmConfig
from mudserver.bench.server import REPO, pin

__all__ = ["SwarmProcess", "wait_ready"]


class SwarmProcess:
    """The bots' process, and the JSON lines it talks in."""

    def __init__(self, config: SwarmConfig, cpu: int | None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mudserver.bench.bots", json.dumps(asdict(config))],
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=pin(cpu),
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[str] = self.process.stdin
        self.stdout: IO[str] = self.process.stdout

    def ask(self, command: str) -> dict[str, Any]:
        self.stdin.write(command + "\n")
        self.stdin.flush()
        return self.read()

    def tell(self, command: str) -> None:
        self.stdin.write(command + "\n")
        self.stdin.flush()

    def read(self) -> dict[str, Any]:
        line = self.stdout.readline()
        if not line:
            raise RuntimeError("the bot process died")
        result: dict[str, Any] = json.loads(line)
        return result

    def stop(self) -> None:
        try:
            self.tell("stop")
            self.process.wait(20)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(10)


def wait_ready(
    swarms: list[SwarmProcess], count: int, timeout: float, label: str | None
) -> list[dict[str, Any]]:
    """Poll the swarms of *count* bots each until every bot is in (or failed).

    Draws a progress bar behind *label* (``None``: quietly); gives up after
    *timeout* seconds.
    """
    deadline = time.monotonic() + timeout
    wanted = count * len(swarms)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        progress = [swarm.ask("progress")["progress"] for swarm in swarms]
        if label is not None:
            playing = sum(p["playing"] for p in progress)
            done = int(40 * playing / wanted)
            sys.stderr.write(
                f"\r{label} N={wanted:<6} "
                f"[{'#' * done}{'.' * (40 - done)}] "
                f"{playing}/{wanted} in, {sum(p['refused'] for p in progress)} refused, "
                f"{sum(p['dropped'] for p in progress)} dropped, "
                f"{sum(p['logins_per_s'] for p in progress):.0f} logins/s "
            )
            sys.stderr.flush()
        if all(p["ready"] for p in progress):
            if label is not None:
                sys.stderr.write("\n")
            return progress
    raise RuntimeError(f"bots not all logged in after {deadline} s")
