"""The game: the world, the players in it, and who gets told what.

:class:`Game` is the sans-IO heart of the server.  Sessions join and leave it,
it steps the world on :meth:`tick` and sends each playing session the changes
of that tick in one piece, and it hands snapshots of accounts to a ``save``
callable whenever a player's progress must be made durable.  Where and how a
snapshot is written (a thread, a file) is the shell's business.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from twisted.logger import Logger

from mudserver.config import Settings
from mudserver.core.interest import Interest
from mudserver.core.session import Session
from mudserver.core.stats import Stats
from mudserver.core.world import Entity, World
from mudserver.limits.bans import BanList
from mudserver.limits.throttle import LoginThrottle
from mudserver.store.accounts import Account
from mudserver.wire import replies

__all__ = ["Game", "PLAYER"]

#: The ``kind`` of entities controlled by a connected client.
PLAYER = "player"

SaveFunction = Callable[[Account], object]


class Game:
    """Every playing session and the world they share."""

    log = Logger()

    def __init__(self, settings: Settings, save: SaveFunction) -> None:
        self.settings = settings
        self.world = World()
        self._save = save
        #: Every open session, logged in or not.
        self.sessions: set[Session] = set()
        #: Playing sessions by lower-cased account name: one per account.
        self._players: dict[str, Session] = {}
        #: Set by :meth:`shutdown`: everybody is leaving, nobody needs ``del``.
        self.stopping = False
        #: Failed logins by address and by account, shared by every session.
        self.login_throttle = LoginThrottle(
            settings.login_failures_per_ip,
            settings.login_failures_per_account,
            settings.login_window,
        )
        #: Who sees whom, or ``None`` in broadcast mode (everybody sees all).
        self.interest: Interest | None = (
            Interest(settings.view_radius) if settings.mode == "interest" else None
        )
        #: Playing sessions by entity id, to deliver what ``interest`` decides.
        self._by_entity: dict[int, Session] = {}
        #: Counters for the metrics endpoint.
        self.stats = Stats()
        #: Lines for the next tick's write, by session: chat and others'
        #: arrivals and departures ride along with the moves, so that each
        #: client gets at most one write per tick however busy the world is.
        self._outbox: dict[Session, list[str]] = {}
        #: Banned names and addresses, checked at ``con`` and at connect (issue 15).
        self.bans = BanList()

    def __len__(self) -> int:
        """The number of players in the game."""
        return len(self._players)

    def players(self) -> Iterator[Session]:
        return iter(list(self._players.values()))

    def player(self, name: str) -> Session | None:
        return self._players.get(name.lower())

    def _broadcast(self, text: str) -> None:
        """Queue *text* for every player, for the next tick."""
        outbox = self._outbox
        for session in self._players.values():
            outbox.setdefault(session, []).append(text)

    def _send_to(self, entity_ids: list[int], text: str) -> None:
        """Queue *text* for the players whose entities have these ids."""
        by_entity, outbox = self._by_entity, self._outbox
        for entity_id in entity_ids:
            session = by_entity.get(entity_id)
            if session is not None:
                outbox.setdefault(session, []).append(text)

    # -- joining and leaving ---------------------------------------------------

    def join(self, session: Session) -> Entity:
        """Put *session*'s account into the world and tell everybody.

        If the account is already playing elsewhere, that session is closed
        with ``bye replaced`` and the new one continues from where the old
        player stood.
        """
        account = session.account
        assert account is not None
        key = account.name.lower()
        previous = self._players.get(key)
        if previous is not None and previous.entity is not None:
            account = dataclasses.replace(account)
            account.x, account.y, account.z = previous.entity.position
            session.account = account
            previous.close("replaced")
        entity = self.world.spawn(
            PLAYER, account.name, (account.x, account.y, account.z), speed=self.settings.speed
        )
        session.entity = entity
        self._players[key] = session
        self._by_entity[entity.id] = session
        if self.interest is not None:
            in_view, told = self.interest.add(entity, observer=True)
            session.send(replies.wel(entity) + "".join(replies.ent(e) for e in in_view))
            self._send_to(told, replies.ent(entity))
            self.save(session)
            return entity
        session.send(replies.wel(entity) + "".join(replies.ent(e) for e in self.world))
        self._send_to([e.id for e in self.world if e is not entity], replies.ent(entity))
        self.save(session)
        return entity

    def leave(self, session: Session) -> None:
        """Take *session*'s player out of the world, tell everybody, save it."""
        entity, account = session.entity, session.account
        if entity is None or account is None:
            return
        if self._players.get(account.name.lower()) is session:
            del self._players[account.name.lower()]
        self._by_entity.pop(entity.id, None)
        self._outbox.pop(session, None)
        self.world.remove(entity)
        if self.interest is not None:
            observers = self.interest.remove(entity)
            if not self.stopping:
                self._send_to(observers, replies.delete(entity.id))
        elif not self.stopping:
            self._broadcast(replies.delete(entity.id))
        self.save(session)

    # -- actions -----------------------------------------------------------------

    def say(self, speaker: Entity, text: str) -> None:
        """Send *text* from *speaker* to every player in earshot, the speaker included.

        World-wide unless ``say_radius`` is set.
        """
        line = replies.say(speaker, text)
        radius = self.settings.say_radius
        if not radius:
            self._broadcast(line)
        elif self.interest is not None:
            self._send_to(self.interest.hearers(speaker.x, speaker.y, radius), line)
        else:
            r2 = radius * radius
            self._send_to(
                [e.id for e in self.world if (e.x - speaker.x) ** 2 + (e.y - speaker.y) ** 2 <= r2],
                line,
            )

    # -- operator console (issue 15) -----------------------------------------------

    def announce(self, text: str) -> None:
        """Queue a ``sys`` line with *text* for every player, for the next tick."""
        self._broadcast(replies.system(text))

    def in_view(self, session: Session) -> list[Entity]:
        """The entities *session*'s player has been told about, itself included."""
        entity = session.entity
        if entity is None:
            return []
        if self.interest is None:
            return list(self.world)
        get = self.world.get
        return [e for e in map(get, self.interest.seen.get(entity.id, ())) if e is not None]

    # -- time --------------------------------------------------------------------

    def tick(self, dt: float) -> None:
        """Step the world by *dt* seconds and send each player what it must hear.

        Each moved entity's line is formatted once per tick, and each session
        gets all its lines, queued ones first, in a single ``send``: one
        write per client per tick.
        """
        moved = self.world.step(dt)
        outbox, self._outbox = self._outbox, {}
        if self.interest is not None:
            by_entity = self._by_entity
            for entity_id, lines in self.interest.update(moved).items():
                session = by_entity.get(entity_id)
                if session is not None:
                    queued = outbox.pop(session, None) if outbox else None
                    # Straight to the peer: Session.send's one check (not
                    # closed) always holds for a player still in the game.
                    session.peer.send("".join(queued + lines if queued else lines))
            for session, queued in outbox.items():
                session.send("".join(queued))
            return
        update = "".join(replies.pos(e) for e in moved)
        for session in self._players.values():
            queued = outbox.get(session)
            text = "".join(queued) + update if queued else update
            if text:
                session.send(text)

    # -- persistence ---------------------------------------------------------------

    def save(self, session: Session) -> None:
        """Hand a snapshot of *session*'s account, at its current position, to the store."""
        entity, account = session.entity, session.account
        if entity is None or account is None:
            return
        account.x, account.y, account.z = entity.position
        session.saved_position = entity.position
        self._save(dataclasses.replace(account))

    def autosave(self, part: int = 0, parts: int = 1) -> int:
        """Save the players that moved since their last save; return how many.

        With *parts* > 1, only the players whose entity id is *part* modulo
        *parts*: the shell saves the world one slice at a time, so that
        thousands of saves never land on one tick.
        """
        dirty = [
            s
            for s in self._players.values()
            if s.entity is not None
            and s.entity.id % parts == part
            and s.entity.position != s.saved_position
        ]
        for session in dirty:
            self.save(session)
        return len(dirty)

    def save_failed(self, name: str) -> None:
        """A save of *name* did not reach the disk: make the next autosave retry it."""
        session = self.player(name)
        if session is not None:
            session.saved_position = None

    def shutdown(self) -> None:
        """Say ``bye shutdown`` to every connection; each player is saved as it leaves.

        Without ``del`` lines to those still waiting for their ``bye``: with N
        players that would be N²/2 lines (1.7 s of the reactor for 1,000).
        """
        self.stopping = True
        for session in list(self.sessions):
            session.close("shutdown")
