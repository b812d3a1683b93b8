"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg import Cluster, cluster_or_skip
from tests.support import SHARED_SERVER, ServerProcess, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server per test module, quick walkers, shared by its tests."""
    with running_server(
        tmp_path_factory.mktemp("server"), "--speed", "50", *SHARED_SERVER
    ) as process:
        yield process


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole test session (or a skip)."""
    with cluster_or_skip() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """The URL of a new, empty database on the session's cluster."""
    return pg_cluster.database()
