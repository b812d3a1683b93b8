"""The account: who a player is between sessions, whatever keeps it.

The value every floor shares (the core plays it, the limits check its name,
the stores keep it), so it lives below all of them and imports none of them.
Why it is built this way:

* **One name rule** (:data:`NAME_RE`) for logins, bans, throttles, files and
  database rows: a name is checked here before it becomes a path or a key.
* **Strict reading.**  Files may be hand-edited or damaged; a NaN position, a
  missing key or per-player data that is not a JSON object is reported by
  :meth:`Account.from_json`, not by a crash in the game later.
* **Per-player game state** (:attr:`Account.data`) is a JSON object the game
  keeps on each player: progress, items, whatever the game needs.  It is saved
  with the position, atomically, in both stores.  Its size is bounded where
  a snapshot is taken (:func:`encoded_data`), not here: a store reads back what
  it wrote.
* The password record is an opaque dict here; what it must hold is the
  business of :mod:`mudserver.store.passwords`, which the stores consult when
  they read one.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FORMAT_VERSION",
    "NAME_RE",
    "NAME_RULE",
    "Account",
    "AccountError",
    "AccountExists",
    "CorruptAccount",
    "InvalidName",
    "encoded_data",
    "valid_name",
]

#: Use with ``fullmatch``.  ``[A-Za-z0-9_]``, not ``\w``: ``\w`` also accepts
#: Unicode letters (fullwidth ``ｆｏｏ``), which are ambiguous as file names.
NAME_RE: re.Pattern[str] = re.compile(r"[A-Za-z0-9_]{1,24}")
NAME_RULE = "names are 1-24 characters of A-Z, a-z, 0-9 and _"

#: The version :meth:`Account.to_json` writes.  Version 1 (name, password,
#: position) is still read: its accounts get empty data and no dates.
FORMAT_VERSION = 2

_KEYS = {
    1: frozenset({"version", "name", "password", "position"}),
    2: frozenset({"version", "name", "password", "position", "data", "created", "last_seen"}),
}


def valid_name(name: object) -> bool:
    """Whether *name* is an acceptable account name (see :data:`NAME_RE`)."""
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None


class AccountError(Exception):
    """Base class for every account error raised on purpose."""


class InvalidName(AccountError):
    """A name does not match :data:`NAME_RE`; the message explains the rule."""


class AccountExists(AccountError):
    """An account with that name (compared case-insensitively) already exists."""


class CorruptAccount(AccountError):
    """Stored account data cannot be parsed or has invalid fields."""


@dataclass
class Account:
    """One player account: name, password record, position, the game's data, dates."""

    name: str
    password: dict[str, Any]
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    #: The game's per-player state: a JSON object (``mudserver.game``'s
    #: ``Player.data``), saved with the position.
    data: dict[str, Any] = field(default_factory=dict)
    #: When the account was made and last saved (seconds since the epoch,
    #: UTC); ``None`` for accounts made before these were kept.  Written by
    #: the stores, shown to the operator; not compared.
    created: float | None = field(default=None, compare=False)
    last_seen: float | None = field(default=None, compare=False)
    #: PostgreSQL's fencing token, as read (a shard's saves must match it;
    #: see :mod:`mudserver.store.postgres`).  Not part of the account's data:
    #: not written to files, not compared.
    lease: int | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The stored form; ``version`` lets the format evolve."""
        return {
            "version": FORMAT_VERSION,
            "name": self.name,
            "password": dict(self.password),
            "position": [self.x, self.y, self.z],
            "data": self.data,
            "created": self.created,
            "last_seen": self.last_seen,
        }

    @classmethod
    def from_json(cls, data: Any) -> Account:
        """Build from parsed JSON, checking every field strictly (CorruptAccount)."""
        if not isinstance(data, dict):
            raise CorruptAccount("account data must be a JSON object")
        version = data.get("version")
        if type(version) is not int or version not in _KEYS:
            raise CorruptAccount(f"unsupported account version {version!r}")
        if set(data) != _KEYS[version]:
            raise CorruptAccount(f"account needs exactly the keys {sorted(_KEYS[version])}")
        name = data["name"]
        if not valid_name(name):
            raise CorruptAccount(f"invalid account name {name!r}")
        if not isinstance(data["password"], dict):
            raise CorruptAccount("password must be a JSON object")
        position = data["position"]
        if not isinstance(position, list) or len(position) != 3:
            raise CorruptAccount("position must be a list of 3 numbers")
        x, y, z = (_finite_float(v, f"position[{i}]") for i, v in enumerate(position))
        account = cls(name=name, password=dict(data["password"]), x=x, y=y, z=z)
        if version >= 2:
            if not isinstance(data["data"], dict):
                raise CorruptAccount("data must be a JSON object")
            account.data = data["data"]
            account.created = _optional_time(data["created"], "created")
            account.last_seen = _optional_time(data["last_seen"], "last_seen")
        return account


def encoded_data(data: Any, limit: int) -> str:
    """*data* as compact JSON text, checked: a JSON object of at most *limit* bytes.

    Raises ``ValueError`` (with a message for the log) for anything else: a
    value JSON cannot hold (a set, an object, NaN), a key that is not text, or
    too many bytes.  The game checks each snapshot with it, so that a bad
    value is refused where it is made and the rest of the save is kept.
    """
    if not isinstance(data, dict):
        raise ValueError(f"player data must be a dict, not {type(data).__name__}")
    try:
        text = json.dumps(data, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"player data is not JSON: {exc}") from None
    if not all(isinstance(key, str) for key in data):
        raise ValueError("player data keys must be strings")
    size = len(text.encode())
    if size > limit:
        raise ValueError(f"player data is {size} bytes, over the limit of {limit}")
    return text


def _finite_float(value: Any, what: str) -> float:
    """Convert a JSON number to a finite float, or raise CorruptAccount."""
    if type(value) not in (int, float):
        raise CorruptAccount(f"{what} must be a number")
    try:
        result = float(value)
    except OverflowError:
        raise CorruptAccount(f"{what} is out of range") from None
    if not math.isfinite(result):
        raise CorruptAccount(f"{what} must be finite")
    return result


def _optional_time(value: Any, what: str) -> float | None:
    return None if value is None else _finite_float(value, what)
