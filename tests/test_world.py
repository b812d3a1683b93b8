"""Tests for mudserver.core.world: entities walking toward a destination in fixed steps.

Time only enters through ``step(dt)``, so every test drives it with explicit
``dt`` values: no clock, no sleeping.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mudserver.core.world import ARRIVAL_TOLERANCE, Entity, World

Point = tuple[float, float, float]


def distance(a: Point, b: Point) -> float:
    return math.dist(a, b)


def walker(world: World, start: Point = (0.0, 0.0, 0.0), speed: float = 5.0) -> Entity:
    return world.spawn("player", "foo", start, speed=speed)


# -- the example of docs/protocol.md §12 ---------------------------------------------


def test_walk_one_unit_at_speed_5_takes_two_steps_of_half_a_unit_then_stops() -> None:
    world = World()
    e = walker(world)
    world.walk(e, (1.0, 0.0, 0.0))
    assert world.step(0.1) == [e]
    assert e.position == (0.5, 0.0, 0.0)
    assert world.step(0.1) == [e]
    assert e.position == (1.0, 0.0, 0.0)
    assert e.dest is None
    assert world.step(0.1) == []
    assert world.step(0.1) == []
    assert e.position == (1.0, 0.0, 0.0)


def test_nothing_moves_before_the_first_step() -> None:
    world = World()
    e = walker(world)
    world.walk(e, (1.0, 0.0, 0.0))
    assert e.position == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("dt", [0.0, -0.1])
def test_a_step_without_elapsed_time_moves_nothing(dt: float) -> None:
    world = World()
    e = walker(world)
    world.walk(e, (1.0, 0.0, 0.0))
    assert world.step(dt) == []
    assert e.position == (0.0, 0.0, 0.0)
    assert world.step(0.1) == [e]  # still walking afterwards


@pytest.mark.parametrize(
    "dest",
    [(3.0, 4.0, 0.0), (-3.0, 0.0, 4.0), (1.0, 1.0, 1.0), (0.0, -7.0, 7.0), (1.6, 0.8, 0.0)],
)
def test_diagonal_walk_keeps_exact_speed(dest: Point) -> None:
    world = World()
    e = walker(world)
    world.walk(e, dest)
    origin = (0.0, 0.0, 0.0)
    total = distance(origin, dest)
    steps = 0
    while True:
        before, remaining = e.position, distance(e.position, dest)
        if world.step(0.1) == []:
            break
        steps += 1
        # Each step covers speed * dt (or what is left), along the straight line.
        assert distance(before, e.position) == pytest.approx(min(0.5, remaining), abs=1e-12)
        travelled = distance(origin, e.position)
        assert travelled + distance(e.position, dest) == pytest.approx(total, rel=1e-12)
        assert steps <= math.ceil(total / 0.5) + 1
    assert e.position == dest


@pytest.mark.parametrize("dest", [(3.0, 4.0, 0.0), (-3.0, 0.0, 4.0)])
def test_a_walk_of_length_5_takes_exactly_10_steps_of_half_a_unit(dest: Point) -> None:
    world = World()
    e = walker(world)
    world.walk(e, dest)
    shown = []
    while world.step(0.1):
        shown.append(tuple(f"{c:.2f}" for c in e.position))
    assert len(shown) == 10
    assert len(set(shown)) == len(shown)  # no position is announced twice
    assert e.position == dest


def test_diagonal_from_protocol_example_takes_two_steps() -> None:
    """`MOV 1.6, 0.8, 0` from 1,0,0 is a walk of length 1: two steps of 0.5."""
    world = World()
    e = walker(world, (1.0, 0.0, 0.0))
    world.walk(e, (1.6, 0.8, 0.0))
    assert world.step(0.1) == [e]
    assert e.position == pytest.approx((1.3, 0.4, 0.0))
    assert world.step(0.1) == [e]
    assert e.position == (1.6, 0.8, 0.0)
    assert world.step(0.1) == []


def test_a_big_step_stops_exactly_on_the_destination() -> None:
    world = World()
    e = walker(world)
    world.walk(e, (1.0, 2.0, -2.0))
    assert world.step(100.0) == [e]
    assert e.position == (1.0, 2.0, -2.0)
    assert world.step(100.0) == []


#: World coordinates; vanishingly small ones (below 1e-6) are left out because
#: their squared differences underflow to 0, which only matters far below the
#: 0.01 resolution of the protocol.
_COORD = st.floats(min_value=-10_000, max_value=10_000).filter(lambda v: v == 0 or abs(v) >= 1e-6)
_POINT = st.tuples(_COORD, _COORD, _COORD)


@given(
    start=_POINT,
    dest=_POINT,
    speed=st.floats(min_value=0.1, max_value=100.0),
    dts=st.lists(st.floats(min_value=0.001, max_value=1.0), min_size=1, max_size=30),
)
def test_walking_never_overshoots_and_ends_exactly_on_dest(
    start: Point, dest: Point, speed: float, dts: list[float]
) -> None:
    world = World()
    e = walker(world, start, speed)
    world.walk(e, dest)
    remaining = distance(start, dest)
    for dt in dts:
        arrived = e.position == dest
        moved = world.step(dt)
        now = distance(e.position, dest)
        assert now <= remaining, "the distance to the destination grew"
        expected = max(0.0, remaining - speed * dt)
        if now == 0.0:  # arrived: at most the tolerance was left to walk
            assert expected <= ARRIVAL_TOLERANCE + 1e-6
        else:
            assert now == pytest.approx(expected, abs=1e-6)
        assert moved == ([] if arrived else [e])
        remaining = now
    # Enough time for whatever is left: it lands exactly on the destination.
    world.step(remaining / speed * (1 + 1e-9) + 1e-9)
    assert e.position == dest
    assert e.dest is None
    assert world.step(1.0) == []
    assert e.position == dest


def test_a_tick_a_little_short_does_not_cost_an_invisible_last_step() -> None:
    """Real ticks wobble around 0.1 s; the walk still ends with its last visible step."""
    world = World()
    e = walker(world, (0.0, 0.0, 0.0), speed=5.0)
    world.walk(e, (2.0, 0.0, 0.0))
    shown = []
    while world.step(0.0999):
        shown.append(f"{e.x:.2f}")
    assert shown == ["0.50", "1.00", "1.50", "2.00"]  # 1.998 rounds to 2.00: arrived
    assert e.position == (2.0, 0.0, 0.0) and e.dest is None


@given(
    start=_POINT,
    dest=_POINT,
    dts=st.lists(st.floats(min_value=0.001, max_value=1.0), min_size=1, max_size=30),
)
def test_each_coordinate_moves_monotonically_toward_dest(
    start: Point, dest: Point, dts: list[float]
) -> None:
    world = World()
    e = walker(world, start, speed=1000.0)
    world.walk(e, dest)
    for dt in dts:
        before = e.position
        world.step(dt)
        for b, now, d in zip(before, e.position, dest, strict=True):
            assert min(b, d) <= now <= max(b, d)


# -- changing plans ----------------------------------------------------------------------


def test_a_new_walk_replaces_the_destination() -> None:
    world = World()
    e = walker(world)
    world.walk(e, (10.0, 0.0, 0.0))
    world.step(0.1)
    assert e.position == (0.5, 0.0, 0.0)
    world.walk(e, (0.5, 1.0, 0.0))
    assert world.step(0.1) == [e]
    assert e.position == (0.5, 0.5, 0.0)
    assert world.step(0.1) == [e]
    assert e.position == (0.5, 1.0, 0.0)
    assert world.step(0.1) == []


def test_a_new_walk_after_arrival_starts_moving_again() -> None:
    world = World()
    e = walker(world)
    world.walk(e, (0.5, 0.0, 0.0))
    world.step(0.1)
    assert world.step(0.1) == []
    world.walk(e, (0.0, 0.0, 0.0))
    assert world.step(0.1) == [e]
    assert e.position == (0.0, 0.0, 0.0)


def test_walking_to_the_current_position_produces_no_movement() -> None:
    world = World()
    e = walker(world, (1.0, 2.0, 3.0))
    world.walk(e, (1.0, 2.0, 3.0))
    assert world.step(0.1) == []
    assert e.position == (1.0, 2.0, 3.0)
    assert e.dest is None


def test_walking_back_to_where_it_stands_mid_walk_stops_it() -> None:
    world = World()
    e = walker(world)
    world.walk(e, (10.0, 0.0, 0.0))
    world.step(0.1)
    world.walk(e, e.position)
    assert world.step(0.1) == []
    assert e.position == (0.5, 0.0, 0.0)


def test_an_entity_that_cannot_move_is_never_reported_as_moved() -> None:
    world = World()
    e = world.spawn("rock", "stone", (1.0, 0.0, 0.0))  # default speed: 0
    world.walk(e, (2.0, 0.0, 0.0))
    assert world.step(0.1) == []
    assert e.position == (1.0, 0.0, 0.0)


# -- removal and ids -----------------------------------------------------------------------


def test_a_removed_entity_never_moves_again() -> None:
    world = World()
    e = walker(world)
    other = walker(world)
    world.walk(e, (10.0, 0.0, 0.0))
    world.walk(other, (0.0, 10.0, 0.0))
    world.step(0.1)
    world.remove(e)
    assert e not in world
    assert world.get(e.id) is None
    assert world.step(0.1) == [other]
    assert e.position == (0.5, 0.0, 0.0)
    # Walking it after removal does not bring it back either.
    world.walk(e, (-10.0, 0.0, 0.0))
    assert world.step(0.1) == [other]
    assert e.position == (0.5, 0.0, 0.0)
    assert e not in world
    assert list(world) == [other]


def test_remove_is_a_no_op_for_an_entity_not_in_the_world() -> None:
    world = World()
    e = walker(world)
    world.remove(e)
    world.remove(e)
    stranger = Entity(e.id, "player", "impostor")
    f = walker(world)
    world.remove(stranger)
    assert list(world) == [f]


def test_ids_are_never_reused_after_removal() -> None:
    world = World()
    seen: set[int] = set()
    last = 0
    for _ in range(50):
        e = walker(world)
        assert e.id not in seen and e.id > last
        seen.add(e.id)
        last = e.id
        world.remove(e)
    assert len(world) == 0
    kept = [walker(world) for _ in range(3)]
    assert {k.id for k in kept}.isdisjoint(seen)


def test_len_iter_get_and_contains() -> None:
    world = World()
    a = walker(world)
    b = world.spawn("player", "bar", (1.0, 2.0, 3.0), speed=5.0)
    assert len(world) == 2
    assert set(world) == {a, b}
    assert world.get(b.id) is b
    assert b in world
    assert "b" not in world
    assert b.position == (1.0, 2.0, 3.0)
    assert (b.kind, b.name, b.speed) == ("player", "bar", 5.0)


# -- an idle world ---------------------------------------------------------------------------


def test_an_empty_world_steps_to_nothing() -> None:
    assert World().step(0.1) == []


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[Entity]:
    """From now on, every entity whose position is read, in order.

    A position is computed from the walk each time it is read, so an entity
    a step never reads is an entity the step never looked at.
    """
    read: list[Entity] = []
    for name in ("x", "y", "z", "position"):
        real = getattr(Entity, name)

        def counting(self: Entity, real: property = real) -> object:
            read.append(self)
            return real.fget(self)  # type: ignore[misc]

        monkeypatch.setattr(Entity, name, property(counting, real.fset))
    return read


def test_an_idle_world_with_many_standing_entities_steps_to_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World()
    entities = [walker(world, (float(i), 0.0, 0.0)) for i in range(10_000)]
    read = count_reads(monkeypatch)
    for _ in range(100):
        assert world.step(0.1) == []
    assert read == []  # standing entities are not even looked at
    assert [e.position for e in entities[:3]] == [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (2.0, 0.0, 0.0)]


def test_a_step_moves_walkers_without_computing_where_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A walker's position follows from the time: a step only ends and changes walks."""
    world = World()
    walkers = [walker(world, (float(i), 0.0, 0.0)) for i in range(1_000)]
    for e in walkers:
        world.walk(e, (e.x0, 1_000.0, 0.0))
    world.step(0.1)
    read = count_reads(monkeypatch)
    for _ in range(20):
        assert len(world.step(0.1)) == 1_000
    assert read == []
    assert walkers[7].position == pytest.approx((7.0, 10.5, 0.0))


def test_arrived_entities_are_no_longer_looked_at(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once everybody has arrived, the world is idle again: stepping it is free."""
    world = World()
    walkers = [walker(world) for _ in range(100)]
    for i, e in enumerate(walkers):
        world.walk(e, (0.0, 0.0, 0.05 * (i % 10)))
    assert len(world.step(0.1)) == 90
    assert len(world.arrived) == 90
    read = count_reads(monkeypatch)
    for _ in range(10):
        assert world.step(0.1) == []
        assert world.arrived == world.stopped == []
    assert read == []


def test_only_walking_entities_are_stepped() -> None:
    """One walker among 10,000 standing entities: only it is reported."""
    world = World()
    for i in range(10_000):
        walker(world, (float(i), 0.0, 0.0))
    e = walker(world)
    world.walk(e, (0.0, 1.0, 0.0))
    assert world.step(0.1) == [e]
    assert world.step(0.1) == [e]
    assert world.step(0.1) == []


def test_a_turn_interval_makes_quick_re_aims_wait_and_keeps_the_last() -> None:
    world = World()
    walker = world.spawn("player", "w", (0.0, 0.0, 0.0), speed=10.0)
    world.walk(walker, (100.0, 0.0, 0.0), turn_interval=0.2)
    assert walker.dest == (100.0, 0.0, 0.0)  # the first turn is at once
    world.step(0.1)
    world.walk(walker, (0.0, 100.0, 0.0), turn_interval=0.2)
    world.walk(walker, (0.0, -100.0, 0.0), turn_interval=0.2)  # the last one counts
    assert walker.dest == (100.0, 0.0, 0.0)
    world.step(0.1)  # 0.1 s since the turn: still waiting
    assert walker.dest == (100.0, 0.0, 0.0) and world.started == []
    world.step(0.1)  # 0.2 s: it turns at the start of this step
    assert walker.dest == (0.0, -100.0, 0.0) and world.started == [walker]
    world.walk(walker, (0.0, -100.0, 0.0), turn_interval=0.2)  # the same: no change
    world.walk(walker, (5.0, 5.0, 0.0))  # no interval asked for: at once
    assert walker.dest == (5.0, 5.0, 0.0)


# -- stop, arrived, and positions read between steps ----------------------------------------


def test_stop_ends_a_walk_where_the_entity_stands_and_is_not_an_arrival() -> None:
    world = World()
    e = walker(world)
    world.walk(e, (10.0, 0.0, 0.0))
    world.step(0.1)
    world.stop(e)
    assert e.dest is None and e.position == (0.5, 0.0, 0.0)
    assert world.step(0.1) == []  # it did not move during this step
    assert (world.stopped, world.arrived, world.started) == ([e], [], [])
    assert e.position == (0.5, 0.0, 0.0)
    world.stop(e)  # standing: nothing to stop
    world.step(0.1)
    assert world.stopped == []


def test_arrived_lists_only_walks_that_reached_their_destination() -> None:
    world = World()
    arriving, re_aimed, stopped, still = (walker(world) for _ in range(4))
    for e in (arriving, re_aimed, stopped, still):
        world.walk(e, (0.4, 0.0, 0.0))
    world.walk(still, (50.0, 0.0, 0.0))
    world.walk(re_aimed, (0.0, 0.0, 0.0))  # back to where it stands: ended, not arrived
    world.stop(stopped)
    world.step(0.1)
    assert world.arrived == [arriving]
    assert {e.id for e in world.stopped} == {arriving.id, re_aimed.id, stopped.id}
    assert world.started == [still]


def test_stop_drops_a_walk_waiting_its_turn() -> None:
    world = World()
    e = walker(world)
    world.walk(e, (10.0, 0.0, 0.0), turn_interval=1.0)
    world.step(0.1)
    world.walk(e, (0.0, 10.0, 0.0), turn_interval=1.0)  # waits
    world.stop(e)
    for _ in range(20):
        world.step(0.1)
    assert e.position == (0.5, 0.0, 0.0) and e.dest is None


def test_positions_are_those_of_the_world_time_between_steps() -> None:
    """Game code reads where an entity is now: after the last step, until the next."""
    world = World()
    e = walker(world, speed=2.0)
    world.walk(e, (0.0, 0.0, 100.0))
    assert e.position == (0.0, 0.0, 0.0)
    for _ in range(3):
        world.step(0.25)
    assert e.position == pytest.approx((0.0, 0.0, 1.5))
    assert (e.x, e.y, e.z) == e.position
    world.walk(e, (0.0, 3.0, 1.5))  # re-aimed from where it is now
    assert e.position == pytest.approx((0.0, 0.0, 1.5))
    world.step(1.0)
    assert e.position == pytest.approx((0.0, 2.0, 1.5))
