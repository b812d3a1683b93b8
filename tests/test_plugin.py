"""The twistd plugin: discovery, command-line options, and the service tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IServiceMaker, MultiService
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.plugin import getPlugins
from twisted.python import usage

from mudserver.config import Presentation, Settings, command_line
from mudserver.shell import tap
from mudserver.shell.service import GameService

#: option -> (value given, Settings field, value expected); every limit once.
OPTIONS: dict[str, tuple[str, str, float | int]] = {
    "tick-rate": ("20", "tick_rate", 20.0),
    "speed": ("2.5", "speed", 2.5),
    "bounds": ("500", "bounds", 500.0),
    "idle-timeout": ("7.5", "idle_timeout", 7.5),
    "max-line": ("128", "max_line", 128),
    "max-output": ("9999", "max_output", 9999),
    "max-failed-logins": ("5", "max_failed_logins", 5),
    "autosave": ("12", "autosave", 12.0),
    "max-say": ("80", "max_say", 80),
    "close-grace": ("1.5", "close_grace", 1.5),
    "shutdown-timeout": ("4", "shutdown_timeout", 4.0),
    "line-rate": ("7.5", "line_rate", 7.5),
    "line-burst": ("9", "line_burst", 9),
    "flood-time": ("2.5", "flood_time", 2.5),
    "say-rate": ("0.5", "say_rate", 0.5),
    "say-burst": ("3", "say_burst", 3),
    "use-rate": ("4", "use_rate", 4.0),
    "use-burst": ("2", "use_burst", 2),
    "use-reach": ("3.5", "use_reach", 3.5),
    "max-player-data": ("1000", "max_player_data", 1000),
    "max-things": ("50", "max_things", 50),
    "hook-failures": ("5", "hook_failures", 5),
    "game-budget": ("0.5", "game_budget", 0.5),
    "max-connections": ("77", "max_connections", 77),
    "max-connections-per-ip": ("7", "max_connections_per_ip", 7),
    "login-failures-per-ip": ("4", "login_failures_per_ip", 4),
    "login-failures-per-account": ("2", "login_failures_per_account", 2),
    "login-window": ("30", "login_window", 30.0),
    "registration": ("closed", "registration", "closed"),
    "min-password": ("12", "min_password", 12),
    "signups-per-hour": ("10", "signups_per_hour", 10),
    "password-work": ("4", "password_work", 4),
    "signup-work": ("3", "signup_work", 3),
    "view-radius": ("50", "view_radius", 50.0),
    "max-in-view": ("20", "max_in_view", 20),
    "turn-interval": ("0.5", "turn_interval", 0.5),
    "say-radius": ("25", "say_radius", 25.0),
    "chat-spread": ("4", "chat_spread", 4),
    "mode": ("broadcast", "mode", "broadcast"),
}


def parse(*argv: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(argv))
    return options


def test_plugin_is_found() -> None:
    makers = {p.tapname: p for p in getPlugins(IServiceMaker)}
    assert "mudserver" in makers
    assert makers["mudserver"].options is tap.Options


def test_every_limit_is_an_option() -> None:
    assert {field for _, field, _ in OPTIONS.values()} == set(Settings.__dataclass_fields__)


def test_the_command_line_of_some_settings_gives_them_back() -> None:
    """What a benchmark passes to the servers it starts (config.command_line) is read
    back by the options into the same settings, and names only what differs."""
    chosen = Settings(view_radius=7.5, max_in_view=3, mode="broadcast", autosave=2.0)
    argv = command_line(chosen)
    assert sorted(argv) == [
        "--autosave=2.0",
        "--max-in-view=3",
        "--mode=broadcast",
        "--view-radius=7.5",
    ]
    assert parse(*argv)["settings"] == chosen


def test_defaults() -> None:
    options = parse()
    assert options["ports"] == ["tcp:4000:backlog=1024"]
    assert options["webs"] == ["tcp:4001"]
    assert options["data"] == "./data"
    assert options["settings"] == Settings()


def test_every_option_is_parsed() -> None:
    argv = ["--port", "tcp:0", "--data", "/srv/mud"]
    for option, (value, _, _) in OPTIONS.items():
        argv += [f"--{option}", value]
    options = parse(*argv)
    assert options["ports"] == ["tcp:0"]
    assert options["data"] == "/srv/mud"
    expected = Settings(**{field: value for _, field, value in OPTIONS.values()})
    assert options["settings"] == expected


def test_short_options() -> None:
    options = parse("-p", "tcp:1234", "-d", "elsewhere")
    assert (options["ports"], options["data"]) == (["tcp:1234"], "elsewhere")


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("value", ["abc", "", "1,5", "0x10"])
def test_non_number_is_refused(option: str, value: str) -> None:
    with pytest.raises(usage.UsageError):
        parse(f"--{option}", value)


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_is_refused(option: str, value: str) -> None:
    with pytest.raises(usage.UsageError):
        parse(f"--{option}", value)


@pytest.mark.parametrize(
    "option", sorted(set(OPTIONS) - {"say-radius", "turn-interval", "game-budget"})
)
@pytest.mark.parametrize("value", ["0", "-1"])
def test_zero_or_negative_is_refused(option: str, value: str) -> None:
    with pytest.raises(usage.UsageError):
        parse(f"--{option}", value)


def test_say_radius_zero_means_world_wide_and_negative_is_refused() -> None:
    assert parse("--say-radius", "0")["settings"].say_radius == 0
    with pytest.raises(usage.UsageError):
        parse("--say-radius", "-1")


@pytest.mark.parametrize("option", ["max-line", "max-output", "max-failed-logins", "max-say"])
def test_count_must_be_whole(option: str) -> None:
    with pytest.raises(usage.UsageError):
        parse(f"--{option}", "1.5")


def test_make_service(tmp_path: Path) -> None:
    options = parse(
        "--port",
        "tcp:0:interface=127.0.0.1",
        "--data",
        str(tmp_path / "data"),
        "--speed",
        "3",
        "--web",
        "none",
        "--admin",
        "none",
    )
    top = tap.makeService(options)
    assert isinstance(top, MultiService)
    assert not top.running
    children = list(top)
    games = [s for s in children if isinstance(s, GameService)]
    ports = [s for s in children if isinstance(s, StreamServerEndpointService)]
    assert len(games) == 1 and len(ports) == 1 and len(children) == 2
    game, port = games[0], ports[0]
    assert game.settings.speed == 3.0
    assert game.game.settings is game.settings
    assert game.store.users_dir == tmp_path / "data" / "users"
    assert port.factory is game.factory
    assert isinstance(port.endpoint, TCP4ServerEndpoint)
    assert port.endpoint._port == 0
    assert port.endpoint._interface == "127.0.0.1"
    assert not game.running and not port.running


def test_make_service_serves_the_web_client_by_default(tmp_path: Path) -> None:
    top = tap.makeService(parse("--data", str(tmp_path / "data"), "--admin", "none"))
    ports = [s for s in top if isinstance(s, StreamServerEndpointService)]
    assert len(ports) == 2


def test_presentation_options_reach_the_factory(tmp_path: Path) -> None:
    assert parse()["presentation"] == Presentation()
    options = parse(
        "--data",
        str(tmp_path / "data"),
        "--web",
        "none",
        "--name",
        "Test Mud",
        "--hostname",
        "mud.example.org",
        "--telnet-offer",
        "connect",
    )
    (game,) = [s for s in tap.makeService(options) if isinstance(s, GameService)]
    assert game.factory.presentation == Presentation("Test Mud", "mud.example.org", "connect")


@pytest.mark.parametrize(
    ("option", "value"),
    [("telnet-offer", "sometimes"), ("name", ""), ("name", "a\tb"), ("hostname", "x\ny")],
)
def test_bad_presentation_is_refused_in_one_line(option: str, value: str) -> None:
    with pytest.raises(usage.UsageError, match=f"^--{option} "):
        parse(f"--{option}", value)


def test_port_and_web_repeat_for_plain_and_tls_at_once(tmp_path: Path) -> None:
    from twisted.internet.endpoints import SSL4ServerEndpoint

    from tests.tlscert import make_certificate

    cert = make_certificate(tmp_path)
    tls = f"ssl:0:interface=127.0.0.1:privateKey={cert.key}:certKey={cert.cert}"
    options = parse(
        "--data",
        str(tmp_path / "data"),
        "--port=tcp:0:interface=127.0.0.1",
        f"--port={tls}",
        "--web=tcp:0:interface=127.0.0.1",
        f"--web={tls}",
        "--admin=none",
    )
    assert options["ports"] == ["tcp:0:interface=127.0.0.1", tls]
    top = tap.makeService(options)
    game = next(s for s in top if isinstance(s, GameService))
    ports = [s for s in top if isinstance(s, StreamServerEndpointService)]
    kinds = [type(p.endpoint) for p in ports]
    assert kinds.count(SSL4ServerEndpoint) == 2 and kinds.count(TCP4ServerEndpoint) == 2
    assert sum(p.factory is game.factory for p in ports) == 2
    web = [p.factory for p in ports if p.factory is not game.factory]
    assert web[0] is web[1]  # one site, two listeners


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--web=none", "--web=tcp:0"], "--web none cannot be combined"),
        (["--port=tcp:notaport"], "--port tcp:notaport"),
        (["--port=ssl:0:privateKey=/nonexistent/key.pem"], "No such file"),
        (["--metrics=bogus:1"], "--metrics bogus:1"),
    ],
)
def test_bad_endpoints_are_one_clear_line(argv: list[str], message: str) -> None:
    with pytest.raises(usage.UsageError, match=message):
        parse(*argv)


def test_hash_options_default_to_owasp_and_can_be_raised() -> None:
    from mudserver.store.passwords import ARGON2_MINIMUM, Argon2Params

    assert parse()["hash_params"] == ARGON2_MINIMUM
    raised = parse("--hash-time=3", "--hash-memory=65536", "--hash-parallelism=2")
    assert raised["hash_params"] == Argon2Params(time_cost=3, memory_cost=65536, parallelism=2)
    assert parse("--hash-time=5", "--hash-memory=7168")["hash_params"].memory_cost == 7168
    assert not parse()["no-rehash"] and parse("--no-rehash")["no-rehash"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--hash-time=1"],
        ["--hash-memory=8192"],
        ["--hash-memory=4096", "--hash-time=10"],
        ["--hash-time=0"],
        ["--hash-time=x"],
        ["--hash-parallelism=0"],
    ],
)
def test_hash_options_below_the_minimum_are_refused(argv: list[str]) -> None:
    with pytest.raises(usage.UsageError, match="--hash"):
        parse(*argv)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--signup-work=2"], "^--signup-work must be below --password-work"),
        (["--password-work=4", "--signup-work=4"], "^--signup-work must be below"),
        (["--registration=maybe"], "^--registration must be one of open, closed$"),
        (["--min-password=0"], "^--min-password must be a whole number, at least 1$"),
    ],
)
def test_sign_up_limits_that_cannot_work_stop_the_server_in_one_line(
    argv: list[str], message: str
) -> None:
    with pytest.raises(usage.UsageError, match=message):
        parse(*argv)


def test_one_hash_at_a_time_needs_sign_ups_closed() -> None:
    with pytest.raises(usage.UsageError, match=r"^--signup-work must be below"):
        parse("--password-work=1")
    settings = parse("--password-work=1", "--registration=closed")["settings"]
    assert (settings.password_work, settings.registration) == (1, "closed")
