"""Every tunable limit of the server, named and documented in one place.

The twistd plugin (:mod:`mudserver.shell.tap`) builds a :class:`Settings` from its
command-line options; tests build one directly with the values they need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Protocol versions this server speaks (the third argument of ``con``):
#: 1 sends every step of a walk, 2 the walk itself (``docs/protocol.md``).
PROTOCOL_VERSIONS = ("1", "2")

#: Values of :attr:`Settings.mode`.
MODES = ("interest", "broadcast")


@dataclass(frozen=True)
class Settings:
    """Limits and rates of a running server, with the shipped defaults."""

    #: World steps per second.  Each step moves players by ``speed * dt``.
    tick_rate: float = 10.0
    #: Walking speed of a player, in world units per second.
    speed: float = 5.0
    #: The world spans ``[-bounds, bounds]`` on each of x, y and z.
    bounds: float = 10_000.0
    #: Seconds without a received line before ``bye timeout``.
    idle_timeout: float = 15.0
    #: Longest accepted line in bytes, line ending excluded (``bye toolong``).
    max_line: int = 1024
    #: Unsent output bytes a client may accumulate before it is dropped.
    max_output: int = 256 * 1024
    #: Failed ``con`` attempts on one connection before ``bye badlogin``.
    max_failed_logins: int = 3
    #: Seconds between saves of players whose state changed.
    autosave: float = 30.0
    #: Longest ``say`` text, in characters after decoding.
    max_say: int = 500
    #: Seconds a closed connection may take to deliver its last lines before
    #: it is aborted (a client that stopped reading would otherwise linger).
    close_grace: float = 10.0
    #: Seconds ``stopService`` waits for pending saves before giving up.
    shutdown_timeout: float = 10.0
    #: Lines per second a client may send on average (``err toofast`` above it).
    line_rate: float = 20.0
    #: Lines a client may send at once before ``line_rate`` applies.
    line_burst: int = 40
    #: Seconds a client may stay over ``line_rate`` before ``bye flood``.
    flood_time: float = 5.0
    #: ``say`` and ``who`` lines per second a player may send on average.
    say_rate: float = 1.0
    #: ``say`` and ``who`` lines a player may send at once before ``say_rate`` applies.
    say_burst: int = 5
    #: ``use`` lines per second a player may send on average (``err toofast`` above it).
    use_rate: float = 2.0
    #: ``use`` lines a player may send at once before ``use_rate`` applies.
    use_burst: int = 5
    #: How near a thing must be, on the ground plane, for a player to use it
    #: (``err toofar`` beyond it).
    use_reach: float = 10.0
    #: Open connections the server accepts in total (``bye full`` above it).
    max_connections: int = 10_000
    #: Open connections the server accepts from one IP address.
    max_connections_per_ip: int = 50
    #: Failed logins from one IP address within ``login_window`` before
    #: further ``con`` from it get ``err toofast`` unchecked.
    login_failures_per_ip: int = 10
    #: Failed logins to one account within ``login_window`` before further
    #: ``con`` as it get ``err toofast`` unchecked.
    login_failures_per_account: int = 5
    #: Seconds over which failed logins are counted.
    login_window: float = 60.0
    #: How far a player sees, on the ground plane (x, y): it is told about
    #: entities within this distance only (``ent``/``pos``/``del``).
    view_radius: float = 100.0
    #: The most entities a player is told about besides itself, the nearest
    #: within the view radius: a crowd at one spot costs each client at most
    #: this many, not everybody (``docs/protocol.md``, section 5.1).
    max_in_view: int = 50
    #: Least seconds between two changes of a protocol-2 player's destination:
    #: a ``mov`` sooner than that takes effect when it is over (the last one
    #: counts), so a client re-aiming every tick costs one ``wlk`` per
    #: interval, not one per tick.  0 turns the limit off.
    turn_interval: float = 0.3
    #: How far a ``say`` carries on the ground plane; 0 means world-wide.
    say_radius: float = 0.0
    #: The most bytes a player's game data (``Player.data``) may take as JSON;
    #: a larger value is not saved (the log says so) and the last one that
    #: fitted is kept.
    max_player_data: int = 64 * 1024
    #: The most things (NPCs, creatures, objects) the game may have in the
    #: world at once; a spawn past it fails with a log line.
    max_things: int = 200_000
    #: Failures in a row after which a thing's hook is switched off (the thing stands).
    hook_failures: int = 3
    #: Seconds of game code in one tick above which the slowest kinds are
    #: logged (0: never).
    game_budget: float = 0.02
    #: ``interest`` tells each player about what is in view; ``broadcast``
    #: tells everybody everything (the old, quadratic way, kept to compare).
    mode: str = "interest"

    def __post_init__(self) -> None:
        for name in (
            "tick_rate",
            "speed",
            "bounds",
            "idle_timeout",
            "autosave",
            "close_grace",
            "shutdown_timeout",
            "line_rate",
            "flood_time",
            "say_rate",
            "use_rate",
            "use_reach",
            "login_window",
            "view_radius",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number")
        for name in ("say_radius", "turn_interval", "game_budget"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number, 0 or more")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        for name in (
            "max_line",
            "max_output",
            "max_failed_logins",
            "max_say",
            "line_burst",
            "say_burst",
            "use_burst",
            "max_connections",
            "max_connections_per_ip",
            "login_failures_per_ip",
            "login_failures_per_account",
            "max_in_view",
            "max_player_data",
            "max_things",
            "hook_failures",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


#: Values of :attr:`Presentation.telnet_offer`.
TELNET_OFFERS = ("asked", "connect")


@dataclass(frozen=True)
class Presentation:
    """How the TCP port presents the server to MUD clients and listing crawlers.

    Kept apart from :class:`Settings`, which holds only limits: these are
    names and a policy, not numbers to tune.
    """

    #: The server's name, as MSSP reports it (``NAME``).
    name: str = "mudserver"
    #: The host name MSSP reports (``HOSTNAME``); ``None`` leaves it out.
    hostname: str | None = None
    #: When the server offers its Telnet options (MSSP, GMCP): ``asked`` once
    #: the client asked for one of them (``IAC DO GMCP``), so ``nc`` and
    #: ``telnet`` users never see those bytes; ``connect`` at once, for a port
    #: only MUD clients use.
    telnet_offer: str = "asked"

    def __post_init__(self) -> None:
        for label, value in (("name", self.name), ("hostname", self.hostname or "x")):
            if not value or not value.isprintable() or "\t" in value:
                raise ValueError(f"{label} must be non-empty printable text without tabs")
        if self.telnet_offer not in TELNET_OFFERS:
            raise ValueError(f"telnet_offer must be one of {', '.join(TELNET_OFFERS)}")
