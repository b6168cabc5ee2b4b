"""A row written and read in the real Cassandra through the storage layer's awaitable bridge."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest
from cassandra import InvalidRequest

from storage.cassandra.bridge import execute
from storage.cassandra.client import CassandraClient


async def test_a_row_written_is_read_back(cassandra: CassandraClient) -> None:
    session = cassandra.session
    insert = session.prepare(
        "INSERT INTO invoices_by_seller_month (seller_tax_code, month, bucket, issued_date, code, "
        "number, total_payable) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?"
    )
    select = session.prepare(
        "SELECT * FROM invoices_by_seller_month WHERE seller_tax_code = ? AND month = ? "
        "AND bucket = ?"
    )
    code = "00" + "AB" * 16

    await execute(
        session,
        insert,
        ("0100233488", 202503, 0, dt.date(2025, 3, 1), code, 42, Decimal("1100000"), 3600),
    )
    result = await execute(session, select, ("0100233488", 202503, 0))

    rows = result.current_rows
    assert len(rows) == 1
    assert rows[0]["code"] == code
    assert rows[0]["number"] == 42
    assert rows[0]["total_payable"] == Decimal("1100000")


async def test_errors_from_the_server_reach_the_awaiting_task(cassandra: CassandraClient) -> None:
    with pytest.raises(InvalidRequest):
        await execute(cassandra.session, "SELECT nope FROM invoice_documents")


async def test_many_queries_in_flight_at_once_all_complete(cassandra: CassandraClient) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    results = await asyncio.gather(
        *(execute(cassandra.session, "SELECT release_version FROM system.local") for _ in range(50))
    )
    ticking.cancel()

    assert all(result.current_rows[0]["release_version"].startswith("5.0") for result in results)
    assert ticks > 0  # the loop kept running other tasks while the queries were in flight


async def test_lightweight_transactions_report_whether_they_applied(
    cassandra: CassandraClient,
) -> None:
    claim = cassandra.session.prepare(
        "INSERT INTO invoice_claim_blocks (seller_tax_code, template, symbol, block, number, "
        "code, invoice_hash) VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
    )
    key = ("0314409058", "1", "C25TAA", 0, 7)

    first = await execute(cassandra.session, claim, (*key, b"\x11" * 17, b"a" * 32))
    second = await execute(cassandra.session, claim, (*key, b"\x22" * 17, b"b" * 32))

    assert first.was_applied
    assert not second.was_applied
    assert second.current_rows[0]["code"] == b"\x11" * 17
