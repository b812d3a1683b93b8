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

import dataclasses
import heapq
import logging
from collections.abc import Callable, Iterator
from typing import Protocol

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core.delivery import BroadcastDelivery, Delivery, ViewDelivery
from mudserver.core.stats import Stats
from mudserver.core.world import Entity, World
from mudserver.limits.bans import BanList
from mudserver.limits.throttle import LoginThrottle
from mudserver.wire import replies

__all__ = ["PLAYER", "WHO_MAX_NAMES", "Client", "Game"]

log = logging.getLogger(__name__)

#: The ``kind`` of entities controlled by a connected client.
PLAYER = "player"

#: The protocol version whose clients follow walks instead of every step.
WALKING_PROTOCOL = "2"

#: Names one ``who`` reply may carry: with 2,000 players in view a reply
#: listing all of them would be ~20 KB, and a client repeating ``who`` at
#: the line rate would turn that into a flood of the server's own making.
WHO_MAX_NAMES = 20

SaveFunction = Callable[[Account], object]
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


class Game:
    """Every playing session and the world they share."""

    def __init__(self, settings: Settings, save: SaveFunction) -> None:
        self.settings = settings
        self.world = World()
        self._save = save
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
        #: Who is told what: chosen once, here.
        self.delivery: Delivery = (
            ViewDelivery(self.world, settings.view_radius, settings.max_in_view)
            if settings.mode == "interest"
            else BroadcastDelivery(self.world)
        )
        #: Playing sessions by entity id, to deliver what ``delivery`` decides.
        self._by_entity: dict[int, Client] = {}
        #: Position each player was last saved at, to know when to autosave.
        self._saved_at: dict[Client, Position | None] = {}
        #: Counters for the metrics endpoint.
        self.stats = Stats()
        #: Lines for the next tick's write, by session: chat and others'
        #: arrivals and departures ride along with the moves, so that each
        #: client gets at most one write per tick however busy the world is.
        self._outbox: dict[Client, list[str]] = {}
        #: Banned names and addresses, checked at ``con`` and at connect.
        self.bans = BanList()
        #: Told the account name of every player that left, after its last
        #: snapshot was handed to ``save`` (a shard gives the account back).
        self.on_leave: Callable[[str], object] | None = None
        #: Told (name, text) of every world-wide say (``--say-scope cluster``).
        self.on_world_say: Callable[[str, str], object] | None = None

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
            previous.close("replaced")
        entity = self.world.spawn(PLAYER, account.name, start, speed=self.settings.speed)
        self._players[key] = session
        self._by_entity[entity.id] = session
        self._saved_at[session] = None
        view, told = self.delivery.join(entity, walks=session.version == WALKING_PROTOCOL)
        session.send(replies.wel(entity) + view)
        self._send_to(told, replies.ent(entity))
        self._snapshot(account, entity, session)
        return entity

    def leave(self, session: Client) -> None:
        """Take *session*'s player out of the world, tell everybody, save it."""
        entity, account = session.entity, session.account
        if entity is None or account is None:
            return
        if self._players.get(account.name.lower()) is session:
            del self._players[account.name.lower()]
        self._by_entity.pop(entity.id, None)
        self._outbox.pop(session, None)
        self.world.remove(entity)
        observers = self.delivery.leave(entity)
        if not self.stopping:
            self._send_to(observers, replies.delete(entity.id))
        self._snapshot(account, entity, session)
        self._saved_at.pop(session, None)
        if self.on_leave is not None:
            self.on_leave(account.name)

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
            self.broadcast(line)
            if self.on_world_say is not None:
                self.on_world_say(speaker.name, text)
        else:
            self._send_to(self.delivery.hearers(speaker, radius), line)

    def say_elsewhere(self, name: str, text: str) -> None:
        """Queue a world-wide say of *name*, a player on another shard, for every player."""
        self.broadcast(replies.say_elsewhere(name, text))

    def announce(self, text: str) -> None:
        """Queue a ``sys`` line with *text* for every player (the operator's console)."""
        self.broadcast(replies.system(text))

    # -- time --------------------------------------------------------------------

    def tick(self, dt: float) -> None:
        """Step the world by *dt* seconds and send each player what it must hear.

        Each line is formatted once per tick, and each session gets all its
        lines, queued ones first, in a single ``send``: one write per client
        per tick.
        """
        world = self.world
        moved = world.step(dt)
        outbox, self._outbox = self._outbox, {}
        by_entity = self._by_entity
        for entity_id, lines in self.delivery.tick(moved, world.started, world.stopped).items():
            session = by_entity.get(entity_id)
            if session is not None:
                queued = outbox.pop(session, None) if outbox else None
                session.send("".join(queued + lines if queued else lines))
        for session, queued in outbox.items():
            session.send("".join(queued))

    # -- persistence ---------------------------------------------------------------

    def save(self, session: Client) -> None:
        """Hand a snapshot of *session*'s account, at its current position, to the store."""
        if session.entity is not None and session.account is not None:
            self._snapshot(session.account, session.entity, session)

    def _snapshot(self, account: Account, entity: Entity, session: Client) -> None:
        self._saved_at[session] = entity.position
        x, y, z = entity.position
        self._save(dataclasses.replace(account, x=x, y=y, z=z))

    def autosave(self, part: int = 0, parts: int = 1) -> int:
        """Save the players that moved since their last save; return how many.

        With *parts* > 1, only the players whose entity id is *part* modulo
        *parts*: the shell saves the world one slice at a time, so that
        thousands of saves never land on one tick.
        """
        saved_at = self._saved_at
        dirty = [
            s
            for s in self._players.values()
            if s.entity is not None
            and s.entity.id % parts == part
            and s.entity.position != saved_at.get(s)
        ]
        for session in dirty:
            self.save(session)
        return len(dirty)

    def save_failed(self, name: str) -> None:
        """A save of *name* did not reach the disk: make the next autosave retry it."""
        session = self.player(name)
        if session is not None:
            self._saved_at[session] = None

    def shutdown(self) -> None:
        """Say ``bye shutdown`` to every connection; each player is saved as it leaves.

        Without ``del`` lines to those still waiting for their ``bye``: with N
        players that would be N²/2 lines (1.7 s of the reactor for 1,000).
        """
        self.stopping = True
        for session in list(self.sessions):
            session.close("shutdown")
