"""The batch queue: a Redis Stream with one consumer group of ingest workers.

Redis only carries the work; the batches themselves are durable in Cassandra before they are
queued. So a message may be delivered twice (redelivery after a worker died, or a recovery scan
after Redis lost the stream) and processing is idempotent. Acknowledged messages are deleted, so
the stream's length is the backlog: batches accepted and not yet completed.

Every key is named from the deployment's namespace (its Cassandra keyspace), so deployments that
share a Redis (the test suite beside `scripts/start`) never take each other's batches:
- `einvoice:<ns>:batches`, the stream (consumer group `ingest`);
- `einvoice:<ns>:queued`, the set of batch ids with a message in the stream. It is written with
  the message in one script, so queueing a batch that is already queued (the periodic rescan, the
  API and a recovery racing) adds nothing; `done` removes it with the message. When the group has
  to be created (Redis lost the stream), the set is cleared in the same script, so the recovery
  that follows can queue every unfinished batch again;
- `einvoice:<ns>:attempts`, a hash of batch id -> failed processing attempts, cleared by `done`.

A worker holds a message while it works by resetting its idle time (`renew`: XCLAIM ... JUSTID,
which does not raise the delivery count), so XAUTOCLAIM (`claim_stale`) only takes messages of a
worker that stopped answering.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis.asyncio as redis

GROUP = "ingest"

# KEYS: stream, queued set. ARGV: group. 1 when the group had to be created (and the set cleared:
# whatever it recorded was in the stream Redis lost), 0 when it existed.
_ENSURE_GROUP = """
local reply = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
if type(reply) == 'table' and reply.err then
  if string.find(reply.err, 'BUSYGROUP', 1, true) then return 0 end
  return redis.error_reply(reply.err)
end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: stream, queued set. ARGV: batch id. 1 when queued, 0 when it was queued already.
_ENQUEUE = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[1], '*', 'batch_id', ARGV[1])
return 1
"""

# KEYS: stream. ARGV: group, consumer, message id. Resets the message's idle time if this
# consumer still holds it (never takes it back from a worker that claimed it meanwhile): 1 if so.
_RENEW = """
local pending = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if type(pending) ~= 'table' or pending.err or #pending == 0 then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""


class BatchQueue:
    def __init__(self, client: redis.Redis, namespace: str) -> None:
        """`namespace`: the deployment's Cassandra keyspace (`settings.cassandra_keyspace`)."""
        self.client = client
        self.stream = f"einvoice:{namespace}:batches"
        self.queued = f"einvoice:{namespace}:queued"
        self.attempts = f"einvoice:{namespace}:attempts"
        self._ensure_group = client.register_script(_ENSURE_GROUP)
        self._enqueue = client.register_script(_ENQUEUE)
        self._renew = client.register_script(_RENEW)

    async def ensure_group(self) -> bool:
        """Create the stream and group if missing; True when they had to be created."""
        return bool(await self._ensure_group(keys=[self.stream, self.queued], args=[GROUP]))

    async def enqueue(self, batch_id: uuid.UUID) -> bool:
        """Queue a batch unless it is queued already; True when it was queued now."""
        return bool(await self._enqueue(keys=[self.stream, self.queued], args=[str(batch_id)]))

    async def backlog(self) -> int:
        return int(await self.client.xlen(self.stream))

    async def stats(self) -> tuple[int, int, float]:
        """(batches queued and not completed, of them delivered but not acknowledged, age in
        seconds of the oldest one)."""
        length = int(await self.client.xlen(self.stream))
        try:
            groups: Any = await self.client.xinfo_groups(self.stream)
        except redis.ResponseError as error:
            if "no such key" not in str(error).lower():
                raise
            # The stream is gone (Redis lost it): nothing queued here. The worker's next read
            # fails with NOGROUP and recreates it; metrics must not stop the worker first.
            groups = []
        pending = sum(int(group.get("pending", 0)) for group in groups)
        oldest: Any = await self.client.xrange(self.stream, count=1)
        age = 0.0
        if oldest:
            enqueued_ms = int(_text(oldest[0][0]).split("-")[0])
            age = max(0.0, time.time() - enqueued_ms / 1000)
        return length, pending, age

    async def next(self, consumer: str, block_ms: int) -> list[tuple[str, uuid.UUID]]:
        reply: Any = await self.client.xreadgroup(
            GROUP, consumer, {self.stream: ">"}, count=1, block=block_ms
        )
        return [
            (_text(message_id), _batch(fields))
            for _, messages in reply or []
            for message_id, fields in messages
        ]

    async def claim_stale(self, consumer: str, idle_ms: int) -> list[tuple[str, uuid.UUID]]:
        """Messages of a worker that stopped answering for `idle_ms` (XAUTOCLAIM). One at a time,
        like `next`: a message claimed is renewed only once its processing starts. Each call of
        XAUTOCLAIM looks at a few pending entries only, so the scan goes on past the messages
        live workers hold until it finds one or reaches the end."""
        start = "0-0"
        while True:
            reply: Any = await self.client.xautoclaim(
                self.stream, GROUP, consumer, idle_ms, start, count=1
            )
            if not reply:
                return []
            claimed = [
                (_text(message_id), _batch(fields)) for message_id, fields in reply[1] if fields
            ]
            start = _text(reply[0])
            if claimed or start == "0-0":
                return claimed

    async def renew(self, consumer: str, message_id: str) -> bool:
        """Reset the idle time of a message this consumer holds; False if it holds it no more
        (another worker claimed it, or Redis lost the stream)."""
        held = await self._renew(keys=[self.stream], args=[GROUP, consumer, message_id])
        return bool(held)

    async def failed_attempt(self, batch_id: uuid.UUID) -> int:
        """Count a failed attempt at processing a batch; the attempts so far."""
        return int(await self.client.hincrby(self.attempts, str(batch_id), 1))

    async def done(self, message_id: str, batch_id: uuid.UUID) -> None:
        """The batch is finished (completed or marked failed): its message, its record in the
        queued set and its attempts go."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, GROUP, message_id)
            pipe.xdel(self.stream, message_id)
            pipe.srem(self.queued, str(batch_id))
            pipe.hdel(self.attempts, str(batch_id))
            await pipe.execute()

    async def delete_keys(self) -> None:
        """Delete every key of this namespace, as if Redis had lost them (tests)."""
        await self.client.delete(self.stream, self.queued, self.attempts)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _batch(fields: dict[bytes | str, bytes | str]) -> uuid.UUID:
    raw = fields.get(b"batch_id", fields.get("batch_id"))
    return uuid.UUID(_text(raw or b""))
