"""Create a player account from the command line.

Usage::

    python -m mudserver.tools.mkuser NAME PASSWORD [--data DIR] [--store files|POSTGRESQL]

The server has no registration command, so this is how accounts are made.
It opens the store the way the server does (``--store``: the JSON files
under ``--data`` by default, or a PostgreSQL database), so what it writes is
exactly what the server expects (Argon2id at the
server's default cost unless ``--hash-*`` raise it, atomic no-clobber
creation).
"""

from __future__ import annotations

import argparse
import sys

from mudserver.account import NAME_RULE, AccountError, AccountExists, InvalidName, valid_name
from mudserver.store.files import FileStore
from mudserver.store.passwords import ARGON2_MINIMUM, Argon2Params
from mudserver.store.spec import FILES, open_store

__all__ = ["main"]

PROG = "mkuser"


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser; usage errors exit with status 2 (argparse)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Create a mudserver account (position 0,0,0).",
    )
    parser.add_argument("name", metavar="NAME", help="1-24 characters of A-Z, a-z, 0-9 and _")
    parser.add_argument("password", metavar="PASSWORD", help="the account's password (not empty)")
    parser.add_argument(
        "--data",
        metavar="DIR",
        default="./data",
        help="data directory; accounts go to DIR/users (default: ./data)",
    )
    parser.add_argument(
        "--store",
        default=FILES,
        help="'files' (under --data) or a PostgreSQL URI/libpq string, as the server's --store",
    )
    # The same Argon2id cost options as the server, so a raised cost applies here too.
    for option, default, text in (
        ("--hash-time", ARGON2_MINIMUM.time_cost, "Argon2id passes"),
        ("--hash-memory", ARGON2_MINIMUM.memory_cost, "Argon2id memory in KiB"),
        ("--hash-parallelism", ARGON2_MINIMUM.parallelism, "Argon2id lanes"),
    ):
        parser.add_argument(option, type=int, default=default, help=f"{text} (default: {default})")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 created, 1 refused).

    Returns instead of exiting so tests and the console-script wrapper can
    both use it.
    """
    args = _parser().parse_args(argv)
    if not valid_name(args.name):
        # Checked before opening the store so a typo creates no directories.
        print(f"{PROG}: invalid name {args.name!r}: {NAME_RULE}", file=sys.stderr)
        return 1
    if not args.password:
        # An empty password would let anyone log in as this player.
        print(f"{PROG}: refusing to create {args.name!r} with an empty password", file=sys.stderr)
        return 1
    try:
        params = Argon2Params(args.hash_time, args.hash_memory, args.hash_parallelism)
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    if not params.meets_minimum():
        print(f"{PROG}: --hash-memory/--hash-time are below the OWASP minimum", file=sys.stderr)
        return 1
    try:
        store = open_store(args.store, args.data, params)
    except OSError as exc:
        print(f"{PROG}: cannot write account: {exc}", file=sys.stderr)
        return 1
    except AccountError as exc:
        print(f"{PROG}: cannot open the store: {exc}", file=sys.stderr)
        return 1
    try:
        account = store.create(args.name, args.password)
    except InvalidName as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except AccountExists:
        print(f"{PROG}: account {args.name!r} already exists", file=sys.stderr)
        return 1
    except (AccountError, OSError) as exc:
        print(f"{PROG}: cannot write account: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    where = store.path_for(account.name) if isinstance(store, FileStore) else store.describe()
    print(f"created account {account.name} in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
