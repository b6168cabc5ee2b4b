"""Registry operations with their checks: one implementation behind the admin API and the CLI.

Storage reports records that exist or are missing (storage/errors.py); this is where they become
the service's errors with their stable codes and the field they concern.

The admin API runs each operation through `audited`, which records it in `admin_actions`. Order:
an operation's change and its row are written in one transaction, so no change commits without
its row. An operation that fails with a service error changed nothing (its transaction is rolled
back); its row, with the error's status and code, is written after, and if that write fails the
caller gets the database's error instead. Any other failure (a database outage, a bug) rolls the
change back and is not recorded: nothing happened, and the log has it. The CLI is not audited: it
runs with the database's credentials, which could as well write the tables directly.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from einvoice.error_codes import ErrorCode
from einvoice.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    ServiceError,
    Unprocessable,
    shown,
)
from einvoice.invoice.taxcode import tax_code_error
from einvoice.registry.api_keys import new_api_key
from einvoice.registry.public_keys import parse_certificate, parse_public_key
from signing import jws
from storage.errors import ConstraintViolated, RecordExists, RecordMissing, StorageError
from storage.postgres.registry import ClientRow, Registry, SellerKeyRow, TaxpayerRow

T = TypeVar("T")

STATUSES = ("active", "suspended", "closed")
ROLES = ("business", "officer", "admin")
RATE_LIMIT_CLASSES = ("standard", "large", "internal")

# A client id as the API shows it: ASCII only, so that no other spelling (other digits, braces,
# a URN) names the same client.
_CLIENT_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII | re.IGNORECASE
)
# Bounds of an audit row's target (the table's CHECK).
_TARGET_MAX = 300


@dataclass(frozen=True)
class AdminAction:
    """Who (an admin's client id) asks which action (a stable name: it is stored) of what."""

    client_id: uuid.UUID
    action: str
    target: str
    detail: dict[str, Any] | None = None


async def audited(
    registry: Registry,
    action: AdminAction,
    operation: Callable[[Registry], Awaitable[T]],
    *,
    status: int = 200,
    target_of: Callable[[T], str] | None = None,
) -> T:
    """`operation` on the registry, recorded in `admin_actions` (the order: module docstring).

    `status` is what success is answered with; `target_of` names the target from the result
    when the request could not (a new client's id)."""
    detail = _storable(action.detail)
    try:
        async with registry.transaction() as scoped:
            result = await operation(scoped)
            target = target_of(result) if target_of is not None else action.target
            await scoped.record_admin_action(
                action.client_id, action.action, _text(target), status, None, detail
            )
    except ServiceError as error:
        await registry.record_admin_action(
            action.client_id,
            action.action,
            _text(action.target),
            error.status,
            error.details[0].code,  # the first of the codes answered (most errors have one)
            detail,
        )
        raise
    return result


def _text(value: str) -> str:
    """`value` as PostgreSQL text can hold it: a request may carry NUL or lone surrogates,
    which an audit row records in replaced form rather than failing to record at all."""
    clean = value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return clean[:_TARGET_MAX]


def _storable(detail: dict[str, Any] | None) -> dict[str, Any] | None:
    if detail is None:
        return None
    return {key: _text(value) if isinstance(value, str) else value for key, value in detail.items()}


@dataclass(frozen=True)
class IssuedClient:
    """A new API client and its key: the only time the key is ever shown."""

    client: ClientRow
    api_key: str


def check_tax_code(tax_code: str, field: str = "/tax_code") -> str:
    problem = tax_code_error(tax_code)
    if problem:
        raise Unprocessable(f"{shown(tax_code)} is not a valid tax code", code=problem, field=field)
    return tax_code


async def add_taxpayer(registry: Registry, tax_code: str, name: str) -> TaxpayerRow:
    check_tax_code(tax_code)
    if not 1 <= len(name.strip()) <= 400 or not _storable_text(name):
        raise Unprocessable(
            "a name of 1 to 400 characters", code=ErrorCode.INVALID_FIELD, field="/name"
        )
    return await _mapped(registry.add_taxpayer(tax_code, name.strip()))


async def set_status(registry: Registry, tax_code: str, status: str) -> TaxpayerRow:
    if status not in STATUSES:
        raise Unprocessable(
            f"status is one of {', '.join(STATUSES)}", code=ErrorCode.INVALID_VALUE, field="/status"
        )
    return await _mapped(registry.set_taxpayer_status(check_tax_code(tax_code), status))


async def change_taxpayer(
    registry: Registry, tax_code: str, status: str | None, month_buckets: int | None
) -> TaxpayerRow:
    """Raise the month buckets, set the status, or both (buckets first); one of them is needed."""
    if status is None and month_buckets is None:
        raise InvalidRequest(
            "give status or month_buckets", code=ErrorCode.FIELD_REQUIRED, field="/status"
        )
    row = None
    if month_buckets is not None:
        row = await raise_month_buckets(registry, tax_code, month_buckets)
    if status is not None:
        row = await set_status(registry, tax_code, status)
    assert row is not None
    return row


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
    public_key: str | dict[str, Any] | None,
    *,
    certificate: str | None = None,
    algorithm: str | None = None,
    valid_from: dt.datetime | None = None,
    valid_to: dt.datetime | None = None,
) -> SellerKeyRow:
    """A key from `public_key` (PEM or JWK) or from `certificate` (PEM X.509: its key, kept with
    its bytes for XML signatures, valid within the certificate's own validity)."""
    check_tax_code(tax_code)
    check_kid(kid)
    for name, moment in (("valid_from", valid_from), ("valid_to", valid_to)):
        if moment is not None and moment.tzinfo is None:
            raise Unprocessable(
                "give a time zone, e.g. +07:00", code=ErrorCode.INVALID_FIELD, field=f"/{name}"
            )
    if (public_key is None) == (certificate is None):
        raise Unprocessable(
            "give either public_key or certificate",
            code=ErrorCode.CERTIFICATE_MALFORMED,
            field="/certificate",
        )
    if certificate is None:
        parsed = parse_public_key(cast(str | dict[str, Any], public_key), algorithm, kid=kid)
        return await _mapped(
            registry.add_key(tax_code, kid, parsed.algorithm, parsed.jwk, valid_from, valid_to)
        )
    cert = parse_certificate(certificate)
    if algorithm is not None and jws.algorithm_named(algorithm) != cert.key.algorithm:
        raise Unprocessable(
            f"this certificate's key signs with {cert.key.algorithm}",
            code=ErrorCode.KEY_ALGORITHM_MISMATCH,
            field="/algorithm",
        )
    starts = max(valid_from, cert.not_before) if valid_from else cert.not_before
    ends = min(valid_to, cert.not_after) if valid_to else cert.not_after
    return await _mapped(
        registry.add_key(
            tax_code, kid, cert.key.algorithm, cert.key.jwk, starts, ends, certificate=cert.der
        )
    )


def check_kid(kid: str) -> str:
    if not 1 <= len(kid) <= 200 or not kid.isprintable():
        raise Unprocessable(
            "a kid of 1 to 200 printable characters", code=ErrorCode.INVALID_FIELD, field="/kid"
        )
    return kid


async def revoke_key(registry: Registry, tax_code: str, kid: str) -> SellerKeyRow:
    return await _mapped(registry.revoke_key(check_tax_code(tax_code), check_kid(kid)))


async def add_client(
    registry: Registry, role: str, tax_code: str | None, rate_limit_class: str = "standard"
) -> IssuedClient:
    if role not in ROLES:
        raise Unprocessable(
            f"role is one of {', '.join(ROLES)}", code=ErrorCode.INVALID_VALUE, field="/role"
        )
    if rate_limit_class not in RATE_LIMIT_CLASSES:
        raise Unprocessable(
            f"rate_limit_class is one of {', '.join(RATE_LIMIT_CLASSES)}",
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
    if _CLIENT_ID.fullmatch(client_id) is None:
        raise Unprocessable("a client id is a UUID", code=ErrorCode.INVALID_FIELD, field="/id")
    return await _mapped(registry.revoke_client(uuid.UUID(client_id)))


def _storable_text(value: str) -> bool:
    """Whether PostgreSQL text holds `value` as it is (no NUL, no lone surrogate)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
        case RecordExists(entity="seller_certificate", key=(tax_code,)):
            return Conflict(
                f"taxpayer {tax_code} has this certificate registered already",
                code=ErrorCode.CERTIFICATE_EXISTS,
                field="/certificate",
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
