"""The load-testing tool, end to end, with a handful of bots for a few seconds."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import REPO


def test_bench_runs_both_modes_and_reports(tmp_path: Path) -> None:
    out_json, plot = tmp_path / "bench.json", tmp_path / "bench.png"
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    command = [
        sys.executable, "-m", "mudserver.bench", "--n", "8", "--mode", "interest,broadcast",
        "--warmup", "1", "--duration", "3", "--observers", "3", "--world", "60",
        "--server-cpu", "-1", "--bots-cpu", "-1", "--quiet", "--json", str(out_json),
    ]  # fmt: skip
    if has_matplotlib:
        command += ["--plot", str(plot)]
    done = subprocess.run(
        command,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    table = done.stdout
    assert "| interest | 8 |" in table and "| broadcast | 8 |" in table
    results = {r["mode"]: r for r in json.loads(out_json.read_text())}
    for mode in ("interest", "broadcast"):
        r = results[mode]
        assert (r["playing"], r["dropped"], r["refused"]) == (8, 0, 0)
        assert r["ticks"] >= 20 and r["overruns"] is not None
        assert r["updates_per_client_s"] > 0 and r["bytes_per_client_s"] > 0
        assert r["server_cpu_percent"] is not None and r["server_rss_mb"] > 1
    if has_matplotlib:
        assert plot.read_bytes().startswith(b"\x89PNG")
