"""What can go wrong with a request, as exceptions a program can catch by type.

Every ``err code,message`` that answers a request the library made (a login,
a sign-up, a password change, a ``use``) is raised as a :class:`ServerError`;
its subclass says which code it was, so a program writes
``except NameTaken:`` rather than comparing ``.code`` with a string.  A code
this library does not know (a newer server's) is a plain :class:`ServerError`
with that code.  docs/protocol.md, section 6, says when each is sent.
"""

from __future__ import annotations

__all__ = [
    "AlreadyLoggedIn",
    "BadArgument",
    "BadLogin",
    "BadName",
    "BadProtocol",
    "BadVerb",
    "BrokenThing",
    "ConnectionClosed",
    "NameTaken",
    "NoSuchThing",
    "NotLoggedIn",
    "RegistrationClosed",
    "ServerError",
    "TooFar",
    "TooFast",
    "TooManySignups",
    "Unavailable",
    "UnknownCommand",
    "WeakPassword",
    "WrongPassword",
    "server_error",
]


class ServerError(Exception):
    """The server answered ``err code,message``; programs look at :attr:`code` or the type."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message


class ConnectionClosed(Exception):
    """The connection ended; :attr:`reason` is the ``bye`` reason if one came.

    A sign-up with a banned name ends this way, with reason ``banned``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"connection closed: {reason}")
        self.reason = reason


class BadLogin(ServerError):
    """``badlogin``: unknown user or wrong password (the server does not say which)."""


class BadProtocol(ServerError):
    """``badproto``: the server does not speak the protocol version asked for."""


class AlreadyLoggedIn(ServerError):
    """``already``: this connection is logged in already."""


class NotLoggedIn(ServerError):
    """``notlogged``: the request needs a login first."""


class TooFast(ServerError):
    """``toofast``: over a rate limit (lines, ``say``/``use``, failed logins); try later."""


class Unavailable(ServerError):
    """``unavailable``: the server cannot reach its account store now; nothing was done."""


class BadArgument(ServerError):
    """``badarg``: the server refused an argument (too long, out of range)."""


class UnknownCommand(ServerError):
    """``badcmd``: the server does not know the command: an older server, say."""


class NameTaken(ServerError):
    """``taken``: a sign-up for a name that has an account (names ignore case)."""


class BadName(ServerError):
    """``badname``: a sign-up for a name outside 1-24 of ``A-Z a-z 0-9 _``."""


class WeakPassword(ServerError):
    """``weakpass``: a new password shorter than the server's minimum (8 by default)."""


class RegistrationClosed(ServerError):
    """``closed``: the server's operator turned sign-ups off."""


class TooManySignups(ServerError):
    """``toomany``: too many sign-ups from this address lately; try later."""


class WrongPassword(ServerError):
    """``badpass``: a password change whose old password was wrong."""


class NoSuchThing(ServerError):
    """``nosuch``: no thing with that id is in the world (gone, or a player)."""


class TooFar(ServerError):
    """``toofar``: the thing is beyond reach (10 units by default); walk nearer."""


class BadVerb(ServerError):
    """``badverb``: the thing does not know that verb; the message lists those it does."""


class BrokenThing(ServerError):
    """``broken``: the thing's game code failed and was switched off: the game's bug."""


_BY_CODE: dict[str, type[ServerError]] = {
    "badlogin": BadLogin,
    "badproto": BadProtocol,
    "already": AlreadyLoggedIn,
    "notlogged": NotLoggedIn,
    "toofast": TooFast,
    "unavailable": Unavailable,
    "badarg": BadArgument,
    "badcmd": UnknownCommand,
    "taken": NameTaken,
    "badname": BadName,
    "weakpass": WeakPassword,
    "closed": RegistrationClosed,
    "toomany": TooManySignups,
    "badpass": WrongPassword,
    "nosuch": NoSuchThing,
    "toofar": TooFar,
    "badverb": BadVerb,
    "broken": BrokenThing,
}


def server_error(code: str, message: str) -> ServerError:
    """The exception for ``err code,message``: its own type if this library knows the code."""
    return _BY_CODE.get(code, ServerError)(code, message)
