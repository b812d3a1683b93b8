"""What a ``--store`` value names, and opening it: shared by the server and the tools.

``files`` (the default) is the JSON store under the data directory; a
``postgresql://`` URI or a libpq ``key=value`` string is a database.  The
tools also accept a directory path for a file store (``mudserver-db copy``).
psycopg is imported only when a database is named, so the file store works
without it.
"""

from __future__ import annotations

import os

from mudserver.account import AccountError
from mudserver.store.base import Store
from mudserver.store.files import FileStore
from mudserver.store.passwords import DEFAULT_PARAMS, PasswordParams

__all__ = ["FILES", "StoreSpecError", "is_database", "open_store"]

#: The ``--store`` value of the file store under ``--data``.
FILES = "files"


class StoreSpecError(AccountError):
    """A ``--store`` value that names no store, or a store that cannot be opened."""


def is_database(spec: str) -> bool:
    """Whether *spec* names a PostgreSQL database rather than files."""
    spec = spec.strip()
    if spec.startswith(("postgresql://", "postgres://")):
        return True
    return "=" in spec and os.sep not in spec.split("=", 1)[0]


def open_store(
    spec: str,
    data: str | os.PathLike[str],
    hash_params: PasswordParams = DEFAULT_PARAMS,
    fenced: bool = False,
) -> Store:
    """Open the store *spec* names (``files``: the one under *data*).

    A database is connected at once and its schema created or migrated, so
    a wrong address or a schema newer than this code is reported here.
    *fenced*: a shard's database, whose saves are fenced by a token.
    """
    if spec.strip().lower() == FILES:
        return FileStore(data, hash_params)
    if not is_database(spec):
        raise StoreSpecError(
            f"{spec!r} is neither 'files', a postgresql:// URI nor a libpq 'key=value' string"
        )
    try:
        from mudserver.store.postgres import PostgresStore
    except ImportError as e:
        raise StoreSpecError(
            f"PostgreSQL needs psycopg (pip install 'mudserver[postgresql]'): {e}"
        ) from None
    store = PostgresStore(spec, hash_params, fenced=fenced)
    try:
        store.initialize()
    except AccountError:
        store.close()
        raise
    return store
