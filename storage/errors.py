"""Errors of the storage layer that callers act on.

Storage speaks of records and constraints, never of HTTP: the services above map these to the
service's errors with their stable codes (einvoice/registry/admin.py for the registry).
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of the foreseeable storage failures a caller handles."""


class SchemaError(StorageError):
    """The schema files are inconsistent, or a database's schema is not the one this code needs."""


class RecordExists(StorageError):
    """A record with this key exists already (`entity` names the kind, `key` its key)."""

    def __init__(self, entity: str, *key: object) -> None:
        super().__init__(f"{entity} {key} exists already")
        self.entity = entity
        self.key = key


class RecordMissing(StorageError):
    """No record with this key (or no parent record a new one refers to)."""

    def __init__(self, entity: str, *key: object) -> None:
        super().__init__(f"no {entity} {key}")
        self.entity = entity
        self.key = key


class ConstraintViolated(StorageError):
    """The database refused the values by one of its check constraints (`constraint`)."""

    def __init__(self, entity: str, constraint: str) -> None:
        super().__init__(f"{entity}: constraint {constraint} violated")
        self.entity = entity
        self.constraint = constraint
