"""World-wide chat spread over ticks (``--chat-spread``): when each client hears a say.

Assertions are on what each client's connection is sent, tick by tick: who
hears a world-wide ``say`` in which tick, in which write, in which order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mudserver.config import Settings
from mudserver.core.chatspread import ChatSpread
from mudserver.core.session import Session
from mudserver.store.files import FileStore
from tests.test_game import CHEAP, FakePeer, SaveRecorder, Table

NAMES = [f"p{i}" for i in range(9)]


@pytest.fixture
def table(tmp_path: Path) -> Table:
    store = FileStore(tmp_path, CHEAP)
    for name in NAMES:
        store.create(name, "password")
    return Table(store, Settings(chat_spread=4), SaveRecorder())


def playing(table: Table) -> list[tuple[Session, FakePeer]]:
    """Every name logged in, the arrivals told, every connection read up to now."""
    players = [table.login(name, "password") for name in NAMES]
    table.game.tick(0.1)
    for _, peer in players:
        peer.new_lines()
    return players


def test_the_slots_hand_out_each_clients_lines_once() -> None:
    spread = ChatSpread(3)
    for client, entity_id in (("a", 1), ("b", 2), ("c", 3), ("d", 4)):
        spread.add(client, entity_id, f"to {client}")
    assert len(spread) == 4
    assert spread.take("b", 2) == ["to b"] and spread.take("b", 2) is None
    assert spread.due() == {"c": ["to c"]}  # slot 0: entity 3
    assert spread.due() == {"a": ["to a"], "d": ["to d"]}  # slot 1: entities 1 and 4
    assert spread.due() == {} and len(spread) == 0
    with pytest.raises(ValueError):
        ChatSpread(1)


def test_a_world_wide_say_reaches_every_idle_client_once_within_the_spread(
    table: Table,
) -> None:
    players = playing(table)
    speaker = players[0][0]
    table.send(speaker, "say hello all")
    heard_in: dict[int, int] = {}
    for tick in range(1, 6):
        table.game.tick(0.1)
        for index, (_, peer) in enumerate(players):
            lines = peer.new_lines()
            if lines:
                assert lines == ["say 1,p0,hello all"], (index, lines)
                assert index not in heard_in, f"p{index} heard it twice"
                heard_in[index] = tick
    assert sorted(heard_in) == list(range(len(NAMES)))
    assert heard_in[0] == 1  # the speaker's own copy is not held back
    assert max(heard_in.values()) <= 4  # nobody waits more than 3 ticks longer
    # Each tick wrote to a part of the idle clients, not to all of them at once.
    per_tick = [list(heard_in.values()).count(tick) for tick in range(1, 5)]
    assert max(per_tick) < len(NAMES) - 1, per_tick


def test_a_client_written_to_anyway_gets_its_waiting_chat_first_in_that_write(
    table: Table,
) -> None:
    players = playing(table)
    (talker, _), (walker, _) = players[0], players[1]
    table.send(talker, "say first")
    table.send(talker, "say second")
    table.send(walker, "mov 5,0,0")
    table.game.tick(0.1)
    # Everyone sees the walker's first step (protocol 1): that write carries the chat too.
    for index, (_, peer) in enumerate(players[1:], start=1):
        sends = peer.new_sends()
        assert len(sends) == 1, (index, sends)
        lines = sends[0].splitlines()
        assert lines[:2] == ["say 1,p0,first", "say 1,p0,second"], (index, lines)
        assert lines[2].startswith("pos 2,"), (index, lines)


def test_a_client_that_leaves_with_chat_waiting_is_sent_nothing_after_its_bye(
    table: Table,
) -> None:
    players = playing(table)
    (talker, _), *rest = players
    table.send(talker, "say goodbye")
    for session, peer in rest:
        table.send(session, "bye")
        peer.new_lines()
    for _ in range(4):
        table.game.tick(0.1)
    for _, peer in rest:
        assert peer.new_lines() == []


def test_without_a_spread_everyone_hears_it_in_the_next_tick(tmp_path: Path) -> None:
    store = FileStore(tmp_path, CHEAP)
    for name in NAMES:
        store.create(name, "password")
    table = Table(store, Settings(), SaveRecorder())
    players = playing(table)
    table.send(players[3][0], "say now")
    table.game.tick(0.1)
    assert all(peer.new_lines() == ["say 4,p3,now"] for _, peer in players)
