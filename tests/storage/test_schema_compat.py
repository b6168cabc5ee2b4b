"""Minimum compatible schema versions: old code keeps running against a newer schema that says it
may (a rolling deploy), and is refused otherwise."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from einvoice.config import Settings
from storage.cassandra import migrate as cassandra_migrate
from storage.cassandra.client import CassandraClient
from storage.errors import SchemaError
from storage.postgres import migrate as postgres_migrate
from storage.postgres.pool import create_pool
from storage.schema_compat import AppliedSchema, check, compatible_from, declared_compatible_from
from storage.schema_versions import ensure_current

REPLICATION = {"class": "SimpleStrategy", "replication_factor": "1"}


def test_a_file_without_the_header_is_compatible_only_with_its_own_version() -> None:
    assert declared_compatible_from("-- schema-version: 7\nCREATE TABLE t (a int);", 7, "x") == 7
    assert declared_compatible_from("-- schema-version: 7\n-- compatible-from: 5\n", 7, "x") == 5


@pytest.mark.parametrize("declared", [0, 8])
def test_a_minimum_outside_one_to_the_files_version_is_refused(declared: int) -> None:
    with pytest.raises(SchemaError, match="compatible-from"):
        declared_compatible_from(f"-- compatible-from: {declared}\n", 7, "0007_x.cql")


@pytest.mark.parametrize(
    ("declared", "version", "oldest"),
    [
        ({1: 1, 2: 1, 3: 2}, 3, 2),  # 3 needs code 2; 2 would run on 1, but 3 does not
        ({1: 1, 2: 1, 3: 1}, 3, 1),  # three additive steps: code 1 runs on all
        ({1: 1, 2: 2, 3: 1}, 3, 2),  # an incompatible step in between is not undone by 3
        ({1: 1, 2: 2, 3: 3}, 3, 3),  # none compatible: only the newest code
        ({1: 1}, 1, 1),
    ],
)
def test_changes_compose(declared: dict[int, int], version: int, oldest: int) -> None:
    assert compatible_from(declared, version) == oldest


def test_check_accepts_equal_and_compatible_newer_schemas_only() -> None:
    check("db", AppliedSchema(6, None), 6)
    check("db", AppliedSchema(7, 6), 6)
    with pytest.raises(SchemaError, match="run `einvoice migrate` first"):
        check("db", AppliedSchema(5, 5), 6)
    with pytest.raises(SchemaError, match="run `einvoice migrate` first"):
        check("db", None, 6)
    with pytest.raises(SchemaError, match="compatible only with code from version 7"):
        check("db", AppliedSchema(7, 7), 6)
    with pytest.raises(SchemaError, match="newer than this code"):
        check("db", AppliedSchema(7, None), 6)  # recorded before minimums: strict


@pytest.fixture
def scratch_keyspace(cassandra: CassandraClient) -> Iterator[str]:
    name = f"scratch_{uuid.uuid4().hex[:10]}"
    yield name
    cassandra.session.set_keyspace(cassandra.keyspace)  # `migrate` left the session in `name`
    cassandra.session.execute(f"DROP KEYSPACE IF EXISTS {name}")


def _next_release(tmp_path: Path, header: str) -> Path:
    """This code's schema folder plus one more change, as the next release would ship it."""
    folder = tmp_path / "next"
    (folder / "changes").mkdir(parents=True)
    current = cassandra_migrate.changes()
    for change in current:
        (folder / "changes" / change.path.name).write_text(change.path.read_text())
    version = current[-1].version + 1
    (folder / "changes" / f"{version:04d}_future_things.cql").write_text(
        f"-- schema-version: {version}\n{header}"
        "CREATE TABLE IF NOT EXISTS future_things (id int PRIMARY KEY);\n"
    )
    snapshot = cassandra_migrate.snapshot().path.read_text()
    (folder / "snapshot.cql").write_text(
        snapshot.replace(f"-- schema-version: {version - 1}", f"-- schema-version: {version}")
    )
    return folder


async def test_code_runs_against_a_newer_keyspace_that_allows_it(
    settings: Settings, cassandra: CassandraClient, scratch_keyspace: str, tmp_path: Path
) -> None:
    session = cassandra.session
    ours = cassandra_migrate.required_version()
    cassandra_migrate.migrate(session, scratch_keyspace, REPLICATION)
    next_release = _next_release(tmp_path, f"-- compatible-from: {ours}\n")
    cassandra_migrate.migrate(session, scratch_keyspace, REPLICATION, schema_dir=next_release)
    client = CassandraClient(cassandra.cluster, session, scratch_keyspace)
    pool = await create_pool(settings)
    try:
        await ensure_current(client, pool)  # the old code keeps running during the deploy

        again = cassandra_migrate.migrate(session, scratch_keyspace, REPLICATION)
    finally:
        await pool.close()

    assert again.applied == []  # the old code's migrate leaves the newer schema alone
    assert cassandra_migrate.applied_schema(session, scratch_keyspace) == AppliedSchema(
        ours + 1, ours
    )


async def test_code_is_refused_by_a_newer_keyspace_that_does_not_allow_it(
    settings: Settings, cassandra: CassandraClient, scratch_keyspace: str, tmp_path: Path
) -> None:
    session = cassandra.session
    cassandra_migrate.migrate(session, scratch_keyspace, REPLICATION)
    next_release = _next_release(tmp_path, "")
    cassandra_migrate.migrate(session, scratch_keyspace, REPLICATION, schema_dir=next_release)
    client = CassandraClient(cassandra.cluster, session, scratch_keyspace)
    pool = await create_pool(settings)
    try:
        with pytest.raises(SchemaError, match="deploy the newer code"):
            await ensure_current(client, pool)
    finally:
        await pool.close()
    with pytest.raises(SchemaError, match="deploy the newer code"):
        cassandra_migrate.migrate(session, scratch_keyspace, REPLICATION)


async def test_postgres_records_and_honours_the_minimum(
    settings: Settings, cassandra: CassandraClient
) -> None:
    ours = postgres_migrate.required_version()
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as connection:
            assert await postgres_migrate.applied_schema(connection) == AppliedSchema(
                ours, postgres_migrate.compatible_from_of(ours)
            )
        await pool.execute(
            "INSERT INTO schema_version (version, name, compatible_from) "
            "VALUES (9999, 'future', $1)",
            ours,
        )
        try:
            await ensure_current(cassandra, pool)
        finally:
            await pool.execute("DELETE FROM schema_version WHERE version = 9999")
    finally:
        await pool.close()
