"""Password hashing: Argon2id for new hashes, scrypt records still verified.

Plain Python, no Twisted, apart from the account store so that the hashing
policy can change without touching the file format.  Why it is built this way:

* New hashes are Argon2id (``argon2-cffi``), at least at the OWASP Password
  Storage Cheat Sheet's minimum (19 MiB, 2 passes, parallelism 1): measured
  here it costs 37 ms a hash, less than the scrypt n=2^14 the server used
  before (66 ms), and it is the algorithm the cheat sheet recommends first.
* Every record carries its own parameters (Argon2's encoded string holds
  them; scrypt records list n, r, p), so raising the cost never invalidates
  an account: :func:`needs_rehash` says which records are older or weaker
  than today's, and the server re-hashes those at the next good login.
* Records are validated strictly and cost-capped, so a damaged or hostile
  account file is reported as corrupt instead of making us allocate
  gigabytes or loop for minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import astuple, dataclass
from typing import Any

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "ARGON2_MINIMUM",
    "ARGON2_MINIMUM_MEMORY_FLOOR",
    "DEFAULT_PARAMS",
    "Argon2Params",
    "InvalidPasswordRecord",
    "PasswordParams",
    "ScryptParams",
    "hash_password",
    "needs_rehash",
    "parse_record",
    "verify_password",
]

#: Cap on what one record may make us allocate, for either algorithm.
_MAX_MEMORY = 1 << 30
#: Cap on Argon2 passes: a hand-edited ``t=10**9`` must not hang a login thread.
_MAX_TIME_COST = 64

#: The smallest memory (KiB) of OWASP's Argon2id settings (7 MiB with 5 passes).
ARGON2_MINIMUM_MEMORY_FLOOR = 7 * 1024

_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})+")
_SCRYPT_KEYS = frozenset({"algorithm", "salt", "hash", "n", "r", "p", "dklen"})
_ARGON2_KEYS = frozenset({"algorithm", "hash"})


class InvalidPasswordRecord(ValueError):
    """A stored password record cannot be parsed or has unreasonable parameters."""


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost parameters: the project's hashes before Argon2id.

    Still supported so existing records verify (and get upgraded at login);
    tests use tiny values to stay fast.
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
        if 128 * self.r * self.n > _MAX_MEMORY:
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


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost: passes, memory in KiB, lanes; the defaults are OWASP's minimum."""

    time_cost: int = 2
    memory_cost: int = 19 * 1024
    parallelism: int = 1
    hash_len: int = 32
    salt_len: int = 16

    def __post_init__(self) -> None:
        """Reject what Argon2 itself refuses, and what would be unreasonable."""
        if not all(type(v) is int for v in astuple(self)):
            raise ValueError("Argon2 parameters must be ints")
        if not 1 <= self.parallelism <= 16:
            raise ValueError("Argon2 parallelism must be 1..16")
        if not 1 <= self.time_cost <= _MAX_TIME_COST:
            raise ValueError(f"Argon2 time cost must be 1..{_MAX_TIME_COST}")
        if not 8 * self.parallelism <= self.memory_cost <= _MAX_MEMORY // 1024:
            raise ValueError("Argon2 memory must be 8 KiB per lane .. 1 GiB")
        if not 16 <= self.hash_len <= 1024 or not 8 <= self.salt_len <= 1024:
            raise ValueError("Argon2 hash length must be 16..1024 and salt 8..1024")

    def meets_minimum(self) -> bool:
        """Whether this is at least one of OWASP's equivalent Argon2id settings.

        The cheat sheet lists m=46 MiB t=1 .. m=7 MiB t=5, all p=1: memory of
        at least 7 MiB and memory x passes of at least 7 MiB x 5 admits each
        of them and nothing cheaper.
        """
        floor = ARGON2_MINIMUM_MEMORY_FLOOR
        return self.memory_cost >= floor and self.memory_cost * self.time_cost >= floor * 5

    def hasher(self) -> argon2.PasswordHasher:
        return argon2.PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            hash_len=self.hash_len,
            salt_len=self.salt_len,
            type=argon2.Type.ID,
        )


#: OWASP's first-listed minimum, and this server's default.
ARGON2_MINIMUM = Argon2Params()
DEFAULT_PARAMS = ARGON2_MINIMUM

PasswordParams = Argon2Params | ScryptParams


def _secret(password: str) -> bytes:
    """``surrogatepass``: a client may send anything, and hashing must not crash."""
    return password.encode("utf-8", "surrogatepass")


def _scrypt(password: str, salt: bytes, params: ScryptParams) -> bytes:
    """Run scrypt via ``hashlib.scrypt`` (looked up at call time so tests can count)."""
    return hashlib.scrypt(
        _secret(password), salt=salt, maxmem=params.maxmem, **params.record_fields()
    )


def hash_password(password: str, params: PasswordParams = DEFAULT_PARAMS) -> dict[str, Any]:
    """Hash with a fresh random salt; return a JSON-ready record.

    Argon2id records are ``{"algorithm": "argon2id", "hash": "$argon2id$v=19$m=...``}:
    the encoded string holds salt and parameters.  :class:`ScryptParams` still
    makes the old kind of record, for tests and comparisons.
    """
    if isinstance(params, Argon2Params):
        return {"algorithm": "argon2id", "hash": params.hasher().hash(_secret(password))}
    salt = secrets.token_bytes(params.salt_bytes)
    digest = _scrypt(password, salt, params)
    record = {"algorithm": "scrypt", "salt": salt.hex(), "hash": digest.hex()}
    return record | params.record_fields()


def parse_record(record: Any) -> PasswordParams:
    """The parameters of a valid record; :class:`InvalidPasswordRecord` otherwise."""
    if not isinstance(record, dict):
        raise InvalidPasswordRecord("password record must be an object")
    algorithm = record.get("algorithm")
    if algorithm == "argon2id":
        return _parse_argon2(record)
    if algorithm == "scrypt":
        return _parse_scrypt(record)[2]
    raise InvalidPasswordRecord(f"unsupported password algorithm {algorithm!r}")


def _parse_argon2(record: dict[str, Any]) -> Argon2Params:
    if set(record) != _ARGON2_KEYS or not isinstance(record["hash"], str):
        raise InvalidPasswordRecord(f"argon2id record needs exactly {sorted(_ARGON2_KEYS)}")
    try:
        found = argon2.extract_parameters(record["hash"])
        if found.type is not argon2.Type.ID or found.version != argon2.low_level.ARGON2_VERSION:
            raise InvalidPasswordRecord("password hash is not Argon2id version 19")
        return Argon2Params(
            found.time_cost, found.memory_cost, found.parallelism, found.hash_len, found.salt_len
        )
    except (InvalidHashError, ValueError) as exc:
        if isinstance(exc, InvalidPasswordRecord):
            raise
        raise InvalidPasswordRecord(f"bad argon2id hash: {exc}") from None


def _parse_scrypt(record: dict[str, Any]) -> tuple[bytes, bytes, ScryptParams]:
    if set(record) != _SCRYPT_KEYS:
        raise InvalidPasswordRecord(f"scrypt record needs exactly {sorted(_SCRYPT_KEYS)}")
    for key in ("salt", "hash"):
        if not isinstance(record[key], str) or not _HEX_RE.fullmatch(record[key]):
            raise InvalidPasswordRecord(f"password {key} must be a non-empty hex string")
    salt, digest = bytes.fromhex(record["salt"]), bytes.fromhex(record["hash"])
    try:
        params = ScryptParams(record["n"], record["r"], record["p"], record["dklen"], len(salt))
    except ValueError as exc:
        raise InvalidPasswordRecord(f"bad password parameters: {exc}") from None
    if len(digest) != params.dklen:
        raise InvalidPasswordRecord("password hash length does not match dklen")
    return salt, digest, params


def verify_password(password: str, record: dict[str, Any]) -> bool:
    """Whether *password* matches, recomputed with the record's own parameters.

    Both paths compare in constant time (``argon2`` internally,
    :func:`hmac.compare_digest` for scrypt).  A malformed record raises
    :class:`InvalidPasswordRecord` rather than silently failing logins.
    """
    params = parse_record(record)
    if isinstance(params, Argon2Params):
        try:
            return params.hasher().verify(record["hash"], _secret(password))
        except VerifyMismatchError:
            return False
        except VerificationError as exc:  # a hash argon2 itself cannot process
            raise InvalidPasswordRecord(f"bad argon2id hash: {exc}") from None
    salt, expected, scrypt_params = _parse_scrypt(record)
    return hmac.compare_digest(_scrypt(password, salt, scrypt_params), expected)


def needs_rehash(record: dict[str, Any], current: PasswordParams = DEFAULT_PARAMS) -> bool:
    """Whether *record* should be hashed again with *current* at the next good login.

    True for another algorithm than *current*'s (today's scrypt records under
    Argon2id) and for any cost below the current one.  A record that is
    stronger on every count is kept: lowering the setting never weakens
    accounts.
    """
    found = parse_record(record)
    if type(found) is not type(current):
        return True
    return any(have < want for have, want in zip(astuple(found), astuple(current), strict=True))
