"""One shard among several: claiming accounts from the others, giving them back.

Twisted glue around :mod:`mudserver.store.ownership`.  A login on this shard
*claims* its account after the password check and before the position is
read: if another shard plays the account, this one asks it to let go
(``NOTIFY``) and tries again until it may, or until ``--takeover-timeout``
(then ``err unavailable``).  A shard asked to let go closes its player with
``bye replaced``; the player leaves, is saved, and only once that save has
landed is the account given back, so the claiming shard reads the newest
position.  All lock calls run on one thread of their own; the notifications
arrive on another and are handed to the reactor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet import defer, task, threads
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from mudserver.core.game import Game
from mudserver.store.base import StoreUnavailable
from mudserver.store.ownership import (
    SAY_CHANNEL,
    TAKEOVER_CHANNEL,
    Listener,
    Ownership,
    parse_say,
    parse_takeover,
)

__all__ = ["CHECK_EVERY", "Shard"]

#: Seconds between checks that this shard's locks survived its connection.
CHECK_EVERY = 2.0
#: Seconds between two tries to claim an account another shard holds, at most.
RETRY_MAX = 0.2


class Shard:
    """Claims, gives back and hands over this shard's accounts."""

    log = Logger()

    def __init__(
        self,
        name: str,
        ownership: Ownership,
        listener: Listener,
        game: Game,
        saved: Callable[[str], defer.Deferred[None]],
        reactor: Any,
        takeover_timeout: float,
        cluster_chat: bool = False,
        heard: Mapping[str, Callable[[str], object]] | None = None,
        listening: Callable[[], object] | None = None,
    ) -> None:
        """*saved(name)* fires once every save of *name* made so far has landed;
        with *cluster_chat*, world-wide says reach the players of every shard.
        *heard* maps more channels to what handles their notifications (on the
        reactor); *listening* is called whenever the listening connection is
        new (at start, and after it was lost), since notifications sent
        while it was down are lost."""
        self.name = name
        self.ownership = ownership
        self.listener = listener
        self.game = game
        self.saved = saved
        self.reactor = reactor
        self.takeover_timeout = takeover_timeout
        self._pool = ThreadPool(1, 1, name="mudserver-shard")
        self._stopping = threading.Event()
        #: Accounts whose lock went with a broken connection and that another
        #: shard took meanwhile: their players here are closed, and not saved
        #: (the other shard's copy is the one that counts now).
        self.lost: set[str] = set()
        self._checker = task.LoopingCall(self._check)
        self._checker.clock = reactor
        self._handlers: dict[str, Callable[[str], object]] = {
            TAKEOVER_CHANNEL: self._asked,
            **({SAY_CHANNEL: self._heard} if cluster_chat else {}),
            **(heard or {}),
        }
        if set(listener.channels) != set(self._handlers):
            raise ValueError(f"the listener must listen on exactly {sorted(self._handlers)}")
        self._listening = listening
        if cluster_chat:
            game.on_world_say = self._said

    def start(self) -> None:
        self._pool.start()
        threading.Thread(target=self._listen, name="mudserver-listen", daemon=True).start()
        self._checker.start(CHECK_EVERY, now=False)

    def stop(self) -> None:
        """Stop listening and close the lock connection: every account is given back."""
        if self._checker.running:
            self._checker.stop()
        self._stopping.set()
        self._pool.callInThread(self.ownership.close)
        self._pool.stop()

    def _on_thread(self, f: Callable[..., Any], *args: Any) -> defer.Deferred[Any]:
        return threads.deferToThreadPool(self.reactor, self._pool, f, *args)

    # -- claiming ------------------------------------------------------------------

    async def claim(self, name: str) -> None:
        """Own *name* on this shard, taking it from another one; StoreUnavailable if not."""
        deadline = self.reactor.seconds() + self.takeover_timeout
        delay = 0.01
        while not await self._on_thread(self.ownership.try_claim, name):
            if self.reactor.seconds() >= deadline:
                raise StoreUnavailable(f"{name} is still playing on another shard")
            await self._on_thread(self.ownership.ask, name)
            await task.deferLater(self.reactor, delay, lambda: None)
            delay = min(delay * 2, RETRY_MAX)
        self.lost.discard(name.lower())

    def give_back(self, name: str) -> None:
        """One hold of *name* is over (a player left, a login gave up): unlock once saved."""

        def unlock(_: object) -> defer.Deferred[None]:
            return self._on_thread(self.ownership.release, name)

        d = self.saved(name)
        d.addCallback(unlock)
        d.addErrback(lambda f: self.log.failure("could not give back {name}", f, name=name))

    # -- being asked -------------------------------------------------------------------

    def _listen(self) -> None:
        """The listening thread: hand each notification to the reactor until stopped."""
        delay = 0.5
        connects = 0
        while not self._stopping.is_set():
            try:
                payloads = self.listener.wait(1.0)
                delay = 0.5
            except StoreUnavailable:
                self._stopping.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            if self.listener.connects != connects and self._listening is not None:
                self.reactor.callFromThread(self._listening)
            connects = self.listener.connects
            for channel, payload in payloads:
                handler = self._handlers.get(channel)
                if handler is not None:
                    self.reactor.callFromThread(handler, payload)
        self.listener.close()

    def _asked(self, payload: str) -> None:
        """Another shard wants an account: close it here, if it plays here."""
        parsed = parse_takeover(payload)
        if parsed is None:
            return
        name, shard = parsed
        if shard == self.name:
            return
        session = self.game.player(name)
        if session is not None:
            self.log.info("{name} is taken over by shard {shard}", name=name, shard=shard)
            session.close("replaced")

    # -- chat ----------------------------------------------------------------------

    def _said(self, name: str, text: str) -> None:
        """A player here said *text* world-wide: tell the other shards (if it can)."""
        d = self._on_thread(self.ownership.say, name, text)
        d.addErrback(lambda f: f.trap(StoreUnavailable))  # the shard's own players heard it
        d.addErrback(lambda f: self.log.failure("could not pass on a say", f))

    def _heard(self, payload: str) -> None:
        """A player on another shard said something world-wide."""
        parsed = parse_say(payload)
        if parsed is not None and parsed[0] != self.name:
            self.game.say_elsewhere(parsed[1], parsed[2])

    def _name_kept(self, held: bool) -> None:
        if held and not self.ownership.named:
            self.log.error(
                "another shard named {name} took the name while this one's database "
                "connection was down: two shards run under one name",
                name=self.name,
            )

    def lose(self, names: list[str]) -> None:
        """Another shard owns these accounts now: close their players here, unsaved."""
        for name in names:
            self.lost.add(name.lower())
            session = self.game.player(name)
            if session is not None:
                self.log.warn("lost {name} to another shard: closing it here", name=name)
                session.close("replaced")

    def _check(self) -> None:
        named = self.ownership.named

        def checked(lost: list[str]) -> list[str]:
            self._name_kept(named)
            return lost

        d = self._on_thread(self.ownership.check)
        d.addCallback(checked)
        d.addCallbacks(self.lose, lambda f: f.trap(StoreUnavailable))
        d.addErrback(lambda f: self.log.failure("checking the shard's locks failed", f))
