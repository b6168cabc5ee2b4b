"""Errors of the storage layer that callers act on."""


class SchemaError(Exception):
    """The schema files are inconsistent, or a database's schema is not the one this code needs."""
