"""The worker's loop against the real Redis and Cassandra, one step at a time, with a queue no
worker process reads. Whole worker processes are tested in test_batches.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any, cast

import orjson
from cassandra.cluster import NoHostAvailable

from einvoice.config import Settings
from ingest.queue import BatchQueue
from ingest.worker import Worker
from storage.cassandra.batches import BatchStore
from storage.cassandra.client import CassandraClient
from tests.support import ServerProcess


async def test_the_rescan_does_not_queue_a_batch_that_is_queued_already(
    settings: Settings, cassandra: CassandraClient, queue: BatchQueue
) -> None:
    store = BatchStore(cassandra.session)
    batch_id = uuid.uuid1()
    never_started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    line = orjson.dumps({"invoice": {}})
    await store.save(batch_id, "0000000000", "test", [line], never_started)
    worker = Worker(settings, name="test")
    worker.queue = queue
    worker.batches = store
    await queue.ensure_group()

    await worker._rescan()
    await worker._rescan()
    await queue.enqueue(batch_id)  # the API's own message, late
    entries: Any = await queue.client.xrange(queue.stream)

    ids = [fields[b"batch_id"].decode() for _, fields in entries]
    assert ids.count(str(batch_id)) == 1


class CassandraDownOnce:
    """`unfinished` as BatchStore's, over no batches, but the first call of each kind (the
    recovery's full scan, the periodic rescan) finds Cassandra unavailable."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def unfinished(self, accepted_before: dt.datetime | None = None) -> list[uuid.UUID]:
        kind = "recovery" if accepted_before is None else "rescan"
        self.calls.append(kind)
        if self.calls.count(kind) == 1:
            raise NoHostAvailable("Unable to connect to any servers", {"127.0.0.1:9042": None})
        return []


async def test_the_worker_survives_cassandra_being_unavailable_in_its_scans(
    settings: Settings, queue: BatchQueue
) -> None:
    batches = CassandraDownOnce()
    worker = Worker(settings, name="test")
    worker.queue = queue  # a new namespace: the worker creates the group and recovers
    worker.batches = cast(BatchStore, batches)
    worker.rescan_every_s = 0.1

    loop = asyncio.create_task(worker._loop())
    try:
        deadline = time.monotonic() + 60
        while batches.calls.count("rescan") < 3 and time.monotonic() < deadline:
            if loop.done():
                break
            await asyncio.sleep(0.1)
        running = not loop.done()
    finally:
        worker.stopping.set()
        await asyncio.wait_for(loop, 30)  # raises whatever ended the loop, if anything did

    assert running
    assert batches.calls.count("recovery") == 2  # unavailable, then done
    assert batches.calls.count("rescan") >= 3  # unavailable, then carried on


def test_a_worker_refuses_a_keyspace_older_than_its_code(
    worker_env: dict[str, str], tmp_path: Path
) -> None:
    """The worker opens the same runtime as the API, schema check included: it exits with the
    reason instead of writing to a keyspace its code does not know."""
    unmigrated = f"test_unmigrated_{uuid.uuid4().hex[:8]}"
    env = dict(worker_env, EINVOICE_CASSANDRA_KEYSPACE=unmigrated)
    log_path = tmp_path / "worker.log"

    with ServerProcess(["worker"], env, log_path) as worker:
        exit_status = worker.process.wait(timeout=60)

    assert exit_status == 1
    assert "run `einvoice migrate` first" in log_path.read_text()
