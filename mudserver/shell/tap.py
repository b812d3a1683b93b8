"""``twistd mudserver``: command-line options and the service tree.

The plugin in ``twisted/plugins/mudserver_plugin.py`` points here; keeping
the work in this module lets ``twistd --help`` list plugins without importing
the server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar

from twisted.application import service, strports
from twisted.internet.endpoints import serverFromString
from twisted.internet.testing import MemoryReactor
from twisted.python import usage
from twisted.web import server

from mudserver.account import AccountError
from mudserver.config import TELNET_OFFERS, Presentation, Settings
from mudserver.game.loader import GameCode, GameError, load
from mudserver.game.worldfile import WorldError
from mudserver.limits.bans import BanError, BanList
from mudserver.shell.adminsocket import ADMIN_SOCKET, BANS_FILE, AdminFactory, admin_service
from mudserver.shell.gamehost import GameHost
from mudserver.shell.metrics import MetricsResource
from mudserver.shell.service import GameService
from mudserver.store.base import Store
from mudserver.store.files import FileStore
from mudserver.store.passwords import ARGON2_MINIMUM, Argon2Params
from mudserver.store.spec import FILES, is_database, open_store

__all__ = ["Options", "makeService"]

_DEFAULTS = Settings()
DEFAULT_PORT = "tcp:4000:backlog=1024"
DEFAULT_WEB = "tcp:4001"
#: What ``--shard`` accepts: it becomes a Prometheus label value and a log word.
SHARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")

#: (option, Settings field, type, help): every limit is a twistd option.
_LIMITS: list[tuple[str, str, Callable[[str], Any], str]] = [
    ("tick-rate", "tick_rate", float, "World steps per second."),
    ("speed", "speed", float, "Player walking speed, units per second."),
    ("bounds", "bounds", float, "The world spans -BOUNDS..BOUNDS on x, y and z."),
    ("idle-timeout", "idle_timeout", float, "Seconds without a line before 'bye timeout'."),
    ("max-line", "max_line", int, "Longest line in bytes before 'bye toolong'."),
    ("max-output", "max_output", int, "Unsent bytes to a client before it is dropped."),
    ("max-failed-logins", "max_failed_logins", int, "Failed logins before 'bye badlogin'."),
    ("autosave", "autosave", float, "Seconds between saves of players that moved."),
    ("max-say", "max_say", int, "Longest say text, in characters."),
    ("close-grace", "close_grace", float, "Seconds a closing client gets to read its last lines."),
    ("shutdown-timeout", "shutdown_timeout", float, "Seconds shutdown waits for saves."),
    ("line-rate", "line_rate", float, "Lines per second a client may send on average."),
    ("line-burst", "line_burst", int, "Lines a client may send at once."),
    ("flood-time", "flood_time", float, "Seconds over the line rate before 'bye flood'."),
    ("say-rate", "say_rate", float, "say and who lines per second a player may send on average."),
    ("say-burst", "say_burst", int, "say and who lines a player may send at once."),
    ("use-rate", "use_rate", float, "use lines per second a player may send on average."),
    ("use-burst", "use_burst", int, "use lines a player may send at once."),
    ("use-reach", "use_reach", float, "How near a thing must be for a player to use it."),
    ("max-connections", "max_connections", int, "Open connections before 'bye full'."),
    ("max-connections-per-ip", "max_connections_per_ip", int, "Open connections per IP."),
    ("login-failures-per-ip", "login_failures_per_ip", int, "Failed logins per IP per window."),
    (
        "login-failures-per-account",
        "login_failures_per_account",
        int,
        "Failed logins per account per window.",
    ),
    ("login-window", "login_window", float, "Seconds over which failed logins are counted."),
    ("view-radius", "view_radius", float, "How far a player sees on the ground plane."),
    ("max-in-view", "max_in_view", int, "Most entities a player is told about, nearest first."),
    ("turn-interval", "turn_interval", float, "Least seconds between two turns (protocol 2)."),
    ("say-radius", "say_radius", float, "How far a say carries; 0 for world-wide."),
    ("max-player-data", "max_player_data", int, "Most bytes of game data saved per player."),
    ("max-things", "max_things", int, "Most things the game may have in the world at once."),
    ("hook-failures", "hook_failures", int, "Failures in a row that switch a thing's hook off."),
    ("game-budget", "game_budget", float, "Seconds of game code per tick before it is logged."),
    ("mode", "mode", str, "interest (what is in view) or broadcast (everything)."),
]
assert {f for _, f, _, _ in _LIMITS} == {f.name for f in fields(Settings)}


class Options(usage.Options):
    """``twistd mudserver --help``."""

    optParameters = [
        ["data", "d", "./data", "Data directory; accounts live in DATA/users/ by default."],
        [
            "store",
            None,
            "files",
            "Where accounts live: 'files' (DATA/users/) or a PostgreSQL URI or "
            "libpq string, e.g. postgresql://mud@dbhost/mud.",
        ],
        ["metrics", None, None, "Endpoint serving Prometheus metrics, e.g. tcp:9100."],
        ["name", None, "mudserver", "The server's name, as MSSP tells MUD listing crawlers."],
        ["hostname", None, None, "The host name MSSP reports (left out when not given)."],
        [
            "telnet-offer",
            None,
            "asked",
            f"When to offer MSSP and GMCP on --port: {' or '.join(TELNET_OFFERS)} "
            "(once the client asked for one of them, or at once).",
        ],
        [
            "admin",
            None,
            None,
            f"UNIX socket of the operator's console (default DATA/{ADMIN_SOCKET}); 'none': off.",
        ],
        [
            "shard",
            None,
            None,
            "Run as shard NAME of several sharing one PostgreSQL --store (an account "
            "plays on one shard at a time).",
        ],
        [
            "say-scope",
            None,
            "shard",
            "Where a world-wide say (--say-radius 0) is heard: shard, or cluster (every "
            "shard of --store; needs --shard).",
        ],
        [
            "takeover-timeout",
            None,
            10.0,
            "Seconds a login waits for another shard to give its account back.",
        ],
        ["hash-time", None, ARGON2_MINIMUM.time_cost, "Argon2id passes for new password hashes."],
        [
            "hash-memory",
            None,
            ARGON2_MINIMUM.memory_cost,
            "Argon2id memory in KiB for new password hashes.",
        ],
        ["hash-parallelism", None, ARGON2_MINIMUM.parallelism, "Argon2id lanes (threads)."],
        [
            "game",
            None,
            "sample",
            "The game to run: an entry point of mudserver.games, a module's dotted name, "
            "or none (a world of players only).",
        ],
        [
            "world",
            None,
            None,
            "The world file (TOML) of the game; default DATA/world.toml if it exists, "
            "else the game's own.",
        ],
    ] + [[option, None, getattr(_DEFAULTS, name), text] for option, name, _, text in _LIMITS]

    optFlags: ClassVar[list[list[str | None]]] = [
        ["no-rehash", None, "Keep weaker password hashes as they are (for benchmarks only)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["ports"] = []
        self["webs"] = []

    def opt_port(self, description: str) -> None:
        self["ports"].append(description)

    # twistd shows the docstring as it is: built on one line, with the default.
    opt_port.__doc__ = (
        "Endpoint of the line protocol, e.g. tcp:4000 or "
        f"ssl:4443:privateKey=key.pem:certKey=cert.pem; repeatable. [default: {DEFAULT_PORT}]"
    )

    opt_p = opt_port

    def opt_web(self, description: str) -> None:
        self["webs"].append(description)

    opt_web.__doc__ = (
        "Endpoint of the browser page and /ws (ssl:... for https and wss); repeatable; "
        f"none: off. [default: {DEFAULT_WEB}]"
    )

    def postOptions(self) -> None:
        if not self["ports"]:
            self["ports"] = [DEFAULT_PORT]
        if not self["webs"]:
            self["webs"] = [DEFAULT_WEB]
        if any(w.lower() == "none" for w in self["webs"]):
            if len(self["webs"]) > 1:
                raise usage.UsageError("--web none cannot be combined with another --web")
            self["webs"] = []
        for option, descriptions in (("port", self["ports"]), ("web", self["webs"])):
            for description in descriptions:
                check_endpoint(option, description)
        if self["metrics"]:
            check_endpoint("metrics", self["metrics"])
        self["hash_params"] = self._hash_params()
        values: dict[str, Any] = {}
        for option, name, kind, _ in _LIMITS:
            try:
                values[name] = kind(self[option])
            except ValueError:
                raise usage.UsageError(f"--{option} must be a number") from None
        try:
            self["settings"] = Settings(**values)
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        try:
            self["presentation"] = Presentation(
                self["name"], self["hostname"], self["telnet-offer"]
            )
        except ValueError as e:
            raise usage.UsageError(f"--{str(e).replace('_', '-')}") from None
        self._admin_options()
        self["account_store"] = _open_store(self["store"], self["data"], self["hash_params"])
        self._shard_options()
        self["game_code"] = self._game_code()

    def _game_code(self) -> GameCode | None:
        """Import the game and check its world file, or stop with one line that says why."""
        if self["game"].lower() == "none":
            return None
        try:
            return load(self["game"], self["world"], self["data"], self["settings"].bounds)
        except (GameError, WorldError) as e:
            raise usage.UsageError(str(e)) from None

    def _shard_options(self) -> None:
        """--shard needs a database; its name goes into log lines and metrics."""
        try:
            self["takeover-timeout"] = float(self["takeover-timeout"])
        except ValueError:
            raise usage.UsageError("--takeover-timeout must be a number") from None
        if not self["takeover-timeout"] > 0:
            raise usage.UsageError("--takeover-timeout must be above 0")
        if self["say-scope"] not in ("shard", "cluster"):
            raise usage.UsageError("--say-scope must be shard or cluster")
        shard = self["shard"]
        if shard is None:
            if self["say-scope"] == "cluster":
                raise usage.UsageError("--say-scope cluster needs --shard")
            return
        if not SHARD_NAME.fullmatch(shard):
            raise usage.UsageError("--shard must be 1-32 characters of A-Z, a-z, 0-9, _ and -")
        if self["account_store"] is None:
            raise usage.UsageError("--shard needs a PostgreSQL --store shared by the shards")

    def _admin_options(self) -> None:
        """Load the ban list and settle the admin socket's path, or stop with one line."""
        data = Path(self["data"])
        self["bans_path"] = data / BANS_FILE
        try:
            self["bans"] = BanList.load(self["bans_path"])
        except (BanError, OSError) as e:
            raise usage.UsageError(f"cannot read the ban list: {e}") from None
        admin = self["admin"]
        if admin is not None and admin.lower() == "none":
            self["admin"] = None
            return
        path = os.path.abspath(admin or data / ADMIN_SOCKET)
        # sockaddr_un holds 108 bytes, the final NUL included.
        if len(os.fsencode(path)) > 107:
            raise usage.UsageError(f"--admin path is too long for a UNIX socket: {path}")
        self["admin"] = path

    def _hash_params(self) -> Argon2Params:
        """Argon2id parameters from the options, refused below OWASP's minimum."""
        try:
            params = Argon2Params(
                time_cost=int(self["hash-time"]),
                memory_cost=int(self["hash-memory"]),
                parallelism=int(self["hash-parallelism"]),
            )
        except ValueError as e:
            raise usage.UsageError(f"--hash-time/--hash-memory/--hash-parallelism: {e}") from None
        if not params.meets_minimum():
            raise usage.UsageError(
                "--hash-memory/--hash-time are below the OWASP minimum for Argon2id "
                "(at least 7168 KiB, and memory x passes at least 35840, e.g. 19456 x 2)"
            )
        return params


def _open_store(spec: str, data: str, hash_params: Argon2Params) -> Store | None:
    """The PostgreSQL store, reached and its schema made current; None for files.

    The file store is made in :func:`makeService` (it creates directories);
    a database is reached here, so an unreachable one or a schema newer than
    this code stops the server at start with one line.
    """
    if not is_database(spec):
        if spec.strip().lower() != FILES:
            raise usage.UsageError(
                "--store must be 'files', a postgresql:// URI or a libpq 'key=value' string"
            )
        return None
    try:
        return open_store(spec, data, hash_params)
    except AccountError as e:
        raise usage.UsageError(f"--store: {e}") from None


def check_endpoint(option: str, description: str) -> None:
    """Parse *description* as twistd will, on a reactor that opens nothing.

    An ``ssl:`` description loads its key and certificate right here, so a
    missing file or a key that does not match the certificate stops the
    server at start with one line instead of a traceback.
    """
    try:
        serverFromString(MemoryReactor(), description)
    except ImportError as e:
        raise usage.UsageError(
            f"--{option} {description}: TLS needs pyOpenSSL and service_identity "
            f"(pip install 'twisted[tls]'): {e}"
        ) from None
    except Exception as e:  # OSError, OpenSSL errors, VerifyError, bad syntax: all one line
        reason = str(e) or type(e).__name__
        raise usage.UsageError(f"--{option} {description}: {reason}") from None


def makeService(options: Options) -> service.IService:
    """The game service plus the listening ports, stopped together by twistd."""
    top = service.MultiService()
    store: Store = options["account_store"] or FileStore(options["data"], options["hash_params"])
    code, settings = options["game_code"], options["settings"]
    host = None if code is None else GameHost(settings, code, options["world"], options["data"])
    game = GameService(
        options["settings"],
        store,
        rehash=not options["no-rehash"],
        presentation=options["presentation"],
        host=host,
    )
    if host is not None:
        try:
            host.start(game.game)
        except Exception as e:
            message = f"mudserver: --game {options['game']}: the game's set-up failed: {e}"
            raise SystemExit(message) from None
    game.game.bans = options["bans"]
    if options["shard"] is not None:
        from mudserver.shell.shard import Shard
        from mudserver.store.ownership import SAY_CHANNEL, TAKEOVER_CHANNEL, Listener, Ownership
        from mudserver.store.postgres import PostgresStore

        name, spec = options["shard"], options["store"]
        cluster_chat = options["say-scope"] == "cluster"
        channels = (TAKEOVER_CHANNEL, SAY_CHANNEL) if cluster_chat else (TAKEOVER_CHANNEL,)
        ownership = Ownership(spec, name)
        if isinstance(store, PostgresStore):
            # Saves land only while no other shard has claimed the account since.
            store.fenced = True
        game.shard = Shard(
            name,
            ownership,
            Listener(spec, channels),
            game.game,
            game.saves.saved,
            game.reactor,
            options["takeover-timeout"],
            cluster_chat=cluster_chat,
        )
        game.metrics.labels = {"shard": name}
    game.setServiceParent(top)
    if options["admin"] is not None:
        reactor: Any = game.reactor
        admin = AdminFactory(
            game.game,
            reactor,
            options["bans_path"],
            reactor.stop,
            reload=None if host is None else host.reload,
        )
        admin_service(admin, options["admin"]).setServiceParent(top)
    for description in options["ports"]:
        strports.service(description, game.factory).setServiceParent(top)
    if options["webs"]:
        from mudserver.shell.web import make_site  # autobahn is only needed for the web client

        site = make_site(game.factory)
        for description in options["webs"]:
            strports.service(description, site).setServiceParent(top)
    if options["metrics"]:
        site = server.Site(MetricsResource(game.metrics))
        site.noisy = False
        strports.service(options["metrics"], site).setServiceParent(top)
    return top
