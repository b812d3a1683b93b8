"""The timer wheel and the crossing times it is fed, against brute force."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mudserver.core.kinetics import entry_time, exit_time
from mudserver.core.wheel import Wheel

times = st.floats(0.0, 50.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("schedule"), st.integers(0, 20), times),
            st.tuples(st.just("cancel"), st.integers(0, 20)),
            st.tuples(st.just("due"), st.floats(0.0, 5.0)),
        ),
        max_size=60,
    ),
    st.sampled_from([0.025, 0.1, 1.0]),
)
def test_due_pops_exactly_the_timers_whose_time_has_come(ops: list[tuple], quantum: float) -> None:
    wheel: Wheel[int] = Wheel(quantum)
    pending: dict[int, float] = {}
    now = 0.0
    for op in ops:
        if op[0] == "schedule":
            wheel.schedule(op[1], op[2])
            pending[op[1]] = op[2]
        elif op[0] == "cancel":
            wheel.cancel(op[1])
            pending.pop(op[1], None)
        else:
            now += op[1]
            due = wheel.due(now)
            expected = {k for k, t in pending.items() if t <= now}
            assert sorted(due) == sorted(expected)
            for k in expected:
                del pending[k]
        assert len(wheel) == len(pending)
        assert all(wheel.when(k) == t for k, t in pending.items())


def test_a_timer_set_in_the_past_is_due_at_the_next_call() -> None:
    wheel: Wheel[str] = Wheel(0.1)
    assert wheel.due(10.0) == []
    wheel.schedule("late", 3.0)
    wheel.schedule("later", 10.05)
    assert wheel.due(10.0) == ["late"]
    assert wheel.due(10.1) == ["later"]


coordinate = st.floats(-200.0, 200.0, allow_nan=False)
#: Walking speeds, or none; not the vanishing ones whose squares underflow.
speed = st.one_of(st.just(0.0), st.floats(1e-3, 20.0), st.floats(-20.0, -1e-3))


@settings(max_examples=300, deadline=None)
@given(coordinate, coordinate, speed, speed, st.floats(1.0, 150.0))
def test_crossing_times_are_never_late(
    px: float, py: float, vx: float, vy: float, r: float
) -> None:
    """Until the predicted time the point stays on its side; at that time it is at the edge."""
    r2 = r * r
    inside = px * px + py * py <= r2
    t = exit_time(px, py, vx, vy, r2) if inside else entry_time(px, py, vx, vy, r2)
    horizon = t if math.isfinite(t) else 100.0
    for i in range(200):
        s = horizon * i / 200
        d2 = (px + vx * s) ** 2 + (py + vy * s) ** 2
        if inside:
            assert d2 <= r2 * (1 + 1e-9)
        else:
            assert d2 >= r2 * (1 - 1e-9)
    if math.isfinite(t) and t > 0:
        assert math.hypot(px + vx * t, py + vy * t) == pytest.approx(r, rel=1e-9)
