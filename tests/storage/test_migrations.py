"""Schema migrations against the real servers: idempotent, and both roads give one schema."""

from __future__ import annotations

import datetime as dt
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from einvoice.config import Settings
from einvoice.invoice.samples import SELLER_TAX_CODE, sample_invoice
from signing.authority import AuthorityKeyRing, generate_private_key_pem, new_code, token_claims
from signing.canonical import canonical_invoice_bytes, invoice_hash
from storage.cassandra import migrate as cassandra_migrate
from storage.cassandra.client import CassandraClient
from storage.cassandra.client import connect as connect_cassandra
from storage.cassandra.invoices import InvoiceStore
from storage.cassandra.row_writer import RowWriter
from storage.errors import SchemaError
from storage.postgres import migrate as postgres_migrate
from storage.postgres.pool import connect as connect_postgres
from storage.postgres.pool import create_pool
from storage.schema_compat import compatible_from
from storage.schema_versions import ensure_current, migrate_all

REPLICATION = {"class": "SimpleStrategy", "replication_factor": "1"}


@pytest.fixture
def scratch_keyspaces(cassandra: CassandraClient) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    # `migrate` leaves the session it is given in the keyspace it migrated: back to the tests'
    # own before that keyspace is dropped, or every later statement of the session fails.
    cassandra.session.set_keyspace(cassandra.keyspace)
    for name in names:
        cassandra.session.execute(f"DROP KEYSPACE IF EXISTS {name}")


def _new_keyspace(names: list[str]) -> str:
    names.append(f"scratch_{uuid.uuid4().hex[:10]}")
    return names[-1]


def _schema_of(cassandra: CassandraClient, keyspace: str) -> dict[str, Any]:
    """Tables, their options and columns, as Cassandra describes them (minus ids)."""
    session = cassandra.session
    tables = {
        row["table_name"]: {k: v for k, v in row.items() if k not in ("keyspace_name", "id")}
        for row in session.execute(
            "SELECT * FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,)
        )
    }
    columns = sorted(
        (row["table_name"], row["column_name"], row["kind"], row["position"], row["type"])
        for row in session.execute(
            "SELECT * FROM system_schema.columns WHERE keyspace_name = %s", (keyspace,)
        )
    )
    return {"tables": tables, "columns": columns}


def test_the_changes_in_turn_give_the_same_schema_as_the_snapshot(
    cassandra: CassandraClient, scratch_keyspaces: list[str]
) -> None:
    from_snapshot = _new_keyspace(scratch_keyspaces)
    from_changes = _new_keyspace(scratch_keyspaces)

    by_snapshot = cassandra_migrate.migrate(cassandra.session, from_snapshot, REPLICATION)
    by_changes = cassandra_migrate.migrate(
        cassandra.session, from_changes, REPLICATION, use_snapshot=False
    )

    assert by_snapshot.applied == ["snapshot"]
    assert by_changes.applied == [c.name for c in cassandra_migrate.changes()]
    assert by_snapshot.to_version == by_changes.to_version == cassandra_migrate.required_version()
    assert _schema_of(cassandra, from_snapshot) == _schema_of(cassandra, from_changes)
    assert _schema_of(cassandra, from_snapshot)["tables"]  # not vacuously equal


def test_cassandra_migration_is_idempotent(
    cassandra: CassandraClient, scratch_keyspaces: list[str]
) -> None:
    keyspace = _new_keyspace(scratch_keyspaces)
    cassandra_migrate.migrate(cassandra.session, keyspace, REPLICATION)
    schema = _schema_of(cassandra, keyspace)

    again = cassandra_migrate.migrate(cassandra.session, keyspace, REPLICATION)

    assert again.applied == []
    assert again.from_version == again.to_version
    assert _schema_of(cassandra, keyspace) == schema


def test_an_older_keyspace_gets_only_the_newer_changes(
    cassandra: CassandraClient, scratch_keyspaces: list[str], tmp_path: Path
) -> None:
    # A copy of the schema folder without the newest change stands for the previous release.
    keyspace = _new_keyspace(scratch_keyspaces)
    previous = _schema_folder_without_newest_change(tmp_path)
    cassandra_migrate.migrate(cassandra.session, keyspace, REPLICATION, schema_dir=previous)

    result = cassandra_migrate.migrate(cassandra.session, keyspace, REPLICATION)

    newest = cassandra_migrate.changes()[-1]
    assert result.from_version == newest.version - 1
    assert result.applied == [newest.name]


def test_a_keyspace_newer_than_the_code_is_refused(
    cassandra: CassandraClient, scratch_keyspaces: list[str], tmp_path: Path
) -> None:
    keyspace = _new_keyspace(scratch_keyspaces)
    cassandra_migrate.migrate(cassandra.session, keyspace, REPLICATION)
    # The code of the release before the newest change that it may not run against (the newer
    # changes since then say which older code they let run: `-- compatible-from`).
    newest = cassandra_migrate.changes()[-1]
    oldest_allowed = compatible_from(
        {c.version: c.declared_compatible_from() for c in cassandra_migrate.changes()},
        newest.version,
    )
    previous = _schema_folder_up_to(tmp_path, oldest_allowed - 1)

    with pytest.raises(SchemaError, match="newer than this code"):
        cassandra_migrate.migrate(cassandra.session, keyspace, REPLICATION, schema_dir=previous)


def _schema_folder_without_newest_change(tmp_path: Path) -> Path:
    return _schema_folder_up_to(tmp_path, cassandra_migrate.changes()[-1].version - 1)


async def test_postgres_migration_is_idempotent(settings: Settings) -> None:
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as connection:
            tables_before = await _postgres_tables(connection)
            result = await postgres_migrate.migrate(connection)  # type: ignore[arg-type]
            tables_after = await _postgres_tables(connection)
    finally:
        await pool.close()

    assert result.applied == []
    assert result.from_version == result.to_version == postgres_migrate.required_version()
    assert tables_before == tables_after
    assert {"taxpayers", "seller_keys", "api_clients", "officer_reads"} <= set(tables_after)


async def _postgres_tables(connection: Any) -> list[str]:
    rows = await connection.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "ORDER BY table_name"
    )
    return [row["table_name"] for row in rows]


def test_migrate_all_twice_changes_nothing(settings: Settings) -> None:
    report = migrate_all(settings)  # the session fixture already migrated once

    assert report.cassandra.applied == []
    assert report.postgres.applied == []


async def test_the_service_refuses_a_keyspace_without_the_schema(
    settings: Settings,
    cassandra: CassandraClient,
    scratch_keyspaces: list[str],
) -> None:
    empty = _new_keyspace(scratch_keyspaces)
    cassandra.session.execute(
        f"CREATE KEYSPACE {empty} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    unmigrated = CassandraClient(cassandra.cluster, cassandra.session, empty)
    pool = await create_pool(settings)
    try:
        with pytest.raises(SchemaError, match="run `einvoice migrate` first"):
            await ensure_current(unmigrated, pool)
        await ensure_current(cassandra, pool)  # the migrated one passes
    finally:
        await pool.close()


async def test_the_service_refuses_an_older_or_newer_postgres_schema(
    settings: Settings, cassandra: CassandraClient
) -> None:
    pool = await create_pool(settings)
    try:
        newest = await pool.fetchrow(
            "DELETE FROM schema_version WHERE version = (SELECT max(version) FROM schema_version) "
            "RETURNING version, name, compatible_from"
        )
        assert newest is not None
        try:
            with pytest.raises(SchemaError, match="run `einvoice migrate` first"):
                await ensure_current(cassandra, pool)
        finally:
            await pool.execute(
                "INSERT INTO schema_version (version, name, compatible_from) VALUES ($1, $2, $3)",
                *newest,
            )
        await pool.execute("INSERT INTO schema_version (version, name) VALUES (9999, 'future')")
        try:
            with pytest.raises(SchemaError, match="newer than this code"):
                await ensure_current(cassandra, pool)
        finally:
            await pool.execute("DELETE FROM schema_version WHERE version = 9999")
        await ensure_current(cassandra, pool)
    finally:
        await pool.close()


def test_postgres_migrations_are_numbered_without_gaps() -> None:
    versions = [migration.version for migration in postgres_migrate.migrations()]
    assert versions == list(range(1, len(versions) + 1))


async def test_postgres_migrations_apply_to_an_empty_database(settings: Settings) -> None:
    name = f"einvoice_scratch_{uuid.uuid4().hex[:10]}"
    admin = await connect_postgres(settings)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        fresh = await connect_postgres(settings, database=name)
        try:
            result = await postgres_migrate.migrate(fresh)
            assert result.from_version is None
            assert result.applied == [m.name for m in postgres_migrate.migrations()]
        finally:
            await fresh.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_version_4_invoices_and_claims_are_carried_into_the_compact_tables(
    settings: Settings,
    cassandra: CassandraClient,
    scratch_keyspaces: list[str],
    tmp_path: Path,
) -> None:
    keyspace = _new_keyspace(scratch_keyspaces)
    version_4 = _schema_folder_up_to(tmp_path, 4)
    cassandra_migrate.migrate(cassandra.session, keyspace, REPLICATION, schema_dir=version_4)
    ring = AuthorityKeyRing.from_pems({"old-1": generate_private_key_pem()}, "old-1")
    invoice = sample_invoice(number=9)
    canonical = canonical_invoice_bytes(invoice)
    digest = invoice_hash(canonical)
    code = new_code("00")
    at = dt.datetime(2026, 11, 1, 3, 4, 5, 678000, tzinfo=dt.UTC)
    token = ring.sign_token(
        # Tokens of that time carried no `iss`.
        token_claims(invoice, issuer=None, code=code, invoice_hash=digest, iat=int(at.timestamp()))
    )
    batch_id = uuid.uuid1()
    session = cassandra.session
    session.execute(
        f"INSERT INTO {keyspace}.invoice_claims (seller_tax_code, template, symbol, number, code, "
        "invoice_hash, claimed_at, authority_token, authenticated_at, source) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) IF NOT EXISTS USING TTL 86400",
        (
            SELLER_TAX_CODE,
            "1",
            invoice["symbol"],
            9,
            code,
            digest,
            at,
            token,
            at,
            f"batch:{batch_id}:17",
        ),
    )
    session.execute(
        f"INSERT INTO {keyspace}.invoices_by_code (code, seller_tax_code, template, symbol, "
        "number, issued_date, invoice_hash, status, authenticated_at, invoice, seller_signature, "
        "authority_token) VALUES (%s, %s, %s, %s, %s, %s, %s, 'authenticated', %s, %s, %s, %s) "
        "USING TTL 86400",
        (
            code,
            SELLER_TAX_CODE,
            "1",
            invoice["symbol"],
            9,
            dt.date(2025, 6, 15),
            digest,
            at,
            zlib.compress(canonical),
            "eyJhbGciOiJFUzI1NiJ9..c2lnbmF0dXJl",
            token,
        ),
    )

    result = cassandra_migrate.migrate(session, keyspace, REPLICATION)

    assert result.applied == [
        "0005_grouped_claims",
        "0006_retire_v4_invoice_tables",
        "0007_signed_xml",
        "0008_buyer_month",
        "0009_lifecycle",
        "0010_batch_request_id",
    ]
    tables = session.cluster.metadata.keyspaces[keyspace].tables
    assert "invoice_claims" not in tables
    assert "invoices_by_code" not in tables
    # A client of its own: statements prepared in the scratch keyspace, which is dropped at the
    # end, must not stay in the shared client's cache (the driver prepares them again later).
    scratch = connect_cassandra(settings)
    try:
        scratch.session.set_keyspace(keyspace)
        store = InvoiceStore(scratch.session, RowWriter(scratch.session))
        claim = await store.claim_of(SELLER_TAX_CODE, "1", invoice["symbol"], 9)
        stored = await store.by_code(code)
        ttl = scratch.session.execute(
            "SELECT TTL(document) AS ttl FROM invoice_documents WHERE code = %s",
            (bytes.fromhex(code),),
        ).one()["ttl"]
    finally:
        scratch.close()
    assert claim is not None
    assert (claim.code, claim.invoice_hash, claim.authenticated_at) == (code, digest, at)
    assert claim.made_by(batch_id, 17)
    assert stored is not None
    assert (stored.token, stored.invoice, stored.invoice_hash) == (token, invoice, digest)
    assert stored.seller_signature == "eyJhbGciOiJFUzI1NiJ9..c2lnbmF0dXJl"
    assert 0 < ttl <= 86400


def _schema_folder_up_to(tmp_path: Path, version: int) -> Path:
    """A schema folder as a release at `version` had it: its changes and their snapshot."""
    kept = [change for change in cassandra_migrate.changes() if change.version <= version]
    folder = tmp_path / f"schema-{version}"
    (folder / "changes").mkdir(parents=True)
    for change in kept:
        (folder / "changes" / change.path.name).write_text(change.path.read_text())
    body = "\n".join(
        change.path.read_text().replace(f"-- schema-version: {change.version}", "")
        for change in kept
    )
    (folder / "snapshot.cql").write_text(f"-- schema-version: {version}\n{body}")
    return folder
