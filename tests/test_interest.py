"""The spatial index against a brute-force reference, on random worlds."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mudserver.core.grid import Grid
from mudserver.core.interest import Interest
from mudserver.core.world import Entity, World
from mudserver.wire import replies


@dataclass
class Reference:
    """What every observer should know, computed the slow and obvious way."""

    radius: float
    entities: dict[int, Entity] = field(default_factory=dict)
    observers: set[int] = field(default_factory=set)
    seen: dict[int, set[int]] = field(default_factory=dict)

    def visible(self, o: Entity) -> set[int]:
        r2 = self.radius * self.radius
        return {
            e.id
            for e in self.entities.values()
            if (e.x - o.x) * (e.x - o.x) + (e.y - o.y) * (e.y - o.y) <= r2
        }

    def add(self, e: Entity, observer: bool) -> tuple[set[int], set[int]]:
        self.entities[e.id] = e
        told = {o for o in self.observers if e.id in self.visible(self.entities[o])}
        for o in told:
            self.seen[o].add(e.id)
        if observer:
            self.observers.add(e.id)
            self.seen[e.id] = self.visible(e)
            return set(self.seen[e.id]), told
        return set(), told

    def remove(self, e: Entity) -> set[int]:
        del self.entities[e.id]
        self.observers.discard(e.id)
        self.seen.pop(e.id, None)
        told = {o for o, ids in self.seen.items() if e.id in ids}
        for o in told:
            self.seen[o].discard(e.id)
        return told

    def update(self, moved: list[Entity]) -> dict[int, list[str]]:
        moved_ids = {e.id for e in moved}
        out: dict[int, list[str]] = {}
        for oid in self.observers:
            old, new = self.seen[oid], self.visible(self.entities[oid])
            lines = [replies.delete(i) for i in old - new]
            lines += [replies.ent(self.entities[i]) for i in new - old]
            lines += [replies.pos(self.entities[i]) for i in old & new & moved_ids]
            self.seen[oid] = new
            if lines:
                out[oid] = sorted(lines)
        return out


coordinate = st.one_of(
    st.floats(-300, 300, allow_nan=False),
    st.integers(-6, 6).map(lambda k: k * 50.0),  # exactly on cell edges and radii
)
point = st.tuples(coordinate, coordinate)
operation = st.one_of(
    st.tuples(st.just("add"), point, st.booleans()),
    st.tuples(st.just("remove"), st.integers(0, 1000)),
    st.tuples(st.just("move"), st.lists(st.tuples(st.integers(0, 1000), point), max_size=8)),
    # Small steps (dt 0.01 = 0.2 units) keep entities near their anchors, so
    # the band pairs are measured lazily; big ones force rescans.
    st.tuples(
        st.just("walk"),
        st.integers(0, 1000),
        point,
        st.integers(1, 40),
        st.sampled_from([0.01, 0.05, 0.5]),
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([25.0, 50.0, 100.0]),
    st.lists(st.tuples(st.just("add"), point, st.booleans()), min_size=1, max_size=12),
    st.lists(operation, max_size=30),
)
def test_interest_matches_brute_force(
    radius: float, population: list[tuple], operations: list[tuple]
) -> None:
    """Same entities in view for every observer, same ent/pos/del lines each tick."""
    world = World()
    interest, reference = Interest(radius), Reference(radius)
    live: list[Entity] = []
    for op in population + operations:
        if op[0] == "add":
            _, (x, y), observer = op
            e = world.spawn("player", "p", (x, y, 0.0), speed=20.0)
            live.append(e)
            in_view, told = interest.add(e, observer)
            ref_view, ref_told = reference.add(e, observer)
            assert {v.id for v in in_view} == ref_view
            assert set(told) == ref_told
        elif op[0] == "remove" and live:
            e = live.pop(op[1] % len(live))
            world.remove(e)
            assert set(interest.remove(e)) == reference.remove(e)
        elif op[0] == "move" and live:
            moved = {}
            for index, (x, y) in op[1]:
                e = live[index % len(live)]
                e.x, e.y = x, y
                moved[e.id] = e
            out = interest.update(list(moved.values()))
            assert {o: sorted(lines) for o, lines in out.items()} == reference.update(
                list(moved.values())
            )
        elif op[0] == "walk" and live:
            _, index, (x, y), ticks, dt = op
            world.walk(live[index % len(live)], (x, y, 0.0))
            for _ in range(ticks):
                moved_list = world.step(dt)
                out = interest.update(moved_list)
                assert {o: sorted(lines) for o, lines in out.items()} == reference.update(
                    moved_list
                )
        assert interest.seen == reference.seen


def test_idle_world_costs_nothing() -> None:
    interest = Interest(100.0)
    world = World()
    for i in range(50):
        interest.add(world.spawn("player", f"p{i}", (i * 10.0, 0.0, 0.0)), observer=True)
    assert interest.update(world.step(0.1)) == {}


def test_grid_files_negative_coordinates_in_their_own_cells() -> None:
    grid = Grid(100.0)
    world = World()
    a = world.spawn("player", "a", (-0.5, -0.5, 0.0))
    b = world.spawn("player", "b", (0.5, 0.5, 0.0))
    far = world.spawn("player", "far", (-250.0, 0.0, 0.0))
    for e in (a, b, far):
        grid.add(e)
    assert grid.cell_of(-0.5, -0.5) == (-1, -1)
    assert {e.name for e in grid.within(0.0, 0.0, 100.0)} == {"a", "b"}
    far.x = -99.0
    grid.move(far)
    assert {e.name for e in grid.within(0.0, 0.0, 100.0)} == {"a", "b", "far"}
    grid.remove(far)
    assert len(grid) == 2


def test_slow_walkers_cross_the_edge_of_view_on_the_exact_tick() -> None:
    """Steps much smaller than the slack: the lazily measured band must not miss a crossing."""
    world = World()
    interest, reference = Interest(100.0), Reference(100.0)
    standing = world.spawn("player", "standing", (0.0, 0.0, 0.0))
    walkers = [
        world.spawn("player", "out", (94.0, 0.0, 0.0), speed=1.0),
        world.spawn("player", "in", (0.0, -106.0, 0.0), speed=1.0),
        world.spawn("player", "diagonal", (60.0, 60.0, 0.0), speed=1.5),
        world.spawn("player", "mirror", (-94.0, 0.0, 0.0), speed=1.0),
        # Two walking apart: their distance changes twice as fast as either moves.
        world.spawn("player", "apart_a", (-46.0, 300.0, 0.0), speed=1.0),
        world.spawn("player", "apart_b", (46.0, 300.0, 0.0), speed=1.0),
    ]
    for e in [standing, *walkers]:
        assert interest.add(e, True)[1] is not None
        reference.add(e, True)
    targets = [(106.0, 0.0), (0.0, -94.0), (80.0, 80.0), (-106.0, 0.0), (-70, 300), (70, 300)]
    for e, (x, y) in zip(walkers, targets, strict=True):
        world.walk(e, (x, y, 0.0))
    changes = 0
    for _ in range(150):
        moved = world.step(0.1)
        out = interest.update(moved)
        expected = reference.update(moved)
        assert {o: sorted(lines) for o, lines in out.items()} == expected
        changes += sum(line.startswith(("ent", "del")) for lines in out.values() for line in lines)
    assert changes >= 6


def test_walkers_pushed_past_their_slack_together_do_not_stay_in_lockstep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After one late tick rescans everybody at once, later rescans spread over several ticks.

    With one fixed rescan distance, walkers at one speed would all rescan
    again on the same tick, forever: the jitter is what breaks the group up.
    """
    world, interest = World(), Interest(100.0)
    walkers = []
    for i in range(200):
        e = world.spawn("player", "p", (1000.0 * i, 0.0, 0.0), speed=5.0)
        interest.add(e, observer=True)
        world.walk(e, (1000.0 * i, 10_000.0, 0.0))
        walkers.append(e)
    rescans: list[int] = []
    rescan = Interest._rescan

    def counting(self: Interest, e: Entity, *args: object) -> None:
        rescans.append(e.id)
        rescan(self, e, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Interest, "_rescan", counting)
    # A late tick: everybody walks past its slack at once.
    interest.update(world.step(1.2 * interest.slack / 5.0))
    assert len(rescans) == 200
    per_tick = []
    for _ in range(60):
        rescans.clear()
        interest.update(world.step(0.1))
        per_tick.append(len(rescans))
    assert sum(per_tick) >= 200  # each walker rescanned again at least once
    assert max(per_tick) <= 120, per_tick  # but never the whole group on one tick
