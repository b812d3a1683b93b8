"""Game code must not take the server down: every call into it goes through a guard.

Game code is trusted (the operator installed it) but not infallible.  The
field's rule, from the LPMud drivers on: an error in one object's heart beat
turns that object's heart beat off, and the game goes on.  Here:

* **A hook that raises is caught**, logged with the thing, the hook and the
  traceback (the first time for that thing and hook; a kind whose hook fails
  in thousands of things logs a few tracebacks, then one line each), and
  counted (:attr:`Guard.errors`, for the metrics).
* **Repeated failures switch the hook off**: after ``max_failures`` failures
  in a row of one thing's hook, that hook is never called again for it (a
  success in between resets the count).  The runtime then makes the thing
  stand; a switched-off ``use`` answers ``err broken``.
* **Game code's time is measured** per kind (the thing's class), summed over
  a tick (:meth:`Guard.end_tick`, for a histogram); a tick whose game code
  took more than ``budget`` seconds logs its slowest kinds, at most once per
  ``SLOW_LOG_TICKS`` ticks.

The clock is passed in (``time.perf_counter`` in the server), so a test can
make a hook slow without sleeping.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

__all__ = ["Guard", "kind_of"]

log = logging.getLogger("mudserver.game")

#: Full tracebacks logged per kind and hook; later first failures get one line.
TRACEBACKS_PER_KIND = 3
#: Ticks between two "slow tick" log lines, at most.
SLOW_LOG_TICKS = 100


def kind_of(owner: object) -> str:
    """The metrics' and the log's name for what *owner* is: its class's name."""
    return type(owner).__name__


class Guard:
    """Calls game code for the runtime: never raises, counts, switches off, times."""

    def __init__(self, max_failures: int, budget: float, clock: Callable[[], float]) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self.max_failures = max_failures
        #: Seconds of game code per tick above which the slowest kinds are logged.
        self.budget = budget
        self._clock = clock
        #: Failures by (kind, hook), since start.
        self.errors: Counter[tuple[str, str]] = Counter()
        #: Hooks switched off since start.
        self.switched_off = 0
        #: Seconds of game code by kind, since the last :meth:`end_tick`.
        self.spent: defaultdict[str, float] = defaultdict(float)
        #: Failures in a row and switched-off hooks, by owner (by ``id``).
        self._failures: dict[int, dict[str, int]] = {}
        self._off: dict[int, set[str]] = {}
        self._tracebacks: Counter[tuple[str, str]] = Counter()
        self._ticks_since_slow_log = SLOW_LOG_TICKS

    def is_off(self, owner: object, hook: str) -> bool:
        """Whether *owner*'s *hook* was switched off."""
        off = self._off.get(id(owner))
        return off is not None and hook in off

    def reset(self) -> None:
        """Switch every hook back on and forget failures (a reload brought new code)."""
        self._failures.clear()
        self._off.clear()

    def forget(self, owner: object) -> None:
        """*owner* left the world: its counts go (its id may be reused by Python)."""
        self._failures.pop(id(owner), None)
        self._off.pop(id(owner), None)

    def call(
        self, owner: object, hook: str, fn: Callable[..., Any], *args: Any
    ) -> tuple[bool, Any]:
        """Call *fn(*args)* as *owner*'s *hook*: (True, its result), or (False, None) if it raised.

        A switched-off hook is not called: (False, None).  After a failure,
        :meth:`is_off` says whether this one switched it off.
        """
        key = id(owner)
        off = self._off.get(key)
        if off is not None and hook in off:
            return False, None
        clock = self._clock
        started = clock()
        try:
            result = fn(*args)
        except Exception:
            self.spent[kind_of(owner)] += clock() - started
            self._failed(owner, hook)
            return False, None
        self.spent[kind_of(owner)] += clock() - started
        failures = self._failures.get(key)
        if failures is not None:
            failures.pop(hook, None)
        return True, result

    def _failed(self, owner: object, hook: str) -> None:
        kind = kind_of(owner)
        self.errors[kind, hook] += 1
        failures = self._failures.setdefault(id(owner), {})
        count = failures[hook] = failures.get(hook, 0) + 1
        if count == 1:
            self._tracebacks[kind, hook] += 1
            if self._tracebacks[kind, hook] <= TRACEBACKS_PER_KIND:
                log.error("%r: hook %s raised", owner, hook, exc_info=True)
            else:
                log.error("%r: hook %s raised (as in other %s things)", owner, hook, kind)
        if count >= self.max_failures:
            self._off.setdefault(id(owner), set()).add(hook)
            self.switched_off += 1
            log.error(
                "%r: hook %s failed %d times in a row; switched off for this thing",
                owner,
                hook,
                count,
            )

    def end_tick(self) -> dict[str, float]:
        """The seconds of game code by kind since the last call; logs a slow tick."""
        spent, self.spent = self.spent, defaultdict(float)
        self._ticks_since_slow_log += 1
        if spent and self.budget:
            total = sum(spent.values())
            if total > self.budget and self._ticks_since_slow_log >= SLOW_LOG_TICKS:
                self._ticks_since_slow_log = 0
                slowest = sorted(spent.items(), key=lambda item: item[1], reverse=True)[:3]
                log.warning(
                    "game code took %.1f ms in one tick (budget %.1f ms); slowest: %s",
                    total * 1000,
                    self.budget * 1000,
                    ", ".join(f"{kind} {seconds * 1000:.1f} ms" for kind, seconds in slowest),
                )
        return spent
