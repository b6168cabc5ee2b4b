"""Cassandra schema migrations: a full snapshot for an empty keyspace, additive changes otherwise.

Files live in storage/schema/cassandra: `snapshot.cql` (the whole schema at the newest version)
and `changes/NNNN_name.cql` (one additive step each). Each file declares its version in a
`-- schema-version: N` header line. The applied version is recorded in the keyspace itself, in
`schema_version`, one row per applied step, with the oldest code version that may run against
it (storage/schema_compat.py). The service never runs DDL: `einvoice migrate` does.
A change that must carry existing rows over has a data step (storage/cassandra/data_steps.py),
run right after its CQL and before its version is recorded; an empty keyspace's snapshot needs
none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cassandra.cluster import Session

from storage.cassandra.data_steps import DATA_STEPS
from storage.errors import SchemaError
from storage.schema_compat import (
    AppliedSchema,
    check,
    compatible_from,
    declared_compatible_from,
)

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema" / "cassandra"
_VERSION_LINE = re.compile(r"^-- schema-version: (\d+)$", re.MULTILINE)
_CHANGE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.cql$")

# Not part of the versioned schema: the migrator creates it before anything else.
_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    scope text,
    version int,
    name text,
    applied_at timestamp,
    compatible_from int,
    PRIMARY KEY (scope, version)
) WITH CLUSTERING ORDER BY (version DESC)
"""
# Keyspaces migrated before minimum compatible versions were recorded lack the column.
_VERSION_TABLE_COLUMN = "ALTER TABLE schema_version ADD IF NOT EXISTS compatible_from int"
_SCOPE = "cassandra"


@dataclass(frozen=True)
class SchemaFile:
    version: int
    name: str
    path: Path

    def statements(self) -> list[str]:
        return split_statements(self.path.read_text())

    def declared_compatible_from(self) -> int:
        return declared_compatible_from(self.path.read_text(), self.version, self.path.name)


@dataclass(frozen=True)
class MigrationResult:
    keyspace: str
    from_version: int | None
    to_version: int
    applied: list[str]


def split_statements(text: str) -> list[str]:
    """CQL statements of a file: `--` comments dropped, split at `;` ending a line."""
    lines = [re.sub(r"\s*--.*$", "", line) for line in text.splitlines()]
    statements = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [statement.strip() for statement in statements if statement.strip()]


def _declared_version(path: Path) -> int:
    match = _VERSION_LINE.search(path.read_text())
    if match is None:
        raise SchemaError(f"{path} has no '-- schema-version: N' header line")
    return int(match.group(1))


def changes(schema_dir: Path = SCHEMA_DIR) -> list[SchemaFile]:
    found = []
    for path in sorted((schema_dir / "changes").glob("*.cql")):
        match = _CHANGE_NAME.match(path.name)
        if match is None:
            raise SchemaError(f"{path.name}: change files are named NNNN_lower_case_name.cql")
        version = int(match.group(1))
        if _declared_version(path) != version:
            raise SchemaError(f"{path.name}: its header version differs from its file name")
        found.append(SchemaFile(version=version, name=path.stem, path=path))
    versions = [change.version for change in found]
    if versions != list(range(1, len(found) + 1)):
        raise SchemaError(f"change versions must run 1, 2, 3 ... without gaps; found {versions}")
    return found


def snapshot(schema_dir: Path = SCHEMA_DIR) -> SchemaFile:
    path = schema_dir / "snapshot.cql"
    return SchemaFile(version=_declared_version(path), name="snapshot", path=path)


def required_version(schema_dir: Path = SCHEMA_DIR) -> int:
    """The version this code needs: the newest change, which the snapshot must match."""
    newest = changes(schema_dir)[-1].version
    if snapshot(schema_dir).version != newest:
        raise SchemaError(
            f"snapshot.cql is at version {snapshot(schema_dir).version} but the newest change "
            f"is {newest}: bring the snapshot up to date"
        )
    return newest


def applied_version(session: Session, keyspace: str) -> int | None:
    """The keyspace's recorded schema version; None when it has no schema yet."""
    applied = applied_schema(session, keyspace)
    return applied.version if applied else None


def applied_schema(session: Session, keyspace: str) -> AppliedSchema | None:
    """The keyspace's recorded schema version and its minimum compatible code version."""
    if session.cluster.metadata.keyspaces.get(keyspace) is None:
        return None
    table = session.cluster.metadata.keyspaces[keyspace].tables.get("schema_version")
    if table is None:
        return None
    # The keyspace name is a validated identifier (einvoice.config), never request input.
    columns = "version, compatible_from" if "compatible_from" in table.columns else "version"
    query = f"SELECT {columns} FROM {keyspace}.schema_version WHERE scope = %s LIMIT 1"
    rows = session.execute(query, (_SCOPE,)).all()
    if not rows:
        return None
    return AppliedSchema(int(rows[0]["version"]), rows[0].get("compatible_from"))


def compatible_from_of(version: int, schema_dir: Path = SCHEMA_DIR) -> int:
    """The oldest code version that may run against this folder's schema at `version`."""
    declared = {change.version: change.declared_compatible_from() for change in changes(schema_dir)}
    return compatible_from(declared, version)


def migrate(
    session: Session,
    keyspace: str,
    replication: dict[str, str],
    *,
    schema_dir: Path = SCHEMA_DIR,
    use_snapshot: bool = True,
) -> MigrationResult:
    """Bring `keyspace` to the newest version. Idempotent; run one migrator at a time.

    An empty keyspace gets the snapshot in one step (unless `use_snapshot` is False, which the
    tests use to check that the changes lead to the same schema); otherwise each newer change is
    applied and recorded in turn, so an interrupted run resumes where it stopped.
    """
    target = required_version(schema_dir)
    options = ", ".join(f"'{key}': '{value}'" for key, value in replication.items())
    session.execute(f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {{{options}}}")
    session.execute(_VERSION_TABLE.replace("schema_version", f"{keyspace}.schema_version", 1))
    session.execute(_VERSION_TABLE_COLUMN.replace("schema_version", f"{keyspace}.schema_version"))
    session.set_keyspace(keyspace)
    applied_now = applied_schema(session, keyspace)
    current = applied_now.version if applied_now else None
    if applied_now is not None and current is not None and current > target:
        # Older code migrating a newer schema: nothing to do if it may run against it.
        check(f"keyspace {keyspace}", applied_now, target)
        return MigrationResult(
            keyspace=keyspace, from_version=current, to_version=current, applied=[]
        )
    if current is None and use_snapshot:
        steps = [snapshot(schema_dir)]
    else:
        steps = [change for change in changes(schema_dir) if change.version > (current or 0)]
    applied = []
    for step in steps:
        for statement in step.statements():
            session.execute(statement)
        data_step = DATA_STEPS.get(step.version) if step.name != "snapshot" else None
        if data_step is not None:
            data_step(session)
        session.execute(
            "INSERT INTO schema_version (scope, version, name, applied_at, compatible_from) "
            "VALUES (%s, %s, %s, %s, %s)",
            (
                _SCOPE,
                step.version,
                step.name,
                datetime.now(UTC),
                compatible_from_of(step.version, schema_dir),
            ),
        )
        applied.append(step.name)
    return MigrationResult(
        keyspace=keyspace, from_version=current, to_version=target, applied=applied
    )
