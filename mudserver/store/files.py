"""The file store: one JSON file per account under ``DATA/users/``.

Plain Python, no Twisted, so the server, ``mudserver-mkuser`` and tests share
it.  The account value is :mod:`mudserver.account`; password hashing is
:mod:`mudserver.store.passwords`.  Why it is built this way:

* Names are checked against :data:`~mudserver.account.NAME_RE` *before* any
  path is built, so no client input can name a file outside ``users_dir``.
* Files are written to a fsynced temp file and then moved or linked into place,
  so a crash or a full disk never leaves a half-written account behind.
* Only salted password hashes are stored, and an unknown name costs the same
  hashing work as a wrong password, so timing does not reveal which accounts exist.
* Files are JSON, validated strictly; never pickle (loading one can run code).
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mudserver.account import (
    NAME_RULE,
    Account,
    AccountExists,
    CorruptAccount,
    InvalidName,
    valid_name,
)
from mudserver.store.base import AccountInfo, PasswordChecks, hash_password, read_account
from mudserver.store.passwords import DEFAULT_PARAMS, PasswordParams

__all__ = ["FileStore"]

#: Account files are tiny; a huge one is damage and must not eat memory.
_MAX_FILE_BYTES = 1 << 20


def _fsync_dir(path: Path) -> None:
    """fsync a directory so a rename or link inside it survives a crash (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore(PasswordChecks):
    """Accounts stored as ``<data_dir>/users/<lowercased name>.json``."""

    def __init__(
        self, data_dir: str | os.PathLike[str], hash_params: PasswordParams = DEFAULT_PARAMS
    ) -> None:
        """Create the users dir if needed, and the dummy record (see authenticate)."""
        self._init_passwords(hash_params)
        self.users_dir: Path = Path(data_dir) / "users"
        self.users_dir.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        """Where the accounts live, for log lines."""
        return str(self.users_dir)

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own file."""

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
            account = read_account(data)
        except CorruptAccount as exc:
            raise CorruptAccount(f"{path}: {exc}") from None
        if account.name.lower() != name.lower():
            raise CorruptAccount(f"{path}: holds account {account.name!r}")
        return account

    def _check_writable(self, account: Account) -> dict[str, Any]:
        """Serialisable form of *account*, refusing anything :meth:`load` would reject."""
        data = account.to_json()
        try:
            read_account(data)
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
        """Create a new account; InvalidName or AccountExists on failure (see :meth:`insert`)."""
        if self.exists(name):  # cheap early answer, before the slow hash; insert checks for real
            raise AccountExists(f"account {name!r} already exists")
        self.path_for(name)  # InvalidName before the slow hash, too
        account = Account(
            name,
            hash_password(password, self.hash_params),
            float(x),
            float(y),
            float(z),
            created=time.time(),
        )
        self.insert(account)
        return account

    def insert(self, account: Account) -> None:
        """Add *account* with its password record as it is; AccountExists if the name is taken.

        ``os.link`` of the finished temp file fails if the target exists, so a
        concurrent creation is never clobbered and no half file ever appears.
        """
        path = self.path_for(account.name)
        tmp = self._write_temp(self._check_writable(account))
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise AccountExists(f"account {account.name!r} already exists") from None
        finally:
            _unlink_quietly(tmp)
        _fsync_dir(self.users_dir)

    def accounts(self) -> Iterator[Account]:
        """Every account file, in name order (CorruptAccount for a damaged one)."""
        for path in sorted(self.users_dir.glob("*.json")):
            account = self.load(path.stem)
            if account is not None:
                yield account

    def _names(self, pattern: str) -> list[str]:
        """The lower-cased names of the account files matching *pattern*, sorted."""
        names = (p.stem for p in self.users_dir.glob("*.json"))
        return sorted(n for n in names if valid_name(n) and fnmatch.fnmatchcase(n, pattern))

    def count_accounts(self, pattern: str = "*") -> int:
        """Matching account files (a directory listing: no file is read)."""
        return len(self._names(pattern))

    def list_accounts(
        self, pattern: str = "*", after: str = "", limit: int = 100
    ) -> list[AccountInfo]:
        """One page of the listing; a damaged file is listed as damaged, not raised."""
        page = [n for n in self._names(pattern) if n > after.lower()][: max(0, limit)]
        listed = []
        for name in page:
            try:
                account = self.load(name)
            except CorruptAccount:
                listed.append(AccountInfo(name, None, None, damaged=True))
                continue
            if account is not None:  # deleted since the directory was listed
                listed.append(AccountInfo(account.name, account.created, account.last_seen))
        return listed

    def delete(self, name: str) -> bool:
        """Remove the account's file (and make the removal durable)."""
        try:
            path = self.path_for(name)
        except InvalidName:
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(self.users_dir)
        return True

    def upgrade_password(
        self, name: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Account | None:
        """Replace the password record *old* of *name* by *new*; return the account.

        Re-read first, and written only if the file still holds *old*: a
        save that landed since the password was checked keeps its position,
        and a record changed meanwhile is not overwritten.  The caller runs
        this in the same order as the account's other saves.
        """
        account = self.load(name)
        if account is None or account.password != old:
            return account
        account.password = dict(new)
        self.save(account)
        return account

    def save(self, account: Account) -> None:
        """Atomically replace the file: after a crash the old or new one is there.

        The file records when it was written (``last_seen``): a player is
        saved at login, while moving and at logout.
        """
        path = self.path_for(account.name)
        data = self._check_writable(account)
        data["last_seen"] = time.time()
        tmp = self._write_temp(data)
        try:
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        _fsync_dir(self.users_dir)

    def save_many(self, accounts: Iterable[Account]) -> list[str]:
        """Save each in turn: files have no transaction spanning several of them.

        Files refuse no save (they have no shards): the list is always empty.
        """
        for account in accounts:
            self.save(account)
        return []


def _unlink_quietly(path: str) -> None:
    """Remove a temp file if it is still there; cleanup must not mask the real error."""
    with contextlib.suppress(OSError):
        os.unlink(path)
