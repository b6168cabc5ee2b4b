"""Telling a backend outage from a batch that cannot be processed, and waiting one out.

An outage (Cassandra, PostgreSQL or Redis not answering) says nothing about the batch: the worker
waits and carries on, and the attempt is not counted against the batch. Anything else raised
while processing a batch is counted, and a batch that keeps failing is marked failed.

The list is narrower than the API's (api/errors.py maps any Cassandra RequestExecutionException
to 503): a read or write *failure* reported by replicas, or a failing function, can be caused by
the batch itself, and must not let a batch be retried for ever.
"""

from __future__ import annotations

import errno

import asyncpg
import redis
from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException

_OUTAGES: tuple[type[BaseException], ...] = (
    NoHostAvailable,
    Unavailable,
    OperationTimedOut,
    WriteTimeout,
    ReadTimeout,
    ConnectionException,  # a connection to a node closed under a request (a node restarting)
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,  # the server is starting or shutting down
    redis.ConnectionError,
    redis.TimeoutError,
    ConnectionError,  # refused, reset, aborted, broken pipe (asyncpg raises the OS's own)
    TimeoutError,
)
_CONNECT_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH}


def is_outage(error: BaseException) -> bool:
    """True when `error` means a backend is unavailable right now."""
    if isinstance(error, _OUTAGES):
        return True
    # asyncio raises a bare OSError("Multiple exceptions: ... Connect call failed") when every
    # address of a host name refused the connection.
    return isinstance(error, OSError) and (
        error.errno in _CONNECT_ERRNOS or "Connect call failed" in str(error)
    )


class Backoff:
    """Waits that double from `first_s` up to `most_s` while trouble lasts."""

    def __init__(self, first_s: float = 0.5, most_s: float = 5.0) -> None:
        self.first_s = first_s
        self.most_s = most_s
        self._next_s = first_s

    def next(self) -> float:
        wait_s = self._next_s
        self._next_s = min(self.most_s, self._next_s * 2)
        return wait_s

    def reset(self) -> None:
        self._next_s = self.first_s
