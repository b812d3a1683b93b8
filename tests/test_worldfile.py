"""The world file: checked whole against the game's classes; refused in one line saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from mudserver.game import Rules, Thing
from mudserver.game.worldfile import WorldError, read_world


class Lamp(Thing):
    kind = "thing"
    colour: str = "white"
    brightness: float = 1.0
    steps: int = 3
    lit: bool = True
    route: tuple[tuple[float, float], ...] = ()
    area: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (1.0, 1.0))
    words: list[str] = []  # noqa: RUF012 (a parameter of a test class, never mutated)


class Setting(Rules):
    motd: str = "hi"


CLASSES = {"Lamp": Lamp}


def read(tmp_path: Path, text: str) -> object:
    path = tmp_path / "world.toml"
    path.write_text(text)
    return read_world(path, CLASSES, Setting, bounds=1000.0)


def test_a_good_file_is_read_with_its_parameters_converted(tmp_path: Path) -> None:
    world = read(
        tmp_path,
        'game = "lamps"\n[rules]\nmotd = "hello"\n'
        '[things.hall]\nclass = "Lamp"\nname = "hall lamp"\nat = [1, 2]\n'
        'colour = "red"\nbrightness = 2\nroute = [[1, 2], [3.5, 4]]\nwords = ["on"]\n'
        '[things.row]\nclass = "Lamp"\ncount = 3\nat = [0, 0, 5]\n',
    )
    assert world.game == "lamps" and world.rules == {"motd": "hello"}  # type: ignore[attr-defined]
    hall, *row = world.things  # type: ignore[attr-defined]
    assert (hall.key, hall.name, hall.at) == ("hall", "hall lamp", (1.0, 2.0, 0.0))
    assert hall.params == {
        "colour": "red",
        "brightness": 2.0,
        "route": ((1.0, 2.0), (3.5, 4.0)),
        "words": ["on"],
    }
    assert isinstance(hall.params["brightness"], float)
    assert [(t.key, t.name, t.at) for t in row] == [
        ("row.1", "row", (0.0, 0.0, 5.0)),
        ("row.2", "row", (0.0, 0.0, 5.0)),
        ("row.3", "row", (0.0, 0.0, 5.0)),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[things.a\n", "not valid TOML"),
        ("colour = 1\n", "unknown table or key 'colour'"),
        ("[rules]\nmood = 1\n", "the rules have no parameter 'mood' (it has: motd)"),
        ("[rules]\nmotd = 1\n", "motd must be text, not 1"),
        ("[things.a]\nat = [0, 0]\n", 'things.a: needs class = "NAME"'),
        (
            '[things.a]\nclass = "Lump"\nat = [0, 0]\n',
            "things.a: the game has no thing class 'Lump' (it has: Lamp)",
        ),
        ('[things.a]\nclass = "Lamp"\n', "things.a: at must be [x, y] or [x, y, z]"),
        ('[things.a]\nclass = "Lamp"\nat = [0, "x"]\n', "things.a: at must hold numbers"),
        ('[things.a]\nclass = "Lamp"\nat = [0, 5000]\n', "things.a: at must lie within ±1000"),
        (
            '[things.a]\nclass = "Lamp"\nat = [0, 0]\ncount = 0\n',
            "things.a: count must be a whole number",
        ),
        ('[things.a]\nclass = "Lamp"\nat = [0, 0]\nname = ""\n', "things.a: name must be text"),
        (
            '[things.a]\nclass = "Lamp"\nat = [0, 0]\nglow = 1\n',
            "things.a: Lamp has no parameter 'glow' (it has: area, brightness, colour",
        ),
        (
            '[things.a]\nclass = "Lamp"\nat = [0, 0]\nbrightness = "max"\n',
            "things.a: brightness must be a number, not 'max'",
        ),
        (
            '[things.a]\nclass = "Lamp"\nat = [0, 0]\nsteps = 2.5\n',
            "things.a: steps must be a whole number, not 2.5",
        ),
        (
            '[things.a]\nclass = "Lamp"\nat = [0, 0]\nlit = 1\n',
            "things.a: lit must be true or false, not 1",
        ),
        (
            '[things.a]\nclass = "Lamp"\nat = [0, 0]\nroute = [[1]]\n',
            "things.a: route[0] must have 2 items, not 1",
        ),
        (
            '[things.a]\nclass = "Lamp"\nat = [0, 0]\narea = [[0, 0]]\n',
            "things.a: area must have 2 items, not 1",
        ),
        ('[things."a b"]\nclass = "Lamp"\nat = [0, 0]\n', "things.a b: a key is 1-40 letters"),
    ],
)
def test_a_broken_file_is_refused_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(WorldError) as info:
        read(tmp_path, text)
    line = str(info.value)
    assert "\n" not in line
    assert line.startswith(str(tmp_path / "world.toml") + ": ")
    assert message in line


def test_a_missing_file_is_one_line_too(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match=r"world.toml: cannot read it: No such file"):
        read_world(tmp_path / "world.toml", CLASSES, Setting, 1000.0)


def test_the_shipped_world_is_the_sample_game(tmp_path: Path) -> None:
    """data/world.toml reads cleanly against the sample game: what `twistd -n mudserver` shows."""
    from mudserver import sample
    from mudserver.game.loader import load

    code = load("sample", None, str(Path(__file__).resolve().parent.parent / "data"), 10_000.0)
    assert code.module == "mudserver.sample" and code.rules is sample.Rules
    kinds = {spec.cls.__name__ for spec in code.world.things}
    assert kinds >= {"Greeter", "Sheep", "Guard", "Sign", "AppleTree", "Dog"}
    # the package ships the same file, for a server whose data directory has none
    empty = load("sample", None, str(tmp_path), 10_000.0)
    assert [s.key for s in empty.world.things] == [s.key for s in code.world.things]
