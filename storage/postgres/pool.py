"""The asyncpg pool of the taxpayer registry, built once per process."""

from __future__ import annotations

import asyncpg

from einvoice.config import Settings


async def create_pool(settings: Settings, database: str | None = None) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=settings.postgres_user,
        password=settings.postgres_password.get_secret_value(),
        database=database or settings.postgres_database,
        min_size=settings.postgres_pool_min,
        max_size=settings.postgres_pool_max,
        timeout=settings.readiness_timeout_s * 5,
        # Statements run with a server-side limit, so a stuck query cannot hold a connection.
        server_settings={"statement_timeout": "10000", "application_name": "einvoice"},
    )
    assert pool is not None  # create_pool returns None only when awaited lazily
    return pool


async def connect(settings: Settings, database: str | None = None) -> asyncpg.Connection:
    """One connection, for the migrator and tools."""
    return await asyncpg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=settings.postgres_user,
        password=settings.postgres_password.get_secret_value(),
        database=database or settings.postgres_database,
        timeout=settings.readiness_timeout_s * 5,
    )
