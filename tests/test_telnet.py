"""TelnetFilter: control sequences vanish wherever they are and however split."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mudserver.wire.telnet import DO, DONT, IAC, SB, SE, WILL, WONT, TelnetFilter

#: Data a client means: anything but 0xFF, which Telnet would have to escape,
#: rich in the bytes that matter here (CR, NUL, LF).
plain = (
    st.lists(st.one_of(st.sampled_from([b"\r", b"\x00", b"\n", b"say hi"]), st.binary(max_size=8)))
    .map(b"".join)
    .map(lambda b: b.replace(b"\xff", b""))
)


@st.composite
def control_sequence(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """One Telnet control sequence and the reply the filter owes for it."""
    kind = draw(st.sampled_from(["option", "command", "escaped", "sub"]))
    if kind == "option":
        verb = draw(st.sampled_from([DO, DONT, WILL, WONT]))
        option = draw(st.integers(0, 255))
        reply = {DO: bytes([IAC, WONT, option]), WILL: bytes([IAC, DONT, option])}
        return bytes([IAC, verb, option]), reply.get(verb, b"")
    if kind == "command":
        # SE, NOP, DM, BRK, IP, AO, AYT, EC, EL, GA
        return bytes([IAC, draw(st.integers(SE, 249))]), b""
    if kind == "escaped":
        return bytes([IAC, IAC]), b""
    body = draw(st.binary(max_size=20)).replace(b"\xff", b"\xff\xff")
    return bytes([IAC, SB]) + body + bytes([IAC, SE]), b""


def feed_all(chunks: list[bytes]) -> tuple[bytes, bytes]:
    f = TelnetFilter()
    clean, replies = b"", b""
    for chunk in chunks:
        c, r = f.feed(chunk)
        clean, replies = clean + c, replies + r
    assert not f.pending
    return clean, replies


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@given(
    plain,
    st.lists(st.tuples(st.integers(0, 200), control_sequence()), max_size=6),
    st.lists(st.integers(0, 10_000), max_size=8),
)
def test_sequences_anywhere_and_splits_anywhere_change_nothing(
    data: bytes, inserts: list[tuple[int, tuple[bytes, bytes]]], cuts: list[int]
) -> None:
    placed = sorted(((at % (len(data) + 1), seq) for at, seq in inserts), key=lambda p: p[0])
    stream, expected_replies, previous = b"", b"", 0
    for at, (sequence, reply) in placed:
        stream += data[previous:at] + sequence
        expected_replies += reply
        previous = at
    stream += data[previous:]

    clean, replies = feed_all(split(stream, cuts))

    assert clean == data.replace(b"\r\x00", b"\r")
    assert replies == expected_replies


@given(st.binary(max_size=300), st.lists(st.integers(0, 10_000), max_size=8))
def test_clean_bytes_never_contain_iac(data: bytes, cuts: list[int]) -> None:
    f = TelnetFilter()
    for chunk in split(data, cuts):
        clean, _ = f.feed(chunk)
        assert b"\xff" not in clean


def test_plain_lines_pass_through_untouched() -> None:
    assert TelnetFilter().feed(b"con foo,1234,1\r\nmov 1,2,3\n") == (
        b"con foo,1234,1\r\nmov 1,2,3\n",
        b"",
    )


def test_ctrl_c_from_telnet_in_the_middle_of_a_line() -> None:
    # What Debian's telnet sends for Ctrl-C: IAC IP, IAC DO TIMING-MARK.
    f = TelnetFilter()
    assert f.feed(b"say hel") == (b"say hel", b"")
    assert f.feed(b"\xff\xf4\xff\xfd") == (b"", b"")
    assert f.pending
    assert f.feed(b"\x06lo\r\n") == (b"lo\r\n", bytes([IAC, WONT, 6]))


def test_refusals_and_no_answer_to_refusals() -> None:
    f = TelnetFilter()
    clean, replies = f.feed(bytes([IAC, WILL, 24, IAC, DO, 1, IAC, DONT, 3, IAC, WONT, 5]))
    assert clean == b""
    assert replies == bytes([IAC, DONT, 24, IAC, WONT, 1])


def test_bare_carriage_return_across_packets() -> None:
    f = TelnetFilter()
    assert f.feed(b"abc\r") == (b"abc\r", b"")
    assert f.feed(b"\x00def\x00") == (b"def\x00", b"")


def test_subnegotiation_is_dropped_even_with_escaped_iac() -> None:
    f = TelnetFilter()
    sub = bytes([IAC, SB, 24, 0]) + b"xterm\xff\xff" + bytes([IAC, SE])
    assert f.feed(b"id" + sub + b"l\n") == (b"idl\n", b"")


def test_a_nul_after_cr_nul_across_packets_is_kept() -> None:
    """Found by hypothesis: the CR of a CR NUL must not swallow the next packet's NUL."""
    assert feed_all([b"\r\x00", b"\x00"])[0] == b"\r\x00"
    assert feed_all([b"\r", b"\x00\x00"])[0] == b"\r\x00"
