"""Tests for mudserver.wire.commands: from a received line to a typed command or an error.

parse_command is the single gate for client input, so besides the examples
there is a property test that arbitrary text can only ever produce a command
or a CommandError with a client-facing code, never any other exception.
"""

from __future__ import annotations

import builtins
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mudserver.wire import commands
from mudserver.wire.commands import (
    Command,
    CommandError,
    Connect,
    Idle,
    Move,
    Quit,
    Say,
    Use,
    parse_command,
)
from mudserver.wire.encoding import enquote

BOUNDS = 10_000.0
MAX_SAY = 500


def parse(line: str, *, bounds: float = BOUNDS, max_say: int = MAX_SAY) -> Command:
    return parse_command(line, bounds=bounds, max_say=max_say)


def error_code(line: str, *, bounds: float = BOUNDS, max_say: int = MAX_SAY) -> str:
    with pytest.raises(CommandError) as info:
        parse(line, bounds=bounds, max_say=max_say)
    assert info.value.message  # the client is always told something
    return info.value.code


# -- well-formed commands ----------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("con foo,1234,1", Connect("foo", "1234", "1")),
        ("con a%2Cb,p%25w,1", Connect("a,b", "p%w", "1")),
        ("con foo,,1", Connect("foo", "", "1")),
        ("CON foo,1234,1", Connect("foo", "1234", "1")),
        ("mov 1,2,3", Move(1.0, 2.0, 3.0)),
        ("mov 1,-2.5,1e3", Move(1.0, -2.5, 1000.0)),
        ("mov +.5,-0,10000", Move(0.5, 0.0, 10_000.0)),
        ("mov 1, 2, 3", Move(1.0, 2.0, 3.0)),
        ("mov  1 , 2 , 3 ", Move(1.0, 2.0, 3.0)),
        ("mov -10000,10000,-10000", Move(-10_000.0, 10_000.0, -10_000.0)),
        ("MOV 1.6, 0.8, 0", Move(1.6, 0.8, 0.0)),
        ("Mov 1,2,3", Move(1.0, 2.0, 3.0)),
        ("say hi", Say("hi")),
        ("say hello, world", Say("hello, world")),
        ("say hello%2C world", Say("hello, world")),
        ("say 100% sure, mostly", Say("100% sure, mostly")),
        ("say 100%25 sure", Say("100% sure")),
        ("say  padded ", Say(" padded ")),
        ("SAY Hi", Say("Hi")),
        ("idl", Idle()),
        ("IDL", Idle()),
        ("bye", Quit()),
        ("BYE", Quit()),
        ("use 7", Use(7, "use", "")),
        ("use 7,read", Use(7, "read", "")),
        ("USE 7, Read ", Use(7, "read", "")),
        ("use 9,ask,where is the well?", Use(9, "ask", "where is the well?")),
        ("use 9,say,hello, world", Use(9, "say", "hello, world")),
        ("use 9,say,100%25 sure%2C yes", Use(9, "say", "100% sure, yes")),
        ("use 9,tell,", Use(9, "tell", "")),
    ],
)
def test_parses_into_typed_value(line: str, command: Command) -> None:
    assert parse(line) == command


@pytest.mark.parametrize(
    "line",
    [
        "use",
        "use ",
        "use x",
        "use 0",
        "use -3",
        "use 1.5",
        "use 99999999999999999999",
        "use 7,",
        "use 7,Read it",
        "use 7,r%2Cead",
        "use 7,a_very_long_verb_indeed",
        "use 7,9lives",
        "use 7,read," + "x" * (MAX_SAY + 1),
    ],
)
def test_a_malformed_use_is_badarg(line: str) -> None:
    assert error_code(line) == "badarg"


@given(
    st.integers(1, 2**63 - 1),
    st.from_regex(commands.VERB_RE, fullmatch=True),
    st.text(max_size=MAX_SAY),
)
def test_enquoted_use_arguments_are_decoded_exactly(target: int, verb: str, text: str) -> None:
    assert parse(f"use {target},{verb},{enquote(text)}") == Use(target, verb, text)


def test_numbers_with_spaces_are_accepted() -> None:
    assert parse("mov  1 , 2 ,3") == Move(1.0, 2.0, 3.0)
    assert parse("mov \t1\t,2,3") == Move(1.0, 2.0, 3.0)


@given(st.text(min_size=1, max_size=MAX_SAY))
def test_enquoted_say_text_is_decoded_exactly(text: str) -> None:
    assert parse("say " + enquote(text)) == Say(text)


@given(st.text(), st.text(), st.text())
def test_enquoted_con_arguments_are_decoded_exactly(name: str, password: str, ver: str) -> None:
    line = f"con {enquote(name)},{enquote(password)},{enquote(ver)}"
    assert parse(line) == Connect(name, password, ver)


_COORD = st.floats(min_value=-BOUNDS, max_value=BOUNDS, allow_nan=False)


@given(_COORD, _COORD, _COORD)
def test_mov_numbers_round_trip(x: float, y: float, z: float) -> None:
    assert parse(f"mov {x!r},{y!r},{z!r}") == Move(x, y, z)


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    ["con", "con ", "con foo", "con foo,1234", "con foo,1234,1,extra", "con a%2Cb,1"],
)
def test_con_with_wrong_arity_is_badarg(line: str) -> None:
    assert error_code(line) == "badarg"


@pytest.mark.parametrize(
    "line",
    ["mov", "mov ", "mov 1", "mov 1,2", "mov 1,2,3,4", "mov 1,2,3,", "MOV 1,2"],
)
def test_mov_with_wrong_arity_is_badarg(line: str) -> None:
    assert error_code(line) == "badarg"


@pytest.mark.parametrize(
    "number",
    [
        "a",
        "",
        " ",
        "1 2",
        "0x10",
        "1,5",
        "1.2.3",
        "--1",
        "nan",
        "NaN",
        "-nan",
        "inf",
        "-inf",
        "+inf",
        "Infinity",
        "-Infinity",
        "1e999",
        "-1e999",
        "1e309",
    ],
)
@pytest.mark.parametrize("slot", [0, 1, 2])
def test_mov_with_a_bad_number_is_badarg(number: str, slot: int) -> None:
    args = ["0", "0", "0"]
    args[slot] = enquote(number)
    assert error_code("mov " + ",".join(args)) == "badarg"


@pytest.mark.parametrize("value", ["10.001", "-10.001", "11", "1e4", "-10000"])
@pytest.mark.parametrize("slot", [0, 1, 2])
def test_mov_outside_bounds_is_badarg(value: str, slot: int) -> None:
    args = ["0", "0", "0"]
    args[slot] = value
    assert error_code("mov " + ",".join(args), bounds=10.0) == "badarg"


@pytest.mark.parametrize("value", ["10", "-10", "10.0", "-1e1", "0"])
def test_mov_on_the_bounds_is_accepted(value: str) -> None:
    assert parse(f"mov {value},{value},{value}", bounds=10.0) == Move(
        float(value), float(value), float(value)
    )


@pytest.mark.parametrize("digits", ["1" * 10_000, "0" * 10_000, " " * 9_999 + "1"])
def test_a_huge_number_is_badarg_without_calling_float(
    digits: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """float() on a 10,000-character string is wasted work; it must not be reached."""
    calls: list[object] = []

    def spy(value: object = 0.0) -> float:
        calls.append(value)
        return builtins.float(value)

    # A module global shadows the builtin for code in that module.
    monkeypatch.setattr(commands, "float", spy, raising=False)
    assert parse("mov 1,2,3") == Move(1.0, 2.0, 3.0)
    assert len(calls) == 3  # the spy is really what commands.py calls
    calls.clear()
    assert error_code(f"mov {digits},0,0") == "badarg"
    assert error_code(f"mov 0,0,{digits}") == "badarg"
    assert all(len(str(c)) <= commands.MAX_NUMBER_CHARS for c in calls)


@pytest.mark.parametrize(
    "line",
    ["jmp 1", "", " ", "mo", "movx 1,2,3", "m0v 1,2,3", " mov 1,2,3", "con\tfoo,1234,1", "wel"],
)
def test_unknown_code_is_badcmd(line: str) -> None:
    assert error_code(line) == "badcmd"


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999"])
def test_non_finite_numbers_are_badarg_even_with_infinite_bounds(value: str) -> None:
    assert error_code(f"mov {value},0,0", bounds=math.inf) == "badarg"


@pytest.mark.parametrize(("line", "command"), [("idl ", Idle()), ("bye ", Quit())])
def test_a_trailing_space_after_idl_or_bye_is_tolerated(line: str, command: Command) -> None:
    """A person typing ``bye `` still quits: an empty argument text is no argument."""
    assert parse(line) == command


@pytest.mark.parametrize("line", ["idl x", "idl 1", "IDL x", "bye now", "bye 1", "BYE x"])
def test_idl_and_bye_with_arguments_are_badarg(line: str) -> None:
    assert error_code(line) == "badarg"


@pytest.mark.parametrize("line", ["say", "say ", "SAY"])
def test_empty_say_is_badarg(line: str) -> None:
    assert error_code(line) == "badarg"


def test_say_length_is_limited_after_decoding() -> None:
    assert parse("say 12345", max_say=5) == Say("12345")
    assert error_code("say 123456", max_say=5) == "badarg"
    # Five escapes decode to five characters: within the limit.
    assert parse("say %25%25%25%25%25", max_say=5) == Say("%%%%%")
    assert error_code("say %25%25%25%25%25%25", max_say=5) == "badarg"
    assert parse("say " + "x" * MAX_SAY) == Say("x" * MAX_SAY)
    assert error_code("say " + "x" * (MAX_SAY + 1)) == "badarg"


def test_command_error_carries_code_and_message() -> None:
    with pytest.raises(CommandError) as info:
        parse("mov 1,2")
    assert info.value.code == "badarg"
    assert "3" in info.value.message


# -- arbitrary input -------------------------------------------------------------------

_LINES = st.one_of(
    st.text(),
    st.tuples(
        st.sampled_from(["con", "mov", "say", "idl", "bye", "MOV", "Say", "xyz", ""]),
        st.sampled_from([" ", "", "  "]),
        st.lists(
            st.one_of(
                st.text(max_size=40),
                st.floats().map(repr),
                st.sampled_from(["nan", "inf", "1e999", "1" * 40, "%2C", "%"]),
            ),
            max_size=5,
        ).map(",".join),
    ).map("".join),
)


@given(_LINES)
def test_arbitrary_text_gives_a_command_or_a_client_error(line: str) -> None:
    try:
        command = parse(line, bounds=100.0, max_say=50)
    except CommandError as e:
        assert e.code in {"badcmd", "badarg"}
        assert isinstance(e.message, str) and e.message
    else:
        assert isinstance(command, Connect | Move | Say | Idle | Quit)
        if isinstance(command, Move):
            for value in (command.x, command.y, command.z):
                assert math.isfinite(value) and -100.0 <= value <= 100.0
        if isinstance(command, Say):
            assert 1 <= len(command.text) <= 50
