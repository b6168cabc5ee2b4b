"""Every client of a service process, built once when the process starts and closed in reverse.

Built in the lifespan, so after the server has forked its workers: the Cassandra driver and
asyncpg must not be shared across a fork. Handlers read them from `request.state.clients`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TypedDict

import asyncpg
import redis.asyncio as redis
from fastapi import FastAPI

from api.ratelimit import RateLimiter
from einvoice.authority_keys import load_keyring
from einvoice.config import Settings
from einvoice.invoice.authenticate import Authority
from einvoice.memory import settle_after_startup
from einvoice.registry.cache import RegistryCache
from einvoice.submission import Submissions
from ingest.queue import BatchQueue
from lookup.cache import CacheWriter
from lookup.redis_client import create_redis
from signing.authority import check_code_prefix
from storage.cassandra.batches import BatchStore
from storage.cassandra.client import CassandraClient
from storage.cassandra.client import connect as connect_cassandra
from storage.cassandra.invoices import InvoiceStore
from storage.cassandra.row_writer import RowWriter
from storage.postgres.notifications import RegistryListener
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from storage.schema_versions import ensure_current

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clients:
    settings: Settings
    cassandra: CassandraClient
    postgres: asyncpg.Pool
    redis: redis.Redis
    registry: Registry
    registry_cache: RegistryCache
    rate_limiter: RateLimiter
    authority: Authority
    invoices: InvoiceStore
    batches: BatchStore
    batch_queue: BatchQueue
    submissions: Submissions


class State(TypedDict):
    clients: Clients


def lifespan_for(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[State]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        async with AsyncExitStack() as stack:
            cassandra = await asyncio.to_thread(connect_cassandra, settings)
            stack.push_async_callback(asyncio.to_thread, cassandra.close)
            postgres = await create_pool(settings)
            stack.push_async_callback(postgres.close)
            cache = create_redis(settings)
            stack.push_async_callback(cache.aclose)
            # Refuse to serve against a schema older (or newer) than this code.
            await ensure_current(cassandra, postgres)
            await asyncio.to_thread(cassandra.session.set_keyspace, cassandra.keyspace)
            keyring = await asyncio.to_thread(
                load_keyring, settings.authority_keys_dir, settings.authority_active_kid
            )
            authority = Authority(keyring, check_code_prefix(settings.code_prefix))
            writer = RowWriter(cassandra.session)  # the process's one grouped writer
            invoices = await asyncio.to_thread(InvoiceStore, cassandra.session, writer)
            batches = await asyncio.to_thread(BatchStore, cassandra.session, writer)
            registry = Registry(postgres)
            registry_cache = RegistryCache(registry)
            listener = RegistryListener(settings, registry_cache.on_change, registry_cache.clear)
            listener.start()
            stack.push_async_callback(listener.stop)
            cache_writer = CacheWriter(cache)
            stack.push_async_callback(cache_writer.drain)  # before Redis closes
            log.info("clients ready: cassandra keyspace %s", cassandra.keyspace)
            settle_after_startup()  # garbage-collector settings (einvoice/memory.py)
            yield {
                "clients": Clients(
                    settings,
                    cassandra,
                    postgres,
                    cache,
                    registry,
                    registry_cache,
                    RateLimiter(),
                    authority,
                    invoices,
                    batches,
                    BatchQueue(cache, settings.cassandra_keyspace),
                    Submissions(
                        authority=authority,
                        invoices=invoices,
                        registry_cache=registry_cache,
                        cache=cache_writer,
                        recovery_grace_s=settings.cassandra_request_timeout_s + 2,
                    ),
                )
            }

    return lifespan
