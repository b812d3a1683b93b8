"""Plain counters of what the server did, cheap enough to bump on every line.

The hot paths (every line in, every write out) only add to integers here;
:mod:`mudserver.shell.metrics` turns them into Prometheus metrics when scraped, so
counting costs no lock and no label lookup per line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Stats"]


@dataclass
class Stats:
    """Totals since the server started."""

    lines_received: int = 0
    bytes_received: int = 0
    lines_sent: int = 0
    bytes_sent: int = 0
    logins: int = 0
    #: Wrong passwords, at ``con`` and at ``pwd``.
    failed_logins: int = 0
    #: Accounts made with ``new``, and passwords changed with ``pwd``.
    signups: int = 0
    password_changes: int = 0
    #: Closed connections by reason (``quit``, ``timeout``, ``disconnected``...).
    disconnects: Counter[str] = field(default_factory=Counter)
