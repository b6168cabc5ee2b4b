"""The grouped writer against the real Cassandra: every unit acknowledged is stored, units go
in shared batches under load, and a failed batch fails its own writers."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from cassandra import InvalidRequest
from prometheus_client import REGISTRY

from storage.cassandra.bridge import execute
from storage.cassandra.client import CassandraClient
from storage.cassandra.row_writer import MAX_BYTES, Row, RowWriter

_INSERT = (
    "INSERT INTO batch_results (batch_id, line, status, code, authority_token, errors) "
    "VALUES (?, ?, ?, ?, ?, ?) USING TTL ?"
)


def batches_sent() -> float:
    return REGISTRY.get_sample_value("einvoice_cassandra_rows_per_batch_count") or 0.0


async def test_concurrent_units_share_batches_and_are_all_stored(
    cassandra: CassandraClient,
) -> None:
    writer = RowWriter(cassandra.session, max_in_flight=2)
    insert = cassandra.session.prepare(_INSERT)
    batch_id = uuid.uuid1()
    before = batches_sent()

    await asyncio.gather(
        *(
            writer.write(
                [Row(insert, (batch_id, line, "authenticated", "C", "t" * 500, None, 60), 600)]
            )
            for line in range(600)
        )
    )

    sent = batches_sent() - before
    rows = await execute(
        cassandra.session, "SELECT line FROM batch_results WHERE batch_id = %s", (batch_id,)
    )
    assert sorted(row["line"] for row in rows.current_rows) == list(range(600))
    assert sent < 600 / 10  # groups, not one request a row
    assert sent >= 600 * 600 / MAX_BYTES  # and none above the byte bound


async def test_rows_of_a_group_share_only_with_their_group(cassandra: CassandraClient) -> None:
    writer = RowWriter(cassandra.session, max_in_flight=1)
    insert = cassandra.session.prepare(_INSERT)
    first, second = uuid.uuid1(), uuid.uuid1()

    await asyncio.gather(
        *(
            writer.write([Row(insert, (batch, line, "rejected", None, None, "[]", 60), 80)], batch)
            for line in range(50)
            for batch in (first, second)
        )
    )

    for batch in (first, second):
        rows = await execute(
            cassandra.session, "SELECT line FROM batch_results WHERE batch_id = %s", (batch,)
        )
        assert len(rows.current_rows) == 50


async def test_a_refused_batch_fails_its_writers(cassandra: CassandraClient) -> None:
    writer = RowWriter(cassandra.session)
    insert = cassandra.session.prepare(_INSERT)

    with pytest.raises(InvalidRequest):
        await writer.write([Row(insert, (uuid.uuid1(), 1, "rejected", None, None, None, -5), 80)])
