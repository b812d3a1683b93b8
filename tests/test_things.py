"""Things in the world: seen by players of both protocols, seeing nothing.

The game's NPCs, creatures and objects go through the same delivery as
players (:meth:`Delivery.add` instead of ``join``).  Assertions are on the
lines each player would be sent.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from mudserver.core.delivery import BroadcastDelivery, Delivery, ViewDelivery
from mudserver.core.world import Entity, World

DT = 0.1


def deliveries(world: World) -> list[Delivery]:
    return [ViewDelivery(world, 50.0, 10), BroadcastDelivery(world)]


def tick(world: World, delivery: Delivery) -> Mapping[int, list[str]]:
    moved = world.step(DT)
    return delivery.tick(moved, world.started, world.stopped)


@pytest.mark.parametrize("mode", [0, 1], ids=["interest", "broadcast"])
def test_a_walking_thing_is_seen_by_both_protocols_and_sees_nothing(mode: int) -> None:
    world = World()
    delivery = deliveries(world)[mode]
    one = world.spawn("player", "one", (0.0, 0.0, 0.0))
    two = world.spawn("player", "two", (1.0, 0.0, 0.0))
    delivery.join(one, walks=False)
    delivery.join(two, walks=True)
    cat = world.spawn("creature", "cat", (10.0, 0.0, 0.0), speed=2.0)
    assert sorted(delivery.add(cat)) == [one.id, two.id]
    assert cat in delivery.in_view(one) and cat in delivery.in_view(two)
    world.walk(cat, (10.0, 0.3, 0.0))
    first = tick(world, delivery)
    assert first[one.id] == ["pos 3,10.00,0.20,0.00\n"]
    assert first[two.id] == ["wlk 3,10.00,0.20,0.00,10.00,0.30,0.00,2.00\n"]
    assert cat.id not in first  # a thing is told nothing
    second = tick(world, delivery)
    assert second == {one.id: ["pos 3,10.00,0.30,0.00\n"], two.id: ["pos 3,10.00,0.30,0.00\n"]}
    world.walk(one, (1.0, 0.0, 0.0))  # a player moving near it: still nothing for the thing
    assert cat.id not in tick(world, delivery)
    world.remove(cat)  # as the game does: out of the world, then out of every view
    assert sorted(delivery.leave(cat)) == [one.id, two.id]
    assert cat not in delivery.in_view(one)


def test_a_thing_out_of_view_is_told_to_nobody_until_a_player_comes_near() -> None:
    world = World()
    delivery = ViewDelivery(world, 50.0, 10)
    rock = world.spawn("object", "rock", (100.0, 0.0, 0.0))
    assert delivery.add(rock) == []
    walker = world.spawn("player", "w", (0.0, 0.0, 0.0), speed=10.0)
    lines, _ = delivery.join(walker, walks=True)
    assert "rock" not in lines
    world.walk(walker, (60.0, 0.0, 0.0))
    heard = [line for _ in range(60) for line in tick(world, delivery).get(walker.id, [])]
    assert "ent 1,object,rock,100.00,0.00,0.00\n" in heard


@pytest.mark.parametrize("mode", [0, 1], ids=["interest", "broadcast"])
def test_near_finds_players_and_things_where_they_are_now(mode: int) -> None:
    world = World()
    delivery = deliveries(world)[mode]
    player = world.spawn("player", "p", (0.0, 0.0, 0.0), speed=5.0)
    delivery.join(player, walks=True)
    things: list[Entity] = []
    for i in range(40):
        thing = world.spawn("thing", f"t{i}", (i * 7.0 - 140.0, (i % 5) * 9.0, 0.0), speed=3.0)
        delivery.add(thing)
        things.append(thing)
        if i % 3 == 0:
            world.walk(thing, (0.0, 0.0, 0.0))
    world.walk(player, (30.0, 30.0, 0.0))
    for _ in range(25):
        tick(world, delivery)
        for x, y, r in ((0.0, 0.0, 20.0), (10.0, 10.0, 35.0), (-100.0, 20.0, 50.0)):
            expected = {e.id for e in [player, *things] if (e.x - x) ** 2 + (e.y - y) ** 2 <= r * r}
            assert {e.id for e in delivery.near(x, y, r)} == expected


def test_near_between_a_step_and_the_views_update_still_finds_fast_walkers() -> None:
    """A game hook may ask right after the world stepped, before the views caught up."""
    world = World()
    delivery = ViewDelivery(world, 100.0, 50)
    runner = world.spawn("thing", "runner", (0.0, 0.0, 0.0), speed=300.0)
    delivery.add(runner)
    world.walk(runner, (1000.0, 0.0, 0.0))
    tick(world, delivery)
    world.step(0.5)  # 150 units further, several cells: the grid has not been told yet
    assert delivery.near(180.0, 0.0, 5.0) == [runner]
    assert delivery.near(30.0, 0.0, 5.0) == []
