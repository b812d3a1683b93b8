"""Finding a game's code, importing it, and importing it afresh for a reload.

A game is a Python package.  ``--game NAME`` names it by an entry point of
the group ``mudserver.games`` (how an installed game announces itself: the
shipped sample is ``sample``) or by its dotted module name; ``--game none``
runs no game.  The package's thing classes are the :class:`~mudserver.game.Thing`
subclasses it exposes (by class name, as the world file names them), and its
rules the class it exposes as ``Rules`` (or the base class).

A reload imports the package and its submodules afresh (they are taken out
of ``sys.modules`` first) and reads the world file against the new classes.
If either fails, the old modules are put back exactly as they were and the
error is raised: **a reload that fails changes nothing**, so the running game
goes on with the old code (the lesson of other servers whose reload left a
half-loaded game behind).
"""

from __future__ import annotations

import importlib
import importlib.resources
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from mudserver.game.thing import Rules, Thing
from mudserver.game.worldfile import WorldError, WorldSpec, read_world

__all__ = ["ENTRY_POINTS", "GameCode", "GameError", "load", "module_name", "reimport"]

#: The entry-point group installed games announce themselves in.
ENTRY_POINTS = "mudserver.games"
#: The file a game package may ship as its default world.
WORLD_FILE = "world.toml"


class GameError(Exception):
    """The game cannot be found, imported or set up: one line that says why."""


@dataclass(frozen=True)
class GameCode:
    """A game's code as imported, and the world file read against it."""

    #: The package's module name (``mudserver.sample``).
    module: str
    classes: dict[str, type[Thing]]
    rules: type[Rules]
    world: WorldSpec


def module_name(spec: str) -> str:
    """The module *spec* names: an entry point of :data:`ENTRY_POINTS`, a package's
    directory (``./mygame``: its parent joins ``sys.path``), or a dotted name."""
    path = Path(spec)
    if "/" in spec or spec.startswith("."):
        if not (path / "__init__.py").is_file():
            raise GameError(
                f"--game {spec}: no Python package there (a directory with __init__.py)"
            )
        parent = str(path.resolve().parent)
        if parent not in sys.path:
            sys.path.insert(0, parent)
        return path.resolve().name
    for point in entry_points(group=ENTRY_POINTS):
        if point.name == spec:
            return point.value.split(":", 1)[0]
    return spec


def load(spec: str, world: str | None, data_dir: str, bounds: float) -> GameCode:
    """Import the game *spec* names and read its world file (see :func:`world_path`)."""
    name = module_name(spec)
    try:
        module = importlib.import_module(name)
    except Exception as e:
        raise GameError(f"--game {spec}: cannot import {name}: {type(e).__name__}: {e}") from e
    return _code(module, world_path(world, data_dir, module), bounds, spec)


def reimport(
    code: GameCode, world: str | None, data_dir: str, bounds: float
) -> tuple[GameCode, Callable[[], None]]:
    """*code*'s package imported afresh and its world read again, and a function that undoes it.

    If the import or the world file fails, the old modules are back before
    this raises.  If what follows fails (the reload's set-up), the caller
    calls the returned function to put them back.
    """
    name = code.module

    def ours() -> list[str]:
        return [m for m in sys.modules if m == name or m.startswith(name + ".")]

    saved = {m: sys.modules.pop(m) for m in ours()}

    def restore() -> None:
        for m in ours():
            del sys.modules[m]
        sys.modules.update(saved)

    importlib.invalidate_caches()
    try:
        module = importlib.import_module(name)
        return _code(module, world_path(world, data_dir, module), bounds, name), restore
    except BaseException as e:
        restore()
        if isinstance(e, GameError | WorldError):
            raise
        raise GameError(f"cannot import {name}: {type(e).__name__}: {e}") from e


def world_path(given: str | None, data_dir: str, module: ModuleType) -> str | None:
    """The world file: *given*; else ``DATA/world.toml`` if it is this game's; else the package's.

    ``DATA/world.toml`` is this game's unless it names another (``game = ...``):
    the shipped data directory holds the sample's world, and a game of one's
    own run beside it takes its own world rather than failing on the sample's.
    """
    if given:
        return given
    in_data = Path(data_dir) / WORLD_FILE
    if in_data.is_file() and _names_game(in_data) in (None, module.__name__):
        return str(in_data)
    if module.__spec__ is not None and module.__spec__.submodule_search_locations:
        shipped = importlib.resources.files(module).joinpath(WORLD_FILE)
        if shipped.is_file():
            return str(shipped)
    return None


def _names_game(path: Path) -> str | None:
    """The module of the game a world file names, if it names one (and can be read)."""
    try:
        with open(path, "rb") as f:
            game = tomllib.load(f).get("game")
    except (OSError, tomllib.TOMLDecodeError):
        return None  # read_world will say what is wrong with it
    if not isinstance(game, str):
        return None
    try:
        return module_name(game)
    except GameError:
        return game


def _code(module: ModuleType, world: str | None, bounds: float, spec: str) -> GameCode:
    classes = {
        value.__name__: value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Thing) and value is not Thing
    }
    rules = getattr(module, "Rules", Rules)
    if not (isinstance(rules, type) and issubclass(rules, Rules)):
        raise GameError(f"{module.__name__}.Rules is not a subclass of mudserver.game.Rules")
    spec_world = read_world(world, classes, rules, bounds)
    if spec_world.game is not None and module_name(spec_world.game) != module.__name__:
        raise WorldError(
            f"{spec_world.path}: a world of the game {spec_world.game!r}, not {spec!r} "
            "(give the game's own world with --world)"
        )
    return GameCode(module.__name__, classes, rules, spec_world)
