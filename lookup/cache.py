"""The lookup cache in Redis: an invoice's public answer by its code, written through on issue.

Only an accelerator: every write is best effort (a Redis outage never fails a submission) and
every entry expires; Cassandra stays the record.
"""

from __future__ import annotations

import logging

import orjson
import redis.asyncio as redis
from prometheus_client import Counter

log = logging.getLogger(__name__)

CACHE_TTL_S = 24 * 3600
CACHE_WRITES = Counter("einvoice_cache_writes_total", "Lookup-cache writes", ["result"])


def code_key(code: str) -> str:
    return f"inv:code:{code}"


async def write_through(client: redis.Redis, code: str, document: dict[str, object]) -> None:
    try:
        await client.set(code_key(code), orjson.dumps(document), ex=CACHE_TTL_S)
    except redis.RedisError as error:
        CACHE_WRITES.labels("error").inc()
        log.warning("lookup cache write failed for %s: %s", code, error)
        return
    CACHE_WRITES.labels("ok").inc()
