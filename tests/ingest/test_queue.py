"""The batch queue's own behaviour against the real Redis (the worker's tests are in
test_worker.py and test_batches.py). Each test has a queue in a namespace of its own."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as redis

from ingest.queue import BatchQueue


async def test_the_stats_of_a_stream_redis_lost_are_zero_not_an_error(queue: BatchQueue) -> None:
    # A namespace where the stream does not exist: as after Redis lost it.
    stats = await queue.stats()

    assert stats == (0, 0, 0.0)


async def test_deployments_sharing_a_redis_never_see_each_others_batches(
    redis_client: redis.Redis, queue: BatchQueue
) -> None:
    other = BatchQueue(redis_client, f"test_queue_{uuid.uuid4().hex[:10]}")
    try:
        await queue.ensure_group()
        await other.ensure_group()
        mine = uuid.uuid1()
        await queue.enqueue(mine)
        theirs = await other.next("worker", block_ms=100)
        claimed = await other.claim_stale("worker", idle_ms=0)
        ours = await queue.next("worker", block_ms=100)
        their_backlog = await other.backlog()
    finally:
        await other.delete_keys()

    assert (theirs, claimed, their_backlog) == ([], [], 0)
    assert [batch_id for _, batch_id in ours] == [mine]


async def test_a_batch_is_queued_once_until_it_is_done(queue: BatchQueue) -> None:
    await queue.ensure_group()
    batch_id = uuid.uuid1()

    first, again = await queue.enqueue(batch_id), await queue.enqueue(batch_id)
    queued = await queue.backlog()
    [(message_id, delivered)] = await queue.next("worker", block_ms=100)
    while_delivered = await queue.enqueue(batch_id)
    await queue.done(message_id, batch_id)
    after_done = await queue.backlog()
    queued_again = await queue.enqueue(batch_id)

    assert (first, again, queued) == (True, False, 1)
    assert delivered == batch_id
    assert while_delivered is False
    assert after_done == 0
    assert queued_again is True
    assert await queue.backlog() == 1


async def test_after_the_stream_was_lost_every_batch_can_be_queued_again(
    queue: BatchQueue,
) -> None:
    await queue.ensure_group()
    batch_id = uuid.uuid1()
    await queue.enqueue(batch_id)
    await queue.client.delete(queue.stream)  # the stream is lost, the record of it is not

    recreated = await queue.ensure_group()
    requeued = await queue.enqueue(batch_id)

    assert recreated is True
    assert requeued is True
    assert [batch_id for _, batch_id in await queue.next("worker", block_ms=100)] == [batch_id]


async def test_failed_attempts_are_counted_per_batch_and_forgotten_when_done(
    queue: BatchQueue,
) -> None:
    await queue.ensure_group()
    batch_id = uuid.uuid1()
    await queue.enqueue(batch_id)
    [(message_id, _)] = await queue.next("worker", block_ms=100)

    counts = [await queue.failed_attempt(batch_id) for _ in range(3)]
    await queue.done(message_id, batch_id)
    after_done = await queue.failed_attempt(batch_id)

    assert counts == [1, 2, 3]
    assert after_done == 1


async def test_a_stale_message_is_found_behind_many_held_ones(queue: BatchQueue) -> None:
    # XAUTOCLAIM looks at ten pending entries a call: the claim must go on past live holders.
    await queue.ensure_group()
    batch_ids = [uuid.uuid1() for _ in range(13)]
    for batch_id in batch_ids:
        await queue.enqueue(batch_id)
    delivered = [(await queue.next("dead", block_ms=100))[0] for _ in batch_ids]
    await asyncio.sleep(2.1)
    for message_id, _ in delivered[:-1]:  # all but the newest are held again
        assert await queue.renew("dead", message_id)

    claimed = await queue.claim_stale("other", idle_ms=2000)

    assert claimed == [delivered[-1]]
