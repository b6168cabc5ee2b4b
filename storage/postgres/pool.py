"""The asyncpg pool of the taxpayer registry, built once per process, and what it raises when
PostgreSQL cannot answer.

No call waits for ever on PostgreSQL: taking a connection from the pool gives up after
`postgres_acquire_timeout_s` (that includes opening a new connection to a server that accepts
but never answers), and every statement after `postgres_query_timeout_s` on the client, with the
server's own `statement_timeout` a second later as the backstop should the client's cancel
request be lost. Both raise `TimeoutError`, which the API answers 503 + Retry-After.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from asyncpg.pool import PoolAcquireContext

from einvoice.config import Settings

# What a call raises when PostgreSQL cannot answer now: unreachable, refused or reset (OSError),
# too slow (the acquire and query timeouts), the connection lost mid-call, the server restarting,
# shutting down or cancelling the statement (class 57), or out of connections (class 53). Callers
# that can do without a fresh answer (the registry cache serves what it last read) catch exactly
# these; anything else is a bug and propagates.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)


class _Pool(asyncpg.Pool):
    """asyncpg's pool with a default acquire timeout: its `fetch`/`fetchrow`/`execute` acquire
    with none, so with every connection stuck (or a new one hanging) a caller would wait for
    ever."""

    __slots__ = ("_acquire_timeout",)

    def __init__(self, *args: Any, acquire_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> PoolAcquireContext:
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


async def create_pool(settings: Settings, database: str | None = None) -> asyncpg.Pool:
    query_timeout_ms = round(settings.postgres_query_timeout_s * 1000)
    # The arguments asyncpg.create_pool passes to the pool it builds (it cannot build a subclass).
    pool = _Pool(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=settings.postgres_user,
        password=settings.postgres_password.get_secret_value(),
        database=database or settings.postgres_database,
        min_size=settings.postgres_pool_min,
        max_size=settings.postgres_pool_max,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        acquire_timeout=settings.postgres_acquire_timeout_s,
        # Opening a connection (at start-up, or in acquire, which bounds it by its own timeout).
        timeout=settings.readiness_timeout_s * 5,
        command_timeout=settings.postgres_query_timeout_s,
        server_settings={
            "statement_timeout": str(query_timeout_ms + 1000),
            "application_name": "einvoice",
        },
    )
    await pool
    return pool


async def connect(settings: Settings, database: str | None = None) -> asyncpg.Connection:
    """One connection, for the migrator, tools and the registry listener (no query timeout:
    migrations may take long; the listener bounds its own pings)."""
    return await asyncpg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=settings.postgres_user,
        password=settings.postgres_password.get_secret_value(),
        database=database or settings.postgres_database,
        timeout=settings.readiness_timeout_s * 5,
    )
