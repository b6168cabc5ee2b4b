"""A key written and read in the real Redis through the client the service builds."""

from __future__ import annotations

import uuid

from einvoice.config import Settings
from lookup.redis_client import create_redis


async def test_a_key_written_is_read_back(settings: Settings) -> None:
    client = create_redis(settings)
    key = f"test:{uuid.uuid4().hex}"
    try:
        await client.set(key, b"value", ex=60)
        assert await client.get(key) == b"value"
        assert 0 < await client.ttl(key) <= 60
    finally:
        await client.delete(key)
        await client.aclose()
