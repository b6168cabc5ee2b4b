"""The registry as each service process sees it: taxpayers with their keys, and API clients,
cached in memory so the hot path never queries PostgreSQL per request.

Entries (misses included) live at most `ttl_s` seconds, and are dropped as soon as a change
notification names them (storage/postgres/notifications.py). So a revoked key, a revoked client
or a suspended taxpayer stops working within about a second, and within `ttl_s` (30 s by
default) even if a notification were lost. Concurrent misses for one entry share one query.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from einvoice.registry.public_keys import load_public_jwk
from signing.seller import SellerKey
from storage.postgres.registry import Registry

V = TypeVar("V")


@dataclass(frozen=True)
class Seller:
    tax_code: str
    name: str
    status: str
    keys: dict[str, SellerKey]
    month_buckets: int = 1

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


class _TtlCache(Generic[V]):
    """A bounded map whose entries expire; loads on a miss, one load per key at a time."""

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float]) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self.entries: OrderedDict[Hashable, tuple[float, V | None]] = OrderedDict()
        self.loading: dict[Hashable, asyncio.Future[V | None]] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V | None]]) -> V | None:
        entry = self.entries.get(key)
        if entry is not None and entry[0] > self.clock():
            self.entries.move_to_end(key)
            return entry[1]
        pending = self.loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self.loading[key] = future
        try:
            value = await load()
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self.loading[key]
        if not future.done():
            future.set_result(value)
        self.entries[key] = (self.clock() + self.ttl_s, value)
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)
        return value

    def drop(self, key: Hashable) -> None:
        self.entries.pop(key, None)

    def clear(self) -> None:
        self.entries.clear()


class RegistryCache:
    def __init__(
        self,
        registry: Registry,
        *,
        ttl_s: float = 30.0,
        max_entries: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self._sellers: _TtlCache[Seller] = _TtlCache(ttl_s, max_entries, clock)
        self._clients: _TtlCache[Client] = _TtlCache(ttl_s, max_entries, clock)

    async def seller(self, tax_code: str) -> Seller | None:
        return await self._sellers.get(tax_code, lambda: self._load_seller(tax_code))

    async def client(self, client_id: uuid.UUID) -> Client | None:
        return await self._clients.get(client_id, lambda: self._load_client(client_id))

    def on_change(self, table: str, key: str) -> None:
        if table == "api_clients":
            self._clients.drop(uuid.UUID(key))
        else:
            self._sellers.drop(key)

    def clear(self) -> None:
        self._sellers.clear()
        self._clients.clear()

    async def _load_seller(self, tax_code: str) -> Seller | None:
        taxpayer = await self.registry.taxpayer(tax_code)
        if taxpayer is None:
            return None
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
            for row in await self.registry.keys_of(tax_code)
        }
        return Seller(
            taxpayer.tax_code, taxpayer.name, taxpayer.status, keys, taxpayer.month_buckets
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
