"""The login pipeline, owned by one class: :class:`Logins`.

The session decides *whether* a ``con``, ``new`` or ``pwd`` may go ahead
(sans-IO, :mod:`mudserver.core.admission`); this module does the work, which
is all I/O, in the order that keeps every save:

1. **Password work on the login pool.**  Hashes are verified and made on
   threads of their own (argon2 releases the GIL), never on the reactor, and
   at most ``--password-work`` at once, sign-ups at most ``--signup-work`` of
   them, logins first (:class:`~mudserver.limits.passwordwork.PasswordWork`):
   a flood of sign-ups can neither starve logins nor take the cores from the
   tick.  A record made with older or weaker parameters than the store's is
   hashed again right there, with the password just proven right.  A failed
   login writes nothing.  The console's password resets and account
   listings take their turn there too, as logins (:meth:`Logins.for_console`).
2. **Claim** (a shard only): own the account on this shard, taking it from
   another one, before reading it (:class:`~mudserver.shell.shard.Shard`).
3. **The newest position**: read the account again on its save thread,
   behind every save queued for it, and once more if a player of it left here
   meanwhile; the upgraded hash is written there, in the account's save order.
4. **Give back**: a login whose connection went away before it joined, and a
   player that left, let go of the claim once their saves have landed.

A sign-up (:meth:`Logins.sign_up`) hashes the password on the pool (a name
already taken is answered before that), then inserts the account on its
save thread, where the store decides whether the name is free (so two shards
racing for one name make one account, and a refused sign-up writes
nothing), then claims and reads it as a login does.  A password change
(:meth:`Logins.change_password`) verifies the old password against the
stored record at its real cost and hashes the new one on the pool, then
swaps the record on the account's save thread, only where it still holds
the old one, as a re-hash is written.

A replaced password record is remembered (:class:`PasswordRecords`), so that
no snapshot still holding the old one writes it back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from twisted.internet import defer, threads
from twisted.internet.interfaces import IReactorThreads
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from mudserver.account import Account, AccountExists, CorruptAccount
from mudserver.config import Settings
from mudserver.limits.passwordwork import Kind, PasswordWork
from mudserver.shell.saves import SaveQueue
from mudserver.store.base import Store, StoreUnavailable

if TYPE_CHECKING:  # psycopg, behind shards, is an optional extra
    from mudserver.shell.shard import Shard

__all__ = ["Logins", "PasswordRecords"]

#: (the account as read, its new password record or None): a password check's outcome.
Checked = tuple[Account, dict[str, Any] | None]
Record = dict[str, Any]
T = TypeVar("T")


class PasswordRecords:
    """The password records replaced since start, so that no save writes an old one back.

    A save made before a record was replaced (a re-hash at login, a ``pwd``) can still
    be written after it: a snapshot waiting for a retry, or an account object
    of an earlier login.  :meth:`current` gives such a snapshot the record that
    replaced its own; the save queue applies it at every try.  One entry per
    account whose record was replaced.
    """

    def __init__(self) -> None:
        #: Account (lower-cased) -> (records replaced, the record that replaced them).
        self._replaced: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}

    def replace(self, name: str, old: Record, new: Record) -> Callable[[], None]:
        """From now on, *new* is written wherever a save of *name* holds *old*.

        Returns what takes it back (the store kept another record than *old*).
        """
        key = name.lower()
        before = self._replaced.get(key)
        superseded, newest = before or ([], None)
        kept = [r for r in (*superseded, newest, old) if r is not None and r != new]
        self._replaced[key] = (kept[-_KEPT:], new)

        def undo() -> None:
            if before is None:
                self._replaced.pop(key, None)
            else:
                self._replaced[key] = before

        return undo

    def current(self, account: Account) -> Account:
        """*account*, with the record that replaced its own if one did."""
        entry = self._replaced.get(account.name.lower())
        if entry is None or account.password not in entry[0]:
            return account
        return dataclasses.replace(account, password=entry[1])


#: Replaced records kept per account: a record older than that is long written over.
_KEPT = 4


class Logins:
    """Checks passwords, claims accounts and reads them at their newest, off the reactor."""

    log = Logger()

    def __init__(
        self,
        store: Store,
        reactor: Any,
        settings: Settings,
        saves: SaveQueue,
        records: PasswordRecords,
        shard: Shard | None = None,
        rehash: bool = True,
    ) -> None:
        """*rehash*: hash older or weaker records again at login (benchmarks turn it off)."""
        self.store = store
        self.reactor: IReactorThreads = reactor
        self.saves = saves
        self.records = records
        self.shard = shard
        self.rehash = rehash
        #: How much password work runs at once, and whose turn is next.
        signups = settings.signup_work if settings.registration == "open" else 0
        self.work = PasswordWork(settings.password_work, signups)
        #: Where every password is hashed or verified: one thread per slot of :attr:`work`.
        self.pool = ThreadPool(1, settings.password_work, name="mudserver-login")
        #: Logins reading their account right now, and how many players of
        #: that account left meanwhile, by account (see :meth:`_load_newest`).
        self._loading: dict[str, int] = {}
        self._left_while_loading: dict[str, int] = {}

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        self.pool.stop()

    # -- what connections and the game call ------------------------------------------

    def authenticate(self, name: str, password: str) -> defer.Deferred[Account | None]:
        """The account if *password* is right (claimed, at its newest), else None.

        StoreUnavailable if the store cannot be asked, or another shard does
        not let go of the account in time.
        """

        def check() -> Checked | None:
            try:
                account = self.store.authenticate(name, password)
                if account is None:
                    return None
                if self.rehash and self.store.needs_rehash(account):
                    return account, self.store.hash(password)
                return account, None
            except CorruptAccount:
                self.log.failure("account file of {name!r} is corrupt", name=name)
                return None

        d = self._on_pool(Kind.LOGIN, check)
        return d.addCallback(lambda checked: defer.ensureDeferred(self._claim(checked, name)))

    def sign_up(self, name: str, password: str) -> defer.Deferred[Account]:
        """Make account *name* and log it in: the account (claimed, as read back).

        AccountExists if the name is taken (case-insensitively: the store
        decides), StoreUnavailable if the store cannot be asked.
        """

        def make_record() -> Record:
            if self.store.exists(name):  # the cheap answer; the insert is the real check
                raise AccountExists(name)
            return self.store.hash(password)

        d = self._on_pool(Kind.SIGNUP, make_record)
        d.addCallback(lambda record: self._insert(name, record))
        d.addCallback(lambda account: defer.ensureDeferred(self._claim((account, None), name)))
        return d.addCallback(self._made, name)

    def change_password(self, name: str, old: str, new: str) -> defer.Deferred[Record | None]:
        """Change *name*'s password from *old* to *new*: the new record, or None if *old*
        is wrong.  StoreUnavailable if the store cannot be asked, or kept another record."""

        def check() -> tuple[Record, Record] | None:
            account = self.store.authenticate(name, old)
            if account is None:
                return None
            return account.password, self.store.hash(new)

        d = self._on_pool(Kind.LOGIN, check)
        return d.addCallback(self._swap_record, name)

    def for_console(self, work: Callable[..., T], *args: Any) -> defer.Deferred[T]:
        """Run *work* with *args* on the login pool in its turn with the logins: the console's
        password resets (a hash) and account listings.

        They count against ``--password-work`` like a login, never beside it:
        the console adds no thread and no hash beyond the cap, and a flood
        of sign-ups cannot hold up an operator's reset.
        """
        return self._on_pool(Kind.LOGIN, work, *args)

    def abandoned(self, name: str) -> None:
        """A checked login that never joined (its connection went away): give it back."""
        if self.shard is not None:
            self.shard.give_back(name)

    def left(self, name: str) -> None:
        """A player of *name* left the game, its last snapshot handed to the save queue."""
        key = name.lower()
        if key in self._loading:
            self._left_while_loading[key] = self._left_while_loading.get(key, 0) + 1
        if self.shard is not None:
            self.shard.give_back(name)

    # -- the pipeline --------------------------------------------------------------------

    def _on_pool(self, kind: Kind, work: Callable[..., T], *args: Any) -> defer.Deferred[T]:
        """Run *work* with *args* on the login pool once :attr:`work` gives *kind* a slot."""
        result: defer.Deferred[T] = defer.Deferred()

        def start() -> None:
            job = threads.deferToThreadPool(self.reactor, self.pool, work, *args)
            job.addBoth(finished)
            job.chainDeferred(result)

        def finished(outcome: Any) -> Any:
            self.work.done(kind)  # the next job starts on the thread this one freed
            return outcome

        self.work.submit(kind, start)
        return result

    def _insert(self, name: str, record: Record) -> defer.Deferred[Account]:
        """Add the new account on its save thread; AccountExists if the name was taken."""
        account = Account(name, record, created=self.reactor.seconds())  # type: ignore[attr-defined]

        def insert() -> Account:
            self.store.insert(account)
            return account

        return threads.deferToThreadPool(self.reactor, self.saves.pool_of(name), insert)

    @staticmethod
    def _made(account: Account | None, name: str) -> Account:
        if account is None:  # removed between its insert and its read: nothing to play
            raise StoreUnavailable(f"the new account {name} could not be read back")
        return account

    def _swap_record(
        self, checked: tuple[Record, Record] | None, name: str
    ) -> defer.Deferred[Record | None]:
        """Write the new record on the account's save thread, where it holds the old one."""
        if checked is None:
            return defer.succeed(None)
        old, new = checked
        undo = self.records.replace(name, old, new)  # snapshots from now on carry the new one

        def swap() -> Account | None:
            return self.store.upgrade_password(name, old, new)

        def written(account: Account | None) -> Record:
            if account is None or account.password != new:
                undo()
                raise StoreUnavailable(f"the password of {name} was changed meanwhile")
            return new

        def failed(failure: Any) -> Any:
            undo()
            return failure

        d = threads.deferToThreadPool(self.reactor, self.saves.pool_of(name), swap)
        return d.addCallbacks(written, failed)

    async def _claim(self, checked: Checked | None, name: str) -> Account | None:
        """On a shard, own the account (taking it from another shard) before reading it."""
        if checked is None:
            return None
        if self.shard is None:
            return await self._load_newest(checked, name)
        await self.shard.claim(name)
        try:
            account = await self._load_newest(checked, name)
        except BaseException:
            self.shard.give_back(name)
            raise
        if account is None:
            self.shard.give_back(name)
        return account

    async def _load_newest(self, checked: Checked, name: str) -> Account | None:
        """Read the account, again if a player of it left here meanwhile.

        A read may pass a player of the same account who is still playing
        here (the join then starts where that player stands), but who leaves
        before the join (a takeover from another shard, a disconnect): its
        last save was queued after the read, so the read is stale.  Reading
        once more, behind that save on the same thread, gives its position.
        """
        key = name.lower()
        self._loading[key] = self._loading.get(key, 0) + 1
        try:
            while True:
                seen = self._left_while_loading.get(key, 0)
                account = await self._reload(checked, name)
                if account is None or self._left_while_loading.get(key, 0) == seen:
                    break
        finally:
            self._loading[key] -= 1
            if not self._loading[key]:
                del self._loading[key]
                self._left_while_loading.pop(key, None)
        if account is not None:
            self.saves.lost.discard(key)  # loaded here (claimed, on a shard): saved here again
        return account

    def _reload(self, checked: Checked, name: str) -> defer.Deferred[Account | None]:
        """Read the account again on its save thread, upgrading its hash there.

        The file read for the password check may predate a save still queued
        for this account (a player who reconnects at once).  Reading again on
        the save thread, behind every queued write, gives the position saved
        last; the new hash is written in that same place in the order, so it
        and a position save of the same account never race, and the account
        the game gets holds the new hash its later saves write.  Should a
        snapshot with the old record still be written (the re-hash write
        failed, or two logins raced), :class:`PasswordRecords` swaps in the new one.
        """
        account, upgraded = checked
        if upgraded is not None:
            self.records.replace(name, account.password, upgraded)

        def load() -> Account | None:
            try:
                if upgraded is None:
                    return self.store.load(name)
                try:
                    now = self.store.upgrade_password(name, account.password, upgraded)
                    if now is not None and now.password == upgraded:
                        self.log.info("re-hashed the password of {name}", name=name)
                    return now
                except OSError as e:  # the new hash goes out with the next save
                    self.log.error("could not re-hash {name}: {error}", name=name, error=e)
                    return self.store.load(name)
            except CorruptAccount:
                self.log.failure("account file of {name!r} is corrupt", name=name)
                return None

        return threads.deferToThreadPool(self.reactor, self.saves.pool_of(name), load)
