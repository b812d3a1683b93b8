"""``mudserver-bench`` (``python -m mudserver.bench``): the load-testing tool.

Starts a server per run (or targets a running one), logs N bots in from a
separate process, measures, and prints a table (and optionally JSON and a
plot).  ``docs/benchmarks.md`` has the commands that produced its figures.

Against a running server (``--host``/``--port``) the bots need accounts:
pass ``--data`` with that server's data directory, and the tool creates
``bot00000``... there before connecting; add ``--metrics-url`` and ``--pid``
for the server-side figures.

With ``--store postgresql://...`` the servers keep their accounts in that
database (the bots' accounts are made there); ``--shards K`` runs K shards
of it at once, each with N bots of its own, and reports each shard.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from mudserver.config import SettingError, Settings, described

__all__ = ["main"]


def _counts(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part]


def _protocols(text: str) -> list[str]:
    versions = [part.strip() for part in text.split(",") if part.strip()]
    wrong = [v for v in versions if v not in ("1", "2")]
    if not versions or wrong:
        raise argparse.ArgumentTypeError(f"protocol versions are 1 and 2, not {text!r}")
    return list(dict.fromkeys(versions))


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def _core(text: str) -> int | None:
    """A CPU to pin a process to; -1 (None): any."""
    value = int(text)
    return None if value < 0 else value


#: The servers' settings a run may choose, each an option of its own described by
#: the server (``mudserver.config``): ``--autosave 2`` is passed on as it is.  A
#: ``--duration`` at least as long as the autosave interval also reports how many
#: accounts the store shows saved within it.
SERVER_SETTINGS = (
    "view_radius",
    "say_radius",
    "chat_spread",
    "max_in_view",
    "turn_interval",
    "autosave",
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mudserver-bench", description="Load-test a mudserver with simulated players."
    )
    p.add_argument("--n", type=_counts, default=[100], help="bot counts, e.g. 100,1000")
    p.add_argument(
        "--mode",
        default="interest",
        help="server modes to run, comma-separated: interest, broadcast",
    )
    p.add_argument(
        "--protocol",
        type=_protocols,
        default=["2"],
        help="protocol versions the bots log in with, comma-separated: 1, 2 (default: 2)",
    )
    from mudserver.bench.bots import SPAWNS

    p.add_argument(
        "--spawn",
        choices=SPAWNS,
        default="scattered",
        help="where bot accounts start: scattered over the world (default), or all at "
        "0,0,0 walking outward (the crowd case)",
    )
    p.add_argument(
        "--retarget-every",
        type=_positive,
        default=4.0,
        metavar="SECONDS",
        help="mean seconds between two mov of a walker, each wait 0.5-1.5 times it "
        "(default: 4, every 2-6 s; 0.1 is a new target about every tick)",
    )
    p.add_argument(
        "--broadcast-max", type=int, default=2000, help="skip broadcast runs above this N"
    )
    p.add_argument("--walkers", type=float, default=1.0, help="fraction of bots that walk")
    p.add_argument("--chatters", type=float, default=0.01, help="fraction of bots that chat")
    p.add_argument(
        "--observers", type=int, default=10, help="bots that time mov->wlk (v2) or mov->pos (v1)"
    )
    p.add_argument("--world", type=float, default=3000.0, help="side of the square walked on")
    p.add_argument("--rate", type=float, default=200.0, help="new connections per second")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    p.add_argument("--duration", type=float, default=20.0, help="seconds measured")
    p.add_argument(
        "--real-hash",
        action="store_true",
        help="bot accounts with the default (real) Argon2id cost, to measure logins/s",
    )
    p.add_argument(
        "--store",
        default="files",
        help="the servers' --store: files (default, under --data) or a PostgreSQL URI; "
        "bot accounts are made there",
    )
    p.add_argument(
        "--shards",
        type=int,
        default=1,
        help="run this many shards of one --store (a database), each with N bots of its "
        "own, the i-th pinned to the i-th core after --server-cpu (default: 1, no shard)",
    )
    p.add_argument(
        "--say-scope",
        choices=("shard", "cluster"),
        help="the shards' --say-scope (default: the server's own)",
    )
    for d in described(Settings):
        if d.name in SERVER_SETTINGS:
            p.add_argument(
                f"--{d.option}",
                type=d.kind,
                help=f"the servers' --{d.option}: {d.help} [default: the server's, {d.default}]",
            )
    p.add_argument(
        "--things",
        type=int,
        default=0,
        help="wandering creatures in the servers' world (a game of mudserver.bench.things)",
    )
    p.add_argument(
        "--standing",
        type=int,
        default=0,
        help="standing things, each with a timer every --period seconds (random phase)",
    )
    p.add_argument("--period", type=_positive, default=30.0, help="the standing things' timer")
    p.add_argument(
        "--reload-every",
        type=_positive,
        metavar="SECONDS",
        help="run mudserver-admin reload this often in the measured window",
    )
    p.add_argument("--data", type=Path, help="data directory for bot accounts")
    p.add_argument("--host", help="target a running server instead of starting one")
    p.add_argument("--port", type=int, default=4000)
    p.add_argument("--metrics-url", help="the running server's metrics, http://host:port/")
    p.add_argument(
        "--pid", dest="server_pid", type=int, help="the running server's pid, for CPU and RSS"
    )
    p.add_argument("--server-cpu", type=_core, default=0, help="core for the server; -1: any")
    p.add_argument("--bots-cpu", type=_core, default=1, help="core for the bots; -1: any")
    p.add_argument("--json", type=Path, help="write the results here as JSON")
    p.add_argument("--plot", type=Path, help="draw tick p99 and bandwidth against N (PNG)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from mudserver.account import AccountError
    from mudserver.bench import report
    from mudserver.bench.runner import BOT_HASH, RunConfig, ensure_accounts, run, shard_prefixes
    from mudserver.store.passwords import DEFAULT_PARAMS
    from mudserver.store.spec import is_database, open_store

    modes = [m for m in args.mode.split(",") if m]
    try:
        chosen = {name: getattr(args, name) for name in SERVER_SETTINGS}
        settings = Settings(**{name: value for name, value in chosen.items() if value is not None})
        for mode in modes:
            dataclasses.replace(settings, mode=mode)
    except SettingError as e:
        parser.error(e.option)
    #: What a run takes from the command line as it is, by name (the rest is set below).
    own = {"count", "protocol", "settings", "observers", "data", "workdir", "prefix"}
    shared = [f for f in dataclasses.fields(RunConfig) if f.name in set(vars(args)) - own]
    if args.host and not args.data:
        parser.error("--host needs --data: the running server's data directory")
    if not 1 <= args.shards <= 26:
        parser.error("--shards must be 1 to 26")
    if args.shards > 1 and not is_database(args.store):
        parser.error("--shards needs a PostgreSQL --store that the shards share")
    if args.shards > 1 and args.host:
        parser.error("--shards starts its servers: not with --host")
    scratch = Path(tempfile.mkdtemp(prefix="mudbench-", dir=_fast_tmp()))
    data = args.data or scratch / "data"
    # Origin accounts get names of their own: scattered ones stay scattered.
    prefix = ("real" if args.real_hash else "bot") + ("o" if args.spawn == "origin" else "")
    params = DEFAULT_PARAMS if args.real_hash else BOT_HASH
    try:
        store = open_store(args.store, data, params)
    except AccountError as e:
        parser.error(f"--store: {e}")
    try:

        def accounts() -> None:
            for shard_prefix in shard_prefixes(prefix, args.shards):
                seconds = ensure_accounts(
                    store, max(args.n), shard_prefix, "bench", args.world / 2, params, args.spawn
                )
                if not args.quiet:
                    where = store.describe()
                    print(
                        f"{shard_prefix} accounts ready in {seconds:.1f} s ({where})",
                        file=sys.stderr,
                    )

        accounts()
        results: list[dict[str, Any]] = []
        failures: list[str] = []
        runs = [
            (n, mode, protocol)
            for n in args.n
            for mode in modes
            for protocol in args.protocol
            if not (mode == "broadcast" and n > args.broadcast_max)
        ]
        for index, (n, mode, protocol) in enumerate(runs):
            if index and args.spawn == "origin":
                accounts()  # back to 0,0,0: the last run saved where they walked
            cfg = RunConfig(
                **{f.name: getattr(args, f.name) for f in shared},
                count=n,
                protocol=protocol,
                settings=dataclasses.replace(settings, mode=mode),
                observers=min(args.observers, n),
                data=data,
                workdir=scratch,
                prefix=prefix,
            )
            try:
                shards = run(cfg, store)
            except Exception as e:  # one failed run must not lose the sweep
                print(f"{mode} N={n} failed: {e!r}", file=sys.stderr)
                failures.append(f"{mode} N={n}: {e!r}")
                continue
            results.extend(shards)
            if not args.quiet:
                for result in shards:
                    print(json.dumps(result), file=sys.stderr)
            if args.json:
                report.write_json(results, args.json)
        print(report.table(results))
        for failure in failures:
            print(f"failed: {failure}")
        if args.json:
            report.write_json(results, args.json)
        if args.plot:
            report.plot(results, args.plot)
    finally:
        store.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _fast_tmp() -> str | None:
    """``/dev/shm`` when there is one: account saves then cost no disk flushes."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() else None
