"""Registry operations with their checks: one implementation behind the admin API and the CLI.

Storage reports records that exist or are missing (storage/errors.py); this is where they become
the service's errors with their stable codes and the field they concern.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from einvoice.error_codes import ErrorCode
from einvoice.errors import Conflict, NotFound, ServiceError, Unprocessable
from einvoice.invoice.taxcode import tax_code_error
from einvoice.registry.api_keys import new_api_key
from einvoice.registry.public_keys import parse_public_key
from storage.errors import ConstraintViolated, RecordExists, RecordMissing, StorageError
from storage.postgres.registry import ClientRow, Registry, SellerKeyRow, TaxpayerRow

T = TypeVar("T")

STATUSES = ("active", "suspended", "closed")
ROLES = ("business", "officer", "admin")
RATE_LIMIT_CLASSES = ("standard", "large", "internal")


@dataclass(frozen=True)
class IssuedClient:
    """A new API client and its key: the only time the key is ever shown."""

    client: ClientRow
    api_key: str


def check_tax_code(tax_code: str, field: str = "/tax_code") -> str:
    problem = tax_code_error(tax_code)
    if problem:
        raise Unprocessable(f"{tax_code!r} is not a valid tax code", code=problem, field=field)
    return tax_code


async def add_taxpayer(registry: Registry, tax_code: str, name: str) -> TaxpayerRow:
    check_tax_code(tax_code)
    if not 1 <= len(name.strip()) <= 400:
        raise Unprocessable(
            "a name of 1 to 400 characters", code=ErrorCode.INVALID_FIELD, field="/name"
        )
    return await _mapped(registry.add_taxpayer(tax_code, name.strip()))


async def set_status(registry: Registry, tax_code: str, status: str) -> TaxpayerRow:
    if status not in STATUSES:
        raise Unprocessable(
            f"status is one of {STATUSES}", code=ErrorCode.INVALID_VALUE, field="/status"
        )
    return await _mapped(registry.set_taxpayer_status(check_tax_code(tax_code), status))


async def raise_month_buckets(registry: Registry, tax_code: str, buckets: int) -> TaxpayerRow:
    if not 1 <= buckets <= 256:
        raise Unprocessable(
            "month_buckets is 1 to 256", code=ErrorCode.OUT_OF_RANGE, field="/month_buckets"
        )
    return await _mapped(registry.raise_month_buckets(check_tax_code(tax_code), buckets))


async def add_key(
    registry: Registry,
    tax_code: str,
    kid: str,
    public_key: str | dict[str, Any],
    *,
    algorithm: str | None = None,
    valid_from: dt.datetime | None = None,
    valid_to: dt.datetime | None = None,
) -> SellerKeyRow:
    check_tax_code(tax_code)
    if not 1 <= len(kid) <= 200 or not kid.isprintable():
        raise Unprocessable(
            "a kid of 1 to 200 printable characters", code=ErrorCode.INVALID_FIELD, field="/kid"
        )
    for name, moment in (("valid_from", valid_from), ("valid_to", valid_to)):
        if moment is not None and moment.tzinfo is None:
            raise Unprocessable(
                "give a time zone, e.g. +07:00", code=ErrorCode.INVALID_FIELD, field=f"/{name}"
            )
    parsed = parse_public_key(public_key, algorithm)
    return await _mapped(
        registry.add_key(tax_code, kid, parsed.algorithm, parsed.jwk, valid_from, valid_to)
    )


async def revoke_key(registry: Registry, tax_code: str, kid: str) -> SellerKeyRow:
    return await _mapped(registry.revoke_key(check_tax_code(tax_code), kid))


async def add_client(
    registry: Registry, role: str, tax_code: str | None, rate_limit_class: str = "standard"
) -> IssuedClient:
    if role not in ROLES:
        raise Unprocessable(f"role is one of {ROLES}", code=ErrorCode.INVALID_VALUE, field="/role")
    if rate_limit_class not in RATE_LIMIT_CLASSES:
        raise Unprocessable(
            f"rate_limit_class is one of {RATE_LIMIT_CLASSES}",
            code=ErrorCode.INVALID_VALUE,
            field="/rate_limit_class",
        )
    if role == "business" and tax_code is None:
        raise Unprocessable(
            "a business client acts for one tax code",
            code=ErrorCode.CLIENT_TAX_CODE_REQUIRED,
            field="/tax_code",
        )
    if role != "business" and tax_code is not None:
        raise Unprocessable(
            "officers and admins act for no tax code",
            code=ErrorCode.CLIENT_TAX_CODE_UNEXPECTED,
            field="/tax_code",
        )
    if tax_code is not None:
        check_tax_code(tax_code)
    key = new_api_key()
    client = await _mapped(
        registry.add_client(key.client_id, role, tax_code, key.secret_hash, rate_limit_class)
    )
    return IssuedClient(client, key.api_key)


async def revoke_client(registry: Registry, client_id: str) -> ClientRow:
    try:
        parsed = uuid.UUID(client_id)
    except ValueError as error:
        raise Unprocessable(
            "a client id is a UUID", code=ErrorCode.INVALID_FIELD, field="/id"
        ) from error
    return await _mapped(registry.revoke_client(parsed))


async def _mapped(operation: Awaitable[T]) -> T:
    """The operation's result; its storage errors as the service's errors."""
    try:
        return await operation
    except StorageError as error:
        mapped = _service_error(error)
        if mapped is None:
            raise  # not foreseen here: a bug, answered 500 with the traceback in the log
        raise mapped from error


def _service_error(error: StorageError) -> ServiceError | None:
    match error:
        case RecordExists(entity="taxpayer", key=(tax_code,)):
            return Conflict(
                f"taxpayer {tax_code} is registered already",
                code=ErrorCode.TAXPAYER_EXISTS,
                field="/tax_code",
            )
        case RecordExists(entity="seller_key", key=(tax_code, kid)):
            return Conflict(
                f"taxpayer {tax_code} has a key {kid} already; kids are never reused",
                code=ErrorCode.KEY_EXISTS,
                field="/kid",
            )
        case ConstraintViolated(entity="seller_key"):
            # The only check on a key the admin's values can break (the others mirror checks
            # made above): its validity ends after it begins.
            return Conflict(
                "valid_to must be later than valid_from", code=ErrorCode.KEY_VALIDITY_INVALID
            )
        case RecordMissing(entity="taxpayer", key=(tax_code,)):
            return NotFound(
                f"no taxpayer {tax_code}", code=ErrorCode.TAXPAYER_NOT_FOUND, field="/tax_code"
            )
        case RecordMissing(entity="seller_key", key=(tax_code, kid)):
            return NotFound(f"taxpayer {tax_code} has no key {kid}", code=ErrorCode.KEY_NOT_FOUND)
        case RecordMissing(entity="api_client", key=(client_id,)):
            return NotFound(f"no API client {client_id}", code=ErrorCode.CLIENT_NOT_FOUND)
    return None
