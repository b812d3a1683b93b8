"""Reloading a game's code and world file while players play.

The shell imports the new code and reads the new world file first
(:func:`mudserver.game.loader.reimport`: if that fails, nothing changed).
:func:`apply` then puts it into the running world, between two ticks (the
reactor's one thread runs either a tick or this, never both):

1. **Plan.**  Each thing keeps its key.  A thing the new world file still
   lists keeps its state and takes the new code of its class, with the
   parameters the new file gives it; one whose entry names another class
   now is replaced (a new thing, fresh state); one spawned at run time takes
   the new code of its class by name.  A class missing from the new code
   fails the reload here, before anything changed.
2. **Swap.**  Every kept thing's class (and the rules') is switched to the
   new one (``__class__``): its attributes, its timers (which call methods by
   name) and its watch stay as they were.
3. **The game's own set-up** (``Rules.setup``) runs with the new code.  If it
   raises, every swap is undone, what it spawned is taken away, and the
   reload fails: the old code goes on.
4. **The world file's changes**: entries gone are despawned, new ones
   spawned, replaced ones both.  Then every hook is switched back on (the
   new code may fix what failed), subscriptions are filed again, and each
   kept thing's ``on_reload`` is called.

Players are never touched: they stay connected, in place, and the tick is
not held for longer than this takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mudserver.game.loader import GameCode
from mudserver.game.runtime import Runtime
from mudserver.game.thing import Thing
from mudserver.game.worldfile import ThingSpec

__all__ = ["ReloadError", "Reloaded", "apply"]


class ReloadError(Exception):
    """The new code cannot take over; nothing changed."""


@dataclass(frozen=True)
class Reloaded:
    """What a reload did, for the operator."""

    kept: int
    added: int
    removed: int
    replaced: int

    def __str__(self) -> str:
        return (
            f"reloaded: {self.kept} things took the new code, {self.added} added, "
            f"{self.removed} removed, {self.replaced} replaced"
        )


def apply(runtime: Runtime, code: GameCode) -> Reloaded:
    """Put *code* (imported and checked) into *runtime*'s world; see the module docstring."""
    old = runtime.code
    assert old is not None
    specs = {spec.key: spec for spec in code.world.things}
    old_keys = {spec.key for spec in old.world.things}
    swaps: list[tuple[Thing, type[Thing], ThingSpec | None]] = []
    replaced: list[Thing] = []
    for thing in runtime.things():
        spec = specs.get(thing.key)
        name = type(thing).__name__
        if spec is not None:
            if spec.cls.__name__ == name:
                swaps.append((thing, spec.cls, spec))
            else:
                replaced.append(thing)
        elif thing.key not in old_keys:  # spawned at run time
            cls = code.classes.get(name)
            if cls is None:
                raise ReloadError(f"{thing!r}: the new code has no thing class {name}")
            swaps.append((thing, cls, None))
    removed = [t for t in runtime.things() if t.key in old_keys and t.key not in specs]
    undo = _swap(runtime, code, swaps)
    before = set(t.id for t in runtime.things())
    try:
        runtime.rules.setup()
    except Exception as e:
        for thing in runtime.things():
            if thing.id not in before:
                runtime.despawn(thing)
        _undo(runtime, old, undo)
        raise ReloadError(f"the game's setup raised {type(e).__name__}: {e}") from e
    for thing in removed + replaced:
        runtime.despawn(thing)
    added = [spec for key, spec in specs.items() if runtime.thing(key) is None]
    for spec in added:
        runtime.spawn_spec(spec)
    runtime.guard.reset()
    for thing, _cls, _spec in swaps:
        runtime.subscribe(thing)
    for thing, _cls, _spec in swaps:
        runtime.call(thing, "on_reload", thing.on_reload)
    runtime.call(runtime.rules, "on_reload", runtime.rules.on_reload)
    return Reloaded(len(swaps), len(added) - len(replaced), len(removed), len(replaced))


Undo = list[tuple[Any, type, dict[str, Any], str, str]]


def _swap(
    runtime: Runtime, code: GameCode, swaps: list[tuple[Thing, type[Thing], ThingSpec | None]]
) -> Undo:
    """Give the kept things and the rules their new classes and parameters; how to undo it."""
    undo: Undo = []
    old_specs = {spec.key: spec for spec in runtime.code.world.things} if runtime.code else {}
    for thing, cls, spec in swaps:
        entity = thing._entity
        undo.append((thing, type(thing), dict(vars(thing)), entity.kind, entity.name))
        thing.__class__ = cls
        if spec is not None:
            previous = old_specs.get(thing.key)
            for name in previous.params if previous is not None else ():
                if name not in spec.params:
                    vars(thing).pop(name, None)
            for name, value in spec.params.items():
                setattr(thing, name, value)
            thing.name = spec.name
        entity.kind, entity.name = cls.kind, thing.name
    rules = runtime.rules
    undo.append((rules, type(rules), dict(vars(rules)), "", ""))
    rules.__class__ = code.rules
    for name, value in code.world.rules.items():
        setattr(rules, name, value)
    runtime.code = code
    return undo


def _undo(runtime: Runtime, old: GameCode, undo: Undo) -> None:
    for owner, cls, attributes, kind, name in undo:
        owner.__class__ = cls
        vars(owner).clear()
        vars(owner).update(attributes)
        if isinstance(owner, Thing):
            owner._entity.kind, owner._entity.name = kind, name
    runtime.code = old
