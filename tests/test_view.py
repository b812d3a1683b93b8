"""What a player is told with interest management: the lines on the wire."""

from __future__ import annotations

from pathlib import Path

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.core.session import Session, State
from tests.support import LineClient, running_server


class Peer:
    """Collects what a session sends, one entry per write."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def send(self, text: str) -> None:
        self.writes.append(text)

    def close(self) -> None:
        pass

    def lines(self) -> list[str]:
        text = "".join(self.writes)
        self.writes.clear()
        return text.splitlines()


def player(game: Game, name: str, x: float, y: float) -> tuple[Session, Peer]:
    peer = Peer()
    session = Session(game, peer, name)
    session.state = State.CHECKING
    session.login_checked(Account(name, {}, x, y, 0.0))
    return session, peer


def test_login_sees_only_what_is_in_view() -> None:
    game = Game(Settings(view_radius=100.0), lambda account: None)
    _, near_peer = player(game, "near", 50.0, 0.0)
    _, far_peer = player(game, "far", 500.0, 0.0)
    _, me = player(game, "me", 0.0, 0.0)
    game.tick(0.1)  # others hear of arrivals with the next tick's write
    assert me.lines() == [
        "wel 3,me,0.00,0.00,0.00",
        "ent 3,player,me,0.00,0.00,0.00",
        "ent 1,player,near,50.00,0.00,0.00",
    ]
    assert near_peer.lines()[-1] == "ent 3,player,me,0.00,0.00,0.00"
    assert far_peer.lines() == ["wel 2,far,500.00,0.00,0.00", "ent 2,player,far,500.00,0.00,0.00"]


def test_walking_out_of_view_and_back_gives_del_then_ent() -> None:
    game = Game(Settings(view_radius=10.0, speed=10.0), lambda account: None)
    walker, walker_peer = player(game, "walker", 0.0, 0.0)
    _, watcher_peer = player(game, "watcher", 0.0, 5.0)
    game.tick(0.1)
    walker_peer.lines(), watcher_peer.lines()
    assert walker.entity is not None
    game.world.walk(walker.entity, (20.0, 5.0, 0.0))
    heard: list[str] = []
    for _ in range(30):
        game.tick(0.1)
        heard += watcher_peer.lines()
    assert heard[-1] == "del 1"
    assert sum(line.startswith("pos 1,") for line in heard) >= 5
    game.world.walk(walker.entity, (0.0, 5.0, 0.0))
    heard = []
    for _ in range(30):
        game.tick(0.1)
        heard += watcher_peer.lines()
    assert heard[0] == "ent 1,player,walker,10.00,5.00,0.00"
    assert heard[-1] == "pos 1,0.00,5.00,0.00"
    # The walker saw the watcher leave its view and come back, too.
    walker_lines = walker_peer.lines()
    assert "del 2" in walker_lines
    assert walker_lines.index("del 2") < walker_lines.index("ent 2,player,watcher,0.00,5.00,0.00")


def test_one_write_per_client_per_tick_and_none_when_idle() -> None:
    game = Game(Settings(), lambda account: None)
    sessions = [player(game, f"p{i}", i * 3.0, 0.0) for i in range(5)]
    game.tick(0.1)
    for session, peer in sessions:
        peer.writes.clear()
        assert session.entity is not None
        game.world.walk(session.entity, (100.0, 100.0, 0.0))
    first = sessions[0][0].entity
    assert first is not None
    game.say(first, "chat rides along with the moves")
    game.tick(0.1)
    assert [len(peer.writes) for _, peer in sessions] == [1] * 5
    assert all(len(peer.lines()) == 6 for _, peer in sessions)
    for session, _ in sessions:
        assert session.entity is not None
        game.world.walk(session.entity, session.entity.position)
    game.tick(0.1)
    game.tick(0.1)
    assert [peer.writes for _, peer in sessions] == [[]] * 5


def test_leaving_tells_only_those_who_saw_it() -> None:
    game = Game(Settings(), lambda account: None)
    leaver, _ = player(game, "leaver", 0.0, 0.0)
    _, near = player(game, "near", 10.0, 0.0)
    _, far = player(game, "far", 1000.0, 0.0)
    game.tick(0.1)
    near.lines(), far.lines()
    leaver.close("quit")
    game.tick(0.1)
    assert near.lines() == ["del 1"]
    assert far.lines() == []


def test_say_is_world_wide_unless_a_radius_is_set() -> None:
    game = Game(Settings(), lambda account: None)
    speaker, _ = player(game, "speaker", 0.0, 0.0)
    _, far = player(game, "far", 5000.0, 0.0)
    game.tick(0.1)
    far.lines()
    assert speaker.entity is not None
    game.say(speaker.entity, "hi")
    game.tick(0.1)
    assert far.lines() == ["say 1,speaker,hi"]

    local = Game(Settings(say_radius=50.0), lambda account: None)
    speaker, me = player(local, "speaker", 0.0, 0.0)
    _, near = player(local, "near", 0.0, 49.0)
    _, far = player(local, "far", 0.0, 51.0)
    local.tick(0.1)
    me.lines(), near.lines(), far.lines()
    assert speaker.entity is not None
    local.say(speaker.entity, "hi")
    local.tick(0.1)
    assert (me.lines(), near.lines(), far.lines()) == (
        ["say 1,speaker,hi"],
        ["say 1,speaker,hi"],
        [],
    )


def test_broadcast_mode_tells_everybody_everything() -> None:
    game = Game(Settings(mode="broadcast"), lambda account: None)
    mover, _ = player(game, "mover", 0.0, 0.0)
    _, far = player(game, "far", 5000.0, 0.0)
    game.tick(0.1)
    assert far.lines()[-2:] == [
        "ent 1,player,mover,0.00,0.00,0.00",
        "ent 2,player,far,5000.00,0.00,0.00",
    ]
    assert mover.entity is not None
    game.world.walk(mover.entity, (1.0, 0.0, 0.0))
    game.tick(0.1)
    assert far.lines() == ["pos 1,0.50,0.00,0.00"]


def test_del_then_ent_over_the_wire(tmp_path: Path) -> None:
    """Two real clients: foo walks out of bar's view and back."""
    with running_server(tmp_path, "--view-radius=2", "--speed=20") as server:
        with (
            LineClient(server.host, server.port) as foo,
            LineClient(server.host, server.port) as bar,
        ):
            foo_id = foo.login("foo", "1234").split(" ")[1].split(",")[0]
            bar.login("bar", "4321")
            bar.read_until(lambda line: line.startswith(f"ent {foo_id},"))
            foo.send("mov 5,0,0")
            lines = bar.read_until(lambda line: line.startswith("del "))
            assert lines[-1] == f"del {foo_id}"
            foo.send("mov 0,0,0")
            back = bar.read_until(
                lambda line: (
                    line == f"del {foo_id}"
                    or (
                        line.startswith((f"pos {foo_id},", f"ent {foo_id},"))
                        and line.endswith(",0.00,0.00,0.00")
                    )
                )
            )
            about_foo = [line for line in back if line.split(" ")[1].split(",")[0] == foo_id]
            assert about_foo[0].startswith(f"ent {foo_id},player,foo,")
            assert all(line.startswith("pos ") for line in about_foo[1:])
