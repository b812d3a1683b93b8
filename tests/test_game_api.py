"""The game API in the sans-IO core, with plain numbers for time: what a player sees of things.

Each test defines a few :class:`~mudserver.game.Thing` classes and a world
file, logs players in through real sessions (tests/gamekit.py) and asserts
on the lines their clients read: timers, watches (proximity), hearing, use,
arrival, spawn and despawn, logins, per-player data in the snapshots.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mudserver.game import Player, Rules, Thing
from mudserver.game.runtime import TooManyThings
from tests.gamekit import Playground

# -- things for the tests -----------------------------------------------------------


class Bell(Thing):
    """Rings on a timer: once after 1 s, then every 2 s until it has rung three times."""

    kind = "thing"
    rings = 0

    def on_spawn(self) -> None:
        self.after(1.0, self.ring, "first")

    def ring(self, why: str) -> None:
        self.rings += 1
        self.say(f"ding {self.rings} ({why})", radius=0)
        if self.rings == 1:
            self.timer = self.every(2.0, self.ring, "again")
        elif self.rings == 3:
            self.timer.cancel()


class Porch(Thing):
    """Watches a radius of 5 and tells who comes and goes."""

    kind = "npc"
    radius: float = 5.0

    def on_spawn(self) -> None:
        self.watch(self.radius)

    def on_enter(self, player: Player) -> None:
        self.tell(player, f"hello {player.name}")

    def on_leave(self, player: Player) -> None:
        self.say(f"bye {player.name}", radius=0)


class Parrot(Thing):
    """Hears within 6 and repeats; answers use with verbs."""

    kind = "creature"
    verbs = ("pet", "teach")
    hearing: float = 6.0

    def on_hear(self, player: Player, text: str) -> None:
        self.say(f"{player.name} said {text}", radius=0)

    def on_use(self, player: Player, verb: str, text: str) -> str:
        player.data["pets"] = player.data.get("pets", 0) + (verb == "pet")
        return f"{verb}:{text}:{player.data['pets']}"


class Walker(Thing):
    """Walks to a point when used, and says so when it arrives."""

    kind = "creature"
    speed: float = 10.0
    goal: tuple[float, float] = (20.0, 0.0)

    def on_use(self, player: Player, verb: str, text: str) -> None:
        self.walk_to(*self.goal)

    def on_arrive(self) -> None:
        self.say(f"arrived at {self.x:.0f},{self.y:.0f}", radius=0)


class Tree(Thing):
    """Spawns a fruit when used; a fruit despawns when taken."""

    verbs = ("shake",)

    def on_use(self, player: Player, verb: str, text: str) -> str:
        fruit = self.spawn(Fruit, "fruit", (self.x + 1, self.y, 0))
        return f"dropped {fruit.id}"


class Fruit(Thing):
    def on_use(self, player: Player, verb: str, text: str) -> str:
        player.data["fruit"] = player.data.get("fruit", 0) + 1
        self.despawn()
        return f"you have {player.data['fruit']}"


class Stone(Thing):
    """Does nothing at all: no hooks, no cost."""


class Ticker(Thing):
    """Counts its steps."""

    steps = 0

    def step(self, dt: float) -> None:
        self.steps += 1


def world(*entries: str) -> str:
    return "\n".join(entries)


def entry(key: str, cls: str, at: str = "[0, 0]", **extra: str) -> str:
    lines = [f"[things.{key}]", f'class = "{cls}"', f"at = {at}"]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


CLASSES = (Bell, Porch, Parrot, Walker, Tree, Fruit, Stone, Ticker)


def playground(tmp_path: Path, *entries: str, **settings: object) -> Playground:
    return Playground(tmp_path, CLASSES, world(*entries), **settings)  # type: ignore[arg-type]


# -- seen like players ------------------------------------------------------------------


def test_things_are_entities_a_client_meets_at_login(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("rock", "Stone", "[3, 4]", name='"big rock"'))
    rock = game.thing("rock")
    _, screen = game.login("foo")
    assert screen.new("wel", "ent") == [
        "wel 2,foo,0.00,0.00,0.00",
        "ent 2,player,foo,0.00,0.00,0.00",
        f"ent {rock.id},thing,big rock,3.00,4.00,0.00",
    ]


def test_a_thing_far_away_is_not_in_view(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("rock", "Stone", "[500, 0]"))
    _, screen = game.login("foo")
    assert [line for line in screen.new("ent") if "rock" in line or "thing" in line] == []


# -- timers ------------------------------------------------------------------------------


def test_after_and_every_run_on_the_ticks_they_are_due(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("bell", "Bell"))
    _, screen = game.login("foo")
    heard: list[tuple[int, str]] = []
    for tick in range(1, 81):
        game.tick()
        heard += [(tick, line) for line in screen.new("say")]
    bell = game.thing("bell").id
    assert heard == [
        (10, f"say {bell},bell,ding 1 (first)"),
        (30, f"say {bell},bell,ding 2 (again)"),
        (50, f"say {bell},bell,ding 3 (again)"),
    ]
    assert len(game.runtime.timers) == 0  # the cancelled repeat is gone


def test_a_thing_that_only_waits_costs_no_call_per_tick(tmp_path: Path) -> None:
    game = playground(tmp_path, *(entry(f"s{i}", "Stone", f"[{i}, 0]") for i in range(50)))
    game.login("foo")
    calls = 0
    real = game.runtime.guard.call

    def counting(*args: object) -> object:
        nonlocal calls
        calls += 1
        return real(*args)  # type: ignore[arg-type]

    game.runtime.guard.call = counting  # type: ignore[method-assign]
    game.tick(20)
    assert calls == 0


def test_step_is_called_only_for_classes_that_define_it(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("t", "Ticker"), entry("s", "Stone"))
    game.tick(7)
    assert game.thing("t").steps == 7
    assert set(game.runtime._steppers) == {game.thing("t").id}


# -- watches (proximity) -----------------------------------------------------------------


def test_a_watch_tells_who_comes_near_and_who_goes(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("porch", "Porch", "[10, 0]"))
    porch = game.thing("porch").id
    session, screen = game.login("foo")
    game.tick()
    assert screen.new("msg") == []
    game.type(session, "mov 8,0,0")  # 5 units per second: inside (<= 5 from 10,0) after 1 s
    game.tick(9)
    assert screen.new("msg") == []
    game.tick(2)
    assert screen.new("msg") == [f"msg {porch},porch,hello foo"]
    game.type(session, "mov -5,0,0")
    game.tick(30)
    assert screen.new("say") == [f"say {porch},porch,bye foo"]


def test_logging_in_inside_a_watch_enters_it_and_logging_out_leaves_it(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("porch", "Porch", "[1, 1]"))
    session, screen = game.login("foo")
    _, other = game.login("bar", at=(50.0, 0.0, 0.0))
    game.tick()
    assert screen.new("msg") == [f"msg {game.thing('porch').id},porch,hello foo"]
    session.close("quit")
    game.tick()
    assert other.new("say") == [f"say {game.thing('porch').id},porch,bye foo"]


def test_a_watch_wider_than_the_view_is_refused(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("porch", "Porch", radius="150.0"))
    assert game.runtime.guard.errors == {("Porch", "on_spawn"): 1}


# -- hearing -------------------------------------------------------------------------------


def test_a_thing_hears_says_within_its_hearing_only(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("polly", "Parrot", "[5, 0]"))
    polly = game.thing("polly").id
    near, screen = game.login("foo")
    far, _ = game.login("bar", at=(30.0, 0.0, 0.0))
    game.tick()
    screen.new()
    game.type(near, "say hello")
    game.type(far, "say anyone?")
    game.tick()
    assert screen.new("say") == [
        "say 2,foo,hello",
        f"say {polly},polly,foo said hello",  # at once, as the say is heard
        "say 3,bar,anyone?",
    ]


# -- use --------------------------------------------------------------------------------------


def test_use_answers_with_a_private_msg_and_keeps_state_on_the_player(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("polly", "Parrot", "[3, 0]"))
    polly = game.thing("polly").id
    session, screen = game.login("foo")
    _, other = game.login("bar")
    game.tick()
    screen.new(), other.new()
    game.type(session, f"use {polly},pet")
    game.type(session, f"use {polly},teach,hello, world")
    game.type(session, f"use {polly}")
    game.tick()
    assert screen.new("msg") == [
        f"msg {polly},polly,pet::1",
        f"msg {polly},polly,teach:hello%2C world:1",
        f"msg {polly},polly,use::1",
    ]
    assert other.new("msg") == []
    session.close("quit")
    assert game.saved[-1].data == {"pets": 1}


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("use 999", "err nosuch,there is no thing 999 here"),
        ("use {me}", "err nosuch,there is no thing {me} here"),  # a player is no thing
        ("use {far}", "err toofar,come within 10 units of it first"),
        ("use {polly},eat", "err badverb,polly knows: use%2C pet%2C teach"),
        ("use {stone}", "err badverb,stone cannot be used"),
    ],
)
def test_use_refusals_are_errs_the_client_reads(tmp_path: Path, line: str, error: str) -> None:
    game = playground(
        tmp_path,
        entry("polly", "Parrot", "[3, 0]"),
        entry("far", "Parrot", "[30, 0]"),
        entry("stone", "Stone", "[1, 0]"),
    )
    ids = {key: game.thing(key).id for key in ("polly", "far", "stone")}
    session, screen = game.login("foo")
    assert session.entity is not None
    ids["me"] = session.entity.id
    screen.new()
    game.type(session, line.format(**ids))
    assert screen.new() == [error.format(**ids)]


def test_use_is_rate_limited(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("polly", "Parrot", "[3, 0]"))
    session, screen = game.login("foo")
    screen.new()
    for _ in range(8):
        game.type(session, f"use {game.thing('polly').id},pet")
    game.tick()
    lines = screen.new("msg", "err")
    assert len([line for line in lines if line.startswith("msg")]) == game.settings.use_burst
    refused = [line for line in lines if line.startswith("err")]
    assert refused == ["err toofast,too many use; this one was dropped"] * 3


def test_a_thing_walks_and_arrives(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("w", "Walker", "[2, 0]"))
    w = game.thing("w")
    session, screen = game.login("foo", version="2")
    game.tick()
    screen.new()
    game.type(session, f"use {w.id}")
    game.tick()
    # Told after the tick's step, from where it is by then (section 15).
    assert screen.new("wlk") == [f"wlk {w.id},3.00,0.00,0.00,20.00,0.00,0.00,10.00"]
    game.tick(20)
    assert screen.new("pos", "say") == [
        f"pos {w.id},20.00,0.00,0.00",
        f"say {w.id},w,arrived at 20%2C0",
    ]


def test_spawn_and_despawn_reach_the_players_who_see_them(tmp_path: Path) -> None:
    game = playground(tmp_path, entry("tree", "Tree", "[2, 0]"))
    session, screen = game.login("foo")
    _, other = game.login("bar")
    game.tick()
    screen.new(), other.new()
    game.type(session, f"use {game.thing('tree').id}")
    game.tick()
    [dropped] = screen.new("msg")
    fruit = int(dropped.rsplit(" ", 1)[1])
    assert other.new("ent") == [f"ent {fruit},thing,fruit,3.00,0.00,0.00"]
    game.type(session, f"use {fruit}")
    game.tick()
    assert screen.new("msg", "del") == [f"del {fruit}", f"msg {fruit},fruit,you have 1"]
    assert other.new("del") == [f"del {fruit}"]
    assert game.runtime.thing("fruit~1") is None


def test_spawning_past_the_cap_fails_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    game = playground(tmp_path, entry("tree", "Tree", "[2, 0]"), max_things=2)
    tree = game.thing("tree")
    tree.spawn(Fruit)
    with caplog.at_level(logging.WARNING, "mudserver.game"), pytest.raises(TooManyThings):
        tree.spawn(Fruit)
    assert "--max-things" in caplog.text
    assert len(game.runtime.things()) == 2


# -- logins, and the game's data on players ----------------------------------------------------


class Counting(Rules):
    motd: str = "hi"

    def on_login(self, player: Player) -> None:
        player.data["visits"] = player.data.get("visits", 0) + 1
        player.tell(f"{self.motd} #{player.data['visits']}")

    def on_logout(self, player: Player) -> None:
        player.data["left_at"] = [player.x, player.y]


def test_rules_hear_of_logins_and_logouts_and_keep_data_on_players(tmp_path: Path) -> None:
    game = Playground(tmp_path, (), "[rules]\nmotd = 'welcome'\n", rules=Counting)
    session, screen = game.login("foo", data={"visits": 4})
    game.tick()
    assert screen.new("msg") == ["msg 0,,welcome #5"]
    session.close("quit")
    assert game.saved[-1].data == {"visits": 5, "left_at": [0.0, 0.0]}


def test_data_that_json_cannot_hold_is_refused_and_the_rest_saved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    game = Playground(tmp_path, (), "", max_player_data=200)
    session, _ = game.login("foo", data={"apples": 1})
    assert session.account is not None
    session.account.data["apples"] = 2
    game.game.save(session)
    session.account.data["bag"] = {"not", "json"}
    game.type(session, "mov 3,0,0")
    game.tick(10)
    with caplog.at_level(logging.WARNING, "mudserver.core.snapshots"):
        game.game.save(session)
        session.account.data["bag"] = "x" * 500
        game.game.save(session)
    saved = game.saved[-1]
    assert (saved.x, saved.data) == (3.0, {"apples": 2})
    assert "not saving the data of foo (player data is not JSON" in caplog.text
    assert "over the limit of 200" in caplog.text


def test_autosave_saves_a_player_whose_data_changed_though_it_stood(tmp_path: Path) -> None:
    game = Playground(tmp_path, (), "")
    session, _ = game.login("foo")
    assert game.game.autosave() == 0
    assert session.account is not None
    session.account.data["quest"] = "begun"
    assert game.game.autosave() == 1
    assert game.saved[-1].data == {"quest": "begun"}
    assert game.game.autosave() == 0


def test_a_takeover_on_one_server_keeps_the_newest_data(tmp_path: Path) -> None:
    """The login read the account before the old player's last save: its data is the old one's."""
    game = Playground(tmp_path, (), "", rules=Counting)
    first, _ = game.login("foo", data={"visits": 1})
    game.tick()
    second, screen = game.login("foo", data={"visits": 1})  # read before first's leave-save
    game.tick()
    assert first.state.value == "closed"
    assert screen.new("msg") == ["msg 0,,hi #3"]
    assert second.account is not None and second.account.data["visits"] == 3
