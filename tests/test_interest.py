"""The predicted views against brute force over true positions, on random walks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mudserver.core.grid import Grid, split
from mudserver.core.interest import Interest
from mudserver.core.world import Entity, World
from mudserver.wire import replies


@dataclass
class Reference:
    """What every observer should be told, computed the slow and obvious way.

    Observers are protocol 1 (``pos`` for every step of what they see) or
    protocol 2 (``wlk`` and ``pos`` for walk changes).  No crowd cap.
    """

    radius: float
    entities: dict[int, Entity] = field(default_factory=dict)
    walks: dict[int, bool] = field(default_factory=dict)  # observer id -> protocol 2
    seen: dict[int, set[int]] = field(default_factory=dict)

    def visible(self, o: Entity) -> set[int]:
        r2 = self.radius * self.radius
        return {
            e.id
            for e in self.entities.values()
            if (e.x - o.x) * (e.x - o.x) + (e.y - o.y) * (e.y - o.y) <= r2
        }

    def add(self, e: Entity, observer: bool, walks: bool) -> tuple[set[int], set[int]]:
        self.entities[e.id] = e
        told = {o for o in self.walks if e.id in self.visible(self.entities[o])}
        for o in told:
            self.seen[o].add(e.id)
        if observer:
            self.walks[e.id] = walks
            self.seen[e.id] = self.visible(e)
            return set(self.seen[e.id]), told
        return set(), told

    def remove(self, e: Entity) -> set[int]:
        del self.entities[e.id]
        self.walks.pop(e.id, None)
        self.seen.pop(e.id, None)
        told = {o for o, ids in self.seen.items() if e.id in ids}
        for o in told:
            self.seen[o].discard(e.id)
        return told

    def update(self, world: World, moved: list[Entity]) -> dict[int, list[str]]:
        moved_ids = {e.id for e in moved}
        started = {e.id for e in world.started}
        stopped = {e.id for e in world.stopped}
        out: dict[int, list[str]] = {}
        for oid, walks in self.walks.items():
            old, new = self.seen[oid], self.visible(self.entities[oid])
            lines = [replies.delete(i) for i in old - new]
            for i in new - old:
                e = self.entities[i]
                lines.append(replies.ent(e))
                if walks and e.dest is not None:
                    lines.append(replies.wlk(e))
            for i in old & new:
                e = self.entities[i]
                if not walks and i in moved_ids:
                    lines.append(replies.pos(e))
                elif walks and i in started:
                    lines.append(replies.wlk(e))
                elif walks and i in stopped:
                    lines.append(replies.pos(e))
            self.seen[oid] = new
            if lines:
                out[oid] = sorted(lines)
        return out


#: Coordinates anywhere, or exactly on cell borders, radii and corners.
coordinate = st.one_of(
    st.floats(-300, 300, allow_nan=False),
    st.integers(-12, 12).map(lambda k: k * 25.0),
)
point = st.tuples(coordinate, coordinate)
speed = st.sampled_from([0.0, 1.0, 5.0, 20.0, 150.0])
index = st.integers(0, 1000)
login = st.tuples(st.just("login"), point, st.booleans(), st.booleans(), speed)
operation = st.one_of(
    login,
    st.tuples(st.just("logout"), index),
    st.tuples(st.just("takeover"), index),  # gone and back at once, as a new entity
    st.tuples(st.just("walk"), index, point),
    st.tuples(st.just("approach"), index, index, point.map(lambda p: (p[0] / 3, p[1] / 3))),
    st.tuples(st.just("meet"), index, index),
    st.tuples(st.just("speed"), index, speed, point),  # a new speed, then a new walk
    st.tuples(st.just("stop"), index),
    # Small steps keep walkers near their anchors (band timers); big ones force rescans.
    st.tuples(st.just("steps"), st.integers(1, 30), st.sampled_from([0.01, 0.1, 0.5])),
)


def run(radius: float, operations: list[tuple]) -> None:
    world = World()
    interest, reference = Interest(world, radius), Reference(radius)
    live: list[Entity] = []

    def join(e: Entity, observer: bool, walks: bool) -> None:
        live.append(e)
        in_view, told = interest.add(e, observer, walks)
        ref_view, ref_told = reference.add(e, observer, walks)
        assert {v.id for v in in_view} == ref_view
        assert set(told) == ref_told

    def leave(e: Entity) -> None:
        live.remove(e)
        world.remove(e)
        assert set(interest.remove(e)) == reference.remove(e)

    for op in operations:
        if op[0] == "login":
            _, (x, y), observer, walks, v = op
            join(world.spawn("player", "p", (x, y, 0.0), speed=v), observer, walks)
        elif op[0] == "logout" and live:
            leave(live[op[1] % len(live)])
        elif op[0] == "takeover" and live:
            old = live[op[1] % len(live)]
            observer = old.id in reference.walks
            walks = reference.walks.get(old.id, False)
            leave(old)
            join(world.spawn("player", "p", old.position, speed=old.speed), observer, walks)
        elif op[0] == "walk" and live:
            world.walk(live[op[1] % len(live)], (*op[2], 0.0))
        elif op[0] == "approach" and live:
            e, other = live[op[1] % len(live)], live[op[2] % len(live)]
            world.walk(e, (other.x + op[3][0], other.y + op[3][1], 0.0))
        elif op[0] == "meet" and live:
            e, other = live[op[1] % len(live)], live[op[2] % len(live)]
            here, there = e.position, other.position
            world.walk(e, there)
            world.walk(other, here)
        elif op[0] == "speed" and live:
            e = live[op[1] % len(live)]
            e.speed = op[2]
            world.walk(e, (*op[3], 0.0))
        elif op[0] == "stop" and live:
            world.stop(live[op[1] % len(live)])
        elif op[0] == "steps":
            for _ in range(op[1]):
                moved = world.step(op[2])
                out = interest.update(world.started, world.stopped, world.arrived)
                expected = reference.update(world, moved)
                assert {o: sorted(lines) for o, lines in out.items()} == expected
                assert interest.seen == reference.seen


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([25.0, 50.0, 100.0]),
    st.lists(login, min_size=2, max_size=10),
    st.lists(operation, max_size=30),
)
def test_interest_matches_brute_force(
    radius: float, population: list[tuple], operations: list[tuple]
) -> None:
    """Same entities in view for every observer, same lines each tick, both protocols."""
    run(radius, [*population, *operations, ("steps", 10, 0.1)])


@pytest.mark.parametrize("cells", [0.5, 1.0, 1.5, 2.0, 3.0, 4.5])
@pytest.mark.parametrize("both_walk", [True, False])
def test_head_on_walkers_cross_the_radius_on_the_exact_tick(cells: float, both_walk: bool) -> None:
    """Starting *cells* cells beyond the radius, then walking head-on at a slow speed.

    Near the radius the pair is timed from the start; farther out it is
    left alone until a cell crossing puts it in the band: either way the
    view must change on the step the distance crosses the radius.
    """
    radius = 60.0
    start = radius + cells * radius / 4
    run(
        radius,
        [
            ("login", (0.0, 0.0), True, False, 1.0),
            ("login", (start, 0.3), True, True, 1.0),
            ("steps", 1, 0.1),
            *([("walk", 0, (start, 0.0))] if both_walk else []),
            ("walk", 1, (0.0, 0.3)),
            ("steps", 20 + int(start * 10), 0.1),
        ],
    )


def test_walks_along_cell_borders_through_corners_and_tangent_to_the_radius() -> None:
    run(
        50.0,
        [
            ("login", (0.0, 0.0), True, False, 5.0),
            ("login", (-100.0, 50.0), True, True, 5.0),  # along y = 50: touches the radius
            ("login", (0.0, -100.0), True, False, 20.0),  # through (50, 50), a cell corner
            ("login", (-50.0, -50.0), False, False, 1.0),  # a thing, along x = -50
            ("login", (100.0, 100.0), True, True, 0.0),  # cannot walk
            ("walk", 1, (100.0, 50.0)),
            ("walk", 2, (100.0, 100.0)),
            ("walk", 3, (-50.0, 50.0)),
            ("walk", 4, (0.0, 0.0)),
            ("steps", 30, 0.1),
            ("walk", 2, (0.0, 25.0)),  # re-aimed while crossing
            ("speed", 1, 150.0, (-100.0, 50.0)),  # much faster, back again
            ("steps", 30, 0.1),
            ("walk", 0, (60.0, 0.0)),
            ("takeover", 1),
            ("steps", 30, 0.37),
        ],
    )


def test_idle_world_costs_nothing() -> None:
    world = World()
    interest = Interest(world, 100.0)
    for i in range(50):
        interest.add(world.spawn("player", f"p{i}", (i * 10.0, 0.0, 0.0)), observer=True)
    world.step(0.1)
    assert interest.update() == {}


def test_grid_files_negative_coordinates_in_their_own_cells() -> None:
    grid = Grid(100.0)
    world = World()
    a = world.spawn("player", "a", (-0.5, -0.5, 0.0))
    b = world.spawn("player", "b", (0.5, 0.5, 0.0))
    far = world.spawn("player", "far", (-250.0, 0.0, 0.0))
    for e in (a, b, far):
        grid.file(e, e.x, e.y)
    assert split(grid.cell_of(-0.5, -0.5)) == (-1, -1)
    assert split(grid.cell_of(-250.0, 99.0)) == (-3, 0)
    assert {e.name for e in grid.within(0.0, 0.0, 100.0)} == {"a", "b"}
    far.x = -99.0
    grid.file(far, far.x, far.y)
    assert {e.name for e in grid.within(0.0, 0.0, 100.0)} == {"a", "b", "far"}
    grid.remove(far)
    assert len(grid) == 2


def test_slow_walkers_cross_the_edge_of_view_on_the_exact_tick() -> None:
    """Steps much smaller than the slack: a timed crossing must not be a tick late."""
    operations: list[tuple] = [
        ("login", (0.0, 0.0), True, False, 1.0),
        ("login", (94.0, 0.0), True, True, 1.0),
        ("login", (0.0, -106.0), True, False, 1.0),
        ("login", (60.0, 60.0), True, True, 1.5),
        ("login", (-94.0, 0.0), True, False, 1.0),
        # Two walking apart: their distance changes twice as fast as either moves.
        ("login", (-46.0, 300.0), True, True, 1.0),
        ("login", (46.0, 300.0), True, False, 1.0),
    ]
    targets = [(106.0, 0.0), (0.0, -94.0), (80.0, 80.0), (-106.0, 0.0), (-70, 300), (70, 300)]
    operations += [("walk", i + 1, target) for i, target in enumerate(targets)]
    run(100.0, [*operations, ("steps", 150, 0.1)])


def test_a_walker_costs_nothing_between_its_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """Far apart walkers: no pair is measured, no rescan; a few cell crossings each."""
    world = World()
    interest = Interest(world, 100.0)
    for i in range(200):
        e = world.spawn("player", "p", (1000.0 * i + 10.0, 10.0, 0.0), speed=5.0)
        interest.add(e, observer=True, walks=True)
        world.walk(e, (1000.0 * i + 10.0, 10_000.0, 0.0))
    world.step(0.1)
    interest.update(world.started, world.stopped, world.arrived)
    checks: list[object] = []
    rescans: list[object] = []
    crossings: list[int] = []
    monkeypatch.setattr(Interest, "_check", lambda self, *a: checks.append(a))
    monkeypatch.setattr(Interest, "_rescan", lambda self, *a: rescans.append(a))
    cross = Interest._cross

    def counting(self: Interest, e: Entity, *args: object) -> None:
        crossings.append(e.id)
        cross(self, e, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Interest, "_cross", counting)
    for _ in range(100):  # 10 s: 50 units each, two cells of 25
        world.step(0.1)
        assert interest.update(world.started, world.stopped, world.arrived) == {}
    assert checks == [] and rescans == []
    assert len(crossings) == 400


@pytest.mark.parametrize("speed", [1.0, 20.0, 150.0])
def test_a_fan_of_walks_through_a_view_changes_it_on_the_exact_ticks(speed: float) -> None:
    """Chords through an observer's view at every angle and distance from its centre.

    Tangents and near misses, diagonal cells, fast walkers that cross a cell
    and the radius within one step: the classes and the crossing timers must
    leave no view change a tick late.
    """
    radius = 40.0
    operations: list[tuple] = [("login", (3.7, -1.3), True, False, 0.0)]
    for i in range(24):
        angle = 2 * math.pi * i / 24 + 0.05
        miss = radius * (i % 8) / 7 * 1.1  # from straight through to just past the edge
        ux, uy = math.cos(angle), math.sin(angle)
        px, py = 3.7 - uy * miss, -1.3 + ux * miss
        start = (px - ux * 2 * radius, py - uy * 2 * radius)
        end = (px + ux * 2 * radius, py + uy * 2 * radius)
        operations.append(("login", start, True, i % 2 == 0, speed))
        operations.append(("walk", i + 1, end))
    steps = int(4 * radius / speed / 0.1) + 5
    run(radius, [*operations, ("steps", steps, 0.1), ("walk", 0, (50.0, 50.0)), ("steps", 20, 0.1)])


crowd_point = st.tuples(st.floats(-40, 40, allow_nan=False), st.floats(-40, 40, allow_nan=False))


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 6),
    st.lists(st.tuples(crowd_point, st.booleans(), st.booleans()), min_size=2, max_size=16),
    st.lists(
        st.one_of(
            st.tuples(st.just("walk"), index, crowd_point),
            st.tuples(st.just("logout"), index),
            st.tuples(st.just("login"), crowd_point, st.booleans()),
            st.tuples(st.just("steps"), st.integers(1, 15)),
        ),
        max_size=25,
    ),
)
def test_the_crowd_cap_fills_every_free_slot_with_what_is_in_view(
    cap: int, population: list[tuple], operations: list[tuple]
) -> None:
    """At every tick each observer is shown min(cap, in view) others, all of them in view.

    So with no more than *cap* within its radius, a view is exact; and a
    slot freed by one leaving is filled on the same tick if anybody is left
    to fill it.
    """
    radius = 30.0
    world = World()
    interest = Interest(world, radius, cap)
    live: list[Entity] = []
    for (x, y), observer, walks in population:
        e = world.spawn("player", "p", (x, y, 0.0), speed=8.0)
        interest.add(e, observer, walks)
        live.append(e)

    def check() -> None:
        for oid, shown in interest.seen.items():
            o = world.get(oid)
            assert o is not None
            within = {
                e.id for e in live if e is not o and math.hypot(e.x - o.x, e.y - o.y) <= radius
            }
            assert shown - {oid} <= within
            assert len(shown - {oid}) == min(cap, len(within)), (oid, shown, within)

    check()
    for op in operations:
        if op[0] == "walk" and live:
            world.walk(live[op[1] % len(live)], (*op[2], 0.0))
        elif op[0] == "logout" and live:
            e = live.pop(op[1] % len(live))
            world.remove(e)
            interest.remove(e)
        elif op[0] == "login":
            e = world.spawn("player", "p", (*op[1], 0.0), speed=8.0)
            interest.add(e, True, op[2])
            live.append(e)
        elif op[0] == "steps":
            for _ in range(op[1]):
                world.step(0.1)
                interest.update(world.started, world.stopped, world.arrived)
                check()
