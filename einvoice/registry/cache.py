"""The registry as each service process sees it: taxpayers with their keys, and API clients,
cached in memory so the hot path never queries PostgreSQL per request.

Freshness. An entry is *current* while it is younger than `ttl_s` (30 s) and no reset has come
since it was read; a current entry is served without asking PostgreSQL. A change notification
(storage/postgres/notifications.py) removes its entry at once, so a revoked key, a revoked client
or a suspended taxpayer stops working within about a second; the TTL bounds the delay should a
notification ever be lost. The listener *resets* the cache when it loses its connection and again
once it listens anew, since it cannot know what it missed: every entry is then re-read on its
next use.

When PostgreSQL is away. An entry that is not current is re-read; if PostgreSQL cannot answer
(`storage.postgres.pool.UNAVAILABLE`), the entry is still served, until `stale_s` after it was
read and never later. While a re-read is under way, other callers get that entry at once rather
than queue behind a PostgreSQL that may hang. Anything not in memory still fails (503). Only
entries no notification removed are served this way; the price, documented in docs/registry.md,
is that a change this process cannot hear of (made during an outage) takes effect up to `stale_s`
after the entry was read.

No revocation lost to a race. A read that began before a change committed can finish after the
change's notification removed the entry; storing its old row would bring it back for `ttl_s`.
So each key has at most one load *attached* (in `loading`), a notification for the key, a reset
or a clear detaches it, and only a load still attached when it finishes stores its result. The
argument: let a change of K commit at c and its notification be handled at n > c. At n the entry
of K is removed and any load of K in flight is detached, so it never stores. A load attached
later began after n, so its statements read after c (PostgreSQL delivers a notification only once
its transaction is visible; READ COMMITTED takes a snapshot per statement). So a caller after n
finds no entry of K, or one stored by such a load, or waits on such a load: it never sees a value
read before c. A detached load still answers the callers already waiting on it, whose requests
were concurrent with the change. A reset works the same way for every key at once, and also
makes every stored entry not current, so it is re-read before it is served as current again.

Bounds. At most `max_entries` found entries and, apart from them, `max_missing` misses, least
recently used out first: misses (anyone can ask for random client ids) never push out real
entries. Concurrent misses of one key share one load, run as a task of its own so that a caller
going away (a client disconnecting) does not fail the others waiting on it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cryptography import x509
from prometheus_client import Counter

from einvoice.registry.public_keys import load_public_jwk
from signing.seller import SellerKey
from signing.xml_signature import SellerCertificate
from storage.postgres.pool import UNAVAILABLE
from storage.postgres.registry import Registry

V = TypeVar("V")

STALE_ANSWERS = Counter(
    "einvoice_registry_stale_answers_total",
    "Registry answers from cached entries PostgreSQL could not re-read (an outage)",
    ["kind"],
)


@dataclass(frozen=True)
class Seller:
    tax_code: str
    name: str
    status: str
    keys: dict[str, SellerKey]
    month_buckets: int = 1
    # Keys registered as X.509 certificates, by the SHA-256 of their DER bytes (XML invoices).
    certificates: dict[str, SellerCertificate] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class Client:
    id: uuid.UUID
    role: str
    tax_code: str | None
    secret_hash: bytes
    rate_limit_class: str
    revoked: bool


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V | None  # None: no such record
    generation: int  # the cache's generation when stored: a reset makes the entry not current
    fresh_until: float  # read + ttl_s: current until then
    stale_until: float  # read + stale_s: never served after this


class _TtlCache(Generic[V]):
    """Entries that expire, are re-read when not current, and are served stale only while they
    cannot be re-read; one attached load per key (see the module docstring)."""

    def __init__(
        self,
        kind: str,
        *,
        ttl_s: float,
        stale_s: float,
        max_entries: int,
        max_missing: int,
        clock: Callable[[], float],
    ) -> None:
        self.kind = kind
        self.ttl_s = ttl_s
        self.stale_s = stale_s
        self.max_entries = max_entries
        self.max_missing = max_missing
        self.clock = clock
        self.generation = 0
        self.found: OrderedDict[Hashable, _Entry[V]] = OrderedDict()
        self.missing: OrderedDict[Hashable, _Entry[V]] = OrderedDict()
        self.loading: dict[Hashable, asyncio.Task[V | None]] = {}
        self._tasks: set[asyncio.Task[V | None]] = set()  # detached loads too, until they end

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V | None]]) -> V | None:
        now = self.clock()
        entry = self._entry(key)
        if entry is not None:
            if self._current(entry, now):
                (self.found if entry.value is not None else self.missing).move_to_end(key)
                return entry.value
            if now >= entry.stale_until:  # not current, and never to be served stale again
                self.found.pop(key, None)
                self.missing.pop(key, None)
                entry = None
        pending = self.loading.get(key)
        if pending is not None and entry is not None:
            # Being re-read; no notification removed it, so its value meanwhile.
            return entry.value
        if pending is None:
            pending = self._start(key, load, now)
        try:
            return await asyncio.shield(pending)
        except UNAVAILABLE:
            # Looked up again: a notification may have removed it while we waited.
            entry, now = self._entry(key), self.clock()
            if entry is None or not (self._current(entry, now) or now < entry.stale_until):
                raise
            STALE_ANSWERS.labels(self.kind).inc()
            return entry.value

    def drop(self, key: Hashable) -> None:
        self.found.pop(key, None)
        self.missing.pop(key, None)
        self.loading.pop(key, None)  # detached: it will not store what it read

    def reset(self) -> None:
        """Anything may have changed: re-read every entry before serving it as current."""
        self.generation += 1
        self.loading.clear()

    def clear(self) -> None:
        self.found.clear()
        self.missing.clear()
        self.reset()

    def _current(self, entry: _Entry[V], now: float) -> bool:
        return entry.generation == self.generation and now < entry.fresh_until

    def _entry(self, key: Hashable) -> _Entry[V] | None:
        entry = self.found.get(key)
        return self.missing.get(key) if entry is None else entry

    def _start(
        self, key: Hashable, load: Callable[[], Awaitable[V | None]], now: float
    ) -> asyncio.Task[V | None]:
        task = asyncio.create_task(self._fill(key, load, now))
        self.loading[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def _fill(
        self, key: Hashable, load: Callable[[], Awaitable[V | None]], read: float
    ) -> V | None:
        this = asyncio.current_task()
        try:
            value = await load()
        finally:
            attached = self.loading.get(key) is this
            if attached:
                del self.loading[key]
        if attached:
            self._store(key, value, read)
        return value

    def _store(self, key: Hashable, value: V | None, read: float) -> None:
        entry = _Entry(value, self.generation, read + self.ttl_s, read + self.stale_s)
        this, other, bound = (
            (self.found, self.missing, self.max_entries)
            if value is not None
            else (self.missing, self.found, self.max_missing)
        )
        other.pop(key, None)
        this[key] = entry
        this.move_to_end(key)
        while len(this) > bound:
            this.popitem(last=False)

    def _finished(self, task: asyncio.Task[V | None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: no warning when every caller went away


class RegistryCache:
    def __init__(
        self,
        registry: Registry,
        *,
        ttl_s: float = 30.0,
        stale_s: float = 120.0,
        max_entries: int = 200_000,
        max_missing: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry

        def cache(kind: str) -> _TtlCache[V]:
            return _TtlCache(
                kind,
                ttl_s=ttl_s,
                stale_s=stale_s,
                max_entries=max_entries,
                max_missing=max_missing,
                clock=clock,
            )

        self._sellers: _TtlCache[Seller] = cache("seller")
        self._clients: _TtlCache[Client] = cache("client")

    async def seller(self, tax_code: str) -> Seller | None:
        return await self._sellers.get(tax_code, lambda: self._load_seller(tax_code))

    async def client(self, client_id: uuid.UUID) -> Client | None:
        return await self._clients.get(client_id, lambda: self._load_client(client_id))

    def on_change(self, table: str, key: str) -> None:
        """A notification: `key` (a client id, or a tax code) changed in `table`."""
        if table == "api_clients":
            self._clients.drop(uuid.UUID(key))
        else:
            self._sellers.drop(key)

    def reset(self) -> None:
        """Changes may have been missed (the listener lost, or regained, its connection): every
        entry is re-read on its next use, and served meanwhile only while it cannot be."""
        self._sellers.reset()
        self._clients.reset()

    def clear(self) -> None:
        """Forget everything (nothing is served stale afterwards)."""
        self._sellers.clear()
        self._clients.clear()

    async def _load_seller(self, tax_code: str) -> Seller | None:
        taxpayer = await self.registry.taxpayer(tax_code)
        if taxpayer is None:
            return None
        rows = await self.registry.keys_of(tax_code)
        keys = {
            row.kid: SellerKey(
                kid=row.kid,
                tax_code=row.tax_code,
                algorithm=row.algorithm,
                public_key=load_public_jwk(row.public_jwk),
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                revoked_at=row.revoked_at,
            )
            for row in rows
        }
        certificates = [
            SellerCertificate(
                kid=row.kid,
                tax_code=row.tax_code,
                certificate=x509.load_der_x509_certificate(row.certificate),
                revoked_at=row.revoked_at,
                valid_from=row.valid_from,
                valid_to=row.valid_to,
            )
            for row in rows
            if row.certificate is not None
        ]
        return Seller(
            taxpayer.tax_code,
            taxpayer.name,
            taxpayer.status,
            keys,
            taxpayer.month_buckets,
            {certificate.fingerprint: certificate for certificate in certificates},
        )

    async def _load_client(self, client_id: uuid.UUID) -> Client | None:
        row = await self.registry.client(client_id)
        if row is None:
            return None
        return Client(
            row.id,
            row.role,
            row.tax_code,
            row.secret_hash,
            row.rate_limit_class,
            row.revoked_at is not None,
        )
