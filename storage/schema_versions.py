"""Both databases' schemas together: migrate them (`einvoice migrate`), and check them at start-up.

The service never runs DDL. It refuses to start against a schema older than the code (run
`einvoice migrate` first) and against a newer one, unless the newer schema records that code of
this version may run against it (storage/schema_compat.py: how rolling deploys stay possible).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from einvoice.config import Settings
from storage.cassandra import migrate as cassandra_migrate
from storage.cassandra.client import CassandraClient
from storage.cassandra.client import connect as connect_cassandra
from storage.postgres import migrate as postgres_migrate
from storage.postgres.pool import connect as connect_postgres
from storage.schema_compat import check


@dataclass(frozen=True)
class MigrationReport:
    cassandra: cassandra_migrate.MigrationResult
    postgres: postgres_migrate.MigrationResult


def migrate_all(settings: Settings) -> MigrationReport:
    """Blocking: bring the Cassandra keyspace and the PostgreSQL database to this code's schema."""
    client = connect_cassandra(settings)
    try:
        cassandra_result = cassandra_migrate.migrate(
            client.session, client.keyspace, settings.cassandra_replication_map()
        )
    finally:
        client.close()

    async def postgres() -> postgres_migrate.MigrationResult:
        connection = await connect_postgres(settings)
        try:
            return await postgres_migrate.migrate(connection)
        finally:
            await connection.close()

    return MigrationReport(cassandra=cassandra_result, postgres=asyncio.run(postgres()))


async def ensure_current(cassandra: CassandraClient, pool: asyncpg.Pool) -> None:
    """Raise SchemaError unless this code may run against both databases' schemas."""
    cassandra_schema = await asyncio.to_thread(
        cassandra_migrate.applied_schema, cassandra.session, cassandra.keyspace
    )
    check(
        "Cassandra keyspace " + cassandra.keyspace,
        cassandra_schema,
        cassandra_migrate.required_version(),
    )
    async with pool.acquire() as connection:
        postgres_schema = await postgres_migrate.applied_schema(connection)
    check("PostgreSQL database", postgres_schema, postgres_migrate.required_version())
