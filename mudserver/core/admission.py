"""What is refused before any password work is spent: ``con``, ``new`` and ``pwd`` (sans-IO).

Checking or making a password hash is the one slow step of the protocol,
and the server does it for strangers, so everything that can be refused
without it is refused here first, for nothing: a protocol version the
server does not speak, ``--registration closed``, a name that breaks the
name rule or is banned, a password shorter than ``--min-password``, and the
throttles (failed logins per address and per account, sign-ups per address
and hour).  What passes becomes the work the shell must carry out off the
reactor: a :class:`LoginAttempt`, a :class:`SignUpAttempt` or a
:class:`PasswordChange`.

Each function raises :class:`~mudserver.wire.commands.CommandError` (the
``err`` the client gets; the session's state stays as it was) or
:class:`BannedName` (the session closes with ``bye banned``).  Time enters as
``now``, the arrival of the line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mudserver.account import NAME_RULE, valid_name
from mudserver.config import PROTOCOL_VERSIONS
from mudserver.wire.commands import CommandError

if TYPE_CHECKING:
    from mudserver.core.game import Game

__all__ = [
    "BannedName",
    "LoginAttempt",
    "PasswordChange",
    "PasswordCheck",
    "SignUpAttempt",
    "admit_login",
    "admit_password_change",
    "admit_sign_up",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """A ``con`` whose password the caller must check, then report back."""

    name: str
    password: str


@dataclass(frozen=True, slots=True)
class SignUpAttempt:
    """A ``new`` whose account the caller must make (the store decides whether the
    name is free), then report back: :meth:`~mudserver.core.session.Session.signed_up`
    or :meth:`~mudserver.core.session.Session.name_taken`."""

    name: str
    password: str


@dataclass(frozen=True, slots=True)
class PasswordChange:
    """A ``pwd`` whose old password the caller must check against the account's
    stored record, then store the new one, and report back:
    :meth:`~mudserver.core.session.Session.password_changed` or
    :meth:`~mudserver.core.session.Session.password_refused`."""

    name: str
    old: str
    new: str


#: The password work a line may hand to the caller.
PasswordCheck = LoginAttempt | SignUpAttempt | PasswordChange


class BannedName(Exception):
    """The name asked for is banned: no password is checked, the connection is closed."""


def _version(version: str) -> None:
    if version not in PROTOCOL_VERSIONS:
        spoken = " and ".join(PROTOCOL_VERSIONS)
        raise CommandError("badproto", f"this server speaks protocol {spoken}")


def _long_enough(game: Game, password: str) -> None:
    shortest = game.settings.min_password
    if len(password) < shortest:
        raise CommandError("weakpass", f"passwords need at least {shortest} characters")


def admit_login(
    game: Game, host: str, name: str, password: str, version: str, now: float
) -> LoginAttempt:
    """A ``con`` from *host*: the version, a banned name, the failed-login throttles."""
    _version(version)
    if game.bans.name_banned(name, now):
        raise BannedName(name)
    if game.login_throttle.blocked(host, name, now):
        log.info("throttled login as %r from %s", name[:40], host)
        raise CommandError("toofast", "too many failed logins; try again later")
    return LoginAttempt(name, password)


def admit_sign_up(
    game: Game, host: str, name: str, password: str, version: str, now: float
) -> SignUpAttempt:
    """A ``new`` from *host*, refused in this order: the version, ``--registration
    closed``, the name rule, a banned name, a short password, then the address's
    failed-login budget and its sign-ups this hour (``err toomany``).

    The sign-up is counted against the address here, before any work, so
    that no number of connections from it can overshoot its budget.
    """
    _version(version)
    if game.settings.registration == "closed":
        raise CommandError("closed", "this server takes no sign-ups; ask its operator")
    if not valid_name(name):
        raise CommandError("badname", NAME_RULE)
    if game.bans.name_banned(name, now):
        raise BannedName(name)
    _long_enough(game, password)
    if game.login_throttle.host_blocked(host, now):
        log.info("throttled sign-up as %r from %s", name, host)
        raise CommandError("toomany", "too many failed logins; try again later")
    if not game.signups.take(host, now):
        log.info("sign-up as %r from %s: over the hourly budget", name, host)
        raise CommandError("toomany", "too many sign-ups from your address; try again later")
    return SignUpAttempt(name, password)


def admit_password_change(
    game: Game, host: str, name: str, old: str, new: str, now: float
) -> PasswordChange:
    """A playing *name*'s ``pwd`` from *host*: a short new password, the throttles.

    The account's failed-login budget applies as to a ``con``: a stolen
    session guesses at the password no faster than a login could.
    """
    _long_enough(game, new)
    if game.login_throttle.blocked(host, name, now):
        log.info("throttled password change of %s from %s", name, host)
        raise CommandError("toofast", "too many wrong passwords; try again later")
    return PasswordChange(name, old, new)
