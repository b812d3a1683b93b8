"""Login and sign-up throttling: attempts counted per address and per account (sans-IO).

Password guessing is slowed down twice over.  Each failed login is recorded
under the client's address and under the account name it tried; once either
has ``limit`` failures within the last ``window`` seconds, further attempts
are refused *before* the password is checked.  Throttling the two keys
separately means a guesser on one address cannot lock a player on another
address out of a different account, while a guesser spreading over many
addresses still hits the per-account limit.

Sign-ups are limited per address the same way (:class:`SignupBudget`), with
a window of an hour: each ``new`` that reaches the store is counted, made or
refused as a name taken, so one address can neither fill the store with
accounts nor list which names exist faster than that.

Memory is bounded: a key holds at most ``limit`` timestamps, keys whose
newest failure left the window are dropped as time passes, and past
``max_keys`` the least recently failed key is evicted.
"""

from __future__ import annotations

from collections import deque

from mudserver.account import valid_name

__all__ = ["SIGNUP_WINDOW", "FailureCounter", "LoginThrottle", "SignupBudget"]

#: Seconds over which sign-ups are counted: ``--signups-per-hour``.
SIGNUP_WINDOW = 3600.0


class FailureCounter:
    """Failures per key in a sliding window of ``window`` seconds."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        if limit < 1 or not window > 0 or max_keys < 1:
            raise ValueError("a failure counter needs limit >= 1, window > 0, max_keys >= 1")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        #: Ordered by most recent failure, oldest first, so expiry pops from the front.
        self._failures: dict[str, deque[float]] = {}

    def __len__(self) -> int:
        return len(self._failures)

    def _expire(self, now: float) -> None:
        while self._failures:
            key, stamps = next(iter(self._failures.items()))
            if now - stamps[-1] < self.window and len(self._failures) <= self.max_keys:
                return
            del self._failures[key]

    def record(self, key: str, now: float) -> None:
        """Count one failure for *key* at *now*."""
        stamps = self._failures.pop(key, None)
        if stamps is None:
            stamps = deque(maxlen=self.limit)
        stamps.append(now)
        self._failures[key] = stamps  # re-inserted: now the most recent
        self._expire(now)

    def forget_latest(self, key: str) -> None:
        """Take back the latest event counted for *key* (it did not happen after all)."""
        stamps = self._failures.get(key)
        if stamps:
            stamps.pop()
            if not stamps:
                del self._failures[key]

    def blocked(self, key: str, now: float) -> bool:
        """Whether *key* has ``limit`` failures within the window before *now*."""
        self._expire(now)
        stamps = self._failures.get(key)
        return (
            stamps is not None
            and len(stamps) >= self.limit
            and now - stamps[-self.limit] < self.window
        )


class LoginThrottle:
    """The two counters a login is checked against: by address, by account."""

    def __init__(self, per_host: int, per_account: int, window: float) -> None:
        self.hosts = FailureCounter(per_host, window)
        self.accounts = FailureCounter(per_account, window)

    def blocked(self, host: str, name: str, now: float) -> bool:
        """Whether a ``con`` from *host* as *name* must be refused unchecked."""
        return self.hosts.blocked(host, now) or (
            valid_name(name) and self.accounts.blocked(name.lower(), now)
        )

    def host_blocked(self, host: str, now: float) -> bool:
        """Whether *host* is over its failed logins (a sign-up is refused then too)."""
        return self.hosts.blocked(host, now)

    def failed(self, host: str, name: str, now: float) -> None:
        """Record a wrong password or unknown name.

        Names that can never be accounts are counted only against the
        address: they cannot be guessed into, and must not fill the table.
        """
        self.hosts.record(host, now)
        if valid_name(name):
            self.accounts.record(name.lower(), now)


class SignupBudget:
    """Sign-ups per address in a sliding hour, counted when tried (so none overshoots)."""

    def __init__(self, per_host: int, window: float = SIGNUP_WINDOW) -> None:
        self.hosts = FailureCounter(per_host, window)

    def take(self, host: str, now: float) -> bool:
        """Count one sign-up from *host* if its budget allows; whether it does."""
        if self.hosts.blocked(host, now):
            return False
        self.hosts.record(host, now)
        return True

    def give_back(self, host: str) -> None:
        """A counted sign-up never reached the store (it was unavailable): uncount it."""
        self.hosts.forget_latest(host)
