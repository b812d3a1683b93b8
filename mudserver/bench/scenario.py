"""mudserver-bench's game scenarios: things in the world, and reloads while bots play.

``--things N`` puts N wandering creatures (:class:`~mudserver.bench.things.Wanderer`)
on the bots' square, ``--standing N`` N things that only wait on a timer
(:class:`~mudserver.bench.things.Idler`); both are scattered over the square
by the world file written here.  ``--reload-every S`` runs ``mudserver-admin
reload`` every S seconds of the measured window and keeps, for each reload,
the time it held the server's reactor (its own report: the delay it added
between two ticks) and the longest tick of the window around it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mudserver.bench.server import REPO, scrape

__all__ = ["GAME", "Reloads", "write_world"]

#: The game module the bench's servers run when a scenario has things.
GAME = "mudserver.bench.things"


def write_world(path: Path, wanderers: int, standing: int, half: float, period: float) -> Path:
    """A world file of *wanderers* and *standing* things scattered over ±*half*."""
    entries = [f'game = "{GAME}"\n']
    if wanderers:
        entries.append(
            f'[things.wanderer]\nclass = "Wanderer"\nname = "wanderer"\ncount = {wanderers}\n'
            f"at = [0, 0]\nscatter = {half}\nhalf = {half}\n"
        )
    if standing:
        entries.append(
            f'[things.idler]\nclass = "Idler"\nname = "idler"\ncount = {standing}\n'
            f"at = [0, 0]\nscatter = {half}\nperiod = {period}\n"
        )
    path.write_text("\n".join(entries))
    return path


@dataclass
class Reloads:
    """Reloads during a run's window, and what each cost."""

    socket: Path
    metrics_url: str
    every: float
    #: Seconds each reload held the reactor, as the server reported it.
    held: list[float] = field(default_factory=list)
    #: The server's longest tick of the last 10 s, read after each reload.
    longest: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    _next: float = 0.0

    def start(self) -> None:
        self._next = time.monotonic() + self.every

    def due(self) -> float:
        """Seconds until the next reload."""
        return max(0.0, self._next - time.monotonic())

    def run(self) -> None:
        """Reload now (the console, as an operator runs it), and note what it cost."""
        done = subprocess.run(
            [sys.executable, "-m", "mudserver.tools.admin", f"--socket={self.socket}", "reload"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
        held = re.search(r" in (\d+) ms", done.stdout)
        if done.returncode != 0 or held is None:
            self.failed.append(done.stderr.strip() or done.stdout.strip())
        else:
            self.held.append(int(held.group(1)) / 1000)
        time.sleep(0.3)  # let the server's recent-max gauge cover the reload's tick
        recent = scrape(self.metrics_url).get("mudserver_tick_duration_recent_max_seconds", 0.0)
        self.longest.append(recent)
        self._next = time.monotonic() + self.every
