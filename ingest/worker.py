"""`einvoice worker`: takes batches from the queue and authenticates their invoices.

Each line goes through the same code as a real-time submission (einvoice/submission.py), with
`source = "batch:<id>:<line>"`, so a redelivered batch recognises the claims its own earlier run
made. Lines that already have a result are skipped; results are saved as the batch advances. Many
lines are in flight at once (async Cassandra statements), so one process keeps one core busy.
Messages of a worker that died are taken over after EINVOICE_BATCH_CLAIM_IDLE_S (XAUTOCLAIM);
when Redis has lost the stream, the worker recreates it and re-queues every batch Cassandra says
is not completed.
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
from contextlib import AsyncExitStack
from typing import Any

import orjson
import redis.asyncio as redis
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from einvoice.authority_keys import load_keyring
from einvoice.config import Settings
from einvoice.invoice.authenticate import Authority
from einvoice.memory import settle_after_startup
from einvoice.registry.cache import RegistryCache, Seller
from einvoice.submission import Submitted, submit_invoice
from ingest.queue import BatchQueue
from lookup.redis_client import create_redis
from signing.authority import check_code_prefix
from storage.cassandra.batches import BatchStore, LineResult
from storage.cassandra.client import connect as connect_cassandra
from storage.cassandra.invoices import InvoiceStore
from storage.postgres.notifications import RegistryListener
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry

log = logging.getLogger(__name__)

# Batches accepted this long ago and never started were probably not queued (Redis refused the
# message when the API stored them): they are queued again. Redelivery is harmless.
RESCAN_AFTER = dt.timedelta(minutes=2)
RESCAN_EVERY_S = 120.0
LINES_IN_FLIGHT = 64
SAVE_EVERY = 500

LINES = Counter("einvoice_batch_lines_total", "Batch lines processed", ["status"])
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


class Worker:
    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        async with AsyncExitStack() as stack:
            cassandra = await asyncio.to_thread(connect_cassandra, self.settings)
            stack.push_async_callback(asyncio.to_thread, cassandra.close)
            await asyncio.to_thread(cassandra.session.set_keyspace, cassandra.keyspace)
            pool = await create_pool(self.settings)
            stack.push_async_callback(pool.close)
            cache = RegistryCache(Registry(pool))
            listener = RegistryListener(self.settings, cache.on_change, cache.clear)
            listener.start()
            stack.push_async_callback(listener.stop)
            client = create_redis(self.settings)
            stack.push_async_callback(client.aclose)
            keyring = await asyncio.to_thread(
                load_keyring, self.settings.authority_keys_dir, self.settings.authority_active_kid
            )
            self.authority = Authority(keyring, check_code_prefix(self.settings.code_prefix))
            self.invoices = await asyncio.to_thread(InvoiceStore, cassandra.session)
            self.batches = await asyncio.to_thread(BatchStore, cassandra.session)
            self.cache = cache
            self.queue = BatchQueue(client)
            settle_after_startup()  # garbage-collector settings (einvoice/memory.py)
            await self._loop()

    async def _loop(self) -> None:
        await self._ensure_queue()
        next_rescan = time.monotonic() + RESCAN_EVERY_S
        while not self.stopping.is_set():
            try:
                if time.monotonic() >= next_rescan:
                    next_rescan = time.monotonic() + RESCAN_EVERY_S
                    cutoff = dt.datetime.now(dt.UTC) - RESCAN_AFTER
                    for batch_id in await asyncio.to_thread(self.batches.unfinished, cutoff):
                        await self.queue.enqueue(batch_id)
                idle_ms = int(self.settings.batch_claim_idle_s * 1000)
                messages = await self.queue.claim_stale(self.name, idle_ms)
                if not messages:
                    messages = await self.queue.next(self.name, block_ms=1000)
                depth, pending, age = await self.queue.stats()
                QUEUE_DEPTH.set(depth)
                QUEUE_PENDING.set(pending)
                OLDEST_AGE.set(age)
                for message_id, batch_id in messages:
                    await self.process(batch_id)
                    await self.queue.done(message_id)
            except redis.ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise
                log.warning("the batch stream is gone (Redis lost it?); recovering")
                await self._ensure_queue()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                log.warning("Redis unavailable (%s); retrying", error)
                await asyncio.sleep(1)

    async def _ensure_queue(self) -> None:
        if await self.queue.ensure_group():
            # A new stream: whatever it held is lost, so queue every unfinished batch again.
            unfinished = await asyncio.to_thread(self.batches.unfinished)
            for batch_id in unfinished:
                await self.queue.enqueue(batch_id)
            if unfinished:
                log.info("re-queued %d unfinished batches", len(unfinished))

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
        done = {result.line for result in await self.batches.all_results(batch_id)}
        lap("load")
        seller = await self.cache.seller(batch.seller_tax_code)
        pending = [index for index in range(len(lines)) if index not in done]
        limit = asyncio.Semaphore(LINES_IN_FLIGHT)

        async def one(index: int) -> LineResult:
            async with limit:
                return await self._line(batch_id, index, lines[index], seller)

        for start in range(0, len(pending), SAVE_EVERY):
            part = pending[start : start + SAVE_EVERY]
            results = await asyncio.gather(*(one(index) for index in part))
            lap("authenticate")
            await self.batches.save_results(batch_id, list(results))
            lap("save_results")
        final = await self.batches.all_results(batch_id)
        counts = dict.fromkeys(("authenticated", "rejected", "duplicate"), 0)
        for result in final:
            counts[result.status] += 1
        await self.batches.complete(
            batch_id, counts["authenticated"], counts["rejected"], counts["duplicate"]
        )
        lap("complete")

    async def _line(
        self, batch_id: uuid.UUID, index: int, line: bytes, seller: Seller | None
    ) -> LineResult:
        if seller is None or not seller.active:
            return _rejected(index, [("TAXPAYER_NOT_ACTIVE", "the seller is not active", None)])
        submission: Any = orjson.loads(line)  # checked when the batch was accepted
        source = f"batch:{batch_id}:{index}"
        result = await submit_invoice(
            submission.get("invoice"),
            submission.get("signature"),
            seller=seller,
            authority=self.authority,
            store=self.invoices,
            now=dt.datetime.now(dt.UTC),
            source=source,
        )
        line_result = _line_result(index, result, source)
        LINES.labels(line_result.status).inc()
        return line_result


def _line_result(index: int, result: Submitted, source: str) -> LineResult:
    if result.kind == "rejected":
        return _rejected(index, [(e.code, e.message, e.field) for e in result.errors])
    claim = result.claim
    assert claim is not None
    if result.kind == "conflict":
        problem = (
            "INVOICE_NUMBER_USED",
            f"another invoice holds this number: {claim.code}",
            "/invoice/number",
        )
        return LineResult(
            index, "rejected", claim.code, None, orjson.dumps([_error(*problem)]).decode()
        )
    # The first authentication of this invoice, here or in an earlier run of this same line.
    mine = result.kind == "created" or claim.source == source
    return LineResult(index, "authenticated" if mine else "duplicate", claim.code, claim.token)


def _rejected(index: int, problems: list[tuple[str, str, str | None]]) -> LineResult:
    errors = [_error(*problem) for problem in problems]
    return LineResult(index, "rejected", errors=orjson.dumps(errors).decode())


def _error(code: str, message: str, field: str | None) -> dict[str, str]:
    error = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return error


def run(settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.http_host)

    async def main() -> None:
        worker = Worker(settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stopping.set)
        with contextlib.suppress(asyncio.CancelledError):
            await worker.run()

    asyncio.run(main())
    return 0
