"""Run a command against a throwaway PostgreSQL: for the benchmarks of a database store.

Usage (from the repository root)::

    python benchmarks/with_postgres.py [--set NAME=VALUE ...] mudserver-bench --store {pg} ...

Starts a PostgreSQL 15 cluster in a temporary directory (the one the tests
use, :mod:`tests.pg`: loopback only, a free port, ``fsync`` on, as the
``postgres`` user when run as root), makes an empty database, runs the
command with every ``{pg}`` replaced by that database's URL, then stops the
cluster and deletes it, whatever the command did.  The exit status is the
command's.  ``--set`` passes a server setting (``-c NAME=VALUE``), e.g.
``--set synchronous_commit=off``.  Nothing is left behind, so each invocation starts from an empty
database: put the runs that must share accounts in one command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pg import start_cluster


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    settings = []
    while len(argv) >= 2 and argv[0] == "--set":
        settings.append(f"-c {argv[1]}")
        argv = argv[2:]
    cluster, why = start_cluster(" ".join(settings))
    if cluster is None:
        print(f"with_postgres: cannot start PostgreSQL: {why}", file=sys.stderr)
        return 1
    try:
        url = cluster.database()
        print(f"with_postgres: {url}", file=sys.stderr)
        return subprocess.call([part.replace("{pg}", url) for part in argv])
    finally:
        cluster.remove()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
