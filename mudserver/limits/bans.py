"""Who may not play: banned account names, addresses and address ranges.

A :class:`BanList` answers two questions the server asks at two moments:
at connect, "is this address banned?" (:meth:`BanList.address_banned`), and
at ``con``, "is this account banned?" (:meth:`BanList.name_banned`).  A ban
may expire; time enters as ``now`` (seconds since the epoch, because an
expiry must mean the same after a restart), never read from a clock here.

With the file store the list is kept as one JSON file in the data
directory, rewritten whole on every change (a temp file, fsync, rename): a
crash leaves the old list or the new one, never half of either.  A few
hundred bans are a few kilobytes, so rewriting is cheaper than any cleverer
format would be to get right.  With PostgreSQL the bans are rows in the
store, shared by every shard (:mod:`mudserver.store.bans`); a shard told of
a change reads them all again and :meth:`BanList.replace` its list.

Plain Python: no Twisted, no I/O except :meth:`BanList.load` and
:meth:`BanList.save`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mudserver.account import valid_name

__all__ = [
    "Ban",
    "BanList",
    "BanError",
    "make_ban",
    "parse_target",
    "parse_duration",
    "write_atomically",
]

#: Version of the file format, to refuse a file from a later server.
FORMAT = 1

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BanError(ValueError):
    """A ban target, duration or file the ban list cannot accept."""


@dataclass(frozen=True, slots=True)
class Ban:
    """One ban: an account name (lower-cased) or a network, until a time or for good."""

    #: ``"name"`` or ``"address"`` (a single address is a /32 or /128 network).
    kind: str
    #: The lower-cased name, or the network in CIDR notation.
    target: str
    reason: str = ""
    #: When it was made and when it ends (epoch seconds); ``None``: never.
    since: float = 0.0
    until: float | None = None

    def expired(self, now: float) -> bool:
        return self.until is not None and now >= self.until

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "reason": self.reason,
            "since": self.since,
            "until": self.until,
        }

    @classmethod
    def from_json(cls, data: Any) -> Ban:
        if not isinstance(data, dict):
            raise BanError("a ban must be an object")
        kind, target = parse_target(str(data.get("target", "")))
        if kind != data.get("kind"):
            raise BanError(f"ban of {target!r} has the wrong kind")
        until = data.get("until")
        since = data.get("since", 0.0)
        if until is not None and not isinstance(until, int | float):
            raise BanError("until must be a number or null")
        if not isinstance(since, int | float):
            raise BanError("since must be a number")
        return cls(
            kind,
            target,
            str(data.get("reason", "")),
            float(since),
            None if until is None else float(until),
        )


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """*host* as an address, IPv4-mapped IPv6 (``::ffff:a.b.c.d``) as IPv4."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_target(text: str) -> tuple[str, str]:
    """``(kind, canonical target)`` for an account name, an address or a CIDR range.

    An address becomes its one-address network, so matching is one rule; a
    range with host bits set (``10.1.2.3/8``) is refused rather than silently
    widened, since a typo there bans the wrong people.
    """
    text = text.strip()
    address = _address(text)
    if address is not None:
        return "address", str(ipaddress.ip_network(address))
    if "/" in text:
        try:
            return "address", str(ipaddress.ip_network(text, strict=True))
        except ValueError as e:
            raise BanError(f"not an address range: {e}") from None
    if valid_name(text):
        return "name", text.lower()
    raise BanError(f"not an account name, address or CIDR range: {text[:60]!r}")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``15m``, ``2h``, ``7d`` or ``1w``."""
    text = text.strip().lower()
    unit = _UNITS.get(text[-1:], None)
    number = text[:-1] if unit is not None else text
    try:
        value = float(number) * (unit or 1)
    except ValueError:
        raise BanError(f"not a duration: {text!r} (try 90s, 15m, 2h, 7d)") from None
    if not (0 < value < float("inf")):
        raise BanError("a duration must be positive")
    return value


def make_ban(target: str, now: float, duration: float | None = None, reason: str = "") -> Ban:
    """A ban of *target* from *now*, for *duration* seconds or for good (BanError if bad)."""
    kind, canonical = parse_target(target)
    if duration is not None and not (0 < duration < float("inf")):
        raise BanError("a duration must be positive and finite")
    until = None if duration is None else float(now + duration)
    return Ban(kind, canonical, reason, float(now), until)


class BanList:
    """The bans in force, checked at connect and at ``con``."""

    def __init__(self, bans: list[Ban] | None = None) -> None:
        self._names: dict[str, Ban] = {}
        self._networks: dict[str, tuple[Network, Ban]] = {}
        for ban in bans or []:
            self._put(ban)

    def __len__(self) -> int:
        return len(self._names) + len(self._networks)

    def put(self, ban: Ban) -> None:
        """Hold *ban*, replacing a ban of the same target."""
        self._put(ban)

    def _put(self, ban: Ban) -> None:
        if ban.kind == "name":
            self._names[ban.target] = ban
        else:
            self._networks[ban.target] = (ipaddress.ip_network(ban.target), ban)

    # -- questions -------------------------------------------------------------

    def name_banned(self, name: str, now: float) -> Ban | None:
        ban = self._names.get(name.lower())
        return ban if ban is not None and not ban.expired(now) else None

    def address_banned(self, host: str, now: float) -> Ban | None:
        """The ban covering *host*, if any.  Not an address (a UNIX socket): none."""
        if not self._networks:
            return None
        address = _address(host)
        if address is None:
            return None
        for network, ban in self._networks.values():
            if address.version == network.version and address in network and not ban.expired(now):
                return ban
        return None

    def bans(self, now: float) -> list[Ban]:
        """The bans in force at *now*, names first, each group sorted."""
        names = sorted(self._names.values(), key=lambda b: b.target)
        networks = sorted((b for _, b in self._networks.values()), key=lambda b: b.target)
        return [b for b in names + networks if not b.expired(now)]

    # -- changes ---------------------------------------------------------------

    def add(self, target: str, now: float, duration: float | None = None, reason: str = "") -> Ban:
        """Ban *target* from *now*, for *duration* seconds or for good; replaces a ban of it."""
        ban = make_ban(target, now, duration, reason)
        self._put(ban)
        return ban

    def replace(self, bans: list[Ban]) -> list[Ban]:
        """Hold exactly *bans* from now on; return those this list did not hold before.

        A shard told that the shared list changed reads it whole and passes
        it here; the bans it returns are the ones whose connections must be
        closed now (a ban changed in any field counts as new).
        """
        before = set(self._names.values()) | {b for _, b in self._networks.values()}
        self._names.clear()
        self._networks.clear()
        for ban in bans:
            self._put(ban)
        return [ban for ban in bans if ban not in before]

    def remove(self, target: str) -> Ban | None:
        """Lift the ban of *target*; the ban lifted, or ``None`` if there was none."""
        kind, canonical = parse_target(target)
        if kind == "name":
            return self._names.pop(canonical, None)
        entry = self._networks.pop(canonical, None)
        return entry[1] if entry else None

    def prune(self, now: float) -> int:
        """Forget expired bans; return how many."""
        expired = [b for b in self._names.values() if b.expired(now)]
        expired += [b for _, b in self._networks.values() if b.expired(now)]
        for ban in expired:
            if ban.kind == "name":
                del self._names[ban.target]
            else:
                del self._networks[ban.target]
        return len(expired)

    # -- the file --------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> BanList:
        """The list in *path*; empty if there is no file.  BanError if it is damaged."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        try:
            data = json.loads(text)
        except ValueError as e:
            raise BanError(f"{path}: not JSON: {e}") from None
        if not isinstance(data, dict) or data.get("version") != FORMAT:
            raise BanError(f"{path}: not a version {FORMAT} ban list")
        bans = data.get("bans")
        if not isinstance(bans, list):
            raise BanError(f"{path}: 'bans' must be a list")
        try:
            return cls([Ban.from_json(b) for b in bans])
        except BanError as e:
            raise BanError(f"{path}: {e}") from None

    def dumps(self, now: float) -> str:
        """The file's text for the bans in force at *now* (taken on the caller's thread)."""
        data = {"version": FORMAT, "bans": [b.to_json() for b in self.bans(now)]}
        return json.dumps(data, allow_nan=False, indent=2) + "\n"

    def save(self, path: Path, now: float) -> None:
        """Write the bans in force to *path* atomically."""
        write_atomically(path, self.dumps(now))


def write_atomically(path: Path, text: str) -> None:
    """Replace *path* with *text*: temp file beside it, fsync, rename, fsync the directory."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    directory = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
