"""The cap on password work running at once, shared by logins and sign-ups (sans-IO).

Checking or making an Argon2id hash takes tens of milliseconds of a core,
and the server has few: a flood of them would queue for minutes, or, with
as many threads as requests, take the cores from the tick.  So at most
``slots`` jobs run at once (the shell gives its login pool as many threads),
and the rest wait here, in two queues:

* **logins** (``con``, and ``pwd`` from a playing client) go first: when a
  slot frees, a waiting login takes it before any sign-up does;
* **sign-ups** (``new``) may hold at most ``signup_slots`` of the slots, and
  ``signup_slots`` is below ``slots``: however many strangers sign up at once,
  at least one slot is only ever given to logins, and a login waits at most
  for the jobs already running, never for the queue of sign-ups.  A server
  that takes no sign-ups gives them no slot (0), and may run with one.

Nothing here runs a job or reads a clock: :meth:`PasswordWork.submit` is
given a callable that starts one (on a thread, in the shell), and the shell
reports its end with :meth:`PasswordWork.done`.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable

__all__ = ["Kind", "PasswordWork"]


class Kind(enum.Enum):
    """Who asks for password work: it decides the queue and the share."""

    #: ``con``, and a playing client's ``pwd``: never starved.
    LOGIN = "login"
    #: ``new``: a stranger's, so it may take only part of the slots.
    SIGNUP = "signup"


class PasswordWork:
    """At most ``slots`` password jobs at once, sign-ups at most ``signup_slots`` of them."""

    def __init__(self, slots: int, signup_slots: int) -> None:
        if not 0 <= signup_slots < slots:
            raise ValueError("password work needs 0 <= signup slots < slots")
        self.slots = slots
        self.signup_slots = signup_slots
        #: Jobs started and not yet done, by kind.
        self.running = {Kind.LOGIN: 0, Kind.SIGNUP: 0}
        #: Jobs waiting for a slot, by kind, oldest first.
        self.waiting: dict[Kind, deque[Callable[[], object]]] = {
            Kind.LOGIN: deque(),
            Kind.SIGNUP: deque(),
        }
        self._starting = False

    def submit(self, kind: Kind, start: Callable[[], object]) -> None:
        """Call *start* now if a slot is free for *kind*, else once one is."""
        self.waiting[kind].append(start)
        self._start_what_may()

    def done(self, kind: Kind) -> None:
        """A job of *kind* ended (whatever its outcome): its slot goes to the next."""
        if self.running[kind] <= 0:
            raise ValueError(f"no {kind.value} job is running")
        self.running[kind] -= 1
        self._start_what_may()

    def _free(self, kind: Kind) -> bool:
        if sum(self.running.values()) >= self.slots:
            return False
        return kind is Kind.LOGIN or self.running[Kind.SIGNUP] < self.signup_slots

    def _start_what_may(self) -> None:
        """Start waiting jobs while slots are free, logins before sign-ups.

        A job that ends at once (its start calls :meth:`done`) does not start
        the next one from inside its own start: the loop here does, so a long
        queue never becomes a deep recursion.
        """
        if self._starting:
            return
        self._starting = True
        try:
            while True:
                kind = next(
                    (k for k in (Kind.LOGIN, Kind.SIGNUP) if self.waiting[k] and self._free(k)),
                    None,
                )
                if kind is None:
                    return
                start = self.waiting[kind].popleft()
                self.running[kind] += 1
                start()
        finally:
            self._starting = False
