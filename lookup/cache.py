"""The lookup cache in Redis: an invoice's stored document by its code, read through and written
through, with short-lived entries for codes that do not exist.

Only an accelerator: Cassandra is the record. Every Redis failure is counted and answered from
Cassandra instead (lookups stay up with Redis down); every entry expires.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as redis
from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

CACHE_TTL_S = 24 * 3600
MISS_TTL_S = 30  # a code that does not exist yet may be issued a moment later
_MISSING = b"-"

CACHE_WRITES = Counter("einvoice_cache_writes_total", "Lookup-cache writes", ["result"])
CACHE_READS = Counter("einvoice_cache_reads_total", "Lookup-cache reads", ["result"])
CACHE_UP = Gauge("einvoice_cache_available", "1 while the lookup cache answers, 0 when it fails")


def code_key(code: str) -> str:
    return f"inv:code:{code}"


async def write_through(client: redis.Redis, code: str, document: dict[str, Any]) -> None:
    try:
        await client.set(code_key(code), orjson.dumps(document), ex=CACHE_TTL_S)
    except redis.RedisError as error:
        CACHE_WRITES.labels("error").inc()
        CACHE_UP.set(0)
        log.warning("lookup cache write failed for %s: %s", code, error)
        return
    CACHE_WRITES.labels("ok").inc()


async def invalidate(client: redis.Redis, code: str) -> None:
    """Drop an entry whose invoice changed (status); best effort, it expires anyway."""
    try:
        await client.delete(code_key(code))
    except redis.RedisError as error:
        CACHE_UP.set(0)
        log.warning("lookup cache invalidation failed for %s: %s", code, error)


async def read_through(
    client: redis.Redis, code: str, load: Callable[[], Awaitable[dict[str, Any] | None]]
) -> tuple[dict[str, Any] | None, str]:
    """(document or None, "hit" | "miss" | "negative_hit" | "bypass") for `code`."""
    key = code_key(code)
    try:
        cached = await client.get(key)
        CACHE_UP.set(1)
    except redis.RedisError as error:
        CACHE_READS.labels("error").inc()
        CACHE_UP.set(0)
        log.warning("lookup cache unavailable (%s); reading Cassandra", error)
        return await load(), "bypass"
    if cached == _MISSING:
        CACHE_READS.labels("negative_hit").inc()
        return None, "negative_hit"
    if cached is not None:
        CACHE_READS.labels("hit").inc()
        document: dict[str, Any] = orjson.loads(cached)
        return document, "hit"
    CACHE_READS.labels("miss").inc()
    document_or_none = await load()
    try:
        if document_or_none is None:
            await client.set(key, _MISSING, ex=MISS_TTL_S)
        else:
            await client.set(key, orjson.dumps(document_or_none), ex=CACHE_TTL_S)
    except redis.RedisError as error:
        CACHE_UP.set(0)
        log.warning("lookup cache fill failed for %s: %s", code, error)
    return document_or_none, "miss"
