"""`einvoice worker`: takes batches from the queue and authenticates their invoices.

Lines go through the same use case as a real-time submission (einvoice/submission.py), a step of
LINES_PER_STEP lines at a time: all authenticated, their numbers claimed one Paxos round per
block, their rows written in grouped batches, then their results saved. A claim records its batch
and line, so a redelivered batch recognises the claims its own earlier run made. Lines that
already have a result are skipped.
Messages of a worker that died are taken over after EINVOICE_BATCH_CLAIM_IDLE_S (XAUTOCLAIM);
a live worker renews its hold on the message it processes, so its batch is never taken from it
(ingest/lease.py). When Redis has lost the stream, the worker recreates it and re-queues every
batch Cassandra says is not completed (one already marked failed is just acknowledged).

Only SIGTERM/SIGINT end the loop. A backend outage (ingest/outage.py) in any step of it, the
processing of a batch included, is logged and waited out (backoff up to 5 s) and counts nothing
against the batch; its message stays pending and is taken up again after the claim idle time.
Anything else a batch's processing raises counts a failed attempt (`einvoice:<ns>:attempts` in
Redis, so every worker sees it); the message stays pending and is retried, by whichever worker
claims it, after the claim idle time. At EINVOICE_BATCH_MAX_ATTEMPTS the batch is marked `failed`
in Cassandra and its message acknowledged. A worker killed mid-batch counts no attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import redis.asyncio as redis
from prometheus_client import Counter, Gauge, Histogram

from einvoice import logs, metrics_server
from einvoice.config import Settings
from einvoice.request_context import RequestContext, new_request_id
from einvoice.request_context import current as current_request
from einvoice.runtime import open_runtime
from ingest.lease import holding
from ingest.outage import Backoff, is_outage
from storage.cassandra.batches import LineResult
from storage.errors import SchemaError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Batches accepted this long ago and never started were probably not queued (Redis refused the
# message when the API stored them): they are queued again. Redelivery is harmless.
RESCAN_AFTER = dt.timedelta(minutes=2)
RESCAN_EVERY_S = 120.0
# Lines taken together: their claims go one Paxos round per block of 1,000 numbers, their rows
# and results in grouped batches; results are saved after each step.
LINES_PER_STEP = 2000
STEPS_IN_FLIGHT = 2

LINES = Counter("einvoice_batch_lines_total", "Batch lines processed", ["status"])
_LINES = {status: LINES.labels(status) for status in ("authenticated", "rejected", "duplicate")}
STAGE_SECONDS = Histogram(
    "einvoice_batch_stage_seconds",
    "Time of each stage of processing one batch",
    ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900),
)
QUEUE_DEPTH = Gauge("einvoice_batch_queue_depth", "Batches queued and not completed")
QUEUE_PENDING = Gauge(
    "einvoice_batch_consumer_lag", "Batches delivered to workers and not yet acknowledged"
)
OLDEST_AGE = Gauge("einvoice_batch_oldest_age_seconds", "Age of the oldest unfinished batch")
HEARTBEAT = Gauge(
    "einvoice_worker_heartbeat_timestamp_seconds",
    "When this worker's loop last turned or finished a step of a batch (Unix time): a worker "
    "that answers scrapes but stopped turning is stuck",
)
ATTEMPTS_FAILED = Counter(
    "einvoice_batch_attempts_failed_total",
    "Attempts at processing a batch that raised (outages not counted)",
)
BATCHES_FAILED = Counter(
    "einvoice_batch_failed_total",
    "Batches marked failed after EINVOICE_BATCH_MAX_ATTEMPTS, by the last attempt's error",
    ["error"],
)
BACKEND_WAITS = Counter(
    "einvoice_batch_backend_unavailable_total",
    "Steps of the worker's loop that met an unavailable backend and were retried",
    ["step"],
)
LOOP_ERRORS = Counter(
    "einvoice_batch_loop_errors_total",
    "Unexpected errors in the worker's loop outside a batch's processing, retried",
    ["step"],
)


class Worker:
    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.stopping = asyncio.Event()
        self.rescan_every_s = RESCAN_EVERY_S
        self._backoff = Backoff()
        self._troubled = False  # a step of this round of the loop failed
        self._queue_checked = False  # the stream and its group are known to exist
        self._requeue_all = False  # the group was just created: queue every unfinished batch

    async def run(self) -> None:
        async with open_runtime(
            self.settings, write_through=False, when_up=self._when_up
        ) as runtime:
            self.batches = runtime.batches
            self.submissions = runtime.submissions
            self.queue = runtime.batch_queue
            await self._loop()

    async def _when_up(self, backend: str, connect: Callable[[], Awaitable[T]]) -> T:
        """`connect()`, again after a wait for as long as the backend is unavailable: a worker
        started during an outage waits for the backend instead of exiting."""
        backoff = Backoff()
        while True:
            try:
                return await connect()
            except Exception as error:
                if not is_outage(error) or self.stopping.is_set():
                    raise
                log.warning("%s unavailable at start-up (%s); waiting", backend, error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), backoff.next())

    async def _loop(self) -> None:
        next_rescan = time.monotonic() + self.rescan_every_s
        while not self.stopping.is_set():
            HEARTBEAT.set_to_current_time()
            self._troubled = False
            async with self._surviving("ensure_queue"):
                await self._ensure_queue()
            if self._troubled:
                continue
            if time.monotonic() >= next_rescan:
                async with self._surviving("rescan"):
                    await self._rescan()
                    next_rescan = time.monotonic() + self.rescan_every_s
            messages: list[tuple[str, uuid.UUID]] = []
            async with self._surviving("read"):
                idle_ms = int(self.settings.batch_claim_idle_s * 1000)
                messages = await self.queue.claim_stale(self.name, idle_ms)
                if not messages:
                    messages = await self.queue.next(self.name, block_ms=1000)
            async with self._surviving("stats"):
                depth, pending, age = await self.queue.stats()
                QUEUE_DEPTH.set(depth)
                QUEUE_PENDING.set(pending)
                OLDEST_AGE.set(age)
            for message_id, batch_id in messages:
                await self._attempt(message_id, batch_id)
            if not self._troubled:
                self._backoff.reset()

    @contextlib.asynccontextmanager
    async def _surviving(self, step: str) -> AsyncIterator[None]:
        """Run one step of the loop: whatever it raises is logged and waited out, never more."""
        try:
            yield
        except Exception as error:
            self._troubled = True
            if isinstance(error, redis.ResponseError) and "NOGROUP" in str(error):
                log.warning("the batch stream is gone (Redis lost it?); recovering")
                self._queue_checked = False
                return
            if is_outage(error):
                BACKEND_WAITS.labels(step).inc()
                log.warning("%s: a backend is unavailable (%r); retrying", step, error)
            else:
                LOOP_ERRORS.labels(step).inc()
                log.exception("%s failed; retrying", step)
            await self._pause()

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), self._backoff.next())

    async def _ensure_queue(self) -> None:
        if not self._queue_checked:
            # A new stream: whatever it held is lost, so queue every unfinished batch again. The
            # flag outlives a failure of that scan, so it is retried until it has been done.
            if await self.queue.ensure_group():
                self._requeue_all = True
            self._queue_checked = True
        if self._requeue_all:
            queued = 0
            for batch_id in await asyncio.to_thread(self.batches.unfinished):
                queued += await self.queue.enqueue(batch_id)
            self._requeue_all = False
            if queued:
                log.info("re-queued %d unfinished batches", queued)

    async def _rescan(self) -> None:
        cutoff = dt.datetime.now(dt.UTC) - RESCAN_AFTER
        queued = 0
        for batch_id in await asyncio.to_thread(self.batches.unfinished, cutoff):
            queued += await self.queue.enqueue(batch_id)  # not when it is queued already
        if queued:
            log.info("queued %d batches accepted before %s and never started", queued, cutoff)

    async def _attempt(self, message_id: str, batch_id: uuid.UUID) -> None:
        """Process one message, holding it meanwhile; acknowledge it once the batch is done."""
        renew_every_s = self.settings.batch_claim_idle_s / 3
        # Every log line of this attempt carries the submitting request's id (once the batch is
        # read; a new id for a batch submitted before schema 10), its client and its seller.
        context = RequestContext(new_request_id())
        token = current_request.set(context)
        try:
            async with holding(self.queue, self.name, message_id, batch_id, renew_every_s):
                batch = await self.batches.get(batch_id)
                if batch is not None:
                    context.request_id = batch.request_id or context.request_id
                    context.client_id = batch.client_id
                    context.seller = batch.seller_tax_code
                # Marked failed already (queued again by a recovery): nothing more to do.
                if batch is None or batch.status != "failed":
                    await self.process(batch_id)
        except Exception as error:
            if not is_outage(error):
                await self._failed_attempt(message_id, batch_id, error)
                return
            self._troubled = True
            BACKEND_WAITS.labels("process").inc()
            log.warning("batch %s: a backend is unavailable (%r); left for later", batch_id, error)
            await self._pause()
            return
        finally:
            current_request.reset(token)
        async with self._surviving("done"):
            await self.queue.done(message_id, batch_id)

    async def _failed_attempt(self, message_id: str, batch_id: uuid.UUID, error: Exception) -> None:
        ATTEMPTS_FAILED.inc()
        limit = self.settings.batch_max_attempts
        async with self._surviving("count_attempt"):
            attempts = await self.queue.failed_attempt(batch_id)
            if attempts < limit:
                log.warning(
                    "batch %s: attempt %d of %d failed; retried after %g s",
                    batch_id,
                    attempts,
                    limit,
                    self.settings.batch_claim_idle_s,
                    exc_info=error,
                )
                return
            await self.batches.mark_failed(batch_id)
            BATCHES_FAILED.labels(type(error).__name__).inc()
            log.error(
                "batch %s: marked failed after %d failed attempts; the last one raised %r",
                batch_id,
                attempts,
                error,
                exc_info=error,
            )
            await self.queue.done(message_id, batch_id)

    async def process(self, batch_id: uuid.UUID) -> None:
        stage = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal stage
            now = time.perf_counter()
            STAGE_SECONDS.labels(name).observe(now - stage)
            stage = now

        batch = await self.batches.get(batch_id)
        if batch is None or batch.status == "completed":
            return
        await self.batches.set_status(batch_id, "processing")
        lines = await self.batches.lines(batch_id)
        done = {result.line: result for result in await self.batches.all_results(batch_id)}
        lap("load")
        pending = [index for index in range(len(lines)) if index not in done]
        counts = dict.fromkeys(("authenticated", "rejected", "duplicate"), 0)
        for result in done.values():
            counts[result.status] += 1

        async def step(part: list[int]) -> list[LineResult]:
            started = time.perf_counter()
            results = await self.submissions.submit_lines(
                batch_id=batch_id,
                seller_tax_code=batch.seller_tax_code,
                lines=[(index, lines[index]) for index in part],
                now=dt.datetime.now(dt.UTC),
            )
            saving = time.perf_counter()
            STAGE_SECONDS.labels("authenticate").observe(saving - started)
            await self.batches.save_results(batch_id, results)
            STAGE_SECONDS.labels("save_results").observe(time.perf_counter() - saving)
            return results

        # Two steps in flight: the next step's lines are authenticated (CPU) while this one's
        # claims and rows are on their way to Cassandra, so a worker keeps its core busy.
        async def finish(task: asyncio.Task[list[LineResult]]) -> None:
            HEARTBEAT.set_to_current_time()
            for result in await task:
                _LINES[result.status].inc()
                counts[result.status] += 1
            await self.batches.progress(
                batch_id, counts["authenticated"], counts["rejected"], counts["duplicate"]
            )

        steps: deque[asyncio.Task[list[LineResult]]] = deque()
        try:
            for start in range(0, len(pending), LINES_PER_STEP):
                steps.append(asyncio.ensure_future(step(pending[start : start + LINES_PER_STEP])))
                if len(steps) == STEPS_IN_FLIGHT:
                    await finish(steps.popleft())
            while steps:
                await finish(steps.popleft())
        finally:
            for task in steps:  # only after a failure: the others are abandoned with it
                task.cancel()
        lap("steps")
        await self.batches.complete(
            batch_id, counts["authenticated"], counts["rejected"], counts["duplicate"]
        )
        lap("complete")
        log.info(
            "batch %s completed",
            batch_id,
            extra={"batch_id": str(batch_id), "lines": len(lines), **counts},
        )


def run(settings: Settings) -> int:
    logs.configure(settings.log_format, settings.log_level)
    try:
        metrics_server.serve(settings)
    except OSError as error:
        log.error(
            "cannot serve metrics on %s:%d (%s): give each worker on a machine its own "
            "EINVOICE_METRICS_PORT (0 turns them off)",
            settings.metrics_host,
            settings.metrics_port,
            error,
        )
        return 1

    async def main() -> None:
        worker = Worker(settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stopping.set)
        with contextlib.suppress(asyncio.CancelledError):
            await worker.run()

    try:
        asyncio.run(main())
    except SchemaError as error:
        log.error("%s", error)  # the message says what to do (migrate, or deploy newer code)
        return 1
    finally:
        logs.flush()
    return 0
