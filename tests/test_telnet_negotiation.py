"""TelnetFilter with options: RFC 1143 negotiation of MSSP and GMCP, sans-IO.

tests/test_telnet.py covers the filter without options (strip and refuse
everything); here it supports MSSP and GMCP on its side, as the server's does.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mudserver.wire.telnet import (
    DO,
    DONT,
    GMCP,
    IAC,
    MSSP,
    NOP,
    SE,
    WILL,
    WONT,
    Disabled,
    Enabled,
    Q,
    Subnegotiation,
    TelnetFilter,
    subnegotiation,
)

OPTIONS = (MSSP, GMCP)


def server(**kwargs: object) -> TelnetFilter:
    return TelnetFilter(OPTIONS, **kwargs)  # type: ignore[arg-type]


def cmd(verb: int, option: int) -> bytes:
    return bytes([IAC, verb, option])


#: What the filter may ever send: negotiation commands, nothing else.
REPLY = re.compile(rb"(\xff[\xfb-\xfe].)*", flags=re.S)


# -- the plain cases -----------------------------------------------------------------


def test_no_telnet_from_the_client_means_no_telnet_to_it() -> None:
    f = server()
    assert f.start() == b""
    assert f.receive(b"con foo,1234,1\nmov 1,2,3\n") == (b"con foo,1234,1\nmov 1,2,3\n", b"", [])


def test_telnet_of_other_options_brings_no_offer() -> None:
    """What Debian's telnet may send: it gets its refusals and nothing more."""
    f = server()
    data, replies, events = f.receive(
        b"abc" + bytes([IAC, NOP]) + cmd(WILL, 24) + cmd(DO, 3) + subnegotiation(24, b"x") + b"d"
    )
    assert (data, replies, events) == (b"abcd", cmd(DONT, 24) + cmd(WONT, 3), [])
    assert f.state(MSSP) is Q.NO and f.state(GMCP) is Q.NO


def test_asking_for_one_option_brings_the_offer_of_the_other_once() -> None:
    f = server()
    data, replies, events = f.receive(b"abc" + cmd(DO, MSSP) + b"def")
    assert data == b"abcdef"
    assert replies == cmd(WILL, MSSP) + cmd(WILL, GMCP)
    assert events == [Enabled(MSSP)]
    assert f.state(GMCP) is Q.WANTYES
    # Only once, however the client goes on.
    assert f.receive(cmd(DONT, GMCP) + cmd(DO, GMCP)).replies == cmd(WILL, GMCP)
    assert f.enabled(GMCP)


def test_a_stray_ff_byte_or_an_escaped_one_changes_nothing() -> None:
    f = server()
    assert f.receive(b"\xff,x\xff\xffy\n") == (b"xy\n", b"", [])


def test_offer_at_connect() -> None:
    f = server(offer_at_connect=True)
    assert f.start() == cmd(WILL, MSSP) + cmd(WILL, GMCP)
    assert f.start() == b""
    # The client accepts one and refuses the other: nothing more to say.
    assert f.receive(cmd(DO, GMCP) + cmd(DONT, MSSP)) == (b"", b"", [Enabled(GMCP)])
    assert f.enabled(GMCP) and not f.enabled(MSSP)


def test_client_asks_first_and_gets_the_other_offer() -> None:
    f = server()
    _, replies, events = f.receive(cmd(DO, GMCP))
    assert replies == cmd(WILL, GMCP) + cmd(WILL, MSSP)
    assert events == [Enabled(GMCP)]
    # A client that acknowledges our agreement is not answered again.
    assert f.receive(cmd(DO, GMCP)).replies == b""


def test_an_option_the_client_refused_first_is_not_offered() -> None:
    f = server()
    assert f.receive(cmd(DONT, GMCP)).replies == cmd(WILL, MSSP)


def test_unsupported_options_are_still_refused() -> None:
    f = server(offer_at_connect=True)
    f.start()
    replies = f.receive(cmd(DO, 1) + cmd(WILL, 24) + cmd(WILL, GMCP) + cmd(WONT, 3)).replies
    # GMCP is ours to offer, not the client's: its WILL is refused like any.
    assert replies == cmd(WONT, 1) + cmd(DONT, 24) + cmd(DONT, GMCP)


def test_dont_after_yes_turns_it_off_once() -> None:
    f = server()
    f.receive(cmd(DO, GMCP))
    assert f.receive(cmd(DONT, GMCP)) == (b"", cmd(WONT, GMCP), [Disabled(GMCP)])
    assert f.receive(cmd(DONT, GMCP)) == (b"", b"", [])
    # And on again when asked.
    assert f.receive(cmd(DO, GMCP)) == (b"", cmd(WILL, GMCP), [Enabled(GMCP)])


def test_queued_disable_while_enabling() -> None:
    """RFC 1143: asking for the opposite mid-negotiation is queued, not sent twice."""
    f = server(offer_at_connect=True)
    f.start()
    assert f.disable(GMCP) == b""  # WANTYES: queued
    assert f.receive(cmd(DO, GMCP)).replies == cmd(WONT, GMCP)
    assert f.state(GMCP) is Q.WANTNO
    assert f.receive(cmd(DONT, GMCP)) == (b"", b"", [])
    assert f.state(GMCP) is Q.NO


def test_a_client_that_flips_an_option_forever_is_refused_in_the_end() -> None:
    """Found by hypothesis: DO+DONT, then each answer acknowledged with a new request."""
    f = server()
    to_server = cmd(DO, MSSP) + cmd(DONT, MSSP)
    for _ in range(20):
        replies = f.receive(to_server).replies
        answers = {cmd(WILL, MSSP): cmd(DO, MSSP), cmd(WONT, MSSP): cmd(DONT, MSSP)}
        to_server = b"".join(
            answers.get(replies[i : i + 3], b"") for i in range(0, len(replies), 3)
        )
        if not to_server:
            break
    else:
        raise AssertionError("still negotiating after 20 rounds")
    assert not f.enabled(MSSP)
    assert f.receive(cmd(DO, MSSP)).replies == cmd(WONT, MSSP)


def test_subnegotiation_for_enabled_option_only() -> None:
    f = server()
    gmcp = subnegotiation(GMCP, b'Core.Hello {"client":"x\xff"}')
    assert b"\xff\xff" in gmcp
    # Not enabled yet: dropped.
    assert f.receive(gmcp).events == []
    f.receive(cmd(DO, GMCP))
    assert f.receive(b"a" + gmcp[:5]) == (b"a", b"", [])
    assert f.receive(gmcp[5:] + b"b").events == [
        Subnegotiation(GMCP, b'Core.Hello {"client":"x\xff"}')
    ]


def test_overlong_subnegotiation_is_dropped_and_data_resumes() -> None:
    f = server(max_subnegotiation=10)
    f.receive(cmd(DO, GMCP))
    received = f.receive(subnegotiation(GMCP, b"x" * 11) + b"line\n")
    assert received == (b"line\n", b"", [])
    assert f.receive(subnegotiation(GMCP, b"x" * 10)).events == [Subnegotiation(GMCP, b"x" * 10)]


# -- properties ----------------------------------------------------------------------

plain = st.binary(max_size=12).map(lambda b: b.replace(b"\xff", b"").replace(b"\r", b""))


@st.composite
def telnet_piece(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["option", "command", "sub", "plain", "junk"]))
    option = draw(st.sampled_from([MSSP, GMCP, 1, 24, 255, 0]))
    if kind == "option":
        return cmd(draw(st.sampled_from([DO, DONT, WILL, WONT])), option)
    if kind == "command":
        return bytes([IAC, draw(st.integers(SE, 249))])
    if kind == "sub":
        return subnegotiation(option, draw(st.binary(max_size=30)))
    if kind == "junk":
        return draw(st.binary(max_size=6))
    return draw(plain)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@given(
    st.lists(telnet_piece(), max_size=25),
    st.lists(st.integers(0, 10_000), max_size=10),
    st.booleans(),
)
def test_random_streams_never_crash_and_replies_stay_bounded(
    pieces: list[bytes], cuts: list[int], at_connect: bool
) -> None:
    f = server(offer_at_connect=at_connect)
    replies = f.start()
    stream = b"".join(pieces)
    for chunk in split(stream, cuts):
        received = f.receive(chunk)
        assert b"\xff" not in received.data
        replies += received.replies
    assert REPLY.fullmatch(replies)
    # At most one answer per command received, plus the one-time offers.
    commands = stream.count(b"\xff")
    assert len(replies) // 3 <= commands + len(OPTIONS)
    for option in OPTIONS:
        assert f.state(option) in Q


@given(st.lists(plain, max_size=10), st.lists(st.integers(0, 10_000), max_size=10))
def test_plain_streams_get_no_byte_back(pieces: list[bytes], cuts: list[int]) -> None:
    f = server()
    for chunk in split(b"\n".join(pieces), cuts):
        received = f.receive(chunk)
        assert received.replies == b"" and received.events == []


class NaiveClient:
    """A client that answers every negotiation, acknowledgements included.

    RFC 854's classic loop needs two ends like this; the server's Q method
    must end the conversation anyway.  *wants* says which options it agrees to.
    """

    def __init__(self, wants: set[int]) -> None:
        self.wants = wants
        self.enabled: set[int] = set()

    def answer(self, data: bytes) -> bytes:
        out = bytearray()
        for verb, option in re.findall(rb"\xff([\xfb-\xfe])(.)", data, flags=re.S):
            verb, option = verb[0], option[0]
            if verb == WILL:
                agree = option in self.wants
                (self.enabled.add if agree else self.enabled.discard)(option)
                out += cmd(DO if agree else DONT, option)
            elif verb == WONT:
                self.enabled.discard(option)
                out += cmd(DONT, option)
        return bytes(out)


@given(
    st.sets(st.sampled_from(OPTIONS)),
    st.lists(st.sampled_from([cmd(v, o) for v in (DO, DONT) for o in OPTIONS]), max_size=4),
    st.booleans(),
)
def test_negotiation_with_a_naive_client_ends(
    wants: set[int], opening: list[bytes], at_connect: bool
) -> None:
    f = server(offer_at_connect=at_connect)
    client = NaiveClient(wants)
    to_client = f.start()
    to_server = b"".join(opening) + bytes([IAC, NOP])
    for _ in range(10):
        if not to_server and not to_client:
            break
        received = f.receive(to_server)
        to_client += received.replies
        to_server, to_client = client.answer(to_client), b""
    else:
        raise AssertionError("negotiation did not end within 10 rounds")
    for option in OPTIONS:
        if option in wants:
            assert f.enabled(option) == (option in client.enabled)
