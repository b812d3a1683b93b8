"""The game: the world, the players in it, and who gets told what.

:class:`Game` is the sans-IO heart of the server.  Clients join and leave it,
it steps the world on :meth:`tick` and sends each playing session the changes
of that tick in one piece, and it hands snapshots of accounts to a ``save``
callable whenever a player's progress must be made durable.  Where and how a
snapshot is written (a thread, a file) is the shell's business; who is told
about which entity is its :class:`~mudserver.core.delivery.Delivery`'s.

The game reads its sessions (account, entity, protocol version) and calls
their methods (``send``, ``close``); it never writes their fields.  What it
needs of one is :class:`Client`, so that the game stands below the session
module that drives it, not beside it.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core.chatspread import ChatSpread
from mudserver.core.delivery import BroadcastDelivery, Delivery, ViewDelivery
from mudserver.core.snapshots import SaveFunction, Snapshots
from mudserver.core.stats import Stats
from mudserver.core.world import Entity, World
from mudserver.limits.bans import BanList
from mudserver.limits.throttle import LoginThrottle, SignupBudget
from mudserver.wire import replies
from mudserver.wire.commands import CommandError

__all__ = ["PLAYER", "WHO_MAX_NAMES", "Client", "Director", "Game"]

log = logging.getLogger(__name__)

#: The ``kind`` of entities controlled by a connected client.
PLAYER = "player"

#: The protocol version whose clients follow walks instead of every step.
WALKING_PROTOCOL = "2"

#: Names one ``who`` reply may carry: with 2,000 players in view a reply
#: listing all of them would be ~20 KB, and a client repeating ``who`` at
#: the line rate would turn that into a flood of the server's own making.
WHO_MAX_NAMES = 20

Position = tuple[float, float, float]


class Client(Protocol):
    """What the game needs of a connection's session (:class:`~mudserver.core.session.Client`)."""

    #: The account it plays, once logged in.
    account: Account | None
    #: Its player in the world, once logged in.
    entity: Entity | None
    #: The protocol version it speaks (``"1"`` or ``"2"``).
    version: str
    #: Its address, and the time of its last line (for the operator's ``who``).
    host: str
    last_input: float

    def send(self, text: str) -> None:
        """Queue one or more complete lines for it."""
        ...

    def close(self, reason: str) -> None:
        """Say ``bye reason`` and close it (it leaves the game)."""
        ...


class Director(Protocol):
    """What runs a game's code (:mod:`mudserver.game`): told what happens in the world.

    Every call comes from the reactor's thread, between or within ticks; it
    must not raise, except :meth:`use`, whose ``CommandError`` is the
    player's answer.
    """

    def joined(self, client: Client, entity: Entity, account: Account) -> None:
        """A player joined the world as *entity* (its ``wel`` is sent)."""
        ...

    def leaving(self, client: Client) -> None:
        """A player is about to leave the world (it is still in it, its data not yet saved)."""
        ...

    def said(self, speaker: Entity, text: str) -> None:
        """A player said *text* (its ``say`` lines are queued)."""
        ...

    def use(self, client: Client, target: int, verb: str, text: str) -> None:
        """A player used thing *target*; ``CommandError`` if it cannot (``err``)."""
        ...

    def tick(self, dt: float) -> None:
        """The world stepped by *dt*: run what is due (arrivals, traps, timers, steps)."""
        ...


class Game:
    """Every playing session and the world they share."""

    def __init__(
        self,
        settings: Settings,
        save: SaveFunction,
        director: Director | None = None,
        *,
        stats: Stats | None = None,
        bans: BanList | None = None,
        on_leave: Callable[[str], object] | None = None,
        on_world_say: Callable[[str, str], object] | None = None,
    ) -> None:
        """*save* is handed a snapshot of each account to make durable; *on_leave* the
        name of every player that left, after its last snapshot (a shard gives the
        account back); *on_world_say* (name, text) of every world-wide say
        (``--say-scope cluster``)."""
        self.settings = settings
        self.world = World()
        #: Runs the game's code; None: a world of players only (``--game none``).
        self.director = director
        #: Every open session, logged in or not.
        self.sessions: set[Client] = set()
        #: Playing sessions by lower-cased account name: one per account.
        self._players: dict[str, Client] = {}
        #: Set by :meth:`shutdown`: everybody is leaving, nobody needs ``del``.
        self.stopping = False
        #: Failed logins by address and by account, shared by every session.
        self.login_throttle = LoginThrottle(
            settings.login_failures_per_ip,
            settings.login_failures_per_account,
            settings.login_window,
        )
        #: Sign-ups per address and hour, shared by every session.
        self.signups = SignupBudget(settings.signups_per_hour)
        #: Who is told what: chosen once, here.
        self.delivery: Delivery = (
            ViewDelivery(self.world, settings.view_radius, settings.max_in_view)
            if settings.mode == "interest"
            else BroadcastDelivery(self.world)
        )
        #: Playing sessions by entity id, to deliver what ``delivery`` decides.
        self._by_entity: dict[int, Client] = {}
        #: What each player was last saved with, and its snapshots.
        self.snapshots = Snapshots(save, settings.max_player_data)
        #: Counters for the metrics endpoint.
        self.stats = stats if stats is not None else Stats()
        #: Lines for the next tick's write, by session: chat and others'
        #: arrivals and departures ride along with the moves, so that each
        #: client gets at most one write per tick however busy the world is.
        self._outbox: dict[Client, list[str]] = {}
        #: World-wide chat waiting for its client's turn (``--chat-spread``); None: no wait.
        self._chat = ChatSpread(settings.chat_spread) if settings.chat_spread > 1 else None
        #: Banned names and addresses, checked at ``con`` and at connect.
        self.bans = bans if bans is not None else BanList()
        self.on_leave = on_leave
        self.on_world_say = on_world_say

    def __len__(self) -> int:
        """The number of players in the game."""
        return len(self._players)

    def players(self) -> Iterator[Client]:
        return iter(list(self._players.values()))

    def player(self, name: str) -> Client | None:
        return self._players.get(name.lower())

    def in_view(self, session: Client) -> list[Entity]:
        """The entities *session*'s player has been told about, itself included."""
        return [] if session.entity is None else self.delivery.in_view(session.entity)

    def who_reply(self, session: Client) -> str:
        """A player's ``who``: players online, players in view, the nearest names.

        At most :data:`WHO_MAX_NAMES` names, nearest first (the player itself
        not counted), so the reply is bounded however big the crowd.  The work
        is not: it is linear in the players in view, which is why the session
        lets ``who`` through at the ``say`` rate only.
        """
        me = session.entity
        if me is None:
            return replies.who(len(self), 0, [])
        others = [e for e in self.in_view(session) if e is not me and e.kind == PLAYER]
        x, y = me.x, me.y
        nearest = heapq.nsmallest(
            WHO_MAX_NAMES, others, key=lambda e: (e.x - x) * (e.x - x) + (e.y - y) * (e.y - y)
        )
        return replies.who(len(self), len(others), [e.name for e in nearest])

    def broadcast(self, line: str) -> None:
        """Queue *line* for every player, for the next tick."""
        outbox = self._outbox
        for session in self._players.values():
            outbox.setdefault(session, []).append(line)

    def _chat_to_all(self, line: str, speaker: Client | None = None) -> None:
        """Queue a world-wide chat *line* for every player: for the next tick, or
        spread over ``--chat-spread`` ticks (:mod:`mudserver.core.chatspread`);
        the *speaker*'s own copy is never held back."""
        chat = self._chat
        if chat is None:
            self.broadcast(line)
            return
        outbox = self._outbox
        for session in self._players.values():
            entity = session.entity
            if session is speaker or entity is None:
                outbox.setdefault(session, []).append(line)
            else:
                chat.add(session, entity.id, line)

    def _send_to(self, entity_ids: list[int], line: str) -> None:
        """Queue *line* for the players whose entities have these ids."""
        by_entity, outbox = self._by_entity, self._outbox
        for entity_id in entity_ids:
            session = by_entity.get(entity_id)
            if session is not None:
                outbox.setdefault(session, []).append(line)

    # -- joining and leaving ---------------------------------------------------

    def join(self, session: Client, account: Account) -> Entity:
        """Put *account*'s player into the world for *session* and tell everybody.

        If the account is already playing elsewhere, that session is closed
        with ``bye replaced`` and the new one continues from where the old
        player stood.  The caller (the session) keeps the returned entity.
        """
        key = account.name.lower()
        start: Position = (account.x, account.y, account.z)
        previous = self._players.get(key)
        if previous is not None and previous.entity is not None:
            start = previous.entity.position
            if previous.account is not None:
                # Its data is newer than what the login read (saved as it leaves).
                account.data = previous.account.data
            previous.close("replaced")
        entity = self.world.spawn(PLAYER, account.name, start, speed=self.settings.speed)
        self._players[key] = session
        self._by_entity[entity.id] = session
        self.snapshots.start(session, account)
        view, told = self.delivery.join(entity, walks=session.version == WALKING_PROTOCOL)
        session.send(replies.wel(entity) + view)
        self._send_to(told, replies.ent(entity))
        self.snapshots.take(session, account, entity)
        if self.director is not None:
            self.director.joined(session, entity, account)
        return entity

    def leave(self, session: Client) -> None:
        """Take *session*'s player out of the world, tell everybody, save it."""
        entity, account = session.entity, session.account
        if entity is None or account is None:
            return
        if self.director is not None:
            self.director.leaving(session)
        if self._players.get(account.name.lower()) is session:
            del self._players[account.name.lower()]
        self._by_entity.pop(entity.id, None)
        self._outbox.pop(session, None)
        if self._chat is not None:
            self._chat.take(session, entity.id)
        self.world.remove(entity)
        observers = self.delivery.leave(entity)
        if not self.stopping:
            self._send_to(observers, replies.delete(entity.id))
        self.snapshots.take(session, account, entity)
        self.snapshots.forget(session)
        if self.on_leave is not None:
            self.on_leave(account.name)

    # -- things --------------------------------------------------------------------

    def add_thing(self, kind: str, name: str, position: Position, speed: float) -> Entity:
        """Put a thing (not a player) into the world; the players that see it get ``ent``."""
        entity = self.world.spawn(kind, name, position, speed=speed)
        self._send_to(self.delivery.add(entity), replies.ent(entity))
        return entity

    def remove_thing(self, entity: Entity) -> None:
        """Take a thing out of the world; the players that saw it get ``del``."""
        if entity in self.world:
            self.world.remove(entity)
            self._send_to(self.delivery.leave(entity), replies.delete(entity.id))

    def say_from(self, speaker: Entity, text: str, radius: float) -> None:
        """A thing says *text*: heard within *radius* on the ground plane, or world-wide (0)."""
        line = replies.say(speaker, text)
        if radius:
            self._send_to(self.delivery.hearers(speaker, radius), line)
        else:
            self._chat_to_all(line)

    def tell(self, session: Client, sender: Entity | None, text: str) -> None:
        """Queue a private ``msg`` for *session*'s player, from *sender* (None: the game)."""
        line = (
            replies.msg(sender.id, sender.name, text)
            if sender is not None
            else replies.msg(replies.ELSEWHERE, "", text)
        )
        self._outbox.setdefault(session, []).append(line)

    def near(self, x: float, y: float, radius: float) -> list[Entity]:
        """Every entity, players and things, within *radius* of (x, y) on the ground plane."""
        return self.delivery.near(x, y, radius)

    def session_of(self, entity: Entity) -> Client | None:
        """The session playing *entity*, or None for a thing (or a player gone)."""
        return self._by_entity.get(entity.id)

    # -- actions -----------------------------------------------------------------

    def walk(self, session: Client, dest: Position) -> None:
        """Send *session*'s player toward *dest*; the next ticks move it.

        A protocol-2 player turns at most once per ``turn_interval``.
        """
        if session.entity is not None:
            interval = self.settings.turn_interval if session.version == WALKING_PROTOCOL else 0.0
            self.world.walk(session.entity, dest, interval)

    def say(self, speaker: Entity, text: str) -> None:
        """Send *text* from *speaker* to every player in earshot, the speaker included.

        World-wide unless ``say_radius`` is set.
        """
        line = replies.say(speaker, text)
        radius = self.settings.say_radius
        if not radius:
            self._chat_to_all(line, self._by_entity.get(speaker.id))
            if self.on_world_say is not None:
                self.on_world_say(speaker.name, text)
        else:
            self._send_to(self.delivery.hearers(speaker, radius), line)
        if self.director is not None:
            self.director.said(speaker, text)

    def use(self, session: Client, target: int, verb: str, text: str) -> None:
        """*session*'s player uses thing *target*: the game's code answers.

        ``CommandError`` (the player's ``err``) when there is no such thing.
        """
        if self.director is None:
            raise CommandError("nosuch", f"there is no thing {target} here")
        self.director.use(session, target, verb, text)

    def say_elsewhere(self, name: str, text: str) -> None:
        """Queue a world-wide say of *name*, a player on another shard, for every player."""
        self._chat_to_all(replies.say_elsewhere(name, text))

    def announce(self, text: str) -> None:
        """Queue a ``sys`` line with *text* for every player (the operator's console)."""
        self.broadcast(replies.system(text))

    # -- time --------------------------------------------------------------------

    def tick(self, dt: float) -> None:
        """Step the world by *dt* seconds, run the game's code, send each player its lines.

        Each line is formatted once per tick, and each session gets all its
        lines in a single ``send``: one write per client per tick.  What was
        queued since the last tick comes first, then the tick's moves, then
        what the game's code did in this tick (see the module docstring).
        """
        world = self.world
        moved = world.step(dt)
        lines = self.delivery.tick(moved, world.started, world.stopped)
        before, self._outbox = self._outbox, {}
        if self.director is not None:
            self.director.tick(dt)
        after, self._outbox = self._outbox, {}
        if self._chat is not None:
            self._write_with_chat(self._chat, lines, before, after)
            return
        by_entity = self._by_entity
        for entity_id, tick_lines in lines.items():
            session = by_entity.get(entity_id)
            if session is not None:
                queued = before.pop(session, None) if before else None
                later = after.pop(session, None) if after else None
                if queued is None and later is None:
                    session.send("".join(tick_lines))
                else:
                    session.send("".join((queued or []) + tick_lines + (later or [])))
        for session, queued in before.items():
            later = after.pop(session, None) if after else None
            session.send("".join(queued + later if later else queued))
        for session, later in after.items():
            session.send("".join(later))

    def _write_with_chat(
        self,
        chat: ChatSpread,
        lines: Mapping[int, list[str]],
        before: dict[Client, list[str]],
        after: dict[Client, list[str]],
    ) -> None:
        """The tick's writes when world-wide chat is spread: every client written to
        gets its waiting chat first, in the same write; then the clients whose turn it is."""
        by_entity = self._by_entity
        written = dict.fromkeys(s for s in map(by_entity.get, lines) if s is not None)
        written.update(dict.fromkeys(before))
        written.update(dict.fromkeys(after))
        for session in written:
            entity = session.entity
            parts: list[str] = []
            if entity is not None:
                parts += chat.take(session, entity.id) or ()
            parts += before.get(session, ())
            if entity is not None and by_entity.get(entity.id) is session:
                parts += lines.get(entity.id, ())
            parts += after.get(session, ())
            session.send("".join(parts))
        for session, waiting in chat.due().items():
            session.send("".join(waiting))

    # -- persistence ---------------------------------------------------------------

    def save(self, session: Client) -> None:
        """Hand a snapshot of *session*'s account, position and data as they are, to the store."""
        if session.entity is not None and session.account is not None:
            self.snapshots.take(session, session.account, session.entity)

    def autosave(self, part: int = 0, parts: int = 1) -> int:
        """Save the players that moved or whose data changed since their last save.

        Returns how many.  With *parts* > 1, only the players whose entity id
        is *part* modulo *parts*: the shell saves the world one slice at a
        time, so that thousands of saves never land on one tick.
        """
        changed = self.snapshots.changed
        dirty = [
            s
            for s in self._players.values()
            if s.entity is not None
            and s.account is not None
            and s.entity.id % parts == part
            and changed(s, s.account, s.entity)
        ]
        for session in dirty:
            self.save(session)
        return len(dirty)

    def save_failed(self, name: str) -> None:
        """A save of *name* did not reach the disk: make the next autosave retry it."""
        session = self.player(name)
        if session is not None:
            self.snapshots.failed(session)

    def shutdown(self) -> None:
        """Say ``bye shutdown`` to every connection; each player is saved as it leaves.

        Without ``del`` lines to those still waiting for their ``bye``: with N
        players that would be N²/2 lines (1.7 s of the reactor for 1,000).
        """
        self.stopping = True
        for session in list(self.sessions):
            session.close("shutdown")
