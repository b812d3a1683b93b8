"""One shard among several: claiming accounts from the others, giving them back.

Twisted glue around :mod:`mudserver.store.ownership`, in two halves so that
each stands on what is made before it:

* :class:`Shard` is what the login pipeline and the game call: a login on
  this shard *claims* its account after the password check and before the
  position is read (if another shard plays the account, this one asks it to
  let go with ``NOTIFY`` and tries again until it may, or until
  ``--takeover-timeout``: ``err unavailable``); a player that leaves *gives
  it back* once its last save has landed, so the claiming shard reads the
  newest position; a world-wide say goes out to the other shards.  It needs
  no game, so the game can be made with its hooks.
* :class:`ShardWatch` is what the other shards and the database do to this
  one's game: a takeover asked for closes the player here with ``bye
  replaced``, a say heard from elsewhere is told to every player, and a lock
  lost with a broken connection (taken by another shard meanwhile) closes
  its player unsaved.  It also hands the other channels its listener hears
  (the console's requests and answers, ban changes: :class:`Hearing`) to
  their handlers.  It is made after the game, with it.

The ownership connection also holds the lock on the shard's own name, from
the moment the options are read (:func:`mudserver.shell.cluster.claim_name`):
the watch says in the log if the name was lost while the connection was down.

All lock calls run on one thread of their own; the notifications arrive on
another and are handed to the reactor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer, task, threads
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from mudserver.core.game import Game
from mudserver.shell.saves import SaveQueue
from mudserver.store.base import StoreUnavailable
from mudserver.store.ownership import (
    SAY_CHANNEL,
    TAKEOVER_CHANNEL,
    Listener,
    Ownership,
    parse_say,
    parse_takeover,
)

__all__ = ["CHECK_EVERY", "Hearing", "Shard", "ShardSetup", "ShardWatch"]

#: Seconds between checks that this shard's locks survived its connection.
CHECK_EVERY = 2.0
#: Seconds between two tries to claim an account another shard holds, at most.
RETRY_MAX = 0.2

#: Handles one notification's payload, on the reactor.
Handler = Callable[[str], object]


@dataclass(frozen=True)
class Hearing:
    """What a shard's listener hears besides takeovers and says, and what handles it."""

    #: Channel -> its handler.
    heard: Mapping[str, Handler] = field(default_factory=dict)
    #: Called whenever the listening connection is new (at start, and after it
    #: was lost): notifications sent while it was down are lost, so what
    #: depends on them reads again.
    listening: Callable[[], object] | None = None


@dataclass(frozen=True)
class ShardSetup:
    """What ``--shard`` gives the service: the shard's name and its two connections."""

    name: str
    #: Holds the lock on the shard's name already, and the accounts' locks.
    ownership: Ownership
    listener: Listener
    takeover_timeout: float
    #: ``--say-scope cluster``: world-wide says reach the players of every shard.
    cluster_chat: bool = False
    #: What else the listener hears.  Its handlers act on the game (the
    #: console's relay, the ban list), so they are made with it: the service
    #: calls this once it has made the game, and gives the result to the watch.
    hearing: Callable[[Game], Hearing] | None = None


class Shard:
    """Claims and gives back this shard's accounts, and says world-wide things to the others."""

    log = Logger()

    def __init__(self, setup: ShardSetup, saves: SaveQueue, reactor: Any) -> None:
        """*saves* says when an account's saves have landed, and drops those of
        accounts another shard owns now (:attr:`SaveQueue.lost`)."""
        self.name = setup.name
        self.ownership = setup.ownership
        self.saves = saves
        self.reactor = reactor
        self.takeover_timeout = setup.takeover_timeout
        self._pool = ThreadPool(1, 1, name="mudserver-shard")

    def start(self) -> None:
        self._pool.start()

    def stop(self) -> None:
        """Close the lock connection: every account is given back."""
        self._pool.callInThread(self.ownership.close)
        self._pool.stop()

    def on_thread(self, f: Callable[..., Any], *args: Any) -> defer.Deferred[Any]:
        """Run *f* on the lock thread, where every call of the ownership connection runs."""
        return threads.deferToThreadPool(self.reactor, self._pool, f, *args)

    async def claim(self, name: str) -> None:
        """Own *name* on this shard, taking it from another one; StoreUnavailable if not."""
        deadline = self.reactor.seconds() + self.takeover_timeout
        delay = 0.01
        while not await self.on_thread(self.ownership.try_claim, name):
            if self.reactor.seconds() >= deadline:
                raise StoreUnavailable(f"{name} is still playing on another shard")
            await self.on_thread(self.ownership.ask, name)
            await task.deferLater(self.reactor, delay, lambda: None)
            delay = min(delay * 2, RETRY_MAX)

    def give_back(self, name: str) -> None:
        """One hold of *name* is over (a player left, a login gave up): unlock once saved."""

        def unlock(_: object) -> defer.Deferred[None]:
            return self.on_thread(self.ownership.release, name)

        d = self.saves.saved(name)
        d.addCallback(unlock)
        d.addErrback(lambda f: self.log.failure("could not give back {name}", f, name=name))

    def say(self, name: str, text: str) -> None:
        """A player here said *text* world-wide: tell the other shards (if it can)."""
        d = self.on_thread(self.ownership.say, name, text)
        d.addErrback(lambda f: f.trap(StoreUnavailable))  # the shard's own players heard it
        d.addErrback(lambda f: self.log.failure("could not pass on a say", f))


class ShardWatch:
    """What the other shards and the database do to this shard's game."""

    log = Logger()

    def __init__(
        self, shard: Shard, listener: Listener, game: Game, hearing: Hearing | None = None
    ) -> None:
        """*listener* listens on the takeover channel, on the say channel if says
        cross shards, and on the channels of *hearing*, and on no other."""
        self.shard = shard
        self.listener = listener
        self.game = game
        hearing = hearing or Hearing()
        self._handlers: dict[str, Handler] = {
            TAKEOVER_CHANNEL: self._asked,
            SAY_CHANNEL: self._heard,
            **hearing.heard,
        }
        channels = set(listener.channels)
        if not ({TAKEOVER_CHANNEL, *hearing.heard} <= channels <= set(self._handlers)):
            raise ValueError(
                f"the listener must listen on {TAKEOVER_CHANNEL} and {sorted(hearing.heard)}, "
                f"and on no other channel than {SAY_CHANNEL}"
            )
        self._listening = hearing.listening
        self._stopping = threading.Event()
        self._checker = task.LoopingCall(self._check)
        self._checker.clock = shard.reactor

    def start(self) -> None:
        threading.Thread(target=self._listen, name="mudserver-listen", daemon=True).start()
        self._checker.start(CHECK_EVERY, now=False)

    def stop(self) -> None:
        """Stop listening and checking (the shard's own :meth:`Shard.stop` lets go)."""
        if self._checker.running:
            self._checker.stop()
        self._stopping.set()

    def _listen(self) -> None:
        """The listening thread: hand each notification to the reactor until stopped."""
        delay = 0.5
        connects = 0
        reactor = self.shard.reactor
        while not self._stopping.is_set():
            try:
                payloads = self.listener.wait(1.0)
                delay = 0.5
            except StoreUnavailable:
                self._stopping.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            if self.listener.connects != connects and self._listening is not None:
                reactor.callFromThread(self._listening)
            connects = self.listener.connects
            for channel, payload in payloads:
                handler = self._handlers.get(channel)
                if handler is not None:
                    reactor.callFromThread(handler, payload)
        self.listener.close()

    def _asked(self, payload: str) -> None:
        """Another shard wants an account: close it here, if it plays here."""
        parsed = parse_takeover(payload)
        if parsed is None:
            return
        name, shard = parsed
        if shard == self.shard.name:
            return
        session = self.game.player(name)
        if session is not None:
            self.log.info("{name} is taken over by shard {shard}", name=name, shard=shard)
            session.close("replaced")

    def _heard(self, payload: str) -> None:
        """A player on another shard said something world-wide."""
        parsed = parse_say(payload)
        if parsed is not None and parsed[0] != self.shard.name:
            self.game.say_elsewhere(parsed[1], parsed[2])

    def _name_kept(self, held: bool) -> None:
        """Say so if the shard's name lock, held before the check, is gone after it."""
        if held and not self.shard.ownership.named:
            self.log.error(
                "another shard named {name} took the name while this one's database "
                "connection was down: two shards run under one name",
                name=self.shard.name,
            )

    def lose(self, names: list[str]) -> None:
        """Another shard owns these accounts now: close their players here, unsaved."""
        for name in names:
            self.shard.saves.lost.add(name.lower())
            session = self.game.player(name)
            if session is not None:
                self.log.warn("lost {name} to another shard: closing it here", name=name)
                session.close("replaced")

    def _check(self) -> None:
        named = self.shard.ownership.named

        def checked(lost: list[str]) -> list[str]:
            self._name_kept(named)
            return lost

        d = self.shard.on_thread(self.shard.ownership.check)
        d.addCallback(checked)
        d.addCallbacks(self.lose, lambda f: f.trap(StoreUnavailable))
        d.addErrback(lambda f: self.log.failure("checking the shard's locks failed", f))
