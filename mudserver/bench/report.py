"""The figures of a sweep as a Markdown table, as JSON, and as a plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["table", "write_json", "plot"]

#: (column title, result key, format)
COLUMNS = [
    ("store", "store", "{}"),
    ("shard", "shard", "{}"),
    ("mode", "mode", "{}"),
    ("protocol", "protocol", "{}"),
    ("N", "n", "{}"),
    ("spawn", "spawn", "{}"),
    ("walking", "walkers", "{:.0%}"),
    ("retarget s", "retarget_every", "{:g}"),
    ("max in view", "max_in_view", "{}"),
    ("world", "world", "{:.0f}²"),
    ("say radius", "say_radius", "{:.0f}"),
    ("chat spread", "chat_spread", "{}"),
    ("things", "things", "{:,}"),
    ("standing", "standing", "{:,}"),
    ("tick p50 ms", "tick_p50_ms", "{:.1f}"),
    ("tick p99 ms", "tick_p99_ms", "{:.1f}"),
    ("tick max ms", "tick_max_ms", "{:.1f}"),
    ("ticks > 50 ms", "ticks_over_50ms", "{:.0f}"),
    ("tick CPU p99 ms", "tick_cpu_p99_ms", "{:.1f}"),
    ("overruns", "overruns", "{:.0f}"),
    ("updates/client/s", "updates_per_client_s", "{:.1f}"),
    ("bytes/client/s", "bytes_per_client_s", "{:,.0f}"),
    # mov to the first wlk about oneself in protocol 2, to the first pos in 1.
    ("mov→wlk/pos p50 ms", "latency_p50_ms", "{:.0f}"),
    ("mov→wlk/pos p99 ms", "latency_p99_ms", "{:.0f}"),
    ("saves/s", "saves_per_s", "{:.0f}"),
    ("save write p99 ms", "save_write_p99_ms", "{:.1f}"),
    ("saved within autosave", "saved_within_autosave", "{}"),
    ("server CPU %", "server_cpu_percent", "{:.0f}"),
    ("bots CPU %", "bots_cpu_percent", "{:.0f}"),
    ("postgres CPU %", "postgres_cpu_percent", "{:.0f}"),
    ("RSS MiB", "server_rss_mb", "{:.0f}"),
    ("dropped", "dropped", "{}"),
    ("refused", "refused", "{}"),
    ("failed logins", "failed_logins", "{}"),
    ("logins/s", "logins_per_s", "{:.0f}"),
    ("listen overflows", "listen_overflows", "{}"),
    ("reloads", "reloads", "{}"),
    ("reload held ms max", "reload_held_max_ms", "{:.0f}"),
    ("tick max ms (reloads)", "reload_tick_max_ms", "{:.1f}"),
    ("reloads failed", "reloads_failed", "{}"),
]


def _cell(value: Any, form: str) -> str:
    return "–" if value is None else form.format(value)


def _series(result: dict[str, Any]) -> str:
    """One plotted line per mode and protocol (results from before protocols: v1)."""
    return f"{result['mode']} v{result.get('protocol', '1')}"


#: Columns left out of a table where every row has this value (or none).
QUIET = {
    "store": "files",
    "chat_spread": 1,
    "shard": None,
    "saved_within_autosave": None,
    "things": 0,
    "standing": 0,
    "reloads": None,
    "reload_held_max_ms": None,
    "reload_tick_max_ms": None,
    "reloads_failed": None,
}


def table(results: list[dict[str, Any]]) -> str:
    """A Markdown table, one row per run (per shard), without columns that say nothing."""
    columns = [
        (title, key, form)
        for title, key, form in COLUMNS
        if key not in QUIET or any(r.get(key, QUIET[key]) != QUIET[key] for r in results)
    ]
    lines = [
        "| " + " | ".join(title for title, _, _ in columns) + " |",
        "|" + "|".join("---:" if i > 0 else "---" for i in range(len(columns))) + "|",
    ]
    for r in results:
        lines.append("| " + " | ".join(_cell(r.get(k), f) for _, k, f in columns) + " |")
    return "\n".join(lines)


def write_json(results: list[dict[str, Any]], path: Path) -> None:
    path.write_text(json.dumps(results, indent=2) + "\n")


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Tick p99 and bandwidth per client against N, one line per mode and protocol."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode in sorted({_series(r) for r in results}):
        rows = sorted((r for r in results if _series(r) == mode), key=lambda r: r["n"])
        n = [r["n"] for r in rows]
        line = left.plot(n, [r["tick_p99_ms"] for r in rows], marker="o", label=f"{mode}")[0]
        if all(r.get("tick_cpu_p99_ms") for r in rows):
            left.plot(
                n,
                [r["tick_cpu_p99_ms"] for r in rows],
                marker=".",
                linestyle="--",
                color=line.get_color(),
                label=f"{mode}, CPU time",
            )
        right.plot(n, [r["bytes_per_client_s"] / 1024 for r in rows], marker="o", label=mode)
    left.axhline(100, color="red", linestyle=":", label="tick interval (100 ms)")
    left.axhline(50, color="grey", linestyle="--", label="target p99 (50 ms)")
    for axis, title, unit in (
        (left, "tick duration p99", "ms"),
        (right, "bandwidth per client", "KiB/s"),
    ):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("bots (N)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
