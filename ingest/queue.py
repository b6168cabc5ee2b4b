"""The batch queue: a Redis Stream with one consumer group of ingest workers.

Redis only carries the work; the batches themselves are durable in Cassandra before they are
queued. So a message may be delivered twice (redelivery after a worker died, or a recovery scan
after Redis lost the stream) and processing is idempotent. Acknowledged messages are deleted, so
the stream's length is the backlog: batches accepted and not yet completed.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis.asyncio as redis

STREAM = "einvoice:batches"
GROUP = "ingest"


class BatchQueue:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    async def ensure_group(self) -> bool:
        """Create the stream and group if missing; True when they had to be created."""
        try:
            await self.client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" in str(error):
                return False
            raise
        return True

    async def enqueue(self, batch_id: uuid.UUID) -> None:
        await self.client.xadd(STREAM, {"batch_id": str(batch_id)})

    async def backlog(self) -> int:
        return int(await self.client.xlen(STREAM))

    async def stats(self) -> tuple[int, int, float]:
        """(batches queued and not completed, of them delivered but not acknowledged, age in
        seconds of the oldest one)."""
        length = int(await self.client.xlen(STREAM))
        try:
            groups: Any = await self.client.xinfo_groups(STREAM)
        except redis.ResponseError as error:
            if "no such key" not in str(error).lower():
                raise
            # The stream is gone (Redis lost it): nothing queued here. The worker's next read
            # fails with NOGROUP and recreates it; metrics must not stop the worker first.
            groups = []
        pending = sum(int(group.get("pending", 0)) for group in groups)
        oldest: Any = await self.client.xrange(STREAM, count=1)
        age = 0.0
        if oldest:
            enqueued_ms = int(_text(oldest[0][0]).split("-")[0])
            age = max(0.0, time.time() - enqueued_ms / 1000)
        return length, pending, age

    async def next(self, consumer: str, block_ms: int) -> list[tuple[str, uuid.UUID]]:
        reply: Any = await self.client.xreadgroup(
            GROUP, consumer, {STREAM: ">"}, count=1, block=block_ms
        )
        return [
            (_text(message_id), _batch(fields))
            for _, messages in reply or []
            for message_id, fields in messages
        ]

    async def claim_stale(self, consumer: str, idle_ms: int) -> list[tuple[str, uuid.UUID]]:
        """Messages of a worker that stopped answering for `idle_ms` (XAUTOCLAIM)."""
        reply: Any = await self.client.xautoclaim(STREAM, GROUP, consumer, idle_ms, "0-0", count=10)
        messages = reply[1] if reply else []
        return [(_text(message_id), _batch(fields)) for message_id, fields in messages if fields]

    async def done(self, message_id: str) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(STREAM, GROUP, message_id)
            pipe.xdel(STREAM, message_id)
            await pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _batch(fields: dict[bytes | str, bytes | str]) -> uuid.UUID:
    raw = fields.get(b"batch_id", fields.get("batch_id"))
    return uuid.UUID(_text(raw or b""))
