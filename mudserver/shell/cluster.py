"""A shard put together: its name held from start, then its wiring to the other shards.

``twistd mudserver --shard NAME`` comes here from :mod:`mudserver.shell.tap`
twice: while the options are read, to hold the lock on the shard's name (a
second shard of that name stops at start) and register it; and when the
service is made, to turn the game into a shard: claims and takeovers
(:mod:`mudserver.shell.shard`), cluster chat, the shared ban list, and the
relay that carries the console's commands to the other shards
(:mod:`mudserver.shell.relay`).  psycopg is needed only here, so it is
imported only for a shard.
"""

from __future__ import annotations

from mudserver.shell.bankeeper import BanKeeper, TableBans
from mudserver.shell.operations import Operations
from mudserver.shell.relay import Relay
from mudserver.shell.service import GameService
from mudserver.shell.shard import Shard
from mudserver.store.bans import BANS_CHANNEL
from mudserver.store.base import Store, StoreUnavailable
from mudserver.store.cluster import ANSWER_CHANNEL, CONSOLE_CHANNEL, Cluster
from mudserver.store.ownership import SAY_CHANNEL, TAKEOVER_CHANNEL, Listener, Ownership
from mudserver.store.postgres import PostgresStore

__all__ = ["NameTaken", "claim_name", "make_shard"]


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


def make_shard(
    game: GameService,
    store: Store,
    spec: str,
    claimed: tuple[Ownership, Cluster],
    operations: Operations,
    bans: BanKeeper,
    takeover_timeout: float,
    cluster_chat: bool,
) -> Relay:
    """Make *game* a shard of the database *spec*; the relay of the console's commands."""
    ownership, cluster = claimed
    name = ownership.shard
    relay = Relay(name, cluster, operations, game.reactor)
    heard = {CONSOLE_CHANNEL: relay.requested, ANSWER_CHANNEL: relay.answered}
    listening = None
    if isinstance(bans, TableBans):
        heard[BANS_CHANNEL] = bans.changed
        listening = bans.changed  # notifications missed while the listener was down
    channels = (TAKEOVER_CHANNEL, *((SAY_CHANNEL,) if cluster_chat else ()), *heard)
    if isinstance(store, PostgresStore):
        # Saves land only while no other shard has claimed the account since.
        store.fenced = True
    game.shard = Shard(
        name,
        ownership,
        Listener(spec, channels),
        game.game,
        game.saves.saved,
        game.reactor,
        takeover_timeout,
        cluster_chat=cluster_chat,
        heard=heard,
        listening=listening,
    )
    game.metrics.labels = {"shard": name}
    return relay
