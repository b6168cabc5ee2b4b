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

from einvoice.config import Settings
from lookup.redis_client import create_redis
from storage.cassandra.client import CassandraClient
from storage.cassandra.client import connect as connect_cassandra
from storage.postgres.pool import create_pool
from storage.schema_versions import ensure_current

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clients:
    settings: Settings
    cassandra: CassandraClient
    postgres: asyncpg.Pool
    redis: redis.Redis


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
            log.info("clients ready: cassandra keyspace %s", cassandra.keyspace)
            yield {"clients": Clients(settings, cassandra, postgres, cache)}

    return lifespan
