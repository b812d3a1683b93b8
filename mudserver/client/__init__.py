"""Client side of the mudserver protocol: a library, and a terminal client.

Use :func:`connect` from Twisted code (it fires with a :class:`MudClient`),
or :class:`BlockingClient` from a plain script.  Both parse every server line
into a typed message (:func:`parse`), keep a :class:`WorldMirror` of what
they were told, and call a listener's ``docmd(client, message)`` for every
line.  ``python -m mudserver.client`` (or ``mudserver-client``) is the
interactive terminal client.  See ``docs/clients.md``.
"""

from __future__ import annotations

from mudserver.client.blocking import BlockingClient
from mudserver.client.messages import (
    Bye,
    Delete,
    Entity,
    Error,
    Message,
    Position,
    Said,
    Unknown,
    Welcome,
    parse,
)
from mudserver.client.mirror import Thing, WorldMirror
from mudserver.client.protocol import (
    DEFAULT_KEEPALIVE,
    ConnectionClosed,
    Listener,
    MudClient,
    ServerError,
    connect,
)

#: The name the issue uses; the same class.
ClientProtocol = MudClient

__all__ = [
    "DEFAULT_KEEPALIVE",
    "BlockingClient",
    "Bye",
    "ClientProtocol",
    "ConnectionClosed",
    "Delete",
    "Entity",
    "Error",
    "Listener",
    "Message",
    "MudClient",
    "Position",
    "Said",
    "ServerError",
    "Thing",
    "Unknown",
    "Welcome",
    "WorldMirror",
    "connect",
    "parse",
]
