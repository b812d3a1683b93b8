"""What a game author writes: :class:`Thing` (anything in the world) and :class:`Rules` (the game).

A thing is a Python object with plain attributes for its state, in the same
world as the players: it has an id from their id space, a ``kind`` that
clients see (``npc``, ``creature``, ``thing``, or the game's own word), a
name and a position, and it is seen, walks and speaks as players do.  It
**acts** through the methods below (walk, stop, say, tell, spawn, despawn,
look around, set timers, watch for players coming near) and **is told what
happens to it** through hooks, the ``on_*`` methods a subclass overrides.

The rules of the field shape what costs what (docs/game.md has the table):

* Events and timers first.  A thing that waits for a timer or a player costs
  nothing per tick; only a class that overrides :meth:`Thing.step` is called
  every tick (the ten-times-a-second step of the original design, for those
  who ask for it).
* A hook that raises is caught and logged; after repeated failures that
  thing's hook is switched off and the thing stands (:mod:`mudserver.game.guard`).
* Parameters a world file may set are annotated class attributes with a
  default (:mod:`mudserver.game.params`); state that is not a parameter
  should also get a class-level default, so that a thing made by older code
  has it after a reload.

Game code runs on the server's one thread, between and within ticks: a hook
must return quickly (its time is measured per class, and a slow tick is
logged).  It is trusted code; what players send into it (verbs, text)
arrives decoded, length-limited and rate-limited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from mudserver.core.world import Entity
from mudserver.game.player import Placed, Player
from mudserver.game.timers import Timer

__all__ = ["Rules", "Thing", "World"]

Position = tuple[float, float, float]


class World(Protocol):
    """The world as game code sees it (``thing.world``, ``rules.world``)."""

    #: Seconds the world has run since the server started (the sum of its ticks).
    time: float
    #: The game's rules object.
    rules: Rules

    def players(self) -> list[Player]:
        """Every player in the game."""
        ...

    def player(self, name: str) -> Player | None:
        """The player of that account name (any case), if it is in the game."""
        ...

    def things(self, cls: type[Thing] | None = None) -> list[Thing]:
        """Every thing in the world, or those of class *cls* (and its subclasses)."""
        ...

    def thing(self, key: str) -> Thing | None:
        """The thing with this key (the world file's name for it), if it is in the world."""
        ...

    def spawn(
        self, cls: type[Thing] | str, name: str | None = None, at: Position = ..., **params: Any
    ) -> Thing:
        """Put a new thing of class *cls* (or the game's class of that name) at *at*."""
        ...

    def despawn(self, thing: Thing) -> None:
        """Take *thing* out of the world (its timers and watch end; ``on_despawn`` is called)."""
        ...

    def near(self, x: float, y: float, radius: float) -> list[Thing | Player]:
        """Every player and thing within *radius* of (x, y) on the ground plane, nearest first."""
        ...

    def announce(self, text: str) -> None:
        """Tell every player *text* as a ``sys`` line."""
        ...

    def after(self, owner: object, seconds: float, callback: Any, *args: Any) -> Timer:
        """Call *callback(*args)* once, *seconds* from now (see :meth:`Thing.after`)."""
        ...

    def every(self, owner: object, seconds: float, callback: Any, *args: Any) -> Timer:
        """Call *callback(*args)* every *seconds* (see :meth:`Thing.every`)."""
        ...

    def walk(self, thing: Thing, dest: Position) -> None: ...

    def stop(self, thing: Thing) -> None: ...

    def say(self, thing: Thing, text: str, radius: float) -> None: ...

    def tell(self, thing: Thing | None, player: Player, text: str) -> None: ...

    def watch(self, thing: Thing, radius: float | None) -> None: ...


class Thing(Placed):
    """Base class of every thing a game puts in the world.  See the module docstring.

    Attributes the runtime sets (read them, do not assign them): ``id``,
    ``key`` (the world file's name for it, unique), ``name`` (what players
    see), ``world``.
    """

    #: Annotated names that are not parameters (see :mod:`mudserver.game.params`).
    INTERNAL: ClassVar[frozenset[str]] = frozenset({"id", "key", "name", "world"})

    #: What clients see as this thing's kind (the ``ent`` line's second field).
    kind: ClassVar[str] = "thing"
    #: The verbs ``use`` accepts for it besides none; ``use`` alone sends ``"use"``.
    verbs: ClassVar[tuple[str, ...]] = ()

    #: Walking speed, units per second.
    speed: float = 2.0
    #: How far its :meth:`say` carries by default, on the ground plane (0: world-wide).
    voice: float = 20.0
    #: How far away a player's ``say`` reaches it (:meth:`on_hear`); 0: it hears nothing.
    hearing: float = 0.0

    id: int
    key: str
    name: str
    world: World
    _entity: Entity

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'key', '?')} #{getattr(self, 'id', '?')}>"

    # -- where it is (and position, x, y, z, distance_to: see Placed) ----------------

    @property
    def walking(self) -> bool:
        """Whether it is on its way somewhere."""
        return self._entity.dest is not None

    # -- what it can do -----------------------------------------------------------------

    def walk_to(self, x: float, y: float, z: float = 0.0) -> None:
        """Walk to (x, y, z) in a straight line at :attr:`speed`; :meth:`on_arrive` when there.

        The same walk as a player's: clients of protocol 2 get one ``wlk``
        for it, not a line per step.
        """
        self.world.walk(self, (float(x), float(y), float(z)))

    def stop(self) -> None:
        """Stand where it is now (no :meth:`on_arrive`)."""
        self.world.stop(self)

    def say(self, text: str, radius: float | None = None) -> None:
        """Say *text* to the players within *radius* (default :attr:`voice`; 0: everybody)."""
        self.world.say(self, text, self.voice if radius is None else radius)

    def tell(self, player: Player, text: str) -> None:
        """Tell *player* alone *text* (a ``msg`` line from this thing)."""
        self.world.tell(self, player, text)

    def spawn(
        self,
        cls: type[Thing] | str,
        name: str | None = None,
        at: Position | None = None,
        **params: Any,
    ) -> Thing:
        """Put a new thing in the world, here unless *at* says where (see :meth:`World.spawn`)."""
        return self.world.spawn(cls, name, self.position if at is None else at, **params)

    def despawn(self) -> None:
        """Take this thing out of the world."""
        self.world.despawn(self)

    def near(self, radius: float) -> list[Thing | Player]:
        """The players and other things within *radius* of it, nearest first."""
        return [o for o in self.world.near(self.x, self.y, radius) if o is not self]

    def players_near(self, radius: float) -> list[Player]:
        """The players within *radius* of it, nearest first."""
        return [o for o in self.world.near(self.x, self.y, radius) if isinstance(o, Player)]

    def after(self, seconds: float, callback: Callable[..., Any] | str, *args: Any) -> Timer:
        """Call *callback(*args)* once, *seconds* from now (run by the tick; ``cancel()`` it).

        Pass a method of this thing (``self.wake``) or its name: after a
        reload, the new code's method is called.  A failing callback counts
        as a failing hook of that name.
        """
        return self.world.after(self, seconds, callback, *args)

    def every(self, seconds: float, callback: Callable[..., Any] | str, *args: Any) -> Timer:
        """Call *callback(*args)* every *seconds*, first *seconds* from now (``cancel()`` it)."""
        return self.world.every(self, seconds, callback, *args)

    def watch(self, radius: float | None) -> None:
        """Be told when players come within *radius* (:meth:`on_enter`) and go (:meth:`on_leave`).

        *radius* is at most the view radius; ``None`` stops watching.  A
        watch nobody is near costs nothing per tick.
        """
        self.world.watch(self, radius)

    # -- what happens to it: hooks, for subclasses to override -------------------------

    def on_spawn(self) -> None:
        """It was put in the world (at start, by a spawn, or by a reload that added it)."""

    def on_despawn(self) -> None:
        """It is being taken out of the world (its timers and watch end)."""

    def on_reload(self) -> None:
        """A reload gave it new code; its state (attributes) is as it was."""

    def on_enter(self, player: Player) -> None:
        """*player* came within its :meth:`watch` radius (or logged in there)."""

    def on_leave(self, player: Player) -> None:
        """*player* went out of its :meth:`watch` radius (or left the game there)."""

    def on_hear(self, player: Player, text: str) -> None:
        """*player*, within :attr:`hearing` of it, said *text*."""

    def on_use(self, player: Player, verb: str, text: str) -> str | None:
        """*player* used it with *verb* (one of :attr:`verbs`, or ``"use"``) and *text*.

        What it returns is told to that player (a ``msg`` line); ``None``: nothing.
        """
        return None

    def on_arrive(self) -> None:
        """It reached the point it walked to."""

    def on_login(self, player: Player) -> None:
        """*player* joined the game, anywhere (only things that override this are told)."""

    def on_logout(self, player: Player) -> None:
        """*player* is leaving the game, anywhere (only things that override this are told)."""

    def step(self, dt: float) -> None:
        """Called every tick with the seconds since the last, only if a subclass overrides it."""


class Rules:
    """The game as a whole: game-wide hooks, and the game's own set-up.

    A game package may define a subclass named ``Rules``; its annotated
    attributes are parameters the world file's ``[rules]`` table sets.
    """

    INTERNAL: ClassVar[frozenset[str]] = frozenset({"world"})

    world: World

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def setup(self) -> None:
        """Prepare the game; run at start and, with the new code, at each reload.

        If it raises, the server does not start (or the reload changes nothing).
        """

    def on_reload(self) -> None:
        """A reload gave the rules new code (after :meth:`setup` succeeded)."""

    def on_login(self, player: Player) -> None:
        """*player* joined the game."""

    def on_logout(self, player: Player) -> None:
        """*player* is leaving the game."""

    def on_tick(self, dt: float) -> None:
        """Called every tick, only if a subclass overrides it."""
