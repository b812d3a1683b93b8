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
    Entered,
    Error,
    Message,
    Position,
    Said,
    Unknown,
    Walk,
    Welcome,
    parse,
)
from mudserver.client.mirror import Course, Entity, WorldMirror
from mudserver.client.protocol import (
    DEFAULT_KEEPALIVE,
    DEFAULT_VERSION,
    VERSIONS,
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
    "DEFAULT_VERSION",
    "VERSIONS",
    "BlockingClient",
    "Bye",
    "ClientProtocol",
    "ConnectionClosed",
    "Course",
    "Delete",
    "Entered",
    "Entity",
    "Error",
    "Listener",
    "Message",
    "MudClient",
    "Position",
    "Said",
    "ServerError",
    "Unknown",
    "Walk",
    "Welcome",
    "WorldMirror",
    "connect",
    "parse",
]
