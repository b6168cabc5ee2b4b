"""What every service process runs on: its clients and services, built in one place.

The API's lifespan (api/lifespan.py) and the batch worker (ingest/worker.py) both open the
runtime and add only what is theirs (the API its rate limiter and lookups, the worker its loop).
Opening it always checks both databases' schema versions first, so no process can write to a
keyspace its code does not know.

Opened after the server forks its workers (the Cassandra driver and asyncpg must not cross a
fork), and closed in reverse order of opening: the registry listener, the pending cache writes
(before Redis closes), Redis, PostgreSQL, Cassandra.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

import asyncpg
import redis.asyncio as redis

from einvoice.accelerator import implementation
from einvoice.authority_keys import load_keyring, record_expiry
from einvoice.changes import InvoiceChanges
from einvoice.config import Settings
from einvoice.invoice.authenticate import Authority
from einvoice.memory import settle_after_startup
from einvoice.notices import Notices
from einvoice.registry.cache import RegistryCache
from einvoice.submission import Submissions
from ingest.queue import BatchQueue
from lookup.cache import CacheWriter
from lookup.redis_client import create_redis
from signing.authority import check_code_prefix
from storage.cassandra.batches import BatchStore
from storage.cassandra.client import CassandraClient, check_claims_stay_unique
from storage.cassandra.client import connect as connect_cassandra
from storage.cassandra.invoices import InvoiceStore
from storage.cassandra.notices import NoticeStore
from storage.cassandra.row_writer import RowWriter
from storage.postgres.notifications import RegistryListener
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from storage.schema_versions import ensure_current

log = logging.getLogger(__name__)
T = TypeVar("T")


class WhenUp(Protocol):
    """How a process meets a backend that does not answer at start-up: the API fails at once
    (its server restarts it), the worker waits for the backend (ingest/worker.py)."""

    def __call__(self, backend: str, connect: Callable[[], Awaitable[T]]) -> Awaitable[T]: ...


async def at_once(backend: str, connect: Callable[[], Awaitable[T]]) -> T:
    return await connect()


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    cassandra: CassandraClient
    postgres: asyncpg.Pool
    redis: redis.Redis
    registry: Registry
    registry_cache: RegistryCache
    authority: Authority
    invoices: InvoiceStore
    batches: BatchStore
    batch_queue: BatchQueue
    submissions: Submissions
    notices: Notices


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, write_through: bool, when_up: WhenUp = at_once
) -> AsyncIterator[Runtime]:
    """The process's runtime, closed on exit. `write_through`: authenticated invoices are also
    put in the lookup cache (the API, whose callers read what they just submitted; not the
    worker, whose millions of batch lines would only push read entries out of the cache)."""
    async with AsyncExitStack() as stack:
        cassandra = await when_up(
            "cassandra", lambda: asyncio.to_thread(connect_cassandra, settings)
        )
        stack.push_async_callback(asyncio.to_thread, cassandra.close)
        postgres = await when_up("postgres", lambda: create_pool(settings))
        stack.push_async_callback(postgres.close)
        cache = create_redis(settings)
        stack.push_async_callback(cache.aclose)
        # Refuse to run against a schema older than this code, or newer and not compatible.
        await when_up("schema", lambda: ensure_current(cassandra, postgres))
        # Refuse claim settings under which two datacentres could both accept one number.
        await asyncio.to_thread(check_claims_stay_unique, cassandra, settings)
        await asyncio.to_thread(cassandra.session.set_keyspace, cassandra.keyspace)
        keyring = await asyncio.to_thread(
            load_keyring, settings.authority_keys_dir, settings.authority_active_kid
        )
        record_expiry(keyring)  # the key-expiry gauge, and a warning for an expired active key
        authority = Authority(
            keyring, check_code_prefix(settings.code_prefix), settings.token_issuer
        )
        writer = RowWriter(cassandra.session)  # the process's one grouped writer
        invoices = await asyncio.to_thread(
            InvoiceStore, cassandra.session, writer, cassandra.claim_routing
        )
        batches = await asyncio.to_thread(BatchStore, cassandra.session, writer)
        registry = Registry(postgres)
        registry_cache = RegistryCache(registry, stale_s=settings.registry_stale_s)
        listener = RegistryListener(settings, registry_cache.on_change, registry_cache.reset)
        listener.start()
        stack.push_async_callback(listener.stop)
        cache_writer = None
        if write_through:
            cache_writer = CacheWriter(cache)
            stack.push_async_callback(cache_writer.drain)  # before Redis closes
        # Status changes always reach the lookup cache, from the API and the workers alike.
        changes = InvoiceChanges(invoices=invoices, taxpayers=registry_cache, cache=cache)
        submissions = Submissions(
            authority=authority,
            invoices=invoices,
            registry_cache=registry_cache,
            cache=cache_writer,
            changes=changes,
            recovery_grace_s=settings.cassandra_request_timeout_s + 2,
            page_url=settings.lookup_page_url,
        )
        notice_store = await asyncio.to_thread(
            NoticeStore, cassandra.session, cassandra.claim_routing
        )
        notices = Notices(
            notices=notice_store,
            invoices=invoices,
            registry_cache=registry_cache,
            changes=changes,
        )
        log.info(
            "runtime ready: cassandra keyspace %s, the %s implementation (einvoice/accelerator.py)",
            cassandra.keyspace,
            implementation(),
        )
        settle_after_startup()  # garbage-collector settings (einvoice/memory.py)
        yield Runtime(
            settings=settings,
            cassandra=cassandra,
            postgres=postgres,
            redis=cache,
            registry=registry,
            registry_cache=registry_cache,
            authority=authority,
            invoices=invoices,
            batches=batches,
            batch_queue=BatchQueue(cache, settings.cassandra_keyspace),
            submissions=submissions,
            notices=notices,
        )
