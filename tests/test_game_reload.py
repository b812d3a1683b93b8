"""Reloading game code while players play: state kept, new code taken, a failure changes nothing.

A small game package is written to a temporary directory, imported, run in
process (tests/gamekit.py's sessions), then rewritten and reloaded with
:func:`~mudserver.game.loader.reimport` and :func:`~mudserver.game.reload.apply`,
as ``mudserver-admin reload`` does.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.core.session import Session
from mudserver.game.loader import GameError, load, reimport
from mudserver.game.reload import ReloadError, apply
from mudserver.game.runtime import Runtime
from mudserver.game.worldfile import WorldError
from tests.gamekit import DT, FakeClock, Screen

_names = itertools.count()

CODE = """
from mudserver.game import Rules as BaseRules, Thing

class Counter(Thing):
    kind = "thing"
    step_by: int = 1
    count = 0

    def on_spawn(self):
        self.every(1.0, self.tick)

    def tick(self):
        self.count += self.step_by

    def on_use(self, player, verb, text):
        return f"v1 count={{self.count}}"

class Rules(BaseRules):
    def setup(self):
        {setup}
"""

WORLD = """
[things.a]
class = "Counter"
at = [1, 0]
{extra}
"""


class Project:
    """A game package on disk, its world file, and a game running it."""

    def __init__(self, root: Path) -> None:
        self.name = f"reloadgame_{next(_names)}"
        self.package = root / self.name
        self.package.mkdir()
        self.world = root / "world.toml"
        self.write(CODE.format(setup="pass"), WORLD.format(extra=""))
        sys.path.insert(0, str(root))
        self.settings = Settings()
        self.runtime = Runtime(self.settings, FakeClock())
        self.game = Game(self.settings, lambda account: None, self.runtime)
        self.code = load(self.name, str(self.world), str(root), self.settings.bounds)
        self.runtime.start(self.game, self.code)
        self.screen = Screen()
        self.session = Session(self.game, self.screen, "foo", "10.0.0.1")
        self.session.line_received(b"con foo,pw,1", 0.0)
        self.session.login_checked(Account("foo", {}))

    def write(self, code: str | None = None, world: str | None = None) -> None:
        if code is not None:
            (self.package / "__init__.py").write_text(textwrap.dedent(code))
        if world is not None:
            self.world.write_text(textwrap.dedent(world))

    def reload(self) -> str:
        """What GameHost.reload does, without the log."""
        code, undo = reimport(self.code, str(self.world), str(self.world.parent), 10_000.0)
        try:
            done = apply(self.runtime, code)
        except ReloadError:
            undo()
            raise
        self.code = code
        return str(done)

    def tick(self, count: int = 1) -> None:
        for _ in range(count):
            self.game.tick(DT)

    def use(self, key: str) -> list[str]:
        thing = self.runtime.thing(key)
        assert thing is not None
        self.session.line_received(f"use {thing.id}".encode(), 100.0)
        self.tick()
        return self.screen.new("msg", "err")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    sys.dont_write_bytecode, before = True, sys.dont_write_bytecode  # rewritten within a second
    made = Project(tmp_path)
    try:
        yield made
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m.startswith(made.name)]:
            del sys.modules[module]
        sys.dont_write_bytecode = before


def test_a_reload_keeps_state_and_takes_the_new_code(project: Project) -> None:
    project.tick(35)
    a = project.runtime.thing("a")
    assert project.use("a") == [f"msg {a.id},a,v1 count=3"]
    project.write(
        CODE.format(setup="pass")
        .replace("v1", "v2")
        .replace("+= self.step_by", "+= 10 * self.step_by")
    )
    assert (
        project.reload() == "reloaded: 1 things took the new code, 0 added, 0 removed, 0 replaced"
    )
    assert project.runtime.thing("a") is a  # the same thing, its timer and all
    project.tick(10)
    assert project.use("a") == [f"msg {a.id},a,v2 count=13"]  # old count, new code, same timer


def test_the_world_file_adds_removes_and_reconfigures(project: Project) -> None:
    a = project.runtime.thing("a")
    project.write(
        world=WORLD.format(extra='step_by = 5\n[things.b]\nclass = "Counter"\nat = [2, 0]\n')
    )
    assert "0 removed" in project.reload()
    b = project.runtime.thing("b")
    assert b is not None and project.runtime.thing("a") is a
    project.tick()
    assert project.screen.new("ent")[-1] == f"ent {b.id},thing,b,2.00,0.00,0.00"
    project.tick(11)
    assert (a.count, b.count) == (5, 1)
    project.write(world='[things.b]\nclass = "Counter"\nat = [2, 0]\n')
    assert "1 removed" in project.reload()
    project.tick()
    assert project.runtime.thing("a") is None
    assert f"del {a.id}" in project.screen.new("del")


@pytest.mark.parametrize(
    ("code", "world", "error", "message"),
    [
        (CODE.format(setup="pass") + "\ndef broken(:\n", None, GameError, "SyntaxError"),
        ("import no_such_module_here\n", None, GameError, "ModuleNotFoundError"),
        (
            None,
            '[things.a]\nclass = "Nothing"\nat = [0, 0]\n',
            WorldError,
            "no thing class 'Nothing'",
        ),
        (
            None,
            '[things.a]\nclass = "Counter"\nat = [0, 0]\nstep_by = "x"\n',
            WorldError,
            "step_by",
        ),
        (
            CODE.format(setup="raise ValueError('no way')"),
            None,
            ReloadError,
            "setup raised ValueError: no way",
        ),
    ],
)
def test_a_failed_reload_changes_nothing(
    project: Project, code: str | None, world: str | None, error: type, message: str
) -> None:
    a = project.runtime.thing("a")
    project.tick(25)
    old_module = sys.modules[project.name]
    project.write(code, world)
    with pytest.raises(error, match=message):
        project.reload()
    assert project.runtime.thing("a") is a and type(a).__module__ == project.name
    assert sys.modules[project.name] is old_module
    assert project.use("a") == [f"msg {a.id},a,v1 count=2"]
    project.tick(10)
    assert a.count == 3  # its timer still runs the old code
    assert not project.session.peer.closed  # type: ignore[attr-defined]


def test_a_setup_that_spawns_then_raises_leaves_nothing_behind(project: Project) -> None:
    project.write(
        CODE.format(setup="self.world.spawn('Counter', 'extra', (3, 0)); raise KeyError('x')")
    )
    with pytest.raises(ReloadError):
        project.reload()
    project.tick()
    assert [t.key for t in project.runtime.things()] == ["a"]
    # A client saw it come and go within one write: its view holds no stray id.
    lines = project.screen.new("ent", "del")
    [extra] = [line.split(" ")[1].split(",")[0] for line in lines if ",extra," in line]
    assert lines[-1] == f"del {extra}"


def test_a_thing_spawned_at_run_time_needs_its_class_in_the_new_code(project: Project) -> None:
    project.runtime.spawn("Counter", "spare", (4, 0, 0))
    project.write(
        CODE.format(setup="pass")
        .replace("class Counter", "class Tally")
        .replace("from mudserver.game", "Counter = None\nfrom mudserver.game"),
        world="",
    )
    with pytest.raises(ReloadError, match="the new code has no thing class Counter"):
        project.reload()
    assert len(project.runtime.things()) == 2
