"""Tests for mudserver.wire.encoding: the escaping and framing of protocol lines.

Both ends of a connection rely on ``dequote(enquote(s)) == s`` and on enquoted
text never carrying a separator or a line end, so these are checked as
properties over arbitrary text as well as on the examples of docs/protocol.md.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mudserver.wire.encoding import RawLine, dequote, enquote, format_line, split_line

#: Any Unicode scalar value (no surrogates), with the characters the codec
#: cares about drawn often enough that nearly every example contains some.
_SPECIAL = st.sampled_from(["%", ",", "\n", "\r", "\x00", "\x1f", "\x7f", "%2C", "%41", "%zz"])
_CHARS = st.characters(exclude_categories=("Cs",))
TEXT = st.lists(st.one_of(_CHARS, _SPECIAL)).map("".join)

#: What must never appear raw in an enquoted argument (docs/protocol.md §3).
_FORBIDDEN = re.compile(r"[,\x00-\x1f\x7f]")


# -- enquote / dequote ----------------------------------------------------------


@given(TEXT)
def test_dequote_undoes_enquote(text: str) -> None:
    assert dequote(enquote(text)) == text


@given(st.text())
def test_dequote_undoes_enquote_plain_text_strategy(text: str) -> None:
    assert dequote(enquote(text)) == text


@given(TEXT)
def test_enquote_output_has_no_separator_or_control_char(text: str) -> None:
    quoted = enquote(text)
    assert _FORBIDDEN.search(quoted) is None
    assert "\n" not in quoted and "\r" not in quoted and "," not in quoted


@given(TEXT)
def test_every_percent_in_enquote_output_starts_an_uppercase_escape(text: str) -> None:
    quoted = enquote(text)
    assert quoted.count("%") == len(re.findall(r"%[0-9A-F]{2}", quoted))


@given(st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="%,")))
def test_enquote_leaves_ordinary_text_alone(text: str) -> None:
    """Non-control, non-ASCII characters are sent as themselves (spec §3)."""
    assert enquote(text) == text


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("100% sure, 5\n", "100%25 sure%2C 5%0A"),
        ("a,b", "a%2Cb"),
        ("\r\n", "%0D%0A"),
        ("\x00", "%00"),
        ("\x1b[31m", "%1B[31m"),
        ("\x7f", "%7F"),
        ("%41", "%2541"),
        ("é ü 日本", "é ü 日本"),
        ("", ""),
    ],
)
def test_enquote_examples(text: str, quoted: str) -> None:
    assert enquote(text) == quoted
    assert dequote(quoted) == text


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("100%", "100%"),
        ("%zz", "%zz"),
        ("%4", "%4"),
        ("%", "%"),
        ("%%", "%%"),
        ("%g1", "%g1"),
        ("100% sure", "100% sure"),
        ("%2c", ","),
        ("%2C", ","),
        ("%0a%0D", "\n\r"),
        ("%e9", "é"),
        ("%E9", "é"),
        ("%C3%A9", "Ã©"),
        ("%2541", "%41"),
        ("%%41", "%A"),
        ("no escapes at all", "no escapes at all"),
    ],
)
def test_dequote_examples(text: str, plain: str) -> None:
    assert dequote(text) == plain


# -- format_line / split_line ------------------------------------------------------


@given(st.lists(TEXT))
def test_format_line_then_split_line_gives_back_the_args(args: list[str]) -> None:
    line = format_line("abc", *args)
    assert line.endswith("\n")
    body = line[:-1]
    assert "\n" not in body and "\r" not in body
    raw = split_line(body)
    assert raw.code == "abc"
    assert raw.args() == args


@given(st.lists(st.one_of(st.integers(), st.floats(allow_nan=False), TEXT)))
def test_format_line_passes_non_strings_through_str(args: list[object]) -> None:
    raw = split_line(format_line("abc", *args)[:-1])
    assert raw.args() == [str(a) for a in args]


def test_format_line_examples() -> None:
    assert format_line("idl") == "idl\n"
    assert format_line("say", 2, "bar", "hello, world") == "say 2,bar,hello%2C world\n"
    assert format_line("err", "badarg", "x,y") == "err badarg,x%2Cy\n"
    assert format_line("abc", "") == "abc \n"


def test_no_args_and_one_empty_arg_are_told_apart() -> None:
    assert split_line(format_line("abc")[:-1]).args() == []
    assert split_line(format_line("abc", "")[:-1]).args() == [""]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("say", RawLine("say", None)),
        ("say ", RawLine("say", "")),
        ("say hi", RawLine("say", "hi")),
        ("SAY Hi There", RawLine("say", "Hi There")),
        ("MoV 1,2,3", RawLine("mov", "1,2,3")),
        ("say a  b ", RawLine("say", "a  b ")),
        (" mov 1", RawLine("", "mov 1")),
        ("", RawLine("", None)),
    ],
)
def test_split_line(line: str, expected: RawLine) -> None:
    assert split_line(line) == expected


def test_split_line_args_are_split_at_commas_and_dequoted() -> None:
    assert split_line("con a%2Cb,p%25w,1").args() == ["a,b", "p%w", "1"]
    assert split_line("mov 1,,3").args() == ["1", "", "3"]
    assert split_line("say").args() == []
    assert split_line("say ").args() == [""]
