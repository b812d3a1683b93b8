"""The sans-IO limiters: token bucket, flood guard, login throttle, connection caps."""

from __future__ import annotations

import pytest

from mudserver.limits.connlimit import ConnectionLimits
from mudserver.limits.ratelimit import FloodGuard, TokenBucket, Verdict
from mudserver.limits.throttle import FailureCounter, LoginThrottle


def test_bucket_allows_burst_then_rate() -> None:
    bucket = TokenBucket(rate=20, burst=40)
    assert all(bucket.allow(100.0) for _ in range(40))
    assert not bucket.allow(100.0)
    # 0.5 s later, 10 more tokens.
    assert sum(bucket.allow(100.5) for _ in range(20)) == 10


def test_bucket_never_holds_more_than_burst() -> None:
    bucket = TokenBucket(rate=20, burst=40)
    bucket.allow(0.0)
    assert bucket.tokens(1_000_000.0) == 40


def test_bucket_ignores_clock_going_back() -> None:
    bucket = TokenBucket(rate=1, burst=1)
    assert bucket.allow(10.0)
    assert not bucket.allow(5.0)
    assert not bucket.allow(10.5)
    assert bucket.allow(11.0)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0.5)])
def test_bucket_rejects_bad_parameters(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)


def feed(guard: FloodGuard, rate: float, seconds: float, start: float = 0.0) -> list[Verdict]:
    """Verdicts for lines sent at *rate* per second for *seconds*."""
    count = int(rate * seconds)
    return [guard.check(start + i / rate) for i in range(count)]


def test_steady_client_within_rate_never_dropped() -> None:
    guard = FloodGuard(rate=20, burst=40, flood_time=5)
    assert set(feed(guard, 19, 60)) == {Verdict.ACCEPT}


def test_burst_loses_lines_but_recovers() -> None:
    guard = FloodGuard(rate=20, burst=40, flood_time=5)
    verdicts = [guard.check(0.0) for _ in range(100)]
    assert verdicts[:40] == [Verdict.ACCEPT] * 40
    assert verdicts[40] is Verdict.DROP_AND_WARN
    assert set(verdicts[41:]) == {Verdict.DROP}  # one warning per second, not one per line
    assert set(feed(guard, 10, 30, start=1.0)) == {Verdict.ACCEPT}


def test_sustained_flood_is_detected_after_flood_time() -> None:
    guard = FloodGuard(rate=20, burst=40, flood_time=5)
    verdicts = feed(guard, 100, 10)
    first_flood = verdicts.index(Verdict.FLOOD)
    first_drop = verdicts.index(Verdict.DROP_AND_WARN)
    assert 48 <= first_drop <= 51  # the burst, plus what refilled meanwhile
    assert 4.9 <= (first_flood - first_drop) / 100 <= 5.1
    # About one warning per second of the streak.
    assert 4 <= verdicts[:first_flood].count(Verdict.DROP_AND_WARN) <= 6


def test_slightly_too_fast_for_long_is_a_flood() -> None:
    guard = FloodGuard(rate=20, burst=40, flood_time=5)
    assert Verdict.FLOOD in feed(guard, 40, 20)


def test_streak_ends_after_a_quiet_second() -> None:
    guard = FloodGuard(rate=20, burst=40, flood_time=5)
    for start in range(0, 60, 6):  # 4 s floods with 2 s pauses: never 5 s in a row
        verdicts = feed(guard, 100, 4, start=float(start))
        assert Verdict.FLOOD not in verdicts
        assert Verdict.DROP_AND_WARN in verdicts


def test_failure_counter_sliding_window() -> None:
    counter = FailureCounter(limit=3, window=60)
    for t in (0.0, 10.0, 20.0):
        assert not counter.blocked("a", t)
        counter.record("a", t)
    assert counter.blocked("a", 20.0)
    assert counter.blocked("a", 59.9)
    assert not counter.blocked("a", 60.0)  # the failure at 0 left the window
    assert not counter.blocked("b", 20.0)


def test_failure_counter_forgets_old_keys() -> None:
    counter = FailureCounter(limit=3, window=60)
    for i in range(1000):
        counter.record(f"host{i}", float(i) / 100)
    assert len(counter) == 1000
    counter.record("late", 200.0)
    assert len(counter) == 1


def test_failure_counter_memory_is_capped() -> None:
    counter = FailureCounter(limit=3, window=60, max_keys=100)
    for i in range(10_000):
        counter.record(f"host{i}", 0.0)
    assert len(counter) == 100
    counter.record("x", 0.0)
    counter.record("x", 0.0)
    counter.record("x", 0.0)
    assert counter.blocked("x", 1.0)  # the newest key survives eviction


def test_throttle_by_host_and_by_account_separately() -> None:
    throttle = LoginThrottle(per_host=10, per_account=5, window=60)
    for _ in range(5):
        throttle.failed("10.0.0.1", "Foo", 0.0)
    assert throttle.blocked("10.0.0.1", "foo", 1.0)  # case-insensitive
    assert throttle.blocked("10.0.0.2", "FOO", 1.0)  # the account, from anywhere
    assert not throttle.blocked("10.0.0.2", "bar", 1.0)  # someone else, elsewhere
    assert not throttle.blocked("10.0.0.1", "bar", 1.0)  # 5 of 10 for the host
    for i in range(5):
        throttle.failed("10.0.0.1", f"guess{i}", 2.0)
    assert throttle.blocked("10.0.0.1", "bar", 3.0)
    assert not throttle.blocked("10.0.0.2", "bar", 3.0)
    assert not throttle.blocked("10.0.0.1", "bar", 62.0)


def test_throttle_does_not_store_impossible_names() -> None:
    throttle = LoginThrottle(per_host=10, per_account=5, window=60)
    for i in range(100):
        throttle.failed(f"10.0.0.{i}", "x" * 1000 + str(i), 0.0)
    assert len(throttle.accounts) == 0
    assert len(throttle.hosts) == 100


def test_connection_limits() -> None:
    limits = ConnectionLimits(total=3, per_host=2)
    assert limits.admit("a")
    assert limits.admit("a")
    assert not limits.admit("a")
    assert limits.admit("b")
    assert not limits.admit("c")  # total reached
    limits.release("a")
    assert limits.admit("c")
    for host in ("a", "b", "c", "never-admitted"):
        limits.release(host)
    assert limits.open == 0
    assert limits.by_host == {}
