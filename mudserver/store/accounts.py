"""Persistent player accounts: one JSON file per account, scrypt password hashes.

Plain Python, no Twisted, so the server, ``mudserver.mkuser`` and tests share it.
Why it is built this way:

* Names are checked against :data:`NAME_RE` *before* any path is built, so no
  client input can name a file outside ``users_dir``.
* Files are written to a fsynced temp file and then moved or linked into place,
  so a crash or a full disk never leaves a half-written account behind.
* Only salted scrypt hashes are stored, and an unknown name costs the same scrypt
  work as a wrong password, so timing does not reveal which accounts exist.
* Files are JSON, validated strictly; never pickle (loading one can run code).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import tempfile
import time
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_HASH_PARAMS",
    "NAME_RE",
    "Account",
    "AccountError",
    "AccountExists",
    "AccountStore",
    "CorruptAccount",
    "HashParams",
    "InvalidName",
    "hash_password",
    "valid_name",
    "verify_password",
]

#: Use with ``fullmatch``.  ``[A-Za-z0-9_]``, not ``\w``: ``\w`` also accepts
#: Unicode letters (fullwidth ``ｆｏｏ``), which are ambiguous as file names.
NAME_RE: re.Pattern[str] = re.compile(r"[A-Za-z0-9_]{1,24}")
NAME_RULE = "names are 1-24 characters of A-Z, a-z, 0-9 and _"
FORMAT_VERSION = 1
#: Cap on 128*r*n; a bad file must not make hashlib (maxmem < 2**31) or us blow up.
_MAX_SCRYPT_MEMORY = 1 << 30
#: Account files are tiny; a huge one is damage and must not eat memory.
_MAX_FILE_BYTES = 1 << 20

_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})+")
_PASSWORD_KEYS = frozenset({"algorithm", "salt", "hash", "n", "r", "p", "dklen"})
_ACCOUNT_KEYS = frozenset({"version", "name", "password", "position"})


def valid_name(name: str) -> bool:
    """Whether *name* is an acceptable account name (see :data:`NAME_RE`)."""
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None


class AccountError(Exception):
    """Base class for every error this module raises on purpose."""


class InvalidName(AccountError):
    """A name does not match :data:`NAME_RE`; the message explains the rule."""


class AccountExists(AccountError):
    """An account with that name (compared case-insensitively) already exists."""


class CorruptAccount(AccountError):
    """An account file exists but cannot be parsed or has invalid fields."""


@dataclass(frozen=True)
class HashParams:
    """scrypt cost parameters; the defaults are the usual interactive-login choice.

    Checked at construction so a bad configuration fails at start-up, not at
    the first login, and so a bad account file is reported as corrupt.
    """

    n: int = 2**14
    r: int = 8
    p: int = 1
    dklen: int = 32
    salt_bytes: int = 16

    def __post_init__(self) -> None:
        """Reject parameters that hashlib would refuse or that are unreasonable."""
        if not all(type(v) is int for v in astuple(self)):  # bool is not a count
            raise ValueError("scrypt parameters must be ints")
        if self.n < 2 or self.n & (self.n - 1):
            raise ValueError("scrypt n must be a power of 2 and at least 2")
        if not 1 <= self.r <= 64 or not 1 <= self.p <= 16:
            raise ValueError("scrypt r must be 1..64 and p 1..16")
        # RFC 7914 requires n < 2**(128 * r / 8); OpenSSL enforces it.
        if self.n.bit_length() - 1 >= 16 * self.r:
            raise ValueError("scrypt n must be below 2**(16*r)")
        if 128 * self.r * self.n > _MAX_SCRYPT_MEMORY:
            raise ValueError("scrypt n * r needs more than 1 GiB of memory")
        if not 16 <= self.dklen <= 1024:
            raise ValueError("scrypt dklen must be 16..1024")
        if not 8 <= self.salt_bytes <= 1024:
            raise ValueError("salt_bytes must be 8..1024")

    @property
    def maxmem(self) -> int:
        """What OpenSSL needs plus headroom; hashlib's 32 MiB default is too tight."""
        return 128 * self.r * (self.n + self.p + 2) + (1 << 20)

    def record_fields(self) -> dict[str, int]:
        """The parameters stored in a password record (and passed to scrypt)."""
        return {"n": self.n, "r": self.r, "p": self.p, "dklen": self.dklen}


DEFAULT_HASH_PARAMS = HashParams()


def _scrypt(password: str, salt: bytes, params: HashParams) -> bytes:
    """Run scrypt via ``hashlib.scrypt`` (looked up at call time so tests can count).

    ``surrogatepass``: a client may send anything, and hashing must not crash.
    """
    secret = password.encode("utf-8", "surrogatepass")
    return hashlib.scrypt(secret, salt=salt, maxmem=params.maxmem, **params.record_fields())


def hash_password(password: str, params: HashParams = DEFAULT_HASH_PARAMS) -> dict[str, Any]:
    """Hash with a fresh random salt; return a JSON-ready record.

    The params are stored with the hash so the defaults can be raised later
    without invalidating existing accounts.
    """
    salt = secrets.token_bytes(params.salt_bytes)
    digest = _scrypt(password, salt, params)
    record = {"algorithm": "scrypt", "salt": salt.hex(), "hash": digest.hex()}
    return record | params.record_fields()


def _parse_password_record(record: Any) -> tuple[bytes, bytes, HashParams]:
    """Validate a password record; return (salt, hash, params) or raise CorruptAccount."""
    if not isinstance(record, dict) or set(record) != _PASSWORD_KEYS:
        raise CorruptAccount(f"password record needs exactly {sorted(_PASSWORD_KEYS)}")
    if record["algorithm"] != "scrypt":
        raise CorruptAccount(f"unsupported password algorithm {record['algorithm']!r}")
    for key in ("salt", "hash"):
        if not isinstance(record[key], str) or not _HEX_RE.fullmatch(record[key]):
            raise CorruptAccount(f"password {key} must be a non-empty hex string")
    salt, digest = bytes.fromhex(record["salt"]), bytes.fromhex(record["hash"])
    try:
        params = HashParams(record["n"], record["r"], record["p"], record["dklen"], len(salt))
    except ValueError as exc:
        raise CorruptAccount(f"bad password parameters: {exc}") from None
    if len(digest) != params.dklen:
        raise CorruptAccount("password hash length does not match dklen")
    return salt, digest, params


def verify_password(password: str, record: dict[str, Any]) -> bool:
    """Whether *password* matches, recomputed with the record's own params.

    :func:`hmac.compare_digest` so timing does not leak how much matched.  A
    malformed record raises CorruptAccount rather than silently failing logins.
    """
    salt, expected, params = _parse_password_record(record)
    return hmac.compare_digest(_scrypt(password, salt, params), expected)


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


@dataclass
class Account:
    """One player account: display name, password record and position."""

    name: str
    password: dict[str, Any]
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The on-disk form; ``version`` lets the format evolve later."""
        return {
            "version": FORMAT_VERSION,
            "name": self.name,
            "password": dict(self.password),
            "position": [self.x, self.y, self.z],
        }

    @classmethod
    def from_json(cls, data: Any) -> Account:
        """Build from parsed JSON, checking every field strictly.

        Files may be hand-edited or damaged; a NaN position or unknown algorithm
        must be reported here, not crash the game later.
        """
        if not isinstance(data, dict):
            raise CorruptAccount("account data must be a JSON object")
        if set(data) != _ACCOUNT_KEYS:
            raise CorruptAccount(f"account needs exactly the keys {sorted(_ACCOUNT_KEYS)}")
        if type(data["version"]) is not int or data["version"] != FORMAT_VERSION:
            raise CorruptAccount(f"unsupported account version {data['version']!r}")
        name = data["name"]
        if not valid_name(name):
            raise CorruptAccount(f"invalid account name {name!r}")
        _parse_password_record(data["password"])
        position = data["position"]
        if not isinstance(position, list) or len(position) != 3:
            raise CorruptAccount("position must be a list of 3 numbers")
        x, y, z = (_finite_float(v, f"position[{i}]") for i, v in enumerate(position))
        return cls(name=name, password=dict(data["password"]), x=x, y=y, z=z)


def _fsync_dir(path: Path) -> None:
    """fsync a directory so a rename or link inside it survives a crash (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AccountStore:
    """Accounts stored as ``<data_dir>/users/<lowercased name>.json``."""

    def __init__(
        self, data_dir: str | os.PathLike[str], hash_params: HashParams = DEFAULT_HASH_PARAMS
    ) -> None:
        """Create the users dir if needed, and the dummy record (see authenticate)."""
        self.hash_params = hash_params
        self.users_dir: Path = Path(data_dir) / "users"
        self.users_dir.mkdir(parents=True, exist_ok=True)
        self._dummy_record = hash_password(secrets.token_urlsafe(16), hash_params)

    def path_for(self, name: str) -> Path:
        """The file for *name*, validated BEFORE any path is built.

        Lower-cased so "Foo" and "foo" cannot be two different players.
        """
        if not valid_name(name):
            raise InvalidName(f"invalid name {name!r}: {NAME_RULE}")
        return self.users_dir / f"{name.lower()}.json"

    def exists(self, name: str) -> bool:
        """Whether an account file exists; False for invalid names."""
        try:
            return self.path_for(name).exists()
        except InvalidName:
            return False

    def load(self, name: str) -> Account | None:
        """None if unknown or invalid, CorruptAccount if the file is bad.

        Other OS errors (e.g. permissions) propagate: an operator problem.
        """
        try:
            path = self.path_for(name)
        except InvalidName:
            return None
        try:
            with open(path, "rb") as f:
                raw = f.read(_MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return None
        if len(raw) > _MAX_FILE_BYTES:
            raise CorruptAccount(f"{path}: file is too large")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # includes UnicodeDecodeError
            raise CorruptAccount(f"{path}: not valid JSON: {exc}") from None
        try:
            account = Account.from_json(data)
        except CorruptAccount as exc:
            raise CorruptAccount(f"{path}: {exc}") from None
        if account.name.lower() != name.lower():
            raise CorruptAccount(f"{path}: holds account {account.name!r}")
        return account

    def _check_writable(self, account: Account) -> dict[str, Any]:
        """Serialisable form of *account*, refusing anything :meth:`load` would reject."""
        data = account.to_json()
        try:
            Account.from_json(data)
        except CorruptAccount as exc:
            raise ValueError(f"refusing to write invalid account: {exc}") from None
        return data

    def remove_stale_temp_files(self, older_than: float = 60.0) -> int:
        """Delete temp files a killed process left behind; return how many.

        A SIGKILL during a save leaves its temp file; the account file itself
        is intact.  Only files older than *older_than* seconds are removed, so
        a save or an ``mkuser`` running right now is never disturbed.
        """
        limit = time.time() - older_than
        removed = 0
        for path in self.users_dir.glob(".*.tmp"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _write_temp(self, data: dict[str, Any]) -> str:
        """Write a fsynced temp file in users_dir (same file system, so the
        rename/link is atomic); return its path.  Removed again on failure."""
        text = json.dumps(data, allow_nan=False, indent=2, sort_keys=True) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.users_dir, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return tmp

    def create(
        self, name: str, password: str, x: float = 0.0, y: float = 0.0, z: float = 0.0
    ) -> Account:
        """Create a new account; InvalidName or AccountExists on failure.

        ``os.link`` of the finished temp file fails if the target exists, so a
        concurrent creation is never clobbered and no half file ever appears.
        """
        path = self.path_for(name)
        if path.exists():  # cheap early answer; the link below is the real check
            raise AccountExists(f"account {name!r} already exists")
        account = Account(
            name, hash_password(password, self.hash_params), float(x), float(y), float(z)
        )
        tmp = self._write_temp(self._check_writable(account))
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise AccountExists(f"account {name!r} already exists") from None
        finally:
            _unlink_quietly(tmp)
        _fsync_dir(self.users_dir)
        return account

    def authenticate(self, name: str, password: str) -> Account | None:
        """The Account if *password* is right, else None.

        Unknown and invalid names are verified against a dummy record so they
        cost the same scrypt work as a wrong password (timing must not reveal
        which names exist).  CorruptAccount propagates so the server can log it.
        """
        account = self.load(name)
        if account is None:
            verify_password(password, self._dummy_record)
            return None
        if verify_password(password, account.password):
            return account
        return None

    def save(self, account: Account) -> None:
        """Atomically replace the file: after a crash the old or new one is there."""
        path = self.path_for(account.name)
        tmp = self._write_temp(self._check_writable(account))
        try:
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        _fsync_dir(self.users_dir)


def _unlink_quietly(path: str) -> None:
    """Remove a temp file if it is still there; cleanup must not mask the real error."""
    with contextlib.suppress(OSError):
        os.unlink(path)
