"""``mudserver-db``: set up a PostgreSQL account store and move accounts between stores.

Usage::

    mudserver-db init STORE            # create or migrate the schema
    mudserver-db version STORE         # the schema version the database holds
    mudserver-db copy SOURCE TARGET    # every account (and ban) of SOURCE into TARGET

STORE is a ``postgresql://`` URI or a libpq ``key=value`` string; for
``copy``, SOURCE and TARGET may also be data directories (the JSON files
under ``DIR/users``), so an operator can move to the database and back.
Accounts are copied as they are, password hashes and positions included;
an account the target already has is left alone and reported, and the exit
status is then 1.  The bans in force go along (``DIR/bans.json`` with files,
the ``mudserver_bans`` table in a database), each replacing a ban of the
same target.  Copy while no server uses either store: a running server
would overwrite what was copied with its next save.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mudserver.account import AccountError, AccountExists
from mudserver.limits.bans import Ban, BanError, BanList
from mudserver.store.base import Store
from mudserver.store.files import FileStore
from mudserver.store.spec import is_database, open_store

__all__ = ["main"]

PROG = "mudserver-db"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("init", "create the schema, or migrate it to this mudserver's version"),
        ("version", "print the schema version the database holds (0: none)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("store", metavar="STORE", help="PostgreSQL URI or libpq string")
    copy = commands.add_parser("copy", help="copy every account from SOURCE into TARGET")
    copy.add_argument("source", metavar="SOURCE", help="data directory or PostgreSQL")
    copy.add_argument("target", metavar="TARGET", help="data directory or PostgreSQL")
    return parser


def _open(spec: str) -> Store:
    """A database for a URI or libpq string, else the file store of a data directory."""
    return open_store(spec, "") if is_database(spec) else FileStore(spec)


def _bans(spec: str) -> list[Ban]:
    """The bans in force in the store *spec* names."""
    if not is_database(spec):
        return BanList.load(Path(spec) / "bans.json").bans(time.time())
    from mudserver.store.bans import BanTable

    table = BanTable(spec)
    try:
        return [b for b in map(Ban.from_json, table.load()) if not b.expired(time.time())]
    finally:
        table.close()


def _copy_bans(source: str, target: str) -> int:
    """Copy the bans of *source* into *target*; how many."""
    bans = _bans(source)
    if not bans:
        return 0
    if not is_database(target):
        path = Path(target) / "bans.json"
        kept = BanList.load(path)
        for ban in bans:
            kept.put(ban)
        kept.save(path, time.time())
        return len(bans)
    from mudserver.store.bans import BanTable

    table = BanTable(target)
    try:
        for ban in bans:
            table.put(ban.to_json())
    finally:
        table.close()
    return len(bans)


def _copy(source: Store, target: Store) -> int:
    copied, kept = 0, []
    for account in source.accounts():
        try:
            target.insert(account)
            copied += 1
        except AccountExists:
            kept.append(account.name)
    for name in kept:
        print(f"{PROG}: {name} is already in {target.describe()}; left as it is", file=sys.stderr)
    print(f"copied {copied} accounts from {source.describe()} to {target.describe()}")
    return 1 if kept else 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 done, 1 refused or failed)."""
    args = _parser().parse_args(argv)
    opened: list[Store] = []
    try:
        if args.command == "copy":
            opened.append(_open(args.source))
            opened.append(_open(args.target))
            status = _copy(*opened)
            bans = _copy_bans(args.source, args.target)
            if bans:
                print(f"copied {bans} bans")
            return status
        if not is_database(args.store):
            print(
                f"{PROG}: {args.store!r} is not a PostgreSQL URI or libpq string", file=sys.stderr
            )
            return 1
        from mudserver.store.postgres import PostgresStore

        store = PostgresStore(args.store)
        opened = [store]
        if args.command == "init":
            found = store.initialize()
            now = store.schema_version()
            print(f"schema version {now} in {store.describe()} (was {found})")
        else:
            print(store.schema_version())
        return 0
    except (AccountError, BanError, OSError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    finally:
        for store in opened:
            store.close()


if __name__ == "__main__":
    sys.exit(main())
