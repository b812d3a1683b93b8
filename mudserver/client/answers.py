"""Which server line answers which request: the clients' bookkeeping, sans-IO.

The protocol has no request ids.  A login (``con``) and a sign-up (``new``)
are answered by ``wel`` or an ``err``, a password change (``pwd``) by
``ack pwd`` or an ``err``, a ``use`` by the thing's ``msg`` or an ``err``
(or by nothing: a thing need not answer).  :class:`Waiting` keeps the
requests sent and not yet answered, in the order they were sent, and gives
each incoming line to the first request it can answer.  Both the Twisted and
the blocking client use it.

The ``err`` codes a request accepts are the ones the server sends for it
(docs/protocol.md, section 6), plus ``badcmd`` (an older server that lacks the
command) and ``badarg``, so that a request never waits forever for an answer
that came as an error.  What ordering cannot tell apart: two ``use`` lines
sent at once, of which the second is refused, hand the refusal to the first
(a thing's ``msg`` comes with the next tick, a refusal at once).  Wait for
each ``use`` before the next when that matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mudserver.client.errors import ServerError, server_error
from mudserver.client.messages import Ack, Error, Message, Told, Welcome

__all__ = [
    "LOGIN_ERRORS",
    "PASSWORD_ERRORS",
    "SIGNUP_ERRORS",
    "USE_ERRORS",
    "Request",
    "Waiting",
    "outcome",
]

#: ``err`` codes that answer a ``con``.  Other errors (say ``notlogged`` for
#: a ``mov`` sent just before) must not be taken for the login's answer.
LOGIN_ERRORS = frozenset({"badlogin", "badproto", "already", "toofast", "unavailable"})
#: ``err`` codes that answer a ``new`` (a sign-up that failed wrote nothing).
SIGNUP_ERRORS = frozenset(
    {"taken", "badname", "weakpass", "closed", "toomany", "badproto", "already", "toofast"}
    | {"unavailable", "badarg", "badcmd"}
)
#: ``err`` codes that answer a ``pwd`` (the last wrong password allowed on a
#: connection may come as ``badlogin``, before ``bye badlogin``).
PASSWORD_ERRORS = frozenset(
    {"badpass", "badlogin", "weakpass", "unavailable", "toofast", "notlogged", "badarg", "badcmd"}
)
#: ``err`` codes that answer a ``use``.
USE_ERRORS = frozenset(
    {"nosuch", "toofar", "badverb", "broken", "toofast", "notlogged", "badarg", "badcmd"}
)


@dataclass(eq=False)
class Request:
    """One request sent and not yet answered.

    ``kind`` says what answers it besides an ``err`` in ``errors``: ``wel``
    (``login``), ``ack pwd`` (``password``) or a ``msg`` from thing
    ``target`` (``use``).  Compared by identity: two equal requests are two.
    """

    kind: Literal["login", "password", "use"]
    errors: frozenset[str]
    target: int = 0

    def answered_by(self, message: Message) -> bool:
        match message:
            case Welcome():
                return self.kind == "login"
            case Ack(what="pwd"):
                return self.kind == "password"
            case Told(id=sender):
                return self.kind == "use" and sender == self.target
            case Error(error=code):
                return code in self.errors
        return False


def outcome(message: Message) -> Message | ServerError:
    """What a request's caller gets for its answer: the message, or the error to raise."""
    if isinstance(message, Error):
        return server_error(message.error, message.message)
    return message


class Waiting:
    """The requests waiting for an answer, oldest first."""

    def __init__(self) -> None:
        self._requests: list[Request] = []

    def __len__(self) -> int:
        return len(self._requests)

    def add(self, request: Request) -> Request:
        self._requests.append(request)
        return request

    def answer(self, message: Message) -> Request | None:
        """The oldest request *message* answers, no longer waiting; ``None`` if none."""
        for i, request in enumerate(self._requests):
            if request.answered_by(message):
                del self._requests[i]
                return request
        return None

    def discard(self, request: Request) -> bool:
        """Stop waiting for *request* (it timed out); whether it was still waiting."""
        if request in self._requests:
            self._requests.remove(request)
            return True
        return False

    def clear(self) -> list[Request]:
        """Every request still waiting, no longer: the connection is gone."""
        requests, self._requests = self._requests, []
        return requests
