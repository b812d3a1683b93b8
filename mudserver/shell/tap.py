"""``twistd mudserver``: command-line options and the service tree.

The plugin in ``twisted/plugins/mudserver_plugin.py`` points here; keeping
the work in this module lets ``twistd --help`` list plugins without importing
the server.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar

from twisted.application import service, strports
from twisted.internet.endpoints import serverFromString
from twisted.internet.testing import MemoryReactor
from twisted.python import usage
from twisted.web import server

from mudserver.account import AccountError
from mudserver.config import Presentation, SettingError, Settings, described, from_text
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

DEFAULT_PORT = "tcp:4000:backlog=1024"
DEFAULT_WEB = "tcp:4001"
#: What ``--shard`` accepts: it becomes a Prometheus label value and a log word.
SHARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")

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
        self._admin_options()
        self._shard_options()
        self["account_store"] = _open_store(
            self["store"], self["data"], self["hash_params"], fenced=self["shard"] is not None
        )
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
    top = service.MultiService()
    store: Store = options["account_store"] or FileStore(options["data"], options["hash_params"])
    shard = None
    if options["shard"] is not None:
        from mudserver.shell.shard import ShardSetup
        from mudserver.store.ownership import SAY_CHANNEL, TAKEOVER_CHANNEL, Listener, Ownership

        name, spec = options["shard"], options["store"]
        cluster_chat = options["say-scope"] == "cluster"
        channels = (TAKEOVER_CHANNEL, SAY_CHANNEL) if cluster_chat else (TAKEOVER_CHANNEL,)
        shard = ShardSetup(
            name,
            Ownership(spec, name),
            Listener(spec, channels),
            options["takeover-timeout"],
            cluster_chat,
        )
    code, settings = options["game_code"], options["settings"]
    host = None if code is None else GameHost(settings, code, options["world"], options["data"])
    game = GameService(
        options["settings"],
        store,
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
