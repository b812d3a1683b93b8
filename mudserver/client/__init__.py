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
from mudserver.client.errors import (
    AlreadyLoggedIn,
    BadArgument,
    BadLogin,
    BadName,
    BadProtocol,
    BadVerb,
    BrokenThing,
    ConnectionClosed,
    NameTaken,
    NoSuchThing,
    NotLoggedIn,
    RegistrationClosed,
    ServerError,
    TooFar,
    TooFast,
    TooManySignups,
    Unavailable,
    UnknownCommand,
    WeakPassword,
    WrongPassword,
)
from mudserver.client.messages import (
    Ack,
    Bye,
    Delete,
    Entered,
    Error,
    Message,
    Position,
    Said,
    System,
    Told,
    Unknown,
    Walk,
    Welcome,
    WhoList,
    parse,
)
from mudserver.client.mirror import Course, Entity, WorldMirror
from mudserver.client.protocol import (
    DEFAULT_KEEPALIVE,
    DEFAULT_VERSION,
    VERSIONS,
    Listener,
    MudClient,
    connect,
)
from mudserver.client.requests import DEFAULT_USE_WAIT

#: The name the issue uses; the same class.
ClientProtocol = MudClient

__all__ = [
    "DEFAULT_KEEPALIVE",
    "DEFAULT_USE_WAIT",
    "DEFAULT_VERSION",
    "VERSIONS",
    "Ack",
    "AlreadyLoggedIn",
    "BadArgument",
    "BadLogin",
    "BadName",
    "BadProtocol",
    "BadVerb",
    "BlockingClient",
    "BrokenThing",
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
    "NameTaken",
    "NoSuchThing",
    "NotLoggedIn",
    "Position",
    "RegistrationClosed",
    "Said",
    "ServerError",
    "System",
    "Told",
    "TooFar",
    "TooFast",
    "TooManySignups",
    "Unavailable",
    "Unknown",
    "UnknownCommand",
    "Walk",
    "WeakPassword",
    "Welcome",
    "WhoList",
    "WorldMirror",
    "WrongPassword",
    "connect",
    "parse",
]
