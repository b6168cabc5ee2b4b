"""The audit tables are append-only in the real PostgreSQL: the service's own connection (the
tables' owner, on the local stack) can add rows but not change, delete or truncate them, and the
migration takes those rights from every other role that held them."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from einvoice.config import Settings
from storage.postgres import migrate as postgres_migrate
from storage.postgres.pool import connect, create_pool
from storage.postgres.registry import Registry

AUDIT_TABLES = ("officer_reads", "admin_actions")


@pytest.fixture
async def registry(settings: Settings) -> AsyncIterator[Registry]:
    pool = await create_pool(settings)  # as the service connects
    yield Registry(pool)
    await pool.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET client_id = gen_random_uuid() WHERE client_id = $1",
        "DELETE FROM {table} WHERE client_id = $1",
    ],
)
@pytest.mark.parametrize("table", AUDIT_TABLES)
async def test_the_service_cannot_change_or_delete_an_audit_row(
    registry: Registry, table: str, statement: str
) -> None:
    who = uuid.uuid4()
    await registry.record_officer_read(who, "batch", str(uuid.uuid1()))
    await registry.record_admin_action(who, "key.revoke", "0100233488/k", 200)

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="audit log"):
        await registry.pool.execute(statement.format(table=table), who)

    assert (
        await registry.pool.fetchval(f"SELECT count(*) FROM {table} WHERE client_id = $1", who) == 1
    )


@pytest.mark.parametrize("table", AUDIT_TABLES)
async def test_the_service_cannot_truncate_an_audit_table(registry: Registry, table: str) -> None:
    who = uuid.uuid4()
    await registry.record_officer_read(who, "invoice", "00" + "AB" * 16)
    await registry.record_admin_action(who, "client.revoke", str(uuid.uuid4()), 200)

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="audit log"):
        await registry.pool.execute(f"TRUNCATE {table}")

    assert (
        await registry.pool.fetchval(f"SELECT count(*) FROM {table} WHERE client_id = $1", who) == 1
    )


async def test_the_migration_takes_the_rights_to_rewrite_from_every_other_role(
    settings: Settings, tmp_path: Path
) -> None:
    before_audit = tmp_path / "schema"
    before_audit.mkdir()
    for step in postgres_migrate.migrations():
        if step.version < 4:
            shutil.copy(step.path, before_audit / step.path.name)
    name = f"einvoice_scratch_{uuid.uuid4().hex[:10]}"
    server = await connect(settings)
    try:
        await server.execute(f'CREATE DATABASE "{name}"')
        scratch = await connect(settings, database=name)
        try:
            await postgres_migrate.migrate(scratch, before_audit)
            # As a deployment's default privileges would have given a service role (pg_monitor
            # stands in for it: the test's login may not create roles), and PUBLIC.
            await scratch.execute(
                "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON officer_reads "
                "TO pg_monitor, PUBLIC"
            )
            await postgres_migrate.migrate(scratch)
            held = await scratch.fetch(
                "SELECT acl.grantee, acl.privilege_type FROM pg_class c, aclexplode(c.relacl) acl "
                "WHERE c.oid = 'officer_reads'::regclass AND acl.grantee <> c.relowner"
            )
        finally:
            await scratch.close()
    finally:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.close()

    monitor = await _role_oid(settings, "pg_monitor")
    assert sorted((row["grantee"], row["privilege_type"]) for row in held) == sorted(
        [(monitor, "SELECT"), (monitor, "INSERT"), (0, "SELECT"), (0, "INSERT")]
    )


async def _role_oid(settings: Settings, role: str) -> int:
    connection = await connect(settings)
    try:
        oid: int = await connection.fetchval("SELECT oid FROM pg_roles WHERE rolname = $1", role)
        return oid
    finally:
        await connection.close()
