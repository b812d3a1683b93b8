"""The runtime: runs a game's code in the core's world, on the core's tick.

:class:`Runtime` is the core's :class:`~mudserver.core.game.Director` (the
core tells it what happens: joins, leaves, says, uses, ticks) and the
:class:`~mudserver.game.thing.World` that game code acts through (spawn,
walk, say, tell, timers, watches).  Theory of operation:

* **Things are entities.**  A thing's position, walk and visibility are its
  core entity's, in the same world, grid, views and crowd cap as players;
  the runtime keeps the Python object beside it, by entity id.
* **Events and timers first.**  Per tick the runtime looks only at what is
  due: walks that arrived (the world reports them), players crossing a
  watch's edge (:class:`~mudserver.core.proximity.Proximity`), timers whose
  slot came (:class:`~mudserver.game.timers.Timers`), and the things whose
  class overrides ``step``.  A thing that waits costs nothing per tick.
* **Only subscribers are told.**  Logins and logouts go to the things whose
  class overrides ``on_login``/``on_logout``; a say goes to the things within
  their ``hearing`` of the speaker, found through the grid.
* **Every call into game code goes through the guard**
  (:mod:`mudserver.game.guard`): a raising hook is logged and counted, a
  hook that keeps failing is switched off and its thing stands, and the time
  is summed per class.
* **Limits**: at most ``--max-things`` things (a spawn past it raises
  :class:`TooManyThings`, logged); a watch no wider than the view radius.

Reloading lives in :mod:`mudserver.game.reload`.  Pure Python, no reactor.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core.game import Client, Game
from mudserver.core.proximity import Proximity
from mudserver.core.world import Entity
from mudserver.game.guard import Guard
from mudserver.game.loader import GameCode
from mudserver.game.params import check, parameters
from mudserver.game.player import Player
from mudserver.game.thing import Position, Rules, Thing
from mudserver.game.timers import Timer, Timers
from mudserver.game.worldfile import ThingSpec, position
from mudserver.wire.commands import DEFAULT_VERB, CommandError

__all__ = ["Runtime", "TooManyThings"]

log = logging.getLogger("mudserver.game")

#: Timer callbacks kept per owner before finished ones are swept out.
SWEEP_TIMERS_AT = 16


class TooManyThings(Exception):
    """A spawn past ``--max-things``."""


def overrides(thing: object, name: str, base: type) -> bool:
    """Whether *thing*'s class defines its own *name* rather than *base*'s."""
    return getattr(type(thing), name) is not getattr(base, name)


class Runtime:
    """A game's code, running: see the module docstring."""

    def __init__(self, settings: Settings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.guard = Guard(settings.hook_failures, settings.game_budget, clock)
        self.timers = Timers(1.0 / settings.tick_rate)
        self.proximity = Proximity(settings.view_radius)
        #: World time, the sum of the ticks' ``dt``.
        self.time = 0.0
        self.game: Game | None = None
        self.code: GameCode | None = None
        self.rules: Rules = Rules()
        #: Things by entity id and by key.
        self._things: dict[int, Thing] = {}
        self._keys: dict[str, Thing] = {}
        #: Players by entity id, and the session each plays in.
        self._players: dict[int, Player] = {}
        self._sessions: dict[int, Client] = {}
        #: Subscribers: things that step, that hear, that are told of logins and logouts.
        self._steppers: dict[int, Thing] = {}
        self._listeners: dict[int, Thing] = {}
        self._login_hooks: dict[int, Thing] = {}
        self._logout_hooks: dict[int, Thing] = {}
        #: The widest hearing among the listeners (never lowered: a say looks a little
        #: farther than it must once the widest listener has gone).
        self._hearing = 0.0
        #: Timers by owner (``id``), to end them with it.
        self._owned: dict[int, list[Timer]] = {}
        #: Seconds of game code by class in the last tick (for the metrics).
        self.last_spent: dict[str, float] = {}
        self._spawned = 0

    def start(self, game: Game, code: GameCode) -> None:
        """Run *code* in *game*: set up the rules, then spawn what the world file lists.

        Raises what the rules' ``setup`` raises (the server does not start).
        """
        self.game, self.code = game, code
        self.rules = self._make_rules(code)
        self.rules.setup()
        for spec in code.world.things:
            self.spawn_spec(spec)

    def _make_rules(self, code: GameCode) -> Rules:
        rules = code.rules()
        rules.world = self
        for name, value in code.world.rules.items():
            setattr(rules, name, value)
        return rules

    # -- the world, as game code sees it ----------------------------------------------

    def players(self) -> list[Player]:
        return list(self._players.values())

    def player(self, name: str) -> Player | None:
        assert self.game is not None
        session = self.game.player(name)
        entity = None if session is None else session.entity
        return None if entity is None else self._players.get(entity.id)

    def things(self, cls: type[Thing] | None = None) -> list[Thing]:
        if cls is None:
            return list(self._things.values())
        return [t for t in self._things.values() if isinstance(t, cls)]

    def thing(self, key: str) -> Thing | None:
        return self._keys.get(key)

    def spawn(
        self,
        cls: type[Thing] | str,
        name: str | None = None,
        at: Position = (0.0, 0.0, 0.0),
        **params: Any,
    ) -> Thing:
        """A new thing of *cls* (or the game's class of that name), made at run time."""
        if isinstance(cls, str):
            found = self.code.classes.get(cls) if self.code is not None else None
            if found is None:
                raise ValueError(f"the game has no thing class {cls!r}")
            cls = found
        declared = parameters(cls, Thing)
        checked = {}
        for key, value in params.items():
            if key not in declared:
                raise ValueError(f"{cls.__name__} has no parameter {key!r}")
            checked[key] = check(value, declared[key][0], key)
        self._spawned += 1
        key = f"{cls.__name__.lower()}~{self._spawned}"
        where = position(list(at), self.settings.bounds)
        return self.spawn_spec(ThingSpec(key, cls, name or cls.__name__.lower(), where, checked))

    def spawn_spec(self, spec: ThingSpec) -> Thing:
        """Put the thing *spec* describes in the world, call its ``on_spawn``."""
        game = self.game
        assert game is not None
        if len(self._things) >= self.settings.max_things:
            log.warning("not spawning %s: the world holds --max-things things", spec.key)
            raise TooManyThings(f"the world holds {self.settings.max_things} things already")
        thing = spec.cls.__new__(spec.cls)
        for name, value in spec.params.items():
            setattr(thing, name, value)
        thing.key, thing.name, thing.world = spec.key, spec.name, self  # type: ignore[assignment]
        entity = game.add_thing(spec.cls.kind, spec.name, spec.at, thing.speed)
        thing.id, thing._entity = entity.id, entity
        self._things[entity.id] = thing
        self._keys[spec.key] = thing
        self.subscribe(thing)
        self.call(thing, "on_spawn", thing.on_spawn)
        return thing

    def subscribe(self, thing: Thing) -> None:
        """File *thing* under the events its class asks for (again after a reload)."""
        tid = thing.id
        for table, wanted in (
            (self._steppers, overrides(thing, "step", Thing)),
            (self._listeners, thing.hearing > 0 and overrides(thing, "on_hear", Thing)),
            (self._login_hooks, overrides(thing, "on_login", Thing)),
            (self._logout_hooks, overrides(thing, "on_logout", Thing)),
        ):
            if wanted:
                table[tid] = thing
            else:
                table.pop(tid, None)
        if tid in self._listeners:
            self._hearing = max(self._hearing, thing.hearing)

    def despawn(self, thing: Thing) -> None:
        if self._things.get(thing.id) is not thing or self.game is None:
            return
        self.call(thing, "on_despawn", thing.on_despawn)
        if self._things.get(thing.id) is not thing:
            return  # its on_despawn despawned it already
        for timer in self._owned.pop(id(thing), ()):
            timer.cancel()
        self.proximity.remove_trap(thing._entity)
        for table in (self._things, self._steppers, self._listeners):
            table.pop(thing.id, None)
        self._login_hooks.pop(thing.id, None)
        self._logout_hooks.pop(thing.id, None)
        if self._keys.get(thing.key) is thing:
            del self._keys[thing.key]
        self.guard.forget(thing)
        self.game.remove_thing(thing._entity)

    def near(self, x: float, y: float, radius: float) -> list[Thing | Player]:
        assert self.game is not None
        found: list[tuple[float, Thing | Player]] = []
        things, players = self._things, self._players
        for e in self.game.near(x, y, radius):
            handle = things.get(e.id) or players.get(e.id)
            if handle is not None:
                found.append(((e.x - x) ** 2 + (e.y - y) ** 2, handle))
        found.sort(key=lambda pair: pair[0])
        return [handle for _, handle in found]

    def announce(self, text: str) -> None:
        assert self.game is not None
        self.game.announce(text)

    def after(self, owner: object, seconds: float, callback: Any, *args: Any) -> Timer:
        return self._timer(owner, seconds, callback, args, None)

    def every(self, owner: object, seconds: float, callback: Any, *args: Any) -> Timer:
        if not seconds >= self.timers_slot:
            raise ValueError(f"every: seconds must be at least one tick ({self.timers_slot:g} s)")
        return self._timer(owner, seconds, callback, args, seconds)

    @property
    def timers_slot(self) -> float:
        return 1.0 / self.settings.tick_rate

    def _timer(
        self,
        owner: object,
        seconds: float,
        callback: Any,
        args: tuple[Any, ...],
        repeat: float | None,
    ) -> Timer:
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError("seconds must be a finite number, 0 or more")
        if inspect.ismethod(callback) and callback.__self__ is owner:
            callback = callback.__func__.__name__  # the method as the class has it then
        elif not (isinstance(callback, str) or callable(callback)):
            raise TypeError("a timer calls a method, a method's name or a function")
        timer = self.timers.add(
            Timer(owner, callback, args, self.time + seconds, repeat), self.time
        )
        owned = self._owned.setdefault(id(owner), [])
        owned.append(timer)
        if len(owned) > SWEEP_TIMERS_AT:
            owned[:] = [t for t in owned if not t.cancelled]
        return timer

    def walk(self, thing: Thing, dest: Position) -> None:
        assert self.game is not None
        if self._things.get(thing.id) is thing:
            thing._entity.speed = thing.speed
            self.game.world.walk(thing._entity, position(list(dest), self.settings.bounds))

    def stop(self, thing: Thing) -> None:
        assert self.game is not None
        self.game.world.stop(thing._entity)

    def say(self, thing: Thing, text: str, radius: float) -> None:
        assert self.game is not None
        if self._things.get(thing.id) is thing:
            self.game.say_from(thing._entity, str(text), radius)

    def tell(self, thing: Thing | None, player: Player, text: str) -> None:
        assert self.game is not None
        session = self._sessions.get(player.id)
        if session is not None and player.online:
            self.game.tell(session, None if thing is None else thing._entity, str(text))

    def watch(self, thing: Thing, radius: float | None) -> None:
        if radius is None:
            self.proximity.remove_trap(thing._entity)
        elif self._things.get(thing.id) is thing:
            self.proximity.add_trap(thing._entity, radius)

    # -- calling game code ---------------------------------------------------------------

    def call(self, owner: object, hook: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call game code through the guard; a thing whose hook got switched off stands."""
        ok, result = self.guard.call(owner, hook, fn, *args)
        if not ok and isinstance(owner, Thing) and self.guard.is_off(owner, hook):
            if self.game is not None and self._things.get(owner.id) is owner:
                self.game.world.stop(owner._entity)
        return result

    def _tell_all(self, things: Iterable[Thing], hook: str, player: Player) -> None:
        for thing in list(things):
            if self._things.get(thing.id) is thing:
                self.call(thing, hook, getattr(thing, hook), player)

    # -- what the core tells it (the Director) -----------------------------------------

    def joined(self, client: Client, entity: Entity, account: Account) -> None:
        game = self.game
        assert game is not None
        player = Player(entity, account.data, lambda text: game.tell(client, None, text))
        self._players[entity.id] = player
        self._sessions[entity.id] = client
        self.proximity.add_target(entity)
        self.call(self.rules, "on_login", self.rules.on_login, player)
        self._tell_all(self._login_hooks.values(), "on_login", player)

    def leaving(self, client: Client) -> None:
        entity = client.entity
        if entity is None or entity.id not in self._players:
            return
        player = self._players[entity.id]
        for holder in self.proximity.remove_target(entity):
            thing = self._things.get(holder.id)
            if thing is not None:
                self.call(thing, "on_leave", thing.on_leave, player)
        self._tell_all(self._logout_hooks.values(), "on_logout", player)
        self.call(self.rules, "on_logout", self.rules.on_logout, player)
        player.online = False
        del self._players[entity.id]
        del self._sessions[entity.id]

    def said(self, speaker: Entity, text: str) -> None:
        player = self._players.get(speaker.id)
        if player is None or not self._listeners or self.game is None:
            return
        things = self._listeners
        for e in self.game.near(speaker.x, speaker.y, self._hearing):
            thing = things.get(e.id)
            if thing is not None and thing.distance_to(player) <= thing.hearing:
                self.call(thing, "on_hear", thing.on_hear, player, text)

    def use(self, client: Client, target: int, verb: str, text: str) -> None:
        entity = client.entity
        thing = self._things.get(target)
        player = None if entity is None else self._players.get(entity.id)
        if thing is None or player is None or self.game is None:
            raise CommandError("nosuch", f"there is no thing {target} here")
        reach = self.settings.use_reach
        if thing.distance_to(player) > reach:
            raise CommandError("toofar", f"come within {reach:g} units of it first")
        if not overrides(thing, "on_use", Thing):
            raise CommandError("badverb", f"{thing.name} cannot be used")
        known = (DEFAULT_VERB, *(v for v in type(thing).verbs if v != DEFAULT_VERB))
        if verb not in known:
            raise CommandError("badverb", f"{thing.name} knows: {', '.join(known)}")
        if self.guard.is_off(thing, "on_use"):
            raise CommandError("broken", f"{thing.name} does not respond")
        ok, answer = self.guard.call(thing, "on_use", thing.on_use, player, verb, text)
        if not ok:
            raise CommandError("broken", f"{thing.name} does not respond")
        if answer is not None:
            self.game.tell(client, thing._entity, str(answer))

    def tick(self, dt: float) -> None:
        """After the world's step: arrivals, watches, timers, steps, the rules' tick."""
        self.time += dt
        game = self.game
        assert game is not None
        things = self._things
        for entity in game.world.arrived:
            thing = things.get(entity.id)
            if thing is not None:
                self.call(thing, "on_arrive", thing.on_arrive)
        for holder, target, entered in self.proximity.update(game.world):
            thing, player = things.get(holder.id), self._players.get(target.id)
            if thing is not None and player is not None:
                hook = "on_enter" if entered else "on_leave"
                self.call(thing, hook, getattr(thing, hook), player)
        for timer in self.timers.due(self.time):
            self._fire(timer)
        for thing in list(self._steppers.values()):
            if things.get(thing.id) is thing:
                self.call(thing, "step", thing.step, dt)
        if overrides(self.rules, "on_tick", Rules):
            self.call(self.rules, "on_tick", self.rules.on_tick, dt)
        self.last_spent = self.guard.end_tick()

    def _fire(self, timer: Timer) -> None:
        owner = timer.owner
        if isinstance(owner, Thing) and self._things.get(owner.id) is not owner:
            return
        if timer.interval is None:
            timer.cancelled = True  # done: swept from its owner's list later
        name = timer.name
        try:
            target = timer.target()
        except AttributeError:
            target = _missing(name)
        self.call(owner, name, target, *timer.args)
        if timer.interval is not None and not timer.cancelled:
            if self.guard.is_off(owner, name):
                timer.cancel()
            else:
                timer.when = max(timer.when + timer.interval, self.time + 1e-9)
                self.timers.add(timer, self.time)


def _missing(name: str) -> Callable[..., Any]:
    def missing(*args: Any) -> None:
        raise AttributeError(f"the code has no method {name!r} any more")

    return missing
