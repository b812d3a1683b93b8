"""A throwaway PostgreSQL cluster for the tests that need a real one.

``initdb`` and ``pg_ctl`` refuse to run as root, and CI runs as root: there
they run as the ``postgres`` user (``runuser``), in a temporary directory
that user owns.  The cluster listens on loopback only, on a free port, with
``trust`` authentication, and is stopped and deleted at the end.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Cluster:
    """One running cluster; :meth:`database` makes a fresh empty database."""

    def __init__(self, settings: str = "") -> None:
        """*settings*: more ``-c name=value`` options for the server."""
        self.settings = settings
        self.root = Path(tempfile.mkdtemp(prefix="mudserver-pg-"))
        self.port = free_port()
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o755)

    def _run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=timeout, check=False
        )

    def init(self) -> str | None:
        """Create the cluster; None, or why it could not be made."""
        done = self._run(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        if done.returncode != 0:
            return f"initdb failed: {done.stderr.strip()[-400:]}"
        return None

    def start(self) -> str | None:
        """Start (or restart) the server; None, or why it did not start."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=on"
            " -c max_connections=200"
            f" {self.settings}"
        )
        done = self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "30",
            "-l", str(self.log), "-o", options, "start",
        )  # fmt: skip
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-400:] if self.log.exists() else ""
            return f"pg_ctl start failed: {done.stderr.strip()[-400:]} {log}"
        return None

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # a generated name, never input
        return self.url(name)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(settings: str = "") -> tuple[Cluster | None, str]:
    """A running cluster (with more ``-c`` *settings*), or None and why the tests skip."""
    if not (PG_BIN / "pg_ctl").exists():
        return None, f"PostgreSQL 15 is not installed ({PG_BIN}): apt-get install postgresql"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return None, "running as root and runuser (util-linux) is missing"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed: pip install 'psycopg[binary]'"
    cluster = Cluster(settings)
    why = cluster.init() or cluster.start()
    if why is not None:
        cluster.remove()
        return None, why
    return cluster, ""


def make_accounts(url: str, names: list[str]) -> None:
    """Accounts *names* in the database at *url*, all with the tests' cheap password hash."""
    from mudserver.account import Account
    from mudserver.store.base import hash_password
    from mudserver.store.postgres import PostgresStore
    from tests.crowd import CHEAP, PASSWORD

    store = PostgresStore(url, CHEAP)
    try:
        store.initialize()
        record = hash_password(PASSWORD, CHEAP)
        store.save_many(Account(name, record) for name in names)
    finally:
        store.close()


@contextmanager
def cluster_or_skip(settings: str = "") -> Iterator[Cluster]:
    """A running cluster (with more ``-c`` *settings*) for a fixture, removed afterwards;
    the test skips, saying why, when none can start."""
    cluster, why = start_cluster(settings)
    if cluster is None:
        pytest.skip(f"no PostgreSQL for this test: {why}")
    try:
        yield cluster
    finally:
        cluster.remove()
