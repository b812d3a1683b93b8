"""Straight lines at constant speed: when a moving point crosses a circle.

A walk is a straight line at a known speed, so where a walker is at time
``t`` is ``origin + velocity * (t - t0)``, and when two walkers come within
(or leave) a distance of each other is a root of a quadratic in ``t``:
with ``p`` their relative position now and ``w`` their relative velocity,
``|p + w t|^2 = r^2``.  The views (:mod:`mudserver.core.interest`) and the
proximity traps (:mod:`mudserver.core.proximity`) compute these times once
per walk change and put them on a :class:`~mudserver.core.wheel.Wheel`
instead of measuring every pair every tick.

Rounding: the roots are computed in the numerically stable form (no
difference of two nearly equal numbers), and the callers ask for a circle a
hair larger or smaller than the true one (:data:`MARGIN`), so that a
predicted time is never later than the true crossing: a check that comes
early measures, finds nothing changed, and predicts again.

Pure functions of floats.
"""

from __future__ import annotations

import math

__all__ = ["MARGIN", "NEXT_STEP", "entry_time", "exit_time"]

#: Relative margin on every radius a crossing is predicted for.  Positions
#: are exact to about 1e-12 of a world of 10^4 units; this is 1e-6 of the
#: radius, so rounding can only bring a check forward, never delay it.
MARGIN = 1e-6

#: What a timer due "at the next step" adds to the time of this one: due
#: at any later step, but not at the step that set it.
NEXT_STEP = 1e-9

_INF = math.inf


def exit_time(px: float, py: float, vx: float, vy: float, r2: float) -> float:
    """Seconds until a point at *p* moving at *v* is farther than ``sqrt(r2)`` from 0.

    0 if it is not within that distance now; infinite if it does not move.
    """
    c = px * px + py * py - r2
    if c >= 0:
        return 0.0
    a = vx * vx + vy * vy
    if a == 0:
        return _INF
    b = px * vx + py * vy
    root = math.sqrt(b * b - a * c)  # > |b|: c < 0
    return (root - b) / a if b <= 0 else -c / (b + root)


def entry_time(px: float, py: float, vx: float, vy: float, r2: float) -> float:
    """Seconds until a point at *p* moving at *v* is within ``sqrt(r2)`` of 0.

    0 if it already is; infinite if it never comes that near.
    """
    c = px * px + py * py - r2
    if c <= 0:
        return 0.0
    b = px * vx + py * vy
    if b >= 0:  # moving away, or not at all
        return _INF
    a = vx * vx + vy * vy
    disc = b * b - a * c
    if disc < 0:  # passes by farther out
        return _INF
    return c / (math.sqrt(disc) - b)
