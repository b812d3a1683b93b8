"""The ratios that decide how one world runs past one process, simulated.

``docs/scaling.md`` sketches two ways to spread one seamless world over
machines: connection servers in front of world processes that publish each
tick's changes once, and zones owned by processes with hand-offs at their
borders.  Its estimate rests on a few ratios, and this script measures them
with the project's own numbers (speed 5 units/s, 10 ticks/s, view radius
100, crowd cap 50, a click every 2-5 s), walking simulated players in plain
Python, deterministically (fixed seeds), in well under a minute:

* **publish**: the changes a world process publishes per tick, protocol 1
  (a ``pos`` for every step) against protocol 2 (a ``wlk`` per click and a
  ``pos`` per arrival), in events and bytes;
* **fan-out**: what a connection server does per client and tick: lines,
  bytes, and the share of clients that need a write at all (one ``send(2)``
  each, the cost that dominates today's server);
* **zones**: the share of players within one view radius of a zone border
  (known to two processes) and the hand-offs per player and minute.

Each simulated figure is printed next to the closed form the estimate uses,
so a wrong formula shows.  The simulation follows ``mudserver.core.world``
(straight walks, arrival within 0.005) and the view rules of
``docs/protocol.md`` section 5.1, with one simplification stated in the
output: the cap keeps whom it shows as long as they stay within the radius
and fills free slots with the nearest (the server also swaps, every second,
for much nearer newcomers, which adds a few ``ent``/``del``).

    PYTHONPATH=. python benchmarks/scaling_sim.py            # every scenario, 20-30 s
    PYTHONPATH=. python benchmarks/scaling_sim.py --quick    # fewer seconds simulated
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from dataclasses import dataclass

from mudserver.core.world import ARRIVAL_TOLERANCE, Entity
from mudserver.wire import replies

SPEED = 5.0
TICK_RATE = 10
DT = 1.0 / TICK_RATE
RADIUS = 100.0
CAP = 50
CLICK_EVERY = (2.0, 5.0)


@dataclass(frozen=True)
class Scenario:
    name: str
    world: float
    players: int
    #: "world": a click goes anywhere in the world (what ``mudserver-bench``
    #: does; at 5 units/s nobody arrives); "view": within the view radius
    #: (a player clicks on what it sees; some walks end).
    clicks: str
    zones: tuple[float, ...]


SCENARIOS = [
    Scenario("bench: 2,000 on 3,000²", 3000, 2000, "world", (500, 1000, 1500)),
    Scenario("dense: 10,000 on 3,000²", 3000, 10000, "world", (500, 1000, 1500)),
    Scenario("spread: 10,000 on 10,000²", 10000, 10000, "world", (1000, 2500, 5000)),
    Scenario("spread, clicks in view", 10000, 10000, "view", (1000, 2500, 5000)),
    Scenario("sparse: 10,000 on 30,000²", 30000, 10000, "world", (3000, 7500, 15000)),
]


def line_bytes(rng: random.Random, world: float) -> dict[str, float]:
    """Mean length of each kind of line, formatted by the server's own code."""
    half = world / 2
    sizes: dict[str, list[int]] = {"pos": [], "wlk": [], "ent": [], "del": []}
    for i in range(500):
        e = Entity(rng.randrange(1, 100_000), "player", f"player{i}", speed=SPEED)
        e.x, e.y = rng.uniform(-half, half), rng.uniform(-half, half)
        e.dest = (rng.uniform(-half, half), rng.uniform(-half, half), 0.0)
        sizes["pos"].append(len(replies.pos(e)))
        sizes["wlk"].append(len(replies.wlk(e)))
        sizes["ent"].append(len(replies.ent(e)))
        sizes["del"].append(len(replies.delete(e.id)))
    return {k: statistics.fmean(v) for k, v in sizes.items()}


#: Player indices by grid cell (cells of the view radius's side).
Cells = dict[tuple[int, int], list[int]]


class Walkers:
    """N players that click and walk, stepped as ``World.step`` steps them."""

    def __init__(self, sc: Scenario, rng: random.Random) -> None:
        self.sc, self.rng = sc, rng
        half = sc.world / 2
        n = sc.players
        self.x = [rng.uniform(-half, half) for _ in range(n)]
        self.y = [rng.uniform(-half, half) for _ in range(n)]
        self.dest: list[tuple[float, float] | None] = [None] * n
        self.next_click = [rng.uniform(0, CLICK_EVERY[1]) for _ in range(n)]
        self.moved: set[int] = set()
        self.started: set[int] = set()
        self.stopped: set[int] = set()

    def _target(self, i: int) -> tuple[float, float]:
        half, rng = self.sc.world / 2, self.rng
        if self.sc.clicks == "world":
            return (rng.uniform(-half, half), rng.uniform(-half, half))
        r, a = RADIUS * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        clamp = lambda v: min(half, max(-half, v))  # noqa: E731
        return (clamp(self.x[i] + r * math.cos(a)), clamp(self.y[i] + r * math.sin(a)))

    def tick(self, now: float) -> None:
        x, y, dest, next_click = self.x, self.y, self.dest, self.next_click
        turned = []
        for i in range(len(x)):
            if now >= next_click[i]:
                d = self._target(i)
                if d != dest[i]:
                    dest[i] = d
                    turned.append(i)
                next_click[i] = now + self.rng.uniform(*CLICK_EVERY)
        reach = SPEED * DT
        moved, stopped = set(), set()
        for i in range(len(x)):
            d = dest[i]
            if d is None:
                continue
            dx, dy = d[0] - x[i], d[1] - y[i]
            dist = math.sqrt(dx * dx + dy * dy)
            if dist <= reach + ARRIVAL_TOLERANCE:
                if dist > 0:
                    moved.add(i)
                x[i], y[i] = d
                dest[i] = None
                stopped.add(i)
            else:
                s = reach / dist
                x[i] += dx * s
                y[i] += dy * s
                moved.add(i)
        self.moved, self.stopped = moved, stopped
        self.started = {i for i in turned if dest[i] is not None}

    def grid(self) -> Cells:
        cells: Cells = {}
        for i, (px, py) in enumerate(zip(self.x, self.y, strict=True)):
            cells.setdefault((int(px // RADIUS), int(py // RADIUS)), []).append(i)
        return cells


def visible(w: Walkers, cells: Cells, o: int, known: set[int]) -> set[int]:
    """Whom observer *o* is shown: within R, at most CAP, keeping those it knows."""
    ox, oy = w.x[o], w.y[o]
    cx, cy = int(ox // RADIUS), int(oy // RADIUS)
    r2 = RADIUS * RADIUS
    near: list[tuple[float, int]] = []
    for gx in (cx - 1, cx, cx + 1):
        for gy in (cy - 1, cy, cy + 1):
            for i in cells.get((gx, gy), ()):
                dx, dy = w.x[i] - ox, w.y[i] - oy
                d2 = dx * dx + dy * dy
                if d2 <= r2 and i != o:
                    near.append((d2, i))
    if len(near) <= CAP:
        return {i for _, i in near}
    kept = {i for _, i in near if i in known}
    for _, i in sorted(near):
        if len(kept) >= CAP:
            break
        kept.add(i)
    return kept


def run(sc: Scenario, seconds: float, warmup: float, observers: int, zone_sample: int) -> dict:
    rng = random.Random(14)
    sizes = line_bytes(random.Random(15), sc.world)
    w = Walkers(sc, rng)
    watch = rng.sample(range(sc.players), min(observers, sc.players))
    tracked = rng.sample(range(sc.players), min(zone_sample, sc.players))
    known: dict[int, set[int]] = {o: set() for o in watch}
    half = sc.world / 2
    zone_of = {
        z: {i: (int((w.x[i] + half) // z), int((w.y[i] + half) // z)) for i in tracked}
        for z in sc.zones
    }
    c = dict.fromkeys(
        [
            "ticks",
            "moved",
            "started",
            "stopped",
            "obs_ticks",
            "p1_lines",
            "p1_bytes",
            "p1_writes",
            "p2_lines",
            "p2_bytes",
            "p2_writes",
            "in_view",
            "ent",
            "del",
        ],
        0,
    )
    p2_events: list[int] = []
    near_border = dict.fromkeys(sc.zones, 0)
    crossings = dict.fromkeys(sc.zones, 0)
    now, ticks = 0.0, int((seconds + warmup) * TICK_RATE)
    for t in range(ticks):
        w.tick(now)
        now += DT
        measuring = t >= warmup * TICK_RATE
        if not measuring:
            continue
        c["ticks"] += 1
        c["moved"] += len(w.moved)
        c["started"] += len(w.started)
        c["stopped"] += len(w.stopped)
        p2_events.append(len(w.started) + len(w.stopped))
        cells = w.grid()
        for o in watch:
            now_seen = visible(w, cells, o, known[o])
            came, went = now_seen - known[o], known[o] - now_seen
            stay = now_seen & known[o]
            known[o] = now_seen
            c["obs_ticks"] += 1
            c["in_view"] += len(now_seen)
            c["ent"] += len(came)
            c["del"] += len(went)
            own1 = 1 if o in w.moved else 0
            own_wlk = 1 if o in w.started else 0
            own_pos = 1 if o in w.stopped else 0
            pos1 = len(stay & w.moved) + own1
            walking_came = sum(1 for i in came if w.dest[i] is not None)
            wlk2 = len(stay & w.started) + walking_came + own_wlk
            pos2 = len(stay & w.stopped) + own_pos
            base = len(came) * sizes["ent"] + len(went) * sizes["del"]
            l1 = len(came) + len(went) + pos1
            l2 = len(came) + len(went) + wlk2 + pos2
            c["p1_lines"] += l1
            c["p2_lines"] += l2
            c["p1_bytes"] += base + pos1 * sizes["pos"]
            c["p2_bytes"] += base + wlk2 * sizes["wlk"] + pos2 * sizes["pos"]
            c["p1_writes"] += 1 if l1 else 0
            c["p2_writes"] += 1 if l2 else 0
        for z in sc.zones:
            zones = zone_of[z]
            nb = 0
            for i in tracked:
                zx, zy = int((w.x[i] + half) // z), int((w.y[i] + half) // z)
                if (zx, zy) != zones[i]:
                    crossings[z] += 1
                    zones[i] = (zx, zy)
                # Distance to the nearest border between two zones (not the world's edge).
                fx, fy = (w.x[i] + half) - zx * z, (w.y[i] + half) - zy * z
                last = math.ceil(sc.world / z) - 1
                edges = []
                if zx > 0:
                    edges.append(fx)
                if zx < last:
                    edges.append(z - fx)
                if zy > 0:
                    edges.append(fy)
                if zy < last:
                    edges.append(z - fy)
                if edges and min(edges) <= RADIUS:
                    nb += 1
            near_border[z] += nb
    return {
        "sc": sc,
        "sizes": sizes,
        "c": c,
        "p2_events": p2_events,
        "near_border": {z: near_border[z] / (len(tracked) * c["ticks"]) for z in sc.zones},
        "handoffs_per_min": {
            z: crossings[z] / len(tracked) / (c["ticks"] * DT) * 60 for z in sc.zones
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0, help="simulated seconds measured")
    p.add_argument("--warmup", type=float, default=5.0, help="simulated seconds before")
    p.add_argument("--observers", type=int, default=200, help="clients whose view is tracked")
    p.add_argument("--zone-sample", type=int, default=2000, help="players tracked for zones")
    p.add_argument("--quick", action="store_true", help="5 s measured, 2 s warm-up")
    p.add_argument("--only", type=int, nargs="*", help="run these scenarios (0-based)")
    args = p.parse_args()
    if args.quick:
        args.seconds, args.warmup = 5.0, 2.0
    chosen = [SCENARIOS[i] for i in args.only] if args.only else SCENARIOS
    started = time.perf_counter()
    results = [
        run(sc, args.seconds, args.warmup, args.observers, args.zone_sample) for sc in chosen
    ]
    mean_click = sum(CLICK_EVERY) / 2

    print(
        f"speed {SPEED} u/s, {TICK_RATE} ticks/s, view radius {RADIUS:g}, cap {CAP}, "
        f"a click every {CLICK_EVERY[0]:g}-{CLICK_EVERY[1]:g} s; {args.seconds:g} s simulated "
        f"after {args.warmup:g} s, {args.observers} observers, {args.zone_sample} players "
        "tracked for zones\n"
    )

    print("### What a world process publishes, per 1,000 players\n")
    print(
        "| scenario | walking | p1 events/tick | p2 events/tick (closed form) | p2 max/tick "
        "| ratio p1/p2 | p1 KB/s | p2 KB/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        sc, c, s = r["sc"], r["c"], r["sizes"]
        k = 1000 / sc.players / c["ticks"]
        p1 = c["moved"] * k
        p2 = (c["started"] + c["stopped"]) * k
        closed = 1000 * DT / mean_click
        p2max = max(r["p2_events"]) * 1000 / sc.players
        kb1 = c["moved"] * s["pos"] * k * TICK_RATE / 1000
        kb2 = (c["started"] * s["wlk"] + c["stopped"] * s["pos"]) * k * TICK_RATE / 1000
        walking = c["moved"] / sc.players / c["ticks"]
        print(
            f"| {sc.name} | {walking:.0%} | {p1:.0f} | {p2:.1f} ({closed:.1f}) | {p2max:.0f} "
            f"| {p1 / p2:.0f}× | {kb1:.0f} | {kb2:.1f} |"
        )

    print("\n### What a connection server does, per client\n")
    print(
        "| scenario | in view (closed form) | p1 lines/s | p2 lines/s | p1 B/s | p2 B/s "
        "| writes/tick p1 | writes/tick p2 | ent+del/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        sc, c = r["sc"], r["c"]
        per = c["obs_ticks"]
        density = sc.players / sc.world**2
        closed = min(CAP, density * math.pi * RADIUS**2)
        print(
            f"| {sc.name} | {c['in_view'] / per:.1f} ({closed:.1f}) "
            f"| {c['p1_lines'] / per * TICK_RATE:.1f} | {c['p2_lines'] / per * TICK_RATE:.1f} "
            f"| {c['p1_bytes'] / per * TICK_RATE:.0f} | {c['p2_bytes'] / per * TICK_RATE:.0f} "
            f"| {c['p1_writes'] / per:.0%} | {c['p2_writes'] / per:.0%} "
            f"| {(c['ent'] + c['del']) / per * TICK_RATE:.2f} |"
        )

    print("\n### Zones: players near a border, and hand-offs\n")
    print(
        "| scenario | zone side | zones | within R of a border (closed form) "
        "| hand-offs /player/min (closed form) |"
    )
    print("|---|---:|---:|---:|---:|")
    for r in results:
        sc, c = r["sc"], r["c"]
        walking = c["moved"] / sc.players / c["ticks"]
        for z in sc.zones:
            n = math.ceil(sc.world / z)
            # Uniform players, borders only between zones: a player is near a
            # vertical border unless its x is in a band of width z - 2R inside
            # an interior zone (z - R at the world's edge); likewise for y.
            inner = ((n - 2) * (z - 2 * RADIUS) + 2 * (z - RADIUS)) / sc.world if n > 1 else 1
            closed_nb = 1 - inner * inner
            # Walkers spread evenly, heading every way, cross lines of total
            # length L in an area A at 2·v·L/(π·A) per walker (the mean normal
            # speed is 2v/π); interior borders only.
            length = 2 * (n - 1) * sc.world
            closed_h = walking * 2 * SPEED * length / (math.pi * sc.world**2) * 60
            near, handoffs = r["near_border"][z], r["handoffs_per_min"][z]
            print(
                f"| {sc.name} | {z:,.0f} | {n * n} | {near:.1%} ({closed_nb:.1%}) "
                f"| {handoffs:.2f} ({closed_h:.2f}) |"
            )

    print(
        "\nline sizes (bytes, from mudserver.wire.replies): "
        + ", ".join(f"{k} {v:.0f}" for k, v in results[0]["sizes"].items())
        + f"; ran in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
