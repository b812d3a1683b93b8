"""The world file: what a game puts in the world at start, as data (TOML).

A game's code says what kinds of things there are; its world file says which
of them exist, where, and with what parameters: the greeter at the well and
her greeting, four sheep and the meadow they wander, the guard's route.  An
author changes the world without touching code, and ``mudserver-admin
reload`` applies it while players play.

    game = "sample"                 # optional: the game this world is for

    [rules]                         # parameters of the game's Rules
    motd = "Be kind to the sheep."

    [things.ada]                    # the key: unique, kept across reloads
    class = "Greeter"               # a Thing class of the game
    name = "Ada"                    # what players see (default: the key)
    at = [4, 3]                     # x, y (and z; default 0)
    greeting = "Welcome, {player}!" # any parameter the class declares

    [things.sheep]
    class = "Sheep"
    count = 4                       # keys sheep.1 .. sheep.4
    at = [-20, 15]
    scatter = 5                     # each within 5 of there (the same places at every start)

Everything is checked at once, against the game's classes and their declared
parameters (:mod:`mudserver.game.params`), so a broken file is refused at
start (the server does not start) or at reload (nothing changes) with one
line naming the file, the entry and what is wrong.  TOML because the
standard library reads it (``tomllib``) and people write it by hand.
"""

from __future__ import annotations

import math
import random
import re
import tomllib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mudserver.game.params import check, parameters
from mudserver.game.thing import Rules, Thing

__all__ = ["MAX_COUNT", "ThingSpec", "WorldError", "WorldSpec", "read_world"]

#: A key: what a reload matches things by, and the log names them by.
KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
#: The most things one entry may make with ``count``.
MAX_COUNT = 100_000
#: Keys of an entry that are not parameters of its class.
RESERVED = frozenset({"class", "name", "at", "count", "scatter"})
#: The longest name a thing may show (names are not account names).
MAX_NAME = 40

Position = tuple[float, float, float]


class WorldError(Exception):
    """The world file is broken: one line naming the file, the entry and what is wrong."""


@dataclass(frozen=True)
class ThingSpec:
    """One thing the world file makes."""

    key: str
    cls: type[Thing]
    name: str
    at: Position
    #: Checked parameter values, those the entry sets (the class has defaults).
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WorldSpec:
    """A whole world file, checked."""

    path: str
    #: The game it says it is for, if it says.
    game: str | None
    #: Checked parameters of the game's rules.
    rules: dict[str, Any]
    things: list[ThingSpec]


def read_world(
    path: str | Path | None,
    classes: Mapping[str, type[Thing]],
    rules: type[Rules],
    bounds: float,
) -> WorldSpec:
    """Read and check the world file at *path* (None: an empty world) against the game.

    *classes* are the game's thing classes by name, *rules* its rules class,
    *bounds* the world's extent.  Raises :class:`WorldError`.
    """
    if path is None:
        return WorldSpec("", None, {}, [])
    where = str(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise WorldError(f"{where}: cannot read it: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise WorldError(f"{where}: not valid TOML: {e}") from None
    unknown = set(data) - {"game", "rules", "things"}
    if unknown:
        raise WorldError(f"{where}: unknown table or key {sorted(unknown)[0]!r}")
    game = data.get("game")
    if game is not None and not isinstance(game, str):
        raise WorldError(f"{where}: game must be text")
    try:
        rule_params = _params(rules, Rules, _table(data.get("rules", {}), "rules"), "rules")
    except ValueError as e:
        raise WorldError(f"{where}: {e}") from None
    things: list[ThingSpec] = []
    entries = data.get("things", {})
    if not isinstance(entries, dict):
        raise WorldError(f"{where}: things must be a table of [things.KEY] entries")
    for key, entry in entries.items():
        try:
            things += _entry(key, entry, classes, bounds)
        except ValueError as e:
            raise WorldError(f"{where}: things.{key}: {e}") from None
    return WorldSpec(where, game, rule_params, things)


def _table(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a table")
    return value


def _entry(
    key: str, entry: Any, classes: Mapping[str, type[Thing]], bounds: float
) -> list[ThingSpec]:
    if not KEY_RE.fullmatch(key):
        raise ValueError("a key is 1-40 letters, digits, _ or -")
    entry = _table(entry, "an entry")
    class_name = entry.get("class")
    if not isinstance(class_name, str):
        raise ValueError('needs class = "NAME", a thing class of the game')
    cls = classes.get(class_name)
    if cls is None:
        known = ", ".join(sorted(classes)) or "none"
        raise ValueError(f"the game has no thing class {class_name!r} (it has: {known})")
    name = entry.get("name", key)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ValueError(f"name must be text of 1-{MAX_NAME} characters")
    at = position(entry.get("at"), bounds)
    count = entry.get("count", 1)
    if type(count) is not int or not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be a whole number from 1 to {MAX_COUNT}")
    scatter = entry.get("scatter", 0)
    if type(scatter) not in (int, float) or not 0 <= scatter <= bounds:
        raise ValueError(f"scatter must be a number from 0 to {bounds:g}")
    params = _params(cls, Thing, {k: v for k, v in entry.items() if k not in RESERVED}, "")
    if count == 1 and not scatter:
        return [ThingSpec(key, cls, name, at, params)]
    keys = [key] if count == 1 else [f"{key}.{i}" for i in range(1, count + 1)]
    return [
        ThingSpec(k, cls, name, _scattered(k, at, float(scatter), bounds), params) for k in keys
    ]


def _scattered(key: str, at: tuple[float, float, float], radius: float, bounds: float) -> Position:
    """A point within *radius* of *at* on the ground plane, the same for *key* every time."""
    if not radius:
        return at
    rng = random.Random(zlib.crc32(key.encode()))
    distance, angle = radius * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    x = min(bounds, max(-bounds, at[0] + distance * math.cos(angle)))
    y = min(bounds, max(-bounds, at[1] + distance * math.sin(angle)))
    return (x, y, at[2])


def _params(cls: type, base: type, given: dict[str, Any], what: str) -> dict[str, Any]:
    """The checked values of *given* against *cls*'s declared parameters."""
    declared = parameters(cls, base)
    checked = {}
    for name, value in given.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            owner = f"{cls.__name__} has" if what != "rules" else "the rules have"
            raise ValueError(f"{owner} no parameter {name!r} (it has: {known})")
        checked[name] = check(value, declared[name][0], name)
    return checked


def position(value: Any, bounds: float) -> Position:
    """``at``: [x, y] or [x, y, z], finite numbers within the world's bounds."""
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        raise ValueError("at must be [x, y] or [x, y, z]")
    if not all(type(v) in (int, float) for v in value):
        raise ValueError("at must hold numbers")
    numbers = [float(v) for v in value] + [0.0] * (3 - len(value))
    if not all(math.isfinite(v) and -bounds <= v <= bounds for v in numbers):
        raise ValueError(f"at must lie within ±{bounds:g}")
    return (numbers[0], numbers[1], numbers[2])
