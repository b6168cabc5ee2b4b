"""A worker's hold on the message it is processing.

Other workers take over a message idle for EINVOICE_BATCH_CLAIM_IDLE_S (XAUTOCLAIM): that is how
the batch of a worker that died gets done. A live worker on a long batch must not lose it that
way, so while it processes a message a background task resets the message's idle time every
third of that (BatchQueue.renew). The task stops when processing ends, however it ends. If Redis
is unavailable the renewal is retried at the next tick; if another worker has taken the message
meanwhile, renewal stops (processing is idempotent, so both finishing it is harmless).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from prometheus_client import Counter

from ingest.queue import BatchQueue

log = logging.getLogger(__name__)

RENEWALS = Counter(
    "einvoice_batch_lease_renewals_total",
    "Renewals of a worker's hold on the batch it processes, by outcome",
    ["outcome"],  # renewed | lost | error
)


@contextlib.asynccontextmanager
async def holding(
    queue: BatchQueue, consumer: str, message_id: str, batch_id: uuid.UUID, every_s: float
) -> AsyncIterator[None]:
    """Keep renewing `consumer`'s hold on `message_id` while the body runs."""
    # The stop flag, not only the cancellation: a cancellation that lands inside the Redis call
    # can come out of the client as an ordinary error, which the loop would retry for ever (a CI
    # run hung here on a busy box).
    stop = asyncio.Event()
    task = asyncio.create_task(_renew(queue, consumer, message_id, batch_id, every_s, stop))
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _renew(
    queue: BatchQueue,
    consumer: str,
    message_id: str,
    batch_id: uuid.UUID,
    every_s: float,
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        await asyncio.sleep(every_s)
        try:
            held = await queue.renew(consumer, message_id)
        except Exception as error:  # Redis unavailable: try again at the next tick
            if stop.is_set():
                return
            RENEWALS.labels("error").inc()
            log.warning("batch %s: could not renew its hold (%s)", batch_id, error)
            continue
        if not held:
            RENEWALS.labels("lost").inc()
            log.warning("batch %s: held no more (taken over, or the stream lost)", batch_id)
            return
        RENEWALS.labels("renewed").inc()
