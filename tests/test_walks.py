"""Protocol version 2 in the game: walks instead of steps, and the crowd cap.

Clients are mirrors that apply the lines the game sends, the way a client
built from ``docs/protocol.md`` would; the assertions are on what they
believe.  Time is a tick counter: no clock, no sleep.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.core.interest import Interest
from mudserver.core.session import Session

DT = 0.1
SPEED = 5.0
Point = tuple[float, float, float]


class Client:
    """A session's peer that keeps the world as a client of either version sees it."""

    def __init__(self, game: Game, name: str, version: str, at: Point, now: list[float]) -> None:
        self.version = version
        self._now = now
        #: id -> last told position; for version 2 also the walk: (to, speed, t0).
        self.where: dict[int, Point] = {}
        self.walks: dict[int, tuple[Point, float, float]] = {}
        self.session = Session(game, self, name)
        assert self.session.line_received(f"con {name},x,{version}".encode(), now[0]) is not None
        self.session.login_checked(Account(name, {}, *at))

    @property
    def id(self) -> int:
        assert self.session.entity is not None
        return self.session.entity.id

    def send(self, text: str) -> None:
        for line in text.splitlines():
            code, _, rest = line.partition(" ")
            args = rest.split(",")
            match code:
                case "wel" | "say":
                    continue
                case "ent":
                    eid = int(args[0])
                    assert eid not in self.where, f"ent for a known id: {line}"
                    self.where[eid] = (float(args[3]), float(args[4]), float(args[5]))
                case "pos":
                    eid = int(args[0])
                    assert eid in self.where, f"pos before ent: {line}"
                    self.where[eid] = (float(args[1]), float(args[2]), float(args[3]))
                    self.walks.pop(eid, None)
                case "wlk":
                    assert self.version == "2", f"wlk to a version 1 client: {line}"
                    eid = int(args[0])
                    assert eid in self.where, f"wlk before ent: {line}"
                    x, y, z, tx, ty, tz, speed = (float(a) for a in args[1:])
                    self.where[eid] = (x, y, z)
                    self.walks[eid] = ((tx, ty, tz), speed, self._now[0])
                case "del":
                    eid = int(args[0])
                    assert eid in self.where, f"del of an unknown id: {line}"
                    del self.where[eid]
                    self.walks.pop(eid, None)
                case _:
                    raise AssertionError(f"unexpected line {line!r}")

    def close(self) -> None:
        pass

    def position_at(self, eid: int, t: float) -> Point:
        """The formula of docs/protocol.md, section 15."""
        start = self.where[eid]
        if eid not in self.walks:
            return start
        to, speed, t0 = self.walks[eid]
        delta = [b - a for a, b in zip(start, to, strict=True)]
        length = math.sqrt(sum(d * d for d in delta))
        if length == 0:
            return to
        travelled = min(speed * (t - t0), length)
        return tuple(a + d / length * travelled for a, d in zip(start, delta, strict=True))  # type: ignore[return-value]


coordinate = st.floats(-60.0, 60.0, allow_nan=False).map(lambda v: round(v, 2))
point = st.tuples(coordinate, coordinate, st.just(0.0))
step = st.tuples(
    st.lists(st.tuples(st.integers(0, 9), point), max_size=4),  # walks ordered this tick
    st.integers(1, 12),  # ticks before the next orders
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(point, st.sampled_from(["1", "2"])), min_size=1, max_size=6),
    point,
    st.lists(step, min_size=1, max_size=12),
)
def test_a_version_2_client_extrapolates_what_version_1_is_told(
    walkers: list[tuple[Point, str]], watch_from: Point, steps: list
) -> None:
    """Two twins stand at one spot, one per version: they must agree every tick."""
    game = Game(Settings(view_radius=40.0, speed=SPEED, max_in_view=1000), lambda a: None)
    now = [0.0]
    one = Client(game, "one", "1", watch_from, now)
    two = Client(game, "two", "2", watch_from, now)
    movers = [Client(game, f"w{i}", v, at, now) for i, (at, v) in enumerate(walkers)]
    for orders, ticks in steps:
        for index, dest in orders:
            game.walk(movers[index % len(movers)].session, dest)
        for _ in range(ticks):
            game.tick(DT)
            now[0] += DT
            assert set(one.where) - {one.id, two.id} == set(two.where) - {one.id, two.id}
            for eid in two.where:
                if eid in (one.id, two.id):
                    continue
                told, guessed = one.where[eid], two.position_at(eid, now[0])
                assert math.dist(told, guessed) <= SPEED * DT + 0.02, (eid, told, guessed)
            # And each walker's own client agrees with where it really is.
            for mover in movers:
                entity = mover.session.entity
                assert entity is not None
                mine = mover.position_at(mover.id, now[0]) if mover.version == "2" else None
                if mine is not None:
                    assert math.dist(mine, entity.position) <= SPEED * DT + 0.02


def test_version_2_is_silent_while_a_walk_goes_on() -> None:
    game = Game(Settings(), lambda a: None)
    now = [0.0]
    watcher = Client(game, "watcher", "2", (0.0, 0.0, 0.0), now)
    walker = Client(game, "walker", "1", (10.0, 0.0, 0.0), now)
    writes: list[str] = []
    watcher.session.peer = type("Peer", (), {"send": writes.append, "close": lambda: None})()
    game.walk(walker.session, (20.0, 0.0, 0.0))
    for _ in range(25):
        game.tick(DT)
    lines = "".join(writes).splitlines()
    assert lines == [
        "ent 2,player,walker,10.00,0.00,0.00",  # the arrival, queued for the next tick
        "wlk 2,10.50,0.00,0.00,20.00,0.00,0.00,5.00",
        "pos 2,20.00,0.00,0.00",
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6),
    st.lists(st.tuples(point, st.sampled_from(["1", "2"])), min_size=2, max_size=14),
    st.lists(step, min_size=1, max_size=10),
)
def test_the_crowd_cap_is_never_passed_and_every_client_stays_consistent(
    cap: int, players: list[tuple[Point, str]], steps: list
) -> None:
    """At most *cap* others told; no line about an id not introduced; a del for each exit."""
    game = Game(Settings(view_radius=30.0, speed=SPEED, max_in_view=cap), lambda a: None)
    now = [0.0]
    clients = [Client(game, f"p{i}", v, at, now) for i, (at, v) in enumerate(players)]
    interest = game.delivery.interest  # type: ignore[attr-defined]
    assert isinstance(interest, Interest)
    for orders, ticks in steps:
        for index, dest in orders:
            game.walk(clients[index % len(clients)].session, dest)
        for _ in range(ticks):
            game.tick(DT)
            now[0] += DT
            for client in clients:
                me = client.session.entity
                assert me is not None
                assert len(client.where) <= cap + 1
                assert set(client.where) == interest.seen[client.id]
                for eid in client.where:
                    other = game.world.get(eid)
                    assert other is not None
                    assert math.hypot(other.x - me.x, other.y - me.y) <= 30.0 + 1e-6


def test_a_version_2_player_re_aiming_every_tick_turns_once_per_interval() -> None:
    game = Game(Settings(), lambda a: None)
    ticks_per_turn = round(game.settings.turn_interval / DT)
    now = [0.0]
    watcher = Client(game, "watcher", "2", (0.0, 0.0, 0.0), now)
    aimer = Client(game, "aimer", "2", (1.0, 0.0, 0.0), now)
    writes: list[str] = []
    watcher.session.peer = type("Peer", (), {"send": writes.append, "close": lambda: None})()
    game.tick(DT)
    for i in range(20):
        game.walk(aimer.session, (10.0 + i, float(i % 2) * 10 - 5, 0.0))
        game.tick(DT)
    walks = [line for line in "".join(writes).splitlines() if line.startswith("wlk ")]
    # One per interval, not one per tick.
    assert 20 // ticks_per_turn - 1 <= len(walks) <= 20 // ticks_per_turn + 1, walks


def test_choose_keeps_what_is_shown_and_swaps_only_clearly_nearer_ones() -> None:
    from mudserver.core.crowd import MAX_SWAPS, choose

    shown = {1, 2, 3}
    # 4 is a bit nearer than 3 (10.0 vs 10.5 away): no swap.  5 is clearly nearer than 2.
    visible = {1: 1.0, 2: 100.0**2, 3: 10.5**2, 4: 10.0**2, 5: 1.0**2}
    assert choose(shown, visible, 3) == {1, 3, 5}
    # A free slot goes to the nearest newcomer; one gone from view frees its slot.
    assert choose({1, 9}, {1: 1.0, 4: 4.0, 5: 9.0}, 2) == {1, 4}
    # However many newcomers are nearer, at most MAX_SWAPS swaps per rescan.
    far = {i: 50.0**2 for i in range(100, 120)}
    near = {i: 1.0 for i in range(200, 220)}
    chosen = choose(set(far), {**far, **near}, 20)
    assert len(chosen) == 20 and len(chosen - set(far)) == MAX_SWAPS


def test_wlk_never_shows_negative_zero() -> None:
    from mudserver.core.world import World
    from mudserver.wire.replies import wlk

    walker = World().spawn("player", "w", (-0.001, 2.5, 0.0), speed=5.0)
    walker.dest = (-0.004, -3.0, -0.0)
    assert wlk(walker) == "wlk 1,0.00,2.50,0.00,0.00,-3.00,0.00,5.00\n"
