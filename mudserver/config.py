"""Every tunable setting of the server, described once, here.

Each field of :class:`Settings` (the limits and rates) and of
:class:`Presentation` (how the server presents itself to MUD clients) carries
its description in its metadata (:func:`setting`): the help text, the rule its
value must follow and the choices it allows.  Everything else is derived from
that one description:

* the ``twistd mudserver`` options (:mod:`mudserver.shell.tap`): one per field,
  named after it (``tick_rate`` is ``--tick-rate``), with its default and help;
* reading those options back from text (:func:`from_text`), with a refusal that
  names the option;
* the command line a benchmark gives the servers it starts
  (:func:`command_line`: the settings that differ from the defaults);
* the checks every instance passes, whoever builds it (tests build them
  directly with the values they need).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "MODES",
    "PROTOCOL_VERSIONS",
    "REGISTRATION",
    "TELNET_OFFERS",
    "Described",
    "Presentation",
    "Rule",
    "SettingError",
    "Settings",
    "command_line",
    "described",
    "from_text",
    "option_name",
    "setting",
]

#: Protocol versions this server speaks (the third argument of ``con``):
#: 1 sends every step of a walk, 2 the walk itself (``docs/protocol.md``).
PROTOCOL_VERSIONS = ("1", "2")

#: Values of :attr:`Settings.mode`.
MODES = ("interest", "broadcast")

#: Values of :attr:`Settings.registration`: whether strangers may sign up with ``new``.
REGISTRATION = ("open", "closed")

#: Values of :attr:`Presentation.telnet_offer`.
TELNET_OFFERS = ("asked", "connect")


class Rule(enum.Enum):
    """What a setting's value must be; the value is the end of the refusal's sentence."""

    POSITIVE = "must be a positive finite number"
    NOT_NEGATIVE = "must be a finite number, 0 or more"
    AT_LEAST_ONE = "must be a whole number, at least 1"
    CHOICE = "must be one of"
    TEXT = "must be non-empty printable text without tabs"
    ANY = ""


class SettingError(ValueError):
    """A setting's value breaks its rule; names the field, and the option it comes from."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.name = name
        self.reason = reason

    @property
    def option(self) -> str:
        """The refusal as the command line reads it: ``--tick-rate must be ...``."""
        return f"--{option_name(self.name)} {self.reason}"


def setting(default: Any, help: str, rule: Rule = Rule.ANY, choices: tuple[str, ...] = ()) -> Any:
    """A dataclass field described once: its default, its help text, its rule.

    ``help`` is what ``twistd mudserver --help`` shows, and ``choices`` the
    values a ``Rule.CHOICE`` setting accepts.
    """
    return dataclasses.field(
        default=default, metadata={"help": help, "rule": rule, "choices": choices}
    )


@dataclass(frozen=True)
class Described:
    """One setting as the options and the benchmark see it (see :func:`described`)."""

    #: The field's name (``tick_rate``) and the option's (``tick-rate``).
    name: str
    option: str
    default: Any
    #: What a value given as text is turned into (``float``, ``int``, ``str``).
    kind: type
    help: str
    rule: Rule
    choices: tuple[str, ...]


def option_name(name: str) -> str:
    """The option of field *name*: ``max_in_view`` is ``--max-in-view``."""
    return name.replace("_", "-")


def described(cls: type) -> list[Described]:
    """The settings of dataclass *cls*, as their descriptions say, in field order."""
    found = []
    for f in dataclasses.fields(cls):
        meta = f.metadata
        kind = str if f.default is None else type(f.default)
        found.append(
            Described(
                f.name,
                option_name(f.name),
                f.default,
                kind,
                meta["help"],
                meta["rule"],
                meta["choices"],
            )
        )
    return found


def _check(instance: Any) -> None:
    """Refuse *instance* (SettingError) if a value breaks the rule its field describes."""
    for d in described(type(instance)):
        value = getattr(instance, d.name)
        match d.rule:
            case Rule.POSITIVE:
                ok = math.isfinite(value) and value > 0
            case Rule.NOT_NEGATIVE:
                ok = math.isfinite(value) and value >= 0
            case Rule.AT_LEAST_ONE:
                ok = isinstance(value, int) and value >= 1
            case Rule.CHOICE:
                if value not in d.choices:
                    raise SettingError(d.name, f"{d.rule.value} {', '.join(d.choices)}")
                ok = True
            case Rule.TEXT:
                text = isinstance(value, str) and value.isprintable() and "\t" not in value
                ok = (value is None and d.default is None) or (text and value != "")
            case _:
                ok = True
        if not ok:
            raise SettingError(d.name, d.rule.value)


T = TypeVar("T")


def from_text(cls: type[T], values: Mapping[str, str | None]) -> T:
    """An instance of *cls* from option values as typed (by option name; missing: default).

    SettingError, naming the option, for a value that is not a number where
    one is wanted or that breaks its rule.
    """
    kwargs: dict[str, Any] = {}
    for d in described(cls):
        text = values.get(d.option, d.default)
        if text is None or d.kind is str:
            kwargs[d.name] = text
            continue
        try:
            kwargs[d.name] = d.kind(text)
        except (TypeError, ValueError):
            whole = " whole" if d.kind is int else ""
            raise SettingError(d.name, f"must be a{whole} number") from None
    return cls(**kwargs)


def command_line(instance: Any) -> list[str]:
    """``--option=value`` for every setting of *instance* that is not its default.

    What a benchmark gives a ``twistd mudserver`` it starts: the settings it
    chose, and nothing that would pin the server's own defaults.
    """
    return [
        f"--{d.option}={getattr(instance, d.name)}"
        for d in described(type(instance))
        if getattr(instance, d.name) != d.default
    ]


_POSITIVE, _NOT_NEGATIVE, _AT_LEAST_ONE = Rule.POSITIVE, Rule.NOT_NEGATIVE, Rule.AT_LEAST_ONE


@dataclass(frozen=True)
class Settings:
    """Limits and rates of a running server, with the shipped defaults."""

    tick_rate: float = setting(10.0, "World steps per second.", _POSITIVE)
    speed: float = setting(5.0, "Walking speed of a player, units per second.", _POSITIVE)
    bounds: float = setting(10_000.0, "The world spans -BOUNDS..BOUNDS on x, y and z.", _POSITIVE)
    idle_timeout: float = setting(
        15.0, "Seconds without a received line before 'bye timeout'.", _POSITIVE
    )
    max_line: int = setting(
        1024, "Longest line in bytes, line end excluded, before 'bye toolong'.", _AT_LEAST_ONE
    )
    max_output: int = setting(
        256 * 1024, "Unsent bytes a client may pile up before it is dropped.", _AT_LEAST_ONE
    )
    max_failed_logins: int = setting(
        3, "Failed logins on one connection before 'bye badlogin'.", _AT_LEAST_ONE
    )
    autosave: float = setting(30.0, "Seconds between saves of players that moved.", _POSITIVE)
    max_say: int = setting(500, "Longest say text, in characters after decoding.", _AT_LEAST_ONE)
    # A client that stopped reading would otherwise linger after its bye.
    close_grace: float = setting(
        10.0, "Seconds a closing client gets to read its last lines.", _POSITIVE
    )
    shutdown_timeout: float = setting(
        10.0, "Seconds shutdown waits for connections to close and saves to land.", _POSITIVE
    )
    line_rate: float = setting(
        20.0, "Lines per second a client may send on average ('err toofast').", _POSITIVE
    )
    line_burst: int = setting(40, "Lines a client may send at once.", _AT_LEAST_ONE)
    flood_time: float = setting(5.0, "Seconds over the line rate before 'bye flood'.", _POSITIVE)
    say_rate: float = setting(
        1.0, "say and who lines per second a player may send on average.", _POSITIVE
    )
    say_burst: int = setting(5, "say and who lines a player may send at once.", _AT_LEAST_ONE)
    use_rate: float = setting(
        2.0, "use lines per second a player may send on average ('err toofast').", _POSITIVE
    )
    use_burst: int = setting(5, "use lines a player may send at once.", _AT_LEAST_ONE)
    use_reach: float = setting(
        10.0,
        "How near a thing must be, on the ground plane, for a player to use it ('err toofar').",
        _POSITIVE,
    )
    max_connections: int = setting(
        10_000, "Open connections in total before 'bye full'.", _AT_LEAST_ONE
    )
    max_connections_per_ip: int = setting(
        50, "Open connections from one IP address before 'bye full'.", _AT_LEAST_ONE
    )
    login_failures_per_ip: int = setting(
        10, "Failed logins from one IP address per window before 'err toofast'.", _AT_LEAST_ONE
    )
    login_failures_per_account: int = setting(
        5, "Failed logins to one account per window before 'err toofast'.", _AT_LEAST_ONE
    )
    login_window: float = setting(60.0, "Seconds over which failed logins are counted.", _POSITIVE)
    registration: str = setting(
        "open",
        "Whether strangers may sign up with 'new': open, or closed ('err closed').",
        Rule.CHOICE,
        REGISTRATION,
    )
    min_password: int = setting(
        8,
        "Shortest password 'new' and 'pwd' accept, in characters ('err weakpass').",
        _AT_LEAST_ONE,
    )
    # Sign-up is the one command that writes on behalf of a stranger.
    signups_per_hour: int = setting(
        3, "Sign-ups one IP address may try per hour ('err toomany').", _AT_LEAST_ONE
    )
    # On as many threads: on a 2-core machine two hashes and the tick share the cores.
    password_work: int = setting(
        2,
        "Password hashes computed at once (logins, sign-ups, password changes); "
        "the others wait their turn, logins first.",
        _AT_LEAST_ONE,
    )
    signup_work: int = setting(
        1,
        "Of --password-work, the most sign-ups may take at once; below it (with "
        "--registration open), so that a flood of sign-ups never takes every one from logins.",
        _AT_LEAST_ONE,
    )
    view_radius: float = setting(
        100.0, "How far a player sees on the ground plane (x, y).", _POSITIVE
    )
    # A crowd at one spot costs each client this many entities, not everybody
    # (docs/protocol.md, section 5.1).
    max_in_view: int = setting(
        50, "Most entities a player is told about at once, the nearest first.", _AT_LEAST_ONE
    )
    # A client re-aiming every tick costs one wlk per interval, not one per tick.
    turn_interval: float = setting(
        0.3,
        "Least seconds between two changes of a protocol-2 player's destination "
        "(a sooner mov takes effect when it is over); 0: no limit.",
        _NOT_NEGATIVE,
    )
    say_radius: float = setting(
        0.0, "How far a say carries on the ground plane; 0: world-wide.", _NOT_NEGATIVE
    )
    # A world-wide say writes to every client at once; spread, the writes of one
    # tick become those of N, and idle clients hear it up to N - 1 ticks later.
    chat_spread: int = setting(
        1,
        "Ticks over which a world-wide say reaches the clients that hear nothing else "
        "meanwhile (each hears it no later than its turn, sooner if it is sent anything); "
        "1: everybody in the next tick.",
        _AT_LEAST_ONE,
    )
    # A larger value is not saved (the log says so); the last one that fitted is kept.
    max_player_data: int = setting(
        64 * 1024, "Most bytes of game data saved per player, as JSON.", _AT_LEAST_ONE
    )
    # A spawn past it fails with a log line.
    max_things: int = setting(
        200_000,
        "Most things (NPCs, creatures, objects) the game may have in the world at once.",
        _AT_LEAST_ONE,
    )
    # The thing stands, without the hook.
    hook_failures: int = setting(
        3, "Failures in a row after which a thing's hook is switched off.", _AT_LEAST_ONE
    )
    game_budget: float = setting(
        0.02,
        "Seconds of game code in one tick above which the slowest kinds are logged; 0: never.",
        _NOT_NEGATIVE,
    )
    # broadcast is the old, quadratic way, kept to compare.
    mode: str = setting(
        "interest",
        "interest (each player is told what is in view) or broadcast (everything).",
        Rule.CHOICE,
        MODES,
    )

    def __post_init__(self) -> None:
        _check(self)
        if self.registration == "open" and self.signup_work >= self.password_work:
            raise SettingError(
                "signup_work", "must be below --password-work: logins keep at least one"
            )


@dataclass(frozen=True)
class Presentation:
    """How the TCP port presents the server to MUD clients and listing crawlers.

    Kept apart from :class:`Settings`, which holds only limits: these are
    names and a policy, not numbers to tune.
    """

    name: str = setting(
        "mudserver", "The server's name, as MSSP tells MUD listing crawlers.", Rule.TEXT
    )
    hostname: str | None = setting(
        None, "The host name MSSP reports (left out when not given).", Rule.TEXT
    )
    # asked: nc and telnet users never see those bytes; connect: a port only
    # MUD clients use, as they expect.
    telnet_offer: str = setting(
        "asked",
        "When to offer MSSP and GMCP on --port: asked (once the client asked for one "
        "of them) or connect (at once).",
        Rule.CHOICE,
        TELNET_OFFERS,
    )

    def __post_init__(self) -> None:
        _check(self)
