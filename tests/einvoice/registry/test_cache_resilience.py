"""The registry cache and the pool against the real PostgreSQL when things go wrong: a revocation
racing a load, PostgreSQL going away or hanging (behind a proxy this test controls; the shared
server is never touched), and the pool's timeouts."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from einvoice.config import Settings
from einvoice.registry.api_keys import new_api_key
from einvoice.registry.cache import RegistryCache
from einvoice.registry.public_keys import parse_public_key
from signing import jws
from storage.postgres.notifications import RegistryListener
from storage.postgres.pool import UNAVAILABLE, create_pool
from storage.postgres.registry import Registry
from tests.einvoice.registry.tcp_proxy import TcpProxy
from tests.einvoice.registry.test_registry_storage import fresh_tax_code
from tests.signing.keys import private_key

WAIT_S = 30  # a guard against a hung test, never an assertion on time


@pytest.fixture
async def registry(settings: Settings) -> AsyncIterator[Registry]:
    pool = await create_pool(settings)
    yield Registry(pool)
    await pool.close()


class Clock:
    """The monotonic clock, which a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


class Seen:
    """What the listener delivered: notifications by key, and how many resets."""

    def __init__(self, cache: RegistryCache) -> None:
        self.cache = cache
        self.keys: set[str] = set()
        self.resets = 0
        self.changed = asyncio.Event()

    def on_change(self, table: str, key: str) -> None:
        self.cache.on_change(table, key)
        self.keys.add(key)
        self.changed.set()

    def on_reset(self) -> None:
        self.cache.reset()
        self.resets += 1
        self.changed.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), WAIT_S)


@asynccontextmanager
async def listening(settings: Settings, seen: Seen) -> AsyncIterator[RegistryListener]:
    listener = RegistryListener(settings, seen.on_change, seen.on_reset)
    listener.start()
    try:
        await asyncio.wait_for(listener.listening.wait(), WAIT_S)
        yield listener
    finally:
        await listener.stop()


async def seller_with_key_and_client(registry: Registry) -> tuple[str, uuid.UUID]:
    tax_code = fresh_tax_code()
    await registry.add_taxpayer(tax_code, "Công ty Thử Nghiệm")
    jwk = parse_public_key(jws.public_jwk(private_key("ES256").public_key())).jwk
    await registry.add_key(tax_code, "k", "ES256", jwk, None, None)
    key = new_api_key()
    await registry.add_client(key.client_id, "business", tax_code, key.secret_hash, "standard")
    return tax_code, key.client_id


def held_after_reading(
    registry: Registry, method: str
) -> tuple[Registry, asyncio.Event, asyncio.Event]:
    """A registry over the same pool whose first call of `method` reads its rows, then waits
    for a release before returning them: a load in flight across a change."""
    held = Registry(registry.pool)
    read, release = asyncio.Event(), asyncio.Event()
    original: Callable[..., Awaitable[Any]] = getattr(registry, method)
    calls = 0

    async def reading_then_held(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        rows = await original(*args)
        if calls == 1:
            read.set()
            await release.wait()
        return rows

    setattr(held, method, reading_then_held)
    return held, read, release


# -- the revocation race -------------------------------------------------------------------------


async def test_a_client_load_that_read_before_a_revocation_does_not_bring_it_back(
    registry: Registry, settings: Settings
) -> None:
    _, client_id = await seller_with_key_and_client(registry)
    held, read, release = held_after_reading(registry, "client")
    cache = RegistryCache(held, ttl_s=3600)  # only a notification or a reset refreshes it
    seen = Seen(cache)
    async with listening(settings, seen):
        in_flight = asyncio.create_task(cache.client(client_id))
        await asyncio.wait_for(read.wait(), WAIT_S)

        await registry.revoke_client(client_id)  # committed while the load holds the old row
        await seen.until(lambda: str(client_id) in seen.keys)
        release.set()
        answered = await in_flight
        after = await cache.client(client_id)

    assert answered is not None
    assert not answered.revoked  # its own caller: a request concurrent with the revocation
    assert after is not None
    assert after.revoked


async def test_a_seller_load_that_read_before_a_key_revocation_does_not_bring_it_back(
    registry: Registry, settings: Settings
) -> None:
    tax_code, _ = await seller_with_key_and_client(registry)
    held, read, release = held_after_reading(registry, "keys_of")
    cache = RegistryCache(held, ttl_s=3600)
    seen = Seen(cache)
    async with listening(settings, seen):
        in_flight = asyncio.create_task(cache.seller(tax_code))
        await asyncio.wait_for(read.wait(), WAIT_S)

        await registry.revoke_key(tax_code, "k")
        await seen.until(lambda: tax_code in seen.keys)
        release.set()
        await in_flight
        after = await cache.seller(tax_code)

    assert after is not None
    assert after.keys["k"].revoked_at is not None


# -- PostgreSQL away ----------------------------------------------------------------------------


@asynccontextmanager
async def behind_a_proxy(settings: Settings) -> AsyncIterator[tuple[TcpProxy, Settings]]:
    proxy = TcpProxy(settings.postgres_host, settings.postgres_port)
    port = await proxy.start()
    try:
        yield (
            proxy,
            settings.model_copy(
                update={
                    "postgres_host": "127.0.0.1",
                    "postgres_port": port,
                    "postgres_acquire_timeout_s": 1.0,
                    "postgres_query_timeout_s": 1.0,
                    "readiness_timeout_s": 0.5,  # connections open within 2.5 s or fail
                }
            ),
        )
    finally:
        await proxy.close()


async def test_an_outage_serves_what_was_read_then_re_reads_what_changed_meanwhile(
    registry: Registry, settings: Settings
) -> None:
    tax_code, client_id = await seller_with_key_and_client(registry)
    async with behind_a_proxy(settings) as (proxy, through):
        pool = await create_pool(through)
        cache = RegistryCache(Registry(pool), stale_s=120)
        seen = Seen(cache)
        try:
            async with listening(through, seen) as listener:
                seller = await cache.seller(tax_code)
                client = await cache.client(client_id)
                resets = seen.resets

                proxy.cut()
                await seen.until(lambda: seen.resets > resets and not listener.listening.is_set())
                # Changes this process cannot hear of while PostgreSQL is away from it.
                await registry.revoke_key(tax_code, "k")
                await registry.revoke_client(client_id)
                during_seller = await cache.seller(tax_code)
                during_client = await cache.client(client_id)
                with pytest.raises(UNAVAILABLE):
                    await cache.seller(fresh_tax_code())  # a miss cannot be answered
                with pytest.raises(UNAVAILABLE):
                    await cache.client(uuid.uuid4())

                proxy.restore()
                await asyncio.wait_for(listener.listening.wait(), WAIT_S)
                after_seller = await cache.seller(tax_code)
                after_client = await cache.client(client_id)
        finally:
            await pool.close()

    assert during_seller is seller
    assert during_client is client
    assert after_seller is not None
    assert after_seller.keys["k"].revoked_at is not None
    assert after_client is not None
    assert after_client.revoked


async def test_an_outage_longer_than_the_bound_answers_unavailable(
    registry: Registry, settings: Settings
) -> None:
    tax_code, client_id = await seller_with_key_and_client(registry)
    clock = Clock()
    async with behind_a_proxy(settings) as (proxy, through):
        pool = await create_pool(through)
        cache = RegistryCache(Registry(pool), ttl_s=30, stale_s=120, clock=clock)
        try:
            assert await cache.client(client_id) is not None
            assert await cache.seller(tax_code) is not None
            proxy.cut()

            clock.offset = 60  # expired, but within the bound: served
            within = await cache.client(client_id)
            clock.offset = 121
            with pytest.raises(UNAVAILABLE):
                await cache.client(client_id)
            with pytest.raises(UNAVAILABLE):
                await cache.seller(tax_code)
        finally:
            await pool.close()

    assert within is not None


async def test_a_hung_postgresql_times_out_and_cached_entries_are_still_served(
    registry: Registry, settings: Settings
) -> None:
    _, client_id = await seller_with_key_and_client(registry)
    async with behind_a_proxy(settings) as (proxy, through):
        pool = await create_pool(through)
        cache = RegistryCache(Registry(pool))
        try:
            client = await cache.client(client_id)
            proxy.pause()  # connections stay open, nothing answers

            with pytest.raises(TimeoutError):  # a statement on an open connection
                await asyncio.wait_for(pool.fetchval("SELECT 1"), WAIT_S)
            with pytest.raises(TimeoutError):  # and after it, a new connection
                await asyncio.wait_for(pool.fetchval("SELECT 1"), WAIT_S)
            cache.reset()
            served = await asyncio.wait_for(cache.client(client_id), WAIT_S)

            proxy.resume()
            answer = await asyncio.wait_for(pool.fetchval("SELECT 1"), WAIT_S)
        finally:
            await pool.close()

    assert served is client
    assert answer == 1


async def test_the_listener_notices_a_connection_that_stops_answering(
    registry: Registry, settings: Settings
) -> None:
    async with behind_a_proxy(settings) as (proxy, through):
        cache = RegistryCache(registry)
        seen = Seen(cache)
        async with listening(through, seen) as listener:
            resets = seen.resets

            proxy.pause()  # no termination event: only the ping can tell
            await seen.until(lambda: seen.resets > resets)
            proxy.resume()
            await asyncio.wait_for(listener.listening.wait(), WAIT_S)


# -- the pool's timeouts ------------------------------------------------------------------------


async def test_a_statement_longer_than_the_query_timeout_is_abandoned(settings: Settings) -> None:
    pool = await create_pool(settings.model_copy(update={"postgres_query_timeout_s": 0.5}))
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pool.fetchval("SELECT pg_sleep(5)"), WAIT_S)
        server_limit = await pool.fetchval("SHOW statement_timeout")
        still_works = await pool.fetchval("SELECT 1")
    finally:
        await pool.close()

    assert server_limit == "1500ms"  # the server's backstop: a second after the client's
    assert still_works == 1


async def test_waiting_for_a_pooled_connection_gives_up(settings: Settings) -> None:
    pool = await create_pool(
        settings.model_copy(
            update={
                "postgres_pool_min": 1,
                "postgres_pool_max": 1,
                "postgres_acquire_timeout_s": 0.5,
            }
        )
    )
    try:
        async with pool.acquire():  # the only connection, held
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(pool.fetchval("SELECT 1"), WAIT_S)
        after = await pool.fetchval("SELECT 1")
    finally:
        await pool.close()

    assert after == 1


def test_the_pool_raises_what_the_cache_treats_as_an_outage() -> None:
    assert issubclass(asyncpg.ConnectionDoesNotExistError, UNAVAILABLE)
    assert issubclass(asyncpg.QueryCanceledError, UNAVAILABLE)
    assert issubclass(asyncpg.CannotConnectNowError, UNAVAILABLE)
    assert issubclass(TimeoutError, UNAVAILABLE)
    assert not issubclass(asyncpg.UniqueViolationError, UNAVAILABLE)
