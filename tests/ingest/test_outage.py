"""Which errors are a backend outage (waited out) and which count against a batch."""

from __future__ import annotations

import errno
import zlib

import asyncpg
import pytest
import redis
from cassandra import (
    ConsistencyLevel,
    ReadFailure,
    ReadTimeout,
    Unavailable,
    WriteTimeout,
    WriteType,
)
from cassandra.cluster import NoHostAvailable

from ingest.outage import Backoff, is_outage


@pytest.mark.parametrize(
    "error",
    [
        NoHostAvailable("Unable to connect to any servers", {}),
        Unavailable("down", ConsistencyLevel.LOCAL_QUORUM, 2, 1),
        ReadTimeout("slow"),
        WriteTimeout("slow", write_type=WriteType.SIMPLE),
        redis.ConnectionError("Connection refused"),
        redis.TimeoutError("Timeout reading from socket"),
        asyncpg.ConnectionDoesNotExistError("connection was closed"),
        ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 5432)"),
        TimeoutError(),
    ],
)
def test_an_unavailable_backend_is_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        zlib.error("Error -3 while decompressing data: incorrect header check"),
        ValueError("bad line"),
        KeyError("status"),
        ReadFailure("replicas failed"),
        redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
)
def test_a_batch_specific_error_is_not_an_outage(error: Exception) -> None:
    assert not is_outage(error)


def test_the_backoff_doubles_up_to_its_most_and_starts_again_after_a_reset() -> None:
    backoff = Backoff(first_s=0.5, most_s=5.0)

    waits = [backoff.next() for _ in range(6)]
    backoff.reset()

    assert waits == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.next() == 0.5
