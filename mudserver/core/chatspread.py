"""World-wide chat spread over a few ticks, so that a chatty world has no burst of writes.

Everything a client is told in a tick goes out in one write at the tick's
end (:meth:`~mudserver.core.game.Game.tick`).  A world-wide ``say`` is told
to every player, so the tick after it writes to every client: with 2,000
players and 1% of them chatting, one tick in ten carries 2,000 ``send(2)``
calls (~20 ms) where the others carry a few hundred, and those ticks are the
tick's p99 (``docs/benchmarks.md``, issue 20).

With ``--chat-spread N`` (N > 1) a world-wide line waits, for each client,
until the first tick that writes to that client anyway, or the tick of the
client's slot (its entity id modulo N), whichever comes first.  So:

* no client waits more than N - 1 ticks longer than it would have;
* a tick writes to about 1/N of the clients that had nothing else to hear;
* a client that is written to anyway gets its waiting chat in that write,
  for nothing, and first: chat lines keep their order among themselves, and
  come before the lines of the tick that carries them.

The speaker's own copy is not held back (the game queues it as any line).
With N = 1 nothing waits and this class is not used.

Pure Python; the game (:mod:`mudserver.core.game`) owns one.
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["ChatSpread"]


class ChatSpread:
    """Chat lines waiting for their client's write, in *ticks* slots."""

    def __init__(self, ticks: int) -> None:
        if ticks < 2:
            raise ValueError("a spread is at least 2 ticks")
        self.ticks = ticks
        #: Per slot: each client's waiting lines, oldest first.
        self._slots: list[dict[Hashable, list[str]]] = [{} for _ in range(ticks)]
        #: The slot written out at the end of the next tick.
        self._next = 0

    def add(self, client: Hashable, entity_id: int, line: str) -> None:
        """*line* waits for *client* (playing entity *entity_id*)."""
        self._slots[entity_id % self.ticks].setdefault(client, []).append(line)

    def take(self, client: Hashable, entity_id: int) -> list[str] | None:
        """*client*'s waiting lines, now that it is written to anyway (None: none)."""
        return self._slots[entity_id % self.ticks].pop(client, None)

    def due(self) -> dict[Hashable, list[str]]:
        """The clients whose turn this tick is, with their lines; the next call, the next slot."""
        slot = self._next
        self._next = (slot + 1) % self.ticks
        due, self._slots[slot] = self._slots[slot], {}
        return due

    def __len__(self) -> int:
        """Clients with lines waiting."""
        return sum(len(slot) for slot in self._slots)
