"""The session's state machine, cell by cell: every state × every command.

The cases are generated from :data:`~mudserver.core.session.TRANSITIONS` and
the command union, so a command added to the protocol without a row in the
table, or a cell the code does not honour, fails here.  What is asserted is
what a client would read, plus the state the session ends in.
"""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from mudserver.account import Account
from mudserver.config import Settings
from mudserver.core.admission import LoginAttempt, PasswordChange, SignUpAttempt
from mudserver.core.game import Game
from mudserver.core.session import TRANSITIONS, Action, Session, State
from mudserver.wire.commands import (
    ChangePassword,
    Command,
    Connect,
    Idle,
    Move,
    Quit,
    Say,
    SignUp,
    Use,
    Who,
)

#: One well-formed line per command class.
LINES: dict[type, bytes] = {
    Connect: b"con foo,1234,2",
    SignUp: b"new baz,long enough,2",
    ChangePassword: b"pwd 1234,long enough",
    Move: b"mov 3,4,0",
    Say: b"say hello",
    Idle: b"idl",
    Quit: b"bye",
    Who: b"who",
    Use: b"use 7,read",
}

COMMANDS = typing.get_args(Command)


class ListPeer:
    """The connection: what the client would read, line by line."""

    def __init__(self) -> None:
        self.received: list[str] = []

    def send(self, text: str) -> None:
        self.received.extend(text.splitlines())

    def close(self) -> None:
        self.received.append("(closed)")


def test_every_state_has_a_cell_for_every_command() -> None:
    assert set(TRANSITIONS) == set(State)
    for state, row in TRANSITIONS.items():
        assert set(row) == set(COMMANDS), state
    assert set(LINES) == set(COMMANDS)


def in_state(state: State) -> tuple[Game, Session, ListPeer]:
    """A session brought to *state* the way a client would bring it there."""
    game = Game(Settings(), lambda account: None)
    peer = ListPeer()
    session = Session(game, peer, "test", host="10.0.0.1")
    if state is not State.NEW:
        assert session.line_received(b"con foo,1234,1", 1.0) == LoginAttempt("foo", "1234")
    if state in (State.PLAYING, State.CLOSED):
        session.login_checked(Account("foo", {}))
    if state is State.CLOSED:
        session.close("quit")
    game.tick(0.1)
    peer.received.clear()
    assert session.state is state
    return game, session, peer


CELLS = [
    pytest.param(state, command, id=f"{state.value}-{command.__name__}")
    for state in State
    for command in COMMANDS
]


@pytest.mark.parametrize(("state", "command"), CELLS)
def test_each_cell_does_what_the_table_says(state: State, command: type) -> None:
    game, session, peer = in_state(state)
    action, after = TRANSITIONS[state][command]
    attempt = session.line_received(LINES[command], 2.0)
    game.tick(0.1)
    seen = peer.received
    assert session.state is after
    work = (Action.LOGIN, Action.SIGN_UP, Action.CHANGE_PASSWORD)
    assert (attempt is not None) == (action in work)
    match action:
        case Action.LOGIN:
            assert attempt == LoginAttempt("foo", "1234") and session.version == "2"
            assert seen == []
        case Action.SIGN_UP:
            assert attempt == SignUpAttempt("baz", "long enough") and session.version == "2"
            assert seen == []
        case Action.CHANGE_PASSWORD:
            assert attempt == PasswordChange("foo", "1234", "long enough")
            assert seen == []
        case Action.WALK:
            assert session.entity is not None and session.entity.dest == (3.0, 4.0, 0.0)
            assert seen == ["pos 1,0.30,0.40,0.00"]
        case Action.SAY:
            assert seen == ["say 1,foo,hello"]
        case Action.WHO:
            assert seen == ["who 1,0"]
        case Action.USE:  # a world without a game's things: nothing to use
            assert seen == ["err nosuch,there is no thing 7 here"]
        case Action.NOTHING:
            assert seen == []
        case Action.QUIT:
            assert seen == ["bye quit", "(closed)"]
        case Action.NOT_LOGGED:
            assert [line.split(",")[0] for line in seen] == ["err notlogged"]
        case Action.ALREADY:
            assert [line.split(",")[0] for line in seen] == ["err already"]


def test_a_refused_con_leaves_the_state_as_it_was() -> None:
    _, session, peer = in_state(State.NEW)
    assert session.line_received(b"con foo,1234,7", 1.0) is None
    assert peer.received == ["err badproto,this server speaks protocol 1 and 2"]
    assert session.state is State.NEW


def test_the_login_verdict_moves_checking_on() -> None:
    game, session, peer = in_state(State.CHECKING)
    session.login_checked(None)
    assert session.state is State.NEW
    assert peer.received == ["err badlogin,unknown user or wrong password"]
    assert session.line_received(b"con foo,1234,2", 5.0) is not None
    session.login_checked(Account("foo", {}))
    assert session.state is State.PLAYING and len(game) == 1


def test_rate_limits_apply_to_every_line() -> None:
    """No untimed mode: a burst of say lines at one instant is cut at the say burst."""
    game, session, peer = in_state(State.PLAYING)
    for i in range(8):
        session.line_received(f"say {i}".encode(), 10.0)
    game.tick(0.1)
    said = [line for line in peer.received if line.startswith("say ")]
    errors = [line for line in peer.received if line.startswith("err toofast")]
    assert said == [f"say 1,foo,{i}" for i in range(game.settings.say_burst)]
    assert len(errors) == 8 - game.settings.say_burst


def test_section_9_of_the_protocol_document_is_the_same_table() -> None:
    """docs/protocol.md says in prose what TRANSITIONS says in code, cell by cell."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
    section = text[text.index("## 9. State machine") : text.index("## 10. Limits")]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    header = next(line for line in section.splitlines() if line.startswith("| Command"))
    states = [State[name.strip()] for name in header.strip("|").split("|")[1:]]
    codes = {
        Connect: "con",
        SignUp: "new",
        ChangePassword: "pwd",
        Move: "mov",
        Say: "say",
        Idle: "idl",
        Quit: "bye",
        Who: "who",
        Use: "use",
    }
    assert set(codes) == set(COMMANDS)
    documented = {}
    for row in rows:
        code, *cells = (cell.strip() for cell in row.strip("|").split("|"))
        command = next(c for c, name in codes.items() if f"`{name}`" == code)
        for state, cell in zip(states, cells, strict=True):
            action, _, after = cell.partition(" → ")
            documented[state, command] = (Action(action), State[after] if after else state)
    assert documented == {
        (state, command): cell
        for state, row in TRANSITIONS.items()
        for command, cell in row.items()
    }


def test_one_password_change_at_a_time() -> None:
    """A transport that feeds lines while a pwd is checked gets err toofast for a second."""
    _, session, peer = in_state(State.PLAYING)
    assert session.line_received(b"pwd 1234,long enough", 2.0) is not None
    assert session.line_received(b"pwd 1234,other enough", 2.0) is None
    assert [line.split(",")[0] for line in peer.received] == ["err toofast"]
    session.password_changed({"new": "record"})
    assert peer.received[-1] == "ack pwd" and session.state is State.PLAYING
    assert session.account is not None and session.account.password == {"new": "record"}
    assert session.line_received(b"pwd long enough,third one!", 3.0) is not None
