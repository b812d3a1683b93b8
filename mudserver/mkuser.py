"""Create a player account from the command line.

Usage::

    python -m mudserver.mkuser NAME PASSWORD [--data DIR]

The server has no registration command, so this is how accounts are made.
It uses the same :class:`~mudserver.store.accounts.AccountStore` as the server, so
files it writes are exactly what the server expects (Argon2id at the
server's default cost unless ``--hash-*`` raise it, atomic no-clobber
creation).
"""

from __future__ import annotations

import argparse
import sys

from mudserver.store.accounts import (
    NAME_RULE,
    AccountExists,
    AccountStore,
    InvalidName,
    valid_name,
)
from mudserver.store.passwords import ARGON2_MINIMUM, Argon2Params

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
        store = AccountStore(args.data, params)
        account = store.create(args.name, args.password)
    except InvalidName as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except AccountExists:
        print(f"{PROG}: account {args.name!r} already exists", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{PROG}: cannot write account: {exc}", file=sys.stderr)
        return 1
    print(f"created account {account.name} in {store.path_for(account.name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
