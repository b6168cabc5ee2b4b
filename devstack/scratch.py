"""Scratch deployments on the local stack: a keyspace and a database of their own, migrated, and
dropped afterwards with their batch queue keys. The test suite and the fault drills use them, so
they never touch the development data or each other's."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator

from cassandra import OperationTimedOut
from cassandra.cluster import NoHostAvailable, Session

from einvoice.config import Settings
from ingest.queue import BatchQueue
from lookup.redis_client import create_redis
from storage.cassandra.client import connect as connect_cassandra
from storage.postgres.pool import connect as connect_postgres
from storage.schema_versions import migrate_all


@contextlib.contextmanager
def scratch_deployment(
    settings: Settings, prefix: str, *, keep: bool = False
) -> Iterator[Settings]:
    """`settings` pointed at a new keyspace `<prefix>_<id>` and database `einvoice_<prefix>_<id>`,
    both migrated; dropped on exit unless `keep`."""
    suffix = uuid.uuid4().hex[:10]
    scratch = settings.model_copy(
        update={
            "cassandra_keyspace": f"{prefix}_{suffix}",
            "postgres_database": f"einvoice_{prefix}_{suffix}",
        }
    )
    asyncio.run(_execute(settings, f'CREATE DATABASE "{scratch.postgres_database}"'))
    try:
        migrate_all(scratch)
        yield scratch
    finally:
        if not keep:
            drop(settings, scratch)


def drop(settings: Settings, scratch: Settings) -> None:
    """Drop a scratch deployment's keyspace, database and queue keys (`settings`: the stack's)."""
    client = connect_cassandra(settings)
    try:
        _drop_keyspace(client.session, scratch.cassandra_keyspace)
    finally:
        client.close()
    database = scratch.postgres_database
    asyncio.run(_execute(settings, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    asyncio.run(_delete_queue_keys(scratch))


def _drop_keyspace(session: Session, keyspace: str, attempts: int = 3) -> None:
    """DROP KEYSPACE IF EXISTS (idempotent, so retried): right after a drill restarted nodes, a
    busy two-core box has timed the schema change out once (a connection declared dead by its
    heartbeat)."""
    for attempt in range(1, attempts + 1):
        try:
            session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)
            return
        except (OperationTimedOut, NoHostAvailable):
            if attempt == attempts:
                raise
            time.sleep(2)


async def _execute(settings: Settings, statement: str) -> None:
    connection = await connect_postgres(settings)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _delete_queue_keys(settings: Settings) -> None:
    client = create_redis(settings)
    try:
        await BatchQueue(client, settings.cassandra_keyspace).delete_keys()
    finally:
        await client.aclose()
