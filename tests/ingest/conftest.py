"""Fixtures of the ingest tests: a batch queue in a namespace of its own on the real Redis, and
real `einvoice worker` processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from einvoice.config import Settings
from ingest.queue import BatchQueue
from lookup.redis_client import create_redis
from tests.support import ServerProcess


@pytest.fixture
async def redis_client(settings: Settings) -> AsyncIterator[redis.Redis]:
    client = create_redis(settings)
    yield client
    await client.aclose()


@pytest.fixture
async def queue(redis_client: redis.Redis) -> AsyncIterator[BatchQueue]:
    """A queue no worker process reads (their namespace is the session's keyspace)."""
    queue = BatchQueue(redis_client, f"test_queue_{uuid.uuid4().hex[:10]}")
    yield queue
    await queue.delete_keys()


@pytest.fixture
def worker_env(session_env: dict[str, str]) -> dict[str, str]:
    return dict(session_env, EINVOICE_BATCH_CLAIM_IDLE_S="3")


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(["worker"], worker_env, tmp_path / "worker.log") as process:
        yield process
