"""``twistd mudserver``: command-line options and the service tree.

The plugin in ``twisted/plugins/mudserver_plugin.py`` points here; keeping
the work in this module lets ``twistd --help`` list plugins without importing
the server.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from twisted.application import service, strports
from twisted.internet.endpoints import serverFromString
from twisted.internet.testing import MemoryReactor
from twisted.logger import Logger
from twisted.python import usage
from twisted.web import server

from mudserver.account import AccountError
from mudserver.config import Presentation, SettingError, Settings, described, from_text
from mudserver.core.game import Game
from mudserver.game.loader import GameCode, GameError, load
from mudserver.game.worldfile import WorldError
from mudserver.limits.bans import BanError, BanList
from mudserver.shell.accountdesk import AccountDesk
from mudserver.shell.adminsocket import AdminFactory, admin_service, socket_in_use, socket_name
from mudserver.shell.bankeeper import BanKeeper, FileBans, TableBans, read_bans
from mudserver.shell.countdown import Countdown
from mudserver.shell.gamehost import GameHost
from mudserver.shell.metrics import MetricsResource
from mudserver.shell.operations import Operations
from mudserver.shell.service import GameService
from mudserver.store.base import Store, StoreUnavailable
from mudserver.store.files import FileStore
from mudserver.store.passwords import ARGON2_MINIMUM, Argon2Params
from mudserver.store.spec import FILES, is_database, open_store

if TYPE_CHECKING:  # psycopg, behind shards, is an optional extra
    from mudserver.shell.relay import Relay

__all__ = ["Options", "makeService"]

_log = Logger()
DEFAULT_PORT = "tcp:4000:backlog=1024"
DEFAULT_WEB = "tcp:4001"
#: What ``--shard`` accepts: it becomes a Prometheus label value, a log word
#: and part of the admin socket's file name.
SHARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
#: The ban file in the data directory (with the file store).
BANS_FILE = "bans.json"

#: The options made from :mod:`mudserver.config`'s descriptions, one per setting.
_DESCRIBED = [*described(Settings), *described(Presentation)]


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
        [
            "admin",
            None,
            None,
            "UNIX socket of the operator's console (default DATA/admin.sock, or "
            "DATA/admin-NAME.sock for --shard NAME); 'none': off.",
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
    ] + [[d.option, None, d.default, d.help] for d in _DESCRIBED]

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
        try:
            self["settings"] = from_text(Settings, self)
            self["presentation"] = from_text(Presentation, self)
        except SettingError as e:
            raise usage.UsageError(e.option) from None
        self._shard_options()
        self["account_store"] = _open_store(
            self["store"], self["data"], self["hash_params"], fenced=self["shard"] is not None
        )
        self._claim_shard()  # after the store: its schema holds the table of shards
        self._ban_options()
        self._admin_options()
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
        if not is_database(self["store"]):
            raise usage.UsageError("--shard needs a PostgreSQL --store shared by the shards")

    def _claim_shard(self) -> None:
        """Hold the shard's name from here on: a second shard of the name stops in one line."""
        shard = self["shard"]
        if shard is None:
            return
        from mudserver.shell.cluster import NameTaken, claim_name

        try:
            self["claimed"] = claim_name(self["store"], shard, socket.gethostname())
        except (NameTaken, StoreUnavailable) as e:
            raise usage.UsageError(f"--shard {shard}: {e}") from None

    def _ban_options(self) -> None:
        """Read the bans: the ban file, or the store's table; stop with one line if damaged."""
        self["bans_path"] = Path(self["data"]) / BANS_FILE
        self["ban_table"] = None
        try:
            if self["account_store"] is None:
                self["bans"] = BanList.load(self["bans_path"])
                return
            from mudserver.store.bans import BanTable

            self["ban_table"] = table = BanTable(self["store"])
            self["bans"] = BanList(read_bans(table.load(), table.describe()))
        except (BanError, OSError, StoreUnavailable) as e:
            raise usage.UsageError(f"cannot read the ban list: {e}") from None

    def _admin_options(self) -> None:
        """Settle the admin socket's path, or stop with one line."""
        admin = self["admin"]
        if admin is not None and admin.lower() == "none":
            self["admin"] = None
            return
        path = os.path.abspath(admin or Path(self["data"]) / socket_name(self["shard"]))
        # sockaddr_un holds 108 bytes, the final NUL included.
        if len(os.fsencode(path)) > 107:
            raise usage.UsageError(f"--admin path is too long for a UNIX socket: {path}")
        pid = socket_in_use(path)
        if pid is not None:
            raise usage.UsageError(
                f"the admin socket {path} belongs to another running server (pid {pid}): "
                "give each server its own --data (or each shard its own --shard name)"
            )
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


def _open_store(
    spec: str, data: str, hash_params: Argon2Params, fenced: bool = False
) -> Store | None:
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
        return open_store(spec, data, hash_params, fenced)
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
    from twisted.internet import reactor as default_reactor  # installed by twistd by now

    reactor: Any = default_reactor
    top = service.MultiService()
    store: Store = options["account_store"] or FileStore(options["data"], options["hash_params"])
    code, settings = options["game_code"], options["settings"]
    host = None if code is None else GameHost(settings, code, options["world"], options["data"])

    def operations(game: Game) -> Operations:
        """The console's commands on this server's game (who, kick, ..., reload)."""
        countdown = Countdown(game, reactor, reactor.stop)
        return Operations(game, reactor, countdown, reload=None if host is None else host.reload)

    shard = console = None
    if options["shard"] is not None:
        from mudserver.shell.cluster import ShardConsole, shard_setup

        claimed = options["claimed"]
        console = ShardConsole(claimed[1], options["ban_table"], reactor, operations)
        shard = shard_setup(
            options["store"],
            claimed,
            options["takeover-timeout"],
            options["say-scope"] == "cluster",
            console,
        )
    game = GameService(
        options["settings"],
        store,
        reactor,
        rehash=not options["no-rehash"],
        presentation=options["presentation"],
        bans=options["bans"],
        shard=shard,
        host=host,
    )
    if host is not None:
        try:
            host.start(game.game)
        except Exception as e:
            message = f"mudserver: --game {options['game']}: the game's set-up failed: {e}"
            raise SystemExit(message) from None
    if options["ban_table"] is not None and options["bans_path"].exists():
        _log.warn(
            "{path} is not read with a PostgreSQL store: bans live in the database "
            "(mudserver-db copy moves them there)",
            path=options["bans_path"],
        )
    # A shard's console parts were made with its game (they handle what its
    # listener hears); a lone server's are made here.
    bans: BanKeeper
    relay: Relay | None = None
    if console is not None:
        ops, bans, relay = console.operations, console.bans, console.relay
    else:
        ops = operations(game.game)
        if options["ban_table"] is None:
            bans = FileBans(game.game, reactor, options["bans_path"])
        else:
            bans = TableBans(game.game, reactor, options["ban_table"])
    game.setServiceParent(top)
    if options["admin"] is not None:
        desk = AccountDesk(store, game.game, game.saves, game.logins, reactor, game.shard)
        admin = AdminFactory(game.game, reactor, ops, bans, desk, relay)
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
