"""The console's Twisted side and its command line, without a server process.

The AMP responders are called as AMP calls them; the console's paging runs
against them through a fake ``callRemote``; the twistd options that set up
the socket and the ban list are parsed as twistd parses them.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer, task
from twisted.protocols import amp
from twisted.python import usage

from mudserver.config import Settings
from mudserver.core.game import Game
from mudserver.shell import admincommands, adminsocket
from mudserver.shell.bankeeper import FileBans
from mudserver.shell.countdown import Countdown
from mudserver.shell.operations import Operations
from mudserver.shell.tap import Options
from mudserver.tools import admin as cli
from tests.support import REPO, TWISTD, free_port, running_server
from tests.test_game import SaveRecorder
from tests.test_moderation import login
from tests.wsclient import WsLineClient


class Console:
    """A client whose ``callRemote`` runs the server's responders in the same process."""

    def __init__(self, protocol: adminsocket.AdminProtocol) -> None:
        self.protocol = protocol

    def callRemote(self, command: type[amp.Command], **kwargs: Any) -> defer.Deferred[Any]:
        responder = self.protocol.locateResponder(command.commandName)
        assert responder is not None
        box = command.makeArguments(kwargs, self.protocol)
        answer = responder(box)
        return answer.addCallback(lambda box: command.parseResponse(box, self.protocol))


def make_admin(
    tmp_path: Path, players: int = 0
) -> tuple[adminsocket.AdminProtocol, Game, list[str]]:
    game = Game(Settings(), SaveRecorder())
    for i in range(players):
        login(game, f"p{i:04}", (i, 0, 0))
    saved: list[str] = []

    def save(path: Path, text: str) -> defer.Deferred[None]:
        saved.append(text)
        path.write_text(text)
        return defer.succeed(None)

    clock = task.Clock()
    clock.advance(1000)
    operations = Operations(game, clock, Countdown(game, clock, lambda: None))
    bans = FileBans(game, clock, tmp_path / "bans.json", save)
    desk: Any = None  # the account commands have tests of their own
    factory = adminsocket.AdminFactory(game, clock, operations, bans, desk)
    protocol = factory.buildProtocol(None)
    assert isinstance(protocol, adminsocket.AdminProtocol)
    return protocol, game, saved


def run(console: Console, *argv: str) -> tuple[Any, str]:
    result = cli.Console(console, cli.parse_args(list(argv))).run()  # type: ignore[arg-type]
    d = defer.ensureDeferred(result)
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    value = outcome[0]
    if hasattr(value, "raiseException"):
        value.raiseException()
    return value  # type: ignore[no-any-return]


def test_who_is_paged_under_amps_value_limit(tmp_path: Path) -> None:
    protocol, _, _ = make_admin(tmp_path, players=450)
    rows, text = run(Console(protocol), "who")
    assert [r["name"] for r in rows] == [f"p{i:04}" for i in range(450)]
    assert text.startswith("450 players online\n")
    # A page never asks for more than PAGE rows, whatever the client asks.
    page = protocol.who(offset=0, limit=10_000).result
    assert page["total"] == 450 and len(page["rows"]) == admincommands.PAGE
    box = admincommands.Who.makeResponse(page, protocol)
    assert len(box[b"rows"]) < 0xFFFF
    box.serialize()  # AMP refuses a value over 64 KiB here


def test_ban_is_saved_and_listed_and_lifted(tmp_path: Path) -> None:
    protocol, game, saved = make_admin(tmp_path, players=1)
    console = Console(protocol)
    result, text = run(console, "ban", "p0000", "--for", "15m", "being", "rude")
    assert text == "banned p0000 for 15m; disconnected p0000"
    assert result["ban"]["until"] == 1000 + 900
    assert game.player("p0000") is None
    assert '"target": "p0000"' in saved[-1]
    bans, text = run(console, "bans")
    assert [b["target"] for b in bans] == ["p0000"]
    assert "(being rude)" in text
    assert run(console, "unban", "p0000")[1] == "lifted the ban of p0000"
    assert '"bans": []' in saved[-1]
    with pytest.raises(cli.AdminError, match="is not banned"):
        run(console, "unban", "p0000")


def test_a_bad_ban_target_is_a_remote_error(tmp_path: Path) -> None:
    protocol, _, saved = make_admin(tmp_path)
    with pytest.raises(amp.RemoteAmpError, match="not an account name"):
        run(Console(protocol), "ban", "no!such")
    assert saved == []


def test_a_bad_countdown_is_a_remote_error(tmp_path: Path) -> None:
    protocol, _, _ = make_admin(tmp_path)
    with pytest.raises(amp.RemoteAmpError, match="0 to 86400 seconds"):
        run(Console(protocol), "shutdown", "--in", "inf")


def test_words_after_an_option_join_the_reason() -> None:
    args = cli.parse_args(["ban", "10.0.0.0/8", "--for", "2h", "spam", "bots"])
    assert (args.target, args.duration, args.reason) == ("10.0.0.0/8", "2h", ["spam", "bots"])
    assert cli.parse_args(["shutdown", "--in", "30", "new", "version"]).message == [
        "new",
        "version",
    ]
    with pytest.raises(SystemExit):
        cli.parse_args(["who", "extra"])


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (errno.ENOENT, "the server is not running"),
        (errno.ECONNREFUSED, "the server is not running"),
        (errno.EACCES, "permission denied"),
        (errno.ELOOP, "cannot connect"),
    ],
)
def test_connect_errors_are_told_in_words(
    monkeypatch: pytest.MonkeyPatch, error: int, says: str
) -> None:
    def refuse(self: socket.socket, address: object) -> None:
        raise OSError(error, "refused here")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    with pytest.raises(cli.AdminError, match=says):
        cli.connect("/nowhere/admin.sock")


# -- twistd options ---------------------------------------------------------------


def options(*argv: str) -> Options:
    parsed = Options()
    parsed.parseOptions(list(argv))
    return parsed


def test_the_admin_socket_defaults_to_the_data_directory(tmp_path: Path) -> None:
    parsed = options(f"--data={tmp_path}")
    assert parsed["admin"] == str(tmp_path / "admin.sock")
    assert options(f"--data={tmp_path}", "--admin=none")["admin"] is None
    assert len(parsed["bans"]) == 0


def test_make_service_listens_on_the_admin_socket_by_default(tmp_path: Path) -> None:
    from twisted.application.internet import StreamServerEndpointService
    from twisted.internet.endpoints import UNIXServerEndpoint

    from mudserver.shell.tap import makeService

    top = makeService(options(f"--data={tmp_path}", "--web=none"))
    (console,) = [
        s
        for s in top
        if isinstance(s, StreamServerEndpointService) and isinstance(s.endpoint, UNIXServerEndpoint)
    ]
    assert isinstance(console.factory, adminsocket.AdminFactory)
    assert console.endpoint._address == str(tmp_path / "admin.sock")
    assert console.endpoint._mode == 0o600


def test_a_socket_path_too_long_stops_the_server(tmp_path: Path) -> None:
    with pytest.raises(usage.UsageError, match="too long"):
        options(f"--data={tmp_path}", f"--admin={tmp_path / ('x' * 120)}")


def test_a_damaged_ban_list_stops_the_server(tmp_path: Path) -> None:
    (tmp_path / "bans.json").write_text("{not json")
    with pytest.raises(usage.UsageError, match="cannot read the ban list"):
        options(f"--data={tmp_path}")


def test_the_server_rejects_a_damaged_ban_list_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "bans.json").write_text('{"version": 1, "bans": [{"target": "a!"}]}')
    result = subprocess.run(
        [TWISTD, "-n", "--pidfile=", "mudserver", f"--data={tmp_path}", "--web=none"],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    said = result.stdout + result.stderr
    assert "cannot read the ban list" in said
    assert "Traceback" not in said


def test_a_banned_address_gets_bye_banned_over_websocket(tmp_path: Path) -> None:
    web = free_port()
    with running_server(tmp_path, f"--web=tcp:{web}:interface=127.0.0.1") as server:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mudserver.tools.admin",
                f"--data={server.data}",
                "ban",
                "127.0.0.1",
            ],
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            check=True,
            timeout=15,
        )
        with WsLineClient(server.host, web) as browser:
            assert browser.read_line() == "bye banned"


def test_shard_and_timeout_options_are_checked() -> None:
    args = cli.parse_args(["--shard=a", "--shard=b", "--timeout=2", "who"])
    assert (args.shards, args.timeout) == (["a", "b"], 2.0)
    for wrong in (["--shard=a", "accounts"], ["--shard=a", "ban", "x"], ["--timeout=0", "who"]):
        with pytest.raises(SystemExit):
            cli.parse_args(wrong)


def test_the_console_tries_the_named_shards_socket_first(tmp_path: Path) -> None:
    for name in ("admin-a.sock", "admin-b.sock"):
        (tmp_path / name).touch()
    assert [p.name for p in cli.candidates(tmp_path, ["b"])] == [
        "admin-b.sock",
        "admin.sock",
        "admin-a.sock",
    ]
    assert [p.name for p in cli.candidates(tmp_path, None)] == [
        "admin.sock",
        "admin-a.sock",
        "admin-b.sock",
    ]


def test_a_lone_server_refuses_shard_options(tmp_path: Path) -> None:
    protocol, _, _ = make_admin(tmp_path, players=1)
    with pytest.raises(amp.RemoteAmpError, match="not a shard"):
        run(Console(protocol), "--shard=a", "who")
    rows, text = run(Console(protocol), "who")
    assert "shard" not in rows[0] and text.startswith("1 player online\n")
