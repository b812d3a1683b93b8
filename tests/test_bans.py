"""Tests for mudserver.limits.bans: targets, matching, expiry and the ban file."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mudserver.limits.bans import BanError, BanList, parse_duration, parse_target


def test_targets_are_names_addresses_or_ranges() -> None:
    assert parse_target("Foo") == ("name", "foo")
    assert parse_target("10.1.2.3") == ("address", "10.1.2.3/32")
    assert parse_target("10.0.0.0/8") == ("address", "10.0.0.0/8")
    assert parse_target("2001:db8::/32") == ("address", "2001:db8::/32")
    assert parse_target("::ffff:10.1.2.3") == ("address", "10.1.2.3/32")


@pytest.mark.parametrize("bad", ["", "bad!name", "10.1.2.3/8", "10.0.0.0/33", "x" * 30])
def test_bad_targets_are_refused(bad: str) -> None:
    with pytest.raises(BanError):
        parse_target(bad)


def test_durations() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("90s") == 90
    assert parse_duration("15m") == 900
    assert parse_duration("2h") == 7200
    assert parse_duration("7d") == 7 * 86400
    for bad in ("", "soon", "-5m", "0", "infh"):
        with pytest.raises(BanError):
            parse_duration(bad)


def test_a_name_ban_matches_any_case_until_it_expires() -> None:
    bans = BanList()
    bans.add("Foo", now=100.0, duration=60.0, reason="grief")
    assert bans.name_banned("FOO", 100.0) is not None
    assert bans.name_banned("foo", 159.9) is not None
    assert bans.name_banned("foo", 160.0) is None
    assert bans.name_banned("bar", 100.0) is None


def test_an_address_ban_and_a_range_ban() -> None:
    bans = BanList()
    bans.add("192.0.2.7", now=0.0)
    bans.add("198.51.100.0/24", now=0.0)
    assert bans.address_banned("192.0.2.7", 1e9) is not None  # for good
    assert bans.address_banned("192.0.2.8", 0.0) is None
    assert bans.address_banned("198.51.100.200", 0.0) is not None
    assert bans.address_banned("::ffff:198.51.100.1", 0.0) is not None
    assert bans.address_banned("198.51.101.1", 0.0) is None
    assert bans.address_banned("not an address", 0.0) is None
    assert bans.address_banned("2001:db8::1", 0.0) is None


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32), st.ip_addresses(v=4))
def test_range_matching_agrees_with_ipaddress(
    base: ipaddress.IPv4Address, prefix: int, probe: ipaddress.IPv4Address
) -> None:
    network = ipaddress.ip_network(f"{base}/{prefix}", strict=False)
    bans = BanList()
    bans.add(str(network), now=0.0)
    assert (bans.address_banned(str(probe), 0.0) is not None) == (probe in network)


def test_remove_and_list() -> None:
    bans = BanList()
    bans.add("foo", now=0.0)
    bans.add("10.0.0.0/8", now=0.0, duration=10.0)
    assert [b.target for b in bans.bans(0.0)] == ["foo", "10.0.0.0/8"]
    assert [b.target for b in bans.bans(10.0)] == ["foo"]
    assert bans.remove("FOO") is not None
    assert bans.remove("foo") is None
    assert bans.prune(10.0) == 1
    assert len(bans) == 0


def test_the_file_survives_a_round_trip_without_leftovers(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    assert len(BanList.load(path)) == 0  # no file: no bans
    bans = BanList()
    bans.add("foo", now=5.0, reason="spam, twice")
    bans.add("2001:db8::/48", now=5.0, duration=3600.0)
    bans.add("10.0.0.1", now=5.0, duration=1.0)  # expired by the time it is saved
    bans.save(path, now=10.0)
    assert [p.name for p in tmp_path.iterdir()] == ["bans.json"]
    again = BanList.load(path)
    assert [(b.target, b.reason, b.until) for b in again.bans(10.0)] == [
        ("foo", "spam, twice", None),
        ("2001:db8::/48", "", 3605.0),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "[]",
        '{"version": 2, "bans": []}',
        '{"version": 1, "bans": {}}',
        '{"version": 1, "bans": [{"kind": "name", "target": "bad!"}]}',
        '{"version": 1, "bans": [{"kind": "address", "target": "foo"}]}',
        '{"version": 1, "bans": [{"kind": "name", "target": "foo", "until": "soon"}]}',
    ],
)
def test_a_damaged_file_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bans.json"
    path.write_text(text)
    with pytest.raises(BanError, match=r"bans\.json"):
        BanList.load(path)


def test_the_file_is_json_an_operator_can_read(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    bans = BanList()
    bans.add("foo", now=1.0, reason="grief")
    bans.save(path, now=1.0)
    assert json.loads(path.read_text()) == {
        "version": 1,
        "bans": [{"kind": "name", "target": "foo", "reason": "grief", "since": 1.0, "until": None}],
    }


@pytest.mark.parametrize("duration", [0.0, -5.0, float("inf"), float("nan")])
def test_a_ban_duration_must_be_positive_and_finite(duration: float) -> None:
    with pytest.raises(BanError):
        BanList().add("foo", now=0.0, duration=duration)
