"""Things keep every client's view consistent, whatever game code and players do (hypothesis).

Random spawns, despawns and walks of things, logins, logouts and walks of
players in both protocol versions, and ticks: after every step, each client
has been told about an id before any other line about it (``ent`` before
``pos``/``wlk``/``say``/``msg``/``del``), was never introduced twice without a
``del`` between, and holds no id of a thing or player that has left the
world (a ``del`` came for every one it knew).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mudserver.core.session import Session, State
from mudserver.game import Player, Thing
from tests.gamekit import Playground, Screen


class Mover(Thing):
    """Does what the test tells it; says something when it arrives, so says are checked too."""

    kind = "creature"
    speed: float = 8.0

    def on_arrive(self) -> None:
        self.say("here", radius=30)

    def on_use(self, player: Player, verb: str, text: str) -> str:
        return "ok"


coordinate = st.floats(-150, 150, allow_nan=False).map(lambda v: round(v, 1))
point = st.tuples(coordinate, coordinate)
step = st.one_of(
    st.tuples(st.just("spawn"), point),
    st.tuples(st.just("despawn"), st.integers(0, 50)),
    st.tuples(st.just("walk"), st.integers(0, 50), point),
    st.tuples(st.just("login"), point, st.sampled_from(["1", "2"])),
    st.tuples(st.just("logout"), st.integers(0, 50)),
    st.tuples(st.just("mov"), st.integers(0, 50), point),
    st.tuples(st.just("use"), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("tick"), st.integers(1, 15)),
)

MENTIONS = ("pos", "wlk", "say", "msg", "del")


class View:
    """What one client has been told, checked line by line."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self.known: set[int] = set()

    def read(self) -> None:
        for line in self.screen.new():
            code, _, rest = line.partition(" ")
            first = int(rest.split(",", 1)[0]) if code in ("ent", *MENTIONS) else None
            if code == "ent":  # (the player's own ent follows its wel)
                assert first not in self.known, f"introduced twice: {line}"
                self.known.add(first)  # type: ignore[arg-type]
            elif code in MENTIONS and first != 0:
                assert first in self.known, f"a line about an id never introduced: {line}"
                if code == "del":
                    self.known.discard(first)  # type: ignore[arg-type]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(step, max_size=40))
def test_every_client_view_stays_consistent(tmp_path: Path, steps: list[tuple]) -> None:
    game = Playground(tmp_path, (Mover,), "", view_radius=60.0, max_in_view=6)
    players: list[tuple[Session, View]] = []
    for action, *args in steps:
        things = game.runtime.things()
        match action:
            case "spawn":
                x, y = args[0]
                game.runtime.spawn(Mover, "m", (x, y, 0.0))
            case "despawn" if things:
                game.runtime.despawn(things[args[0] % len(things)])
            case "walk" if things:
                things[args[0] % len(things)].walk_to(*args[1])
            case "login":
                (x, y), version = args
                session, screen = game.login(f"p{len(players)}", (x, y, 0.0), version)
                players.append((session, View(screen)))
            case "logout" if players:
                session, _ = players[args[0] % len(players)]
                session.close("quit")
            case "mov" if players:
                session, _ = players[args[0] % len(players)]
                game.type(session, "mov {},{},0".format(*args[1]))
            case "use" if players and things:
                session, _ = players[args[0] % len(players)]
                target = things[args[1] % len(things)]
                session.line_received(f"use {target.id}".encode(), game.now)
            case "tick":
                game.tick(args[0])
        for _, view in players:
            view.read()
    game.tick()
    alive = {e.id for e in game.game.world}
    for session, view in players:
        view.read()
        if session.state is State.PLAYING:  # it holds nothing that left
            assert view.known <= alive, view.known - alive
