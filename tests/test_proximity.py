"""Proximity traps against brute force over true positions, on random walks."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mudserver.core.proximity import Proximity
from mudserver.core.world import Entity, World

MAX_RADIUS = 50.0

#: Coordinates anywhere, or exactly on cell borders and radii (multiples of 12.5).
coordinate = st.one_of(
    st.floats(-150.0, 150.0, allow_nan=False),
    st.integers(-12, 12).map(lambda k: k * 12.5),
)
point = st.tuples(coordinate, coordinate)
radius = st.one_of(st.sampled_from([MAX_RADIUS, 25.0, 12.5]), st.floats(0.5, MAX_RADIUS))
speed = st.sampled_from([0.5, 5.0, 20.0, 120.0])
entity_index = st.integers(0, 1000)
operation = st.one_of(
    st.tuples(st.just("thing"), point, radius, speed),
    st.tuples(st.just("player"), point, speed),
    st.tuples(st.just("walk"), entity_index, point),
    # Toward another entity, to pass near it or stop inside its trap.
    st.tuples(
        st.just("approach"), entity_index, entity_index, point.map(lambda p: (p[0] / 4, p[1] / 4))
    ),
    st.tuples(st.just("speed"), entity_index, speed, point),  # a new speed, a new walk
    st.tuples(st.just("meet"), entity_index, entity_index),  # both walk toward each other
    st.tuples(st.just("stop"), entity_index),
    st.tuples(st.just("untrap"), entity_index),
    st.tuples(st.just("leave"), entity_index),
    st.tuples(st.just("steps"), st.integers(1, 30), st.sampled_from([0.1, 0.05, 0.37])),
)


class Reference:
    """Who is inside which trap, the slow and obvious way."""

    def __init__(self) -> None:
        self.traps: dict[int, tuple[Entity, float]] = {}
        self.targets: dict[int, Entity] = {}
        self.inside: dict[int, set[int]] = {}

    def measure(self) -> dict[int, set[int]]:
        return {
            hid: {
                tid
                for tid, t in self.targets.items()
                if tid != hid and math.hypot(t.x - h.x, t.y - h.y) <= r
            }
            for hid, (h, r) in self.traps.items()
        }

    def update(self) -> list[tuple[int, int, bool]]:
        now = self.measure()
        changes = []
        for hid in sorted(now):
            before = self.inside.get(hid, set())
            changes += [(hid, tid, False) for tid in sorted(before - now[hid])]
            changes += [(hid, tid, True) for tid in sorted(now[hid] - before)]
        self.inside = now
        return changes


def run(operations: list[tuple]) -> None:
    world = World()
    traps, reference = Proximity(MAX_RADIUS, world), Reference()
    live: list[Entity] = []
    for op in operations:
        if op[0] == "thing":
            _, (x, y), r, v = op
            e = world.spawn("thing", "t", (x, y, 0.0), speed=v)
            traps.add_trap(e, r)
            reference.traps[e.id] = (e, r)
            live.append(e)
        elif op[0] == "player":
            _, (x, y), v = op
            e = world.spawn("player", "p", (x, y, 0.0), speed=v)
            traps.add_target(e)
            reference.targets[e.id] = e
            live.append(e)
        elif op[0] in ("walk", "speed") and live:
            e = live[op[1] % len(live)]
            if op[0] == "speed":
                e.speed = op[2]
            world.walk(e, (*op[-1], 0.0))
        elif op[0] == "approach" and live:
            e, other = live[op[1] % len(live)], live[op[2] % len(live)]
            world.walk(e, (other.x + op[3][0], other.y + op[3][1], 0.0))
        elif op[0] == "meet" and live:
            e, other = live[op[1] % len(live)], live[op[2] % len(live)]
            here, there = e.position, other.position
            world.walk(e, there)
            world.walk(other, here)
        elif op[0] == "stop" and live:
            world.stop(live[op[1] % len(live)])
        elif op[0] == "untrap" and live:
            e = live[op[1] % len(live)]
            traps.remove_trap(e)
            reference.traps.pop(e.id, None)
            reference.inside.pop(e.id, None)
        elif op[0] == "leave" and live:
            e = live.pop(op[1] % len(live))
            world.remove(e)
            traps.remove_trap(e)
            holders = [h.id for h in traps.remove_target(e)]
            assert holders == sorted(h for h, ids in reference.inside.items() if e.id in ids)
            reference.traps.pop(e.id, None)
            reference.inside.pop(e.id, None)
            reference.targets.pop(e.id, None)
            for ids in reference.inside.values():
                ids.discard(e.id)
        elif op[0] == "steps":
            for _ in range(op[1]):
                world.step(op[2])
                got = [(h.id, t.id, entered) for h, t, entered in traps.update()]
                assert got == reference.update()
                for hid, (h, _) in reference.traps.items():
                    assert [t.id for t in traps.inside(h)] == sorted(reference.inside[hid])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.just("thing"), point, radius, speed), min_size=1, max_size=5),
    st.lists(st.tuples(st.just("player"), point, speed), min_size=1, max_size=6),
    st.lists(operation, min_size=1, max_size=40),
)
def test_traps_match_brute_force(things: list, players: list, operations: list[tuple]) -> None:
    """Every update reports exactly the changes brute force finds, in order."""
    run([*things, *players, *operations, ("steps", 20, 0.1)])


def test_walks_along_a_trap_edge_and_through_cell_corners() -> None:
    """Tangent to the radius, along cell borders, exactly through a corner."""
    run(
        [
            ("thing", (0.0, 0.0), 50.0, 5.0),
            ("thing", (50.0, 50.0), 25.0, 5.0),
            ("player", (-100.0, 50.0), 5.0),  # walks along y = 50: touches the first trap
            ("player", (0.0, -100.0), 20.0),  # walks through (50, 50), a corner of cells
            ("player", (-50.0, -50.0), 0.5),
            ("walk", 2, (100.0, 50.0)),
            ("walk", 3, (100.0, 100.0)),
            ("walk", 4, (-50.0, 50.0)),  # along x = -50, a cell border
            ("steps", 30, 0.1),
            ("walk", 3, (0.0, 25.0)),  # re-aimed while crossing
            ("steps", 30, 0.1),
            ("walk", 0, (60.0, 0.0)),  # the holder walks too
            ("steps", 30, 0.37),
        ]
    )


def test_a_trap_set_next_to_a_player_reports_it_at_the_next_update() -> None:
    world = World()
    traps = Proximity(100.0, world)
    player = world.spawn("player", "p", (3.0, 4.0, 0.0))
    traps.add_target(player)
    door = world.spawn("thing", "door", (0.0, 0.0, 0.0))
    traps.add_trap(door, 5.0)
    assert traps.inside(door) == []
    world.step(0.1)
    assert traps.update() == [(door, player, True)]
    assert traps.inside(door) == [player]
    world.step(0.1)
    assert traps.update() == []


def test_removals_report_nothing() -> None:
    world = World()
    traps = Proximity(100.0, world)
    player = world.spawn("player", "p", (0.0, 0.0, 0.0))
    door = world.spawn("thing", "door", (1.0, 0.0, 0.0))
    gate = world.spawn("thing", "gate", (2.0, 0.0, 0.0))
    traps.add_target(player)
    traps.add_trap(door, 10.0)
    traps.add_trap(gate, 10.0)
    world.step(0.1)
    assert len(traps.update()) == 2
    traps.remove_trap(door)
    traps.remove_target(player)
    world.step(0.1)
    assert traps.update() == []
    assert traps.inside(gate) == [] and traps.inside(door) == []


def test_a_trap_larger_than_the_view_is_refused() -> None:
    traps = Proximity(100.0, World())
    thing = Entity(1, "thing", "t")
    with pytest.raises(ValueError):
        traps.add_trap(thing, 100.5)
    with pytest.raises(ValueError):
        traps.add_trap(thing, 0.0)


def test_traps_nobody_is_near_cost_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """10,000 standing traps, players walking far from them: no pair is ever measured."""
    world = World()
    traps = Proximity(100.0, world)
    for i in range(10_000):
        traps.add_trap(world.spawn("thing", "rock", (i % 100 * 50.0, i // 100 * 50.0, 0.0)), 20.0)
    walkers = [world.spawn("player", "p", (-5_000.0, 100.0 * i, 0.0), speed=5.0) for i in range(50)]
    for p in walkers:
        traps.add_target(p)
        world.walk(p, (-9_000.0, 100.0 * p.id, 0.0))
    world.step(0.1)
    traps.update()  # the first update rescans every trap once
    measured: list[object] = []
    for name in ("_check", "_classify", "_settle"):
        real = getattr(Proximity, name)
        monkeypatch.setattr(
            Proximity, name, lambda self, *a, real=real: measured.append(a) or real(self, *a)
        )
    for _ in range(100):
        world.step(0.1)
        assert traps.update() == []
    assert measured == []


@pytest.mark.parametrize("apart", [0.5, 1.5, 1.95, 2.05, 3.0])
@pytest.mark.parametrize("both_walk", [True, False])
def test_pairs_at_the_edge_of_the_band_are_caught_crossing(apart: float, both_walk: bool) -> None:
    """Anchored *apart* slacks beyond the radius, then walking head-on: no crossing is late.

    Such a pair is in the band (timed) below 2 slacks and left alone above;
    either way the crossing must be reported on the step it happens.
    """
    slack = MAX_RADIUS / 6
    for r in (MAX_RADIUS, 20.0):
        start = r + apart * slack
        run(
            [
                ("thing", (0.0, 0.0), r, 1.0),
                ("player", (start, 0.0), 1.0),
                ("steps", 1, 0.1),
                *([("walk", 0, (start, 0.0))] if both_walk else []),
                ("walk", 1, (0.0, 0.0)),
                ("steps", 30 + int(start * 10), 0.1),
            ]
        )
