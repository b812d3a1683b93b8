"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import SHARED_SERVER, ServerProcess, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server per test module, quick walkers, shared by its tests."""
    with running_server(
        tmp_path_factory.mktemp("server"), "--speed", "50", *SHARED_SERVER
    ) as process:
        yield process
