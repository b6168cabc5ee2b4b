"""Which code may run against which schema: the minimum compatible version, recorded per version.

A rolling deploy migrates the databases first and replaces the processes afterwards, so for a
while old code runs against the new schema. That is safe only for changes the old code does not
notice (a new table, a new column it never reads). Each schema file says so in its header:

    -- compatible-from: N

meaning code built for schema version N or newer runs correctly against this version. Without the
line a file is compatible only with its own version's code (the safe default). The migrator
records, beside each applied version, the oldest code version that may run against the schema as
it now stands: the changes compose, so one incompatible step in between makes it that step's.

A process refuses a schema older than its code (run `einvoice migrate`) and a newer one unless
the recorded minimum allows its code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from storage.errors import SchemaError

_COMPATIBLE_LINE = re.compile(r"^-- compatible-from: (\d+)$", re.MULTILINE)


@dataclass(frozen=True)
class AppliedSchema:
    """A database's schema version, and the oldest code version that may run against it (None:
    recorded before minimums were: only code of exactly this version)."""

    version: int
    compatible_from: int | None


def declared_compatible_from(text: str, version: int, name: str) -> int:
    """The `-- compatible-from: N` header of a schema file at `version` (default: `version`)."""
    match = _COMPATIBLE_LINE.search(text)
    if match is None:
        return version
    declared = int(match.group(1))
    if not 1 <= declared <= version:
        raise SchemaError(f"{name}: compatible-from {declared} is not between 1 and {version}")
    return declared


def compatible_from(declared: Mapping[int, int], version: int) -> int:
    """The oldest code version that runs against the schema at `version`, from each change's
    declared minimum: code at c is fine when no change after c needs code newer than c."""
    oldest = version
    for candidate in range(version - 1, 0, -1):
        if max(declared[step] for step in range(candidate + 1, version + 1)) > candidate:
            break
        oldest = candidate
    return oldest


def check(what: str, applied: AppliedSchema | None, required: int) -> None:
    """Raise SchemaError unless code built for `required` may run against `applied`."""
    if applied is None or applied.version < required:
        raise SchemaError(
            f"{what} is at schema version {applied.version if applied else 'none'}, this code "
            f"needs {required}: run `einvoice migrate` first"
        )
    if applied.version == required:
        return
    oldest = applied.compatible_from if applied.compatible_from is not None else applied.version
    if oldest > required:
        raise SchemaError(
            f"{what} is at schema version {applied.version}, newer than this code's {required} "
            f"and compatible only with code from version {oldest}: deploy the newer code"
        )
