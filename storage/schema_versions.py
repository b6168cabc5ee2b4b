"""Both databases' schemas together: migrate them (`einvoice migrate`), and check them at start-up.

The service never runs DDL. It refuses to start against a schema older than the code (run
`einvoice migrate` first) and against a newer one (deploy the newer code).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from einvoice.config import Settings
from storage.cassandra import migrate as cassandra_migrate
from storage.cassandra.client import CassandraClient
from storage.cassandra.client import connect as connect_cassandra
from storage.errors import SchemaError
from storage.postgres import migrate as postgres_migrate
from storage.postgres.pool import connect as connect_postgres


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
    """Raise SchemaError unless both databases are exactly at this code's schema versions."""
    cassandra_version = await asyncio.to_thread(
        cassandra_migrate.applied_version, cassandra.session, cassandra.keyspace
    )
    _compare(
        "Cassandra keyspace " + cassandra.keyspace,
        cassandra_version,
        cassandra_migrate.required_version(),
    )
    async with pool.acquire() as connection:
        postgres_version = await postgres_migrate.applied_version(connection)
    _compare("PostgreSQL database", postgres_version, postgres_migrate.required_version())


def _compare(what: str, applied: int | None, required: int) -> None:
    if applied is None or applied < required:
        raise SchemaError(
            f"{what} is at schema version {applied or 'none'}, this code needs {required}: "
            "run `einvoice migrate` first"
        )
    if applied > required:
        raise SchemaError(
            f"{what} is at schema version {applied}, newer than this code's {required}: "
            "deploy the newer code"
        )
