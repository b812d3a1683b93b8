"""One description per server line: what the server formats, the clients read back.

``mudserver.wire.shapes`` describes each line's fields; the server's
formatters, the client library and the GMCP translator all go through it.
These tests hold the three to it: anything formatted reads back as the same
values, the hand-tuned hot formatters write exactly what the shape would,
and every typed message has the fields of its line.
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mudserver.client import parse
from mudserver.client.messages import TYPES, Ack, Said, Told, Unknown, WhoList
from mudserver.wire import replies
from mudserver.wire.encoding import split_line
from mudserver.wire.shapes import (
    COORD,
    COUNT,
    DEL,
    ENT,
    ID,
    POS,
    SENDER,
    SHAPES,
    SPEED,
    TEXT,
    WLK,
    Kind,
    Shape,
)

NUMBER = st.one_of(
    st.floats(-1e4, 1e4, allow_nan=False),
    st.sampled_from([0.0, -0.0, -0.001, -0.004, -0.005, -0.006, 0.005, -10.004]),
)
VALUES: dict[Kind, st.SearchStrategy[Any]] = {
    ID: st.integers(1, 2**63 - 1),
    SENDER: st.integers(0, 2**63 - 1),
    COUNT: st.integers(0, 10**6),
    COORD: NUMBER,
    SPEED: NUMBER.map(abs),
    TEXT: st.text(max_size=30) | st.sampled_from(["a,b", "100%", "%41", "-0.00", "\n"]),
}


def read_back(line: str) -> tuple[Any, ...]:
    assert line.endswith("\n") and "\n" not in line[:-1] and "\r" not in line
    raw = split_line(line[:-1])
    return SHAPES[raw.code].read(raw.args())


def expected(kind: Kind, value: Any) -> Any:
    """What a value is once it has been on the wire: coordinates to 0.01."""
    if kind in (COORD, SPEED):
        return float(f"{value:.2f}") + 0.0  # -0.00 arrives as 0.00
    return value


@st.composite
def shaped(draw: st.DrawFn) -> tuple[Shape, tuple[Any, ...]]:
    shape = draw(st.sampled_from(sorted(SHAPES.values(), key=lambda s: s.code)))
    values = tuple(draw(VALUES[kind]) for _, kind in shape.fields)
    if shape.tail is not None:
        values += tuple(draw(st.lists(VALUES[shape.tail[1]], max_size=4)))
    return shape, values


@given(shaped())
def test_every_line_reads_back_as_the_values_it_was_formatted_from(
    case: tuple[Shape, tuple[Any, ...]],
) -> None:
    shape, values = case
    got = read_back(shape.format(*values))
    fixed = len(shape.fields)
    want = tuple(expected(kind, v) for (_, kind), v in zip(shape.fields, values, strict=False))
    if shape.tail is not None:
        want += (tuple(expected(shape.tail[1], v) for v in values[fixed:]),)
    assert got == want


@st.composite
def entities(draw: st.DrawFn) -> SimpleNamespace:
    return SimpleNamespace(
        id=draw(VALUES[ID]),
        kind=draw(VALUES[TEXT]),
        name=draw(VALUES[TEXT]),
        x=draw(NUMBER),
        y=draw(NUMBER),
        z=draw(NUMBER),
        dest=(draw(NUMBER), draw(NUMBER), draw(NUMBER)),
        speed=draw(NUMBER.map(abs)),
    )


@given(entities())
def test_the_hot_formatters_write_what_their_shapes_say(e: SimpleNamespace) -> None:
    """pos, wlk and ent go through templates, del through an f-string: all as the shape."""
    assert replies.pos(e) == POS.format(e.id, e.x, e.y, e.z)
    assert replies.wlk(e) == WLK.format(e.id, e.x, e.y, e.z, *e.dest, e.speed)
    assert replies.ent(e) == ENT.format(e.id, e.kind, e.name, e.x, e.y, e.z)
    assert replies.delete(e.id) == DEL.format(e.id)


def test_a_name_that_holds_a_percent_or_minus_zero_is_sent_as_it_is() -> None:
    e = SimpleNamespace(id=7, kind="thing", name="100% -0.00", x=-0.001, y=1.0, z=0.0)
    assert replies.ent(e) == "ent 7,thing,100%25 -0.00,0.00,1.00,0.00\n"
    e.x = 2.0
    assert replies.ent(e) == "ent 7,thing,100%25 -0.00,2.00,1.00,0.00\n"


def test_every_typed_message_has_the_fields_of_its_line() -> None:
    assert set(TYPES) == set(SHAPES)
    for code, cls in TYPES.items():
        assert cls.code == code
        assert tuple(f.name for f in dataclasses.fields(cls)) == SHAPES[code].names, code


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "msg 7,signpost,North: the meadow%2C East: the well",
            Told(7, "signpost", "North: the meadow, East: the well"),
        ),
        ("msg 0,,welcome back", Told(0, "", "welcome back")),
        ("say 0,baz,from shard b", Said(0, "baz", "from shard b")),
        ("ack pwd", Ack("pwd")),
        ("who 3,2,bar,baz", WhoList(3, 2, ("bar", "baz"))),
        ("who 1,0", WhoList(1, 0, ())),
    ],
)
def test_the_new_lines_are_typed(line: str, message: object) -> None:
    assert parse(line) == message


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("msg -1,x,y", "not a sender id"),
        ("msg 1,x", "msg needs 3 arguments"),
        ("ack", "ack needs 1 arguments"),
        ("who 1,x", "not a count"),
    ],
)
def test_broken_new_lines_are_unknown(line: str, problem: str) -> None:
    message = parse(line)
    assert isinstance(message, Unknown) and message.problem is not None
    assert problem in message.problem


def test_a_shape_refuses_the_wrong_number_of_values() -> None:
    with pytest.raises(TypeError):
        POS.format(1, 2.0, 3.0)
    with pytest.raises(TypeError):
        POS.format(1, 2.0, 3.0, 4.0, 5.0)
    with pytest.raises(TypeError):
        ENT.bind(colour="red")
    assert math.isclose(POS.read(["1", "2.5", "0", "0", "extra"])[1], 2.5)
