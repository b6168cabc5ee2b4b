"""The Redis client of a process (lookup cache and batch queue), built once in the lifespan."""

from __future__ import annotations

import redis.asyncio as redis
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from einvoice.config import Settings


def create_redis(settings: Settings) -> redis.Redis:
    # Connections are made lazily, so a process starts even while Redis is down: the cache only
    # accelerates, and /readyz reports Redis separately.
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.readiness_timeout_s,
        socket_timeout=settings.readiness_timeout_s,
        health_check_interval=30,
        # A pooled connection that Redis closed (a restart) fails once; retry it on a fresh one.
        retry=Retry(NoBackoff(), retries=1),
        retry_on_error=[redis_errors.ConnectionError],
    )
