"""The batch queue's own behaviour against the real Redis (the worker's tests are in
test_batches.py)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as redis

from einvoice.config import Settings
from ingest.queue import BatchQueue


async def test_the_stats_of_a_stream_redis_lost_are_zero_not_an_error(settings: Settings) -> None:
    # A database of its own, where the stream does not exist: as after Redis lost it.
    parts = urlsplit(settings.redis_url)
    client = redis.Redis.from_url(urlunsplit(parts._replace(path="/15")))
    try:
        await client.flushdb()
        stats = await BatchQueue(client).stats()
    finally:
        await client.aclose()

    assert stats == (0, 0, 0.0)
