"""What a tick of the sans-IO core costs, without sockets: the game's own share.

Logs N players into a :class:`~mudserver.core.game.Game` through real
sessions (with peers that only count bytes), lets them click somewhere every
2-5 s as people do, and times ``Game.tick`` over simulated seconds.  The
kernel's ``send(2)`` is left out on purpose: this isolates the core, so two
versions of it can be compared in one sitting, interleaved, on a noisy
machine (``--repeat``).  A tick is timed in CPU time of this thread
(``time.thread_time``), so another process on the same core inflates it far
less than wall-clock time.  ``mudserver-bench`` measures the whole server.

    PYTHONPATH=. python benchmarks/core_tick.py --n 2000 --protocol 1
    PYTHONPATH=. python benchmarks/core_tick.py --n 2000 --spawn origin --protocol 2
    PYTHONPATH=. python benchmarks/core_tick.py --n 2000 --protocol 2 --phases

``--walkers 0.5`` has only half of the players click (the others stand);
``--things N --walking-things M`` adds N standing things and M walking ones
(the game's NPCs and objects: seen, seeing nothing; cores that have
``Delivery.add`` only), spread over the same square.

``--phases`` also splits each tick's CPU time into the world step (the
simulation a world process would keep), the delivery (interest management
and the formatting of lines: what a connection server would take over) and
the rest (joining each client's lines and handing them to its peer), and
counts the writes per tick.  ``docs/scaling.md`` builds its estimate on it.

Works against older checkouts of the core too (``PYTHONPATH=OTHER_CHECKOUT``),
for before/after figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import math
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.core.session import Session

try:
    from mudserver.account import Account
except ImportError:  # a checkout from before the account had its own module
    from mudserver.store.accounts import Account  # type: ignore[no-redef]

DT = 0.1


class CountingPeer:
    """A connection that keeps nothing but the bytes it was given."""

    __slots__ = ("bytes", "writes")

    def __init__(self) -> None:
        self.bytes = 0
        self.writes = 0

    def send(self, text: str) -> None:
        self.bytes += len(text)
        self.writes += 1

    def close(self) -> None:
        pass


class PhaseTimer:
    """Wraps a callable and adds up the CPU time of this thread spent in it."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.total = 0.0

    def __call__(self, *args: Any) -> Any:
        started = time.thread_time()
        try:
            return self.func(*args)
        finally:
            self.total += time.thread_time() - started


def _collector() -> Any:
    """Garbage collection between ticks, as the server does it (where the core has it)."""
    try:
        from mudserver.gcschedule import GcSchedule
    except ImportError:  # an older checkout: the server collected in its service
        return None
    schedule = GcSchedule(gc)
    schedule.take_over()
    return schedule


def _things(
    game: Game, args: argparse.Namespace, rng: random.Random
) -> tuple[list[Any], list[float]]:
    """Add the standing and walking things; return the walking ones and when each walks."""
    if not (args.things or args.walking_things):
        return [], []
    add = getattr(game.delivery, "add", None)
    if add is None:
        raise SystemExit("this core has no things (Delivery.add)")
    half = args.world / 2
    walking, clicks = [], []
    for i in range(args.things + args.walking_things):
        at = (rng.uniform(-half, half), rng.uniform(-half, half), 0.0)
        thing = game.world.spawn("thing", f"thing{i}", at, speed=game.settings.speed)
        add(thing)
        if i >= args.things:
            walking.append(thing)
            clicks.append(rng.uniform(0, args.every[1]))
    return walking, clicks


def run(args: argparse.Namespace) -> dict[str, float]:
    rng = random.Random(args.seed)
    fields = {f.name for f in dataclasses.fields(Settings)}
    options = {"view_radius": 100.0}
    if "max_in_view" in fields and args.max_in_view:
        options["max_in_view"] = args.max_in_view
    game = Game(Settings(**options), lambda account: None)
    half = args.world / 2
    peers: list[CountingPeer] = []
    sessions: list[Session] = []
    next_click: list[float] = []
    per_tick = max(1, round(args.rate * DT)) if args.rate else args.n
    warmup_ticks = int(args.warmup / DT)
    ticks = int(args.seconds / DT)
    durations: list[float] = []
    step = delivery = None
    now, tick, measuring_from = 0.0, 0, None
    walking, thing_click = _things(game, args, rng)
    collector = _collector()
    while measuring_from is None or tick < measuring_from + ticks:
        # Arrivals at the login rate, as on a launch day; each clicks on its own schedule.
        for _ in range(min(per_tick, args.n - len(sessions))):
            i = len(sessions)
            peer = CountingPeer()
            session = Session(game, peer, f"bot{i}")
            at = (
                (0.0, 0.0, 0.0)
                if args.spawn == "origin"
                else (rng.uniform(-half, half), rng.uniform(-half, half), 0.0)
            )
            session.line_received(f"con bot{i},x,{args.protocol}".encode(), now=now)
            session.login_checked(Account(f"bot{i}", {}, *at))
            peers.append(peer)
            sessions.append(session)
            walks = rng.random() < args.walkers
            next_click.append(now + rng.uniform(0, args.every[1]) if walks else math.inf)
        if measuring_from is None and len(sessions) == args.n:
            measuring_from = tick + warmup_ticks
        for i, session in enumerate(sessions):
            if now >= next_click[i]:
                dest = f"mov {rng.uniform(-half, half):.1f},{rng.uniform(-half, half):.1f},0"
                session.line_received(dest.encode(), now=now)
                next_click[i] = now + rng.uniform(*args.every)
        for i, thing in enumerate(walking):
            if now >= thing_click[i]:
                game.world.walk(thing, (rng.uniform(-half, half), rng.uniform(-half, half), 0.0))
                thing_click[i] = now + rng.uniform(*args.every)
        if tick == measuring_from:
            for peer in peers:
                peer.bytes = peer.writes = 0
            if args.phases:
                step = game.world.step = PhaseTimer(game.world.step)  # type: ignore[method-assign]
                delivery = PhaseTimer(game.delivery.tick)
                game.delivery.tick = delivery  # type: ignore[method-assign]
        started = time.thread_time()
        game.tick(DT)
        if measuring_from is not None and tick >= measuring_from:
            durations.append(time.thread_time() - started)
        if collector is not None:
            collector.after_tick()
        now += DT
        tick += 1
    if collector is not None:
        collector.give_back()
    cpu = sum(durations)
    durations.sort()
    sent = sum(p.bytes for p in peers)
    phases = {}
    if step is not None and delivery is not None:
        phases = {
            "cpu_ms": cpu / ticks * 1000,
            "step_ms": step.total / ticks * 1000,
            "delivery_ms": delivery.total / ticks * 1000,
            "rest_ms": (cpu - step.total - delivery.total) / ticks * 1000,
            "writes_per_tick": sum(p.writes for p in peers) / ticks,
        }
    return {
        "mean_ms": statistics.fmean(durations) * 1000,
        "p50_ms": durations[len(durations) // 2] * 1000,
        "p99_ms": durations[int(len(durations) * 0.99)] * 1000,
        "max_ms": durations[-1] * 1000,
        "bytes_per_client_s": sent / args.n / args.seconds,
        **phases,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--protocol", default="1")
    p.add_argument("--spawn", choices=["scattered", "origin"], default="scattered")
    p.add_argument("--world", type=float, default=3000.0, help="side of the square walked on")
    p.add_argument("--every", type=float, nargs=2, default=[2.0, 5.0], help="seconds per click")
    p.add_argument("--rate", type=float, default=200.0, help="logins per second (0: all at once)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after the last login")
    p.add_argument("--seconds", type=float, default=20.0, help="seconds measured")
    p.add_argument("--max-in-view", type=int, default=0, help="0: the server's default")
    p.add_argument("--walkers", type=float, default=1.0, help="share of players that click")
    p.add_argument("--things", type=int, default=0, help="standing things (NPCs, objects)")
    p.add_argument("--walking-things", type=int, default=0, help="things that click too")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--phases", action="store_true", help="split the tick: step, delivery, rest")
    args = p.parse_args()
    for _ in range(args.repeat):
        r = run(args)
        print(" ".join(f"{k}={v:.2f}" for k, v in r.items()), flush=True)


if __name__ == "__main__":
    main()
