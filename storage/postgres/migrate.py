"""PostgreSQL migrations: numbered SQL files in storage/schema/postgres, applied in order.

Unlike Cassandra there is no separate snapshot: PostgreSQL runs DDL in transactions, so a fresh
database replays every file quickly and atomically, and the history is the schema. Each file runs
in its own transaction together with its row in `schema_version`; an advisory lock lets only one
migrator work at a time. Each row also records the oldest code version that may run against the
schema at that version (storage/schema_compat.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from storage.errors import SchemaError
from storage.schema_compat import (
    AppliedSchema,
    check,
    compatible_from,
    declared_compatible_from,
)

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema" / "postgres"
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# An arbitrary constant: the advisory-lock key that serialises migrators.
_LOCK_KEY = 0x45494E56

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
-- Databases migrated before minimum compatible versions were recorded lack the column.
ALTER TABLE schema_version ADD COLUMN IF NOT EXISTS compatible_from integer
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def declared_compatible_from(self) -> int:
        return declared_compatible_from(self.path.read_text(), self.version, self.path.name)


@dataclass(frozen=True)
class MigrationResult:
    from_version: int | None
    to_version: int
    applied: list[str]


def migrations(schema_dir: Path = SCHEMA_DIR) -> list[Migration]:
    found = []
    for path in sorted(schema_dir.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise SchemaError(f"{path.name}: migration files are named NNNN_lower_case_name.sql")
        found.append(Migration(version=int(match.group(1)), name=path.stem, path=path))
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise SchemaError(f"migration versions must run 1, 2, 3 ... without gaps; found {versions}")
    return found


def required_version(schema_dir: Path = SCHEMA_DIR) -> int:
    return migrations(schema_dir)[-1].version


async def applied_version(
    connection: asyncpg.Connection[Any] | PoolConnectionProxy[Any],
) -> int | None:
    applied = await applied_schema(connection)
    return applied.version if applied else None


async def applied_schema(
    connection: asyncpg.Connection[Any] | PoolConnectionProxy[Any],
) -> AppliedSchema | None:
    """The database's schema version and its minimum compatible code version."""
    exists = await connection.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return None
    has_minimum = await connection.fetchval(
        "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = 'schema_version' AND column_name = 'compatible_from')"
    )
    minimum = "compatible_from" if has_minimum else "NULL::integer AS compatible_from"
    row = await connection.fetchrow(
        f"SELECT version, {minimum} FROM schema_version ORDER BY version DESC LIMIT 1"
    )
    if row is None:
        return None
    return AppliedSchema(int(row["version"]), row["compatible_from"])


def compatible_from_of(version: int, schema_dir: Path = SCHEMA_DIR) -> int:
    """The oldest code version that may run against this folder's schema at `version`."""
    declared = {step.version: step.declared_compatible_from() for step in migrations(schema_dir)}
    return compatible_from(declared, version)


async def migrate(connection: asyncpg.Connection, schema_dir: Path = SCHEMA_DIR) -> MigrationResult:
    """Apply every migration newer than the database's version. Idempotent."""
    target = required_version(schema_dir)
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await connection.execute(_VERSION_TABLE)
        applied_now = await applied_schema(connection)
        current = applied_now.version if applied_now else None
        if applied_now is not None and current is not None and current > target:
            # Older code migrating a newer schema: nothing to do if it may run against it.
            check("the PostgreSQL database", applied_now, target)
            return MigrationResult(from_version=current, to_version=current, applied=[])
        applied = []
        for migration in migrations(schema_dir):
            if migration.version <= (current or 0):
                continue
            async with connection.transaction():
                await connection.execute(migration.path.read_text())
                await connection.execute(
                    "INSERT INTO schema_version (version, name, compatible_from) "
                    "VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    compatible_from_of(migration.version, schema_dir),
                )
            applied.append(migration.name)
        return MigrationResult(from_version=current, to_version=target, applied=applied)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
