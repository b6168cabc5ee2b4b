"""A worker's hold on its message against the real Redis: renewed, it is never taken over;
abandoned, it is."""

from __future__ import annotations

import asyncio
import time
import uuid

from ingest.lease import holding
from ingest.queue import GROUP, BatchQueue

IDLE_MS = 1000


async def test_a_renewed_message_is_not_taken_over_and_an_abandoned_one_is(
    queue: BatchQueue,
) -> None:
    await queue.ensure_group()
    batch_id = uuid.uuid1()
    await queue.enqueue(batch_id)
    [(message_id, _)] = await queue.next("busy", block_ms=100)

    taken_while_held: list[tuple[str, uuid.UUID]] = []
    async with holding(queue, "busy", message_id, batch_id, every_s=IDLE_MS / 10_000):
        watch_until = time.monotonic() + 3 * IDLE_MS / 1000  # three idle times
        while time.monotonic() < watch_until:
            taken_while_held += await queue.claim_stale("other", IDLE_MS)
            await asyncio.sleep(0.1)
        pending = await queue.client.xpending_range(
            queue.stream, GROUP, min=message_id, max=message_id, count=1
        )
    deadline = time.monotonic() + 30
    taken = await queue.claim_stale("other", IDLE_MS)
    while not taken and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        taken = await queue.claim_stale("other", IDLE_MS)
    renewed_after = await queue.renew("busy", message_id)

    assert taken_while_held == []
    # Renewing did not count as a delivery.
    assert [(p["consumer"], p["times_delivered"]) for p in pending] == [(b"busy", 1)]
    assert taken == [(message_id, batch_id)]
    assert renewed_after is False  # the old holder does not take it back
