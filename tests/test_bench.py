"""The load-testing tool, end to end, with a handful of bots for a few seconds."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

TINY = [
    "--n", "8", "--warmup", "1", "--duration", "3", "--observers", "3", "--world", "60",
    "--server-cpu", "-1", "--bots-cpu", "-1", "--quiet",
]  # fmt: skip


def bench(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "mudserver.bench", *TINY, *options],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_bench_runs_both_modes_and_reports(tmp_path: Path) -> None:
    out_json, plot = tmp_path / "bench.json", tmp_path / "bench.png"
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    options = ["--mode", "interest,broadcast", "--protocol", "1", "--json", str(out_json)]
    if has_matplotlib:
        options += ["--plot", str(plot)]
    table = bench(tmp_path, *options).stdout
    assert "| interest | 1 | 8 |" in table and "| broadcast | 1 | 8 |" in table, table
    results = {r["mode"]: r for r in json.loads(out_json.read_text())}
    for mode in ("interest", "broadcast"):
        r = results[mode]
        assert (r["playing"], r["dropped"], r["refused"]) == (8, 0, 0)
        assert r["ticks"] >= 20 and r["overruns"] is not None
        assert r["updates_per_client_s"] > 0 and r["bytes_per_client_s"] > 0
        assert r["server_cpu_percent"] is not None and r["server_rss_mb"] > 1
        assert r["latency_samples"] > 0  # observers saw their pos lines
    if has_matplotlib:
        assert plot.read_bytes().startswith(b"\x89PNG")


def test_bench_version_2_crowd_at_the_origin(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    table = bench(
        tmp_path, "--protocol", "2", "--spawn", "origin", "--retarget-every", "0.5",
        "--max-in-view", "4", "--json", str(out_json),
    ).stdout  # fmt: skip
    assert "| interest | 2 | 8 | origin |" in table, table
    (r,) = json.loads(out_json.read_text())
    assert (r["protocol"], r["spawn"], r["retarget_every"], r["max_in_view"]) == (
        "2",
        "origin",
        0.5,
        4,
    )
    assert (r["playing"], r["dropped"], r["refused"], r["failed_logins"]) == (8, 0, 0, 0)
    assert r["bytes_per_client_s"] > 0
    assert r["latency_samples"] > 0  # observers saw the wlk about themselves


def test_bench_refuses_an_unknown_protocol(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mudserver.bench", "--protocol", "1,3"],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "protocol versions are 1 and 2, not '1,3'" in done.stderr


def test_bench_two_shards_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """Each shard is a server of its own with its own bots; their accounts are in the database."""
    out_json = tmp_path / "bench.json"
    table = bench(
        tmp_path, "--store", pg_url, "--shards", "2", "--say-scope", "cluster",
        "--autosave", "2", "--json", str(out_json),
    ).stdout  # fmt: skip
    assert "| postgresql | shard1 | interest |" in table, table
    assert "| postgresql | shard2 | interest |" in table, table
    rows = {r["shard"]: r for r in json.loads(out_json.read_text())}
    assert sorted(rows) == ["shard1", "shard2"]
    for r in rows.values():
        assert (r["playing"], r["dropped"], r["refused"], r["failed_logins"]) == (8, 0, 0, 0)
        assert r["ticks"] >= 20 and r["saves_per_s"] > 0 and r["save_failures"] == 0
        # Walkers moved all along: the autosave wrote most of them in its last interval.
        assert r["saved_within_autosave"] >= 4
    import psycopg

    with psycopg.connect(pg_url) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM mudserver_accounts")]
    assert sorted(n[:4] for n in names) == ["bota"] * 8 + ["botb"] * 8


def test_count_above_reads_a_histogram_between_two_scrapes() -> None:
    from mudserver.bench.server import count_above

    name = "mudserver_tick_duration_seconds"
    before = {f"{name}_bucket{{le=0.05}}": 10.0, f"{name}_count": 10.0}
    after = {f"{name}_bucket{{le=0.05}}": 15.0, f"{name}_count": 18.0}
    assert count_above(0.05, before, after) == 3  # 8 new ticks, 5 of them within 50 ms
