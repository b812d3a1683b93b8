"""A shard put together: its name held from start, then its wiring to the other shards.

``twistd mudserver --shard NAME`` comes here from :mod:`mudserver.shell.tap`
twice: while the options are read, to hold the lock on the shard's name (a
second shard of that name stops at start) and register it; and when the
service is made, for what ``--shard`` gives it (:func:`shard_setup`): claims
and takeovers (:mod:`mudserver.shell.shard`), cluster chat, and what the
shard's listener hears besides, the console's side of a shard
(:class:`ShardConsole`): the relay that carries the console's commands to
the other shards (:mod:`mudserver.shell.relay`) and the shared ban list.
psycopg is needed only here, so it is imported only for a shard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mudserver.core.game import Game
from mudserver.shell.bankeeper import TableBans
from mudserver.shell.operations import Operations
from mudserver.shell.relay import Relay
from mudserver.shell.shard import Hearing, ShardSetup
from mudserver.store.bans import BANS_CHANNEL, BanTable
from mudserver.store.base import StoreUnavailable
from mudserver.store.cluster import ANSWER_CHANNEL, CONSOLE_CHANNEL, Cluster
from mudserver.store.ownership import SAY_CHANNEL, TAKEOVER_CHANNEL, Listener, Ownership

__all__ = ["NameTaken", "ShardConsole", "claim_name", "shard_setup"]


class NameTaken(Exception):
    """A shard of this name is already running on the database."""


def claim_name(spec: str, shard: str, host: str) -> tuple[Ownership, Cluster]:
    """Hold the lock on *shard*'s name and register it (on *host*): its Ownership, which
    keeps the lock for as long as the shard runs, and its Cluster.

    NameTaken if a running shard holds the name, on any machine;
    StoreUnavailable if the database cannot be reached.
    """
    ownership = Ownership(spec, shard)
    try:
        if not ownership.take_name():
            raise NameTaken(f"a shard named {shard} is already running on this database")
        cluster = Cluster(spec, shard)
        cluster.register(host)
    except (NameTaken, StoreUnavailable):
        ownership.close()
        raise
    return ownership, cluster


class ShardConsole:
    """A shard's side of the console: the relay of its commands, and the shared ban list.

    Both are handlers of the shard's listener (the console's requests and
    answers, the ban table's changes) and both act on the game, so they are
    made with it: the service calls :meth:`hearing` once it has made the game
    (:attr:`ShardSetup.hearing`), and the admin socket, made after the
    service, takes :attr:`operations`, :attr:`bans` and :attr:`relay` from here.
    """

    #: Made by :meth:`hearing`, with the game.
    operations: Operations
    bans: TableBans
    relay: Relay

    def __init__(
        self,
        cluster: Cluster,
        table: BanTable,
        reactor: Any,
        operations: Callable[[Game], Operations],
    ) -> None:
        """*operations(game)*: the commands every server runs for the console, on *game*."""
        self.cluster = cluster
        self.table = table
        self.reactor = reactor
        self._operations = operations

    def hearing(self, game: Game) -> Hearing:
        """Make the relay and the ban keeper for *game*: what the listener hears besides
        takeovers and says, and who handles it."""
        self.operations = self._operations(game)
        self.bans = TableBans(game, self.reactor, self.table)
        self.relay = Relay(self.cluster.shard, self.cluster, self.operations, self.reactor)
        return Hearing(
            {
                CONSOLE_CHANNEL: self.relay.requested,
                ANSWER_CHANNEL: self.relay.answered,
                BANS_CHANNEL: self.bans.changed,
            },
            # A new listening connection may have missed ban changes: read them again.
            listening=self.bans.changed,
        )


def shard_setup(
    spec: str,
    claimed: tuple[Ownership, Cluster],
    takeover_timeout: float,
    cluster_chat: bool,
    console: ShardConsole,
) -> ShardSetup:
    """What ``--shard`` gives the service: the ownership connection that holds the name
    (from :func:`claim_name`), a listener on every channel the shard hears, and *console*."""
    ownership, _ = claimed
    channels = (
        TAKEOVER_CHANNEL,
        *((SAY_CHANNEL,) if cluster_chat else ()),
        CONSOLE_CHANNEL,
        ANSWER_CHANNEL,
        BANS_CHANNEL,
    )
    return ShardSetup(
        ownership.shard,
        ownership,
        Listener(spec, channels),
        takeover_timeout,
        cluster_chat,
        hearing=console.hearing,
    )
