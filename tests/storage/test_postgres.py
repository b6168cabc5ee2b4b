"""A row written and read in the real PostgreSQL through the storage layer's pool."""

from __future__ import annotations

import asyncpg
import pytest

from einvoice.config import Settings
from storage.postgres.pool import create_pool


async def test_a_row_written_is_read_back(settings: Settings) -> None:
    pool = await create_pool(settings)
    try:
        await pool.execute(
            "INSERT INTO taxpayers (tax_code, name) VALUES ($1, $2)",
            "0100233488",
            "Công ty TNHH Ví Dụ",
        )
        row = await pool.fetchrow("SELECT * FROM taxpayers WHERE tax_code = $1", "0100233488")
    finally:
        await pool.close()

    assert row is not None
    assert row["name"] == "Công ty TNHH Ví Dụ"
    assert row["status"] == "active"


async def test_the_schema_refuses_a_malformed_tax_code(
    postgres: asyncpg.Connection,
) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await postgres.execute(
            "INSERT INTO taxpayers (tax_code, name) VALUES ($1, $2)", "12345", "Too short"
        )
