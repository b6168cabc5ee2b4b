"""The taxpayer registry's SQL: taxpayers, seller keys, API clients, the officer-read audit log.

Only this module speaks SQL for the registry. Its callers get plain records and storage errors
(storage/errors.py: a record that exists already, one that is missing, a refused value), never a
driver exception for a foreseeable case; the registry service maps those to the service's errors
(einvoice/registry/admin.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
import orjson

from storage.errors import ConstraintViolated, RecordExists, RecordMissing

CHANNEL = "einvoice_registry"


@dataclass(frozen=True)
class TaxpayerRow:
    tax_code: str
    name: str
    status: str
    registered_at: dt.datetime
    month_buckets: int


@dataclass(frozen=True)
class SellerKeyRow:
    tax_code: str
    kid: str
    algorithm: str
    public_jwk: dict[str, Any]
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    revoked_at: dt.datetime | None
    certificate: bytes | None = None  # DER, when the key was registered as a certificate


@dataclass(frozen=True)
class ClientRow:
    id: uuid.UUID
    role: str
    tax_code: str | None
    secret_hash: bytes
    rate_limit_class: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


_TAXPAYER_COLUMNS = "tax_code, name, status, registered_at, month_buckets"
_KEY_COLUMNS = "tax_code, kid, algorithm, public_jwk, valid_from, valid_to, revoked_at, certificate"
_CLIENT_COLUMNS = "id, role, tax_code, secret_hash, rate_limit_class, created_at, revoked_at"


class Registry:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # -- taxpayers ------------------------------------------------------------------------------

    async def add_taxpayer(self, tax_code: str, name: str) -> TaxpayerRow:
        try:
            row = await self.pool.fetchrow(
                "INSERT INTO taxpayers (tax_code, name) VALUES ($1, $2) "
                f"RETURNING {_TAXPAYER_COLUMNS}",
                tax_code,
                name,
            )
        except asyncpg.UniqueViolationError as error:
            raise RecordExists("taxpayer", tax_code) from error
        assert row is not None
        return TaxpayerRow(**row)

    async def taxpayer(self, tax_code: str) -> TaxpayerRow | None:
        row = await self.pool.fetchrow(
            f"SELECT {_TAXPAYER_COLUMNS} FROM taxpayers WHERE tax_code = $1", tax_code
        )
        return TaxpayerRow(**row) if row else None

    async def raise_month_buckets(self, tax_code: str, buckets: int) -> TaxpayerRow:
        row = await self.pool.fetchrow(
            "UPDATE taxpayers SET month_buckets = greatest(month_buckets, $2), updated_at = now() "
            f"WHERE tax_code = $1 RETURNING {_TAXPAYER_COLUMNS}",
            tax_code,
            buckets,
        )
        if row is None:
            raise RecordMissing("taxpayer", tax_code)
        return TaxpayerRow(**row)

    async def set_taxpayer_status(self, tax_code: str, status: str) -> TaxpayerRow:
        row = await self.pool.fetchrow(
            "UPDATE taxpayers SET status = $2, updated_at = now() WHERE tax_code = $1 "
            f"RETURNING {_TAXPAYER_COLUMNS}",
            tax_code,
            status,
        )
        if row is None:
            raise RecordMissing("taxpayer", tax_code)
        return TaxpayerRow(**row)

    # -- seller keys ----------------------------------------------------------------------------

    async def add_key(
        self,
        tax_code: str,
        kid: str,
        algorithm: str,
        public_jwk: dict[str, str],
        valid_from: dt.datetime | None,
        valid_to: dt.datetime | None,
        certificate: bytes | None = None,
    ) -> SellerKeyRow:
        """`certificate`: DER bytes, kept with their SHA-256 (one certificate per seller)."""
        fingerprint = hashlib.sha256(certificate).digest() if certificate is not None else None
        try:
            row = await self.pool.fetchrow(
                "INSERT INTO seller_keys (tax_code, kid, algorithm, public_jwk, valid_from, "
                "valid_to, certificate, certificate_sha256) "
                "VALUES ($1, $2, $3, $4::jsonb, coalesce($5, now()), $6, $7, $8) "
                f"RETURNING {_KEY_COLUMNS}",
                tax_code,
                kid,
                algorithm,
                orjson.dumps(public_jwk).decode(),
                valid_from,
                valid_to,
                certificate,
                fingerprint,
            )
        except asyncpg.ForeignKeyViolationError as error:
            raise RecordMissing("taxpayer", tax_code) from error
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == "seller_keys_by_certificate":
                raise RecordExists("seller_certificate", tax_code) from error
            raise RecordExists("seller_key", tax_code, kid) from error
        except asyncpg.CheckViolationError as error:
            raise ConstraintViolated("seller_key", error.constraint_name or "check") from error
        assert row is not None
        return _key_row(row)

    async def revoke_key(self, tax_code: str, kid: str) -> SellerKeyRow:
        row = await self.pool.fetchrow(
            "UPDATE seller_keys SET revoked_at = coalesce(revoked_at, now()) "
            "WHERE tax_code = $1 AND kid = $2 "
            f"RETURNING {_KEY_COLUMNS}",
            tax_code,
            kid,
        )
        if row is None:
            raise RecordMissing("seller_key", tax_code, kid)
        return _key_row(row)

    async def keys_of(self, tax_code: str) -> list[SellerKeyRow]:
        rows = await self.pool.fetch(
            f"SELECT {_KEY_COLUMNS} FROM seller_keys WHERE tax_code = $1", tax_code
        )
        return [_key_row(row) for row in rows]

    # -- API clients ----------------------------------------------------------------------------

    async def add_client(
        self,
        client_id: uuid.UUID,
        role: str,
        tax_code: str | None,
        secret_hash: bytes,
        rate_limit_class: str,
    ) -> ClientRow:
        try:
            row = await self.pool.fetchrow(
                "INSERT INTO api_clients (id, role, tax_code, secret_hash, rate_limit_class) "
                f"VALUES ($1, $2, $3, $4, $5) RETURNING {_CLIENT_COLUMNS}",
                client_id,
                role,
                tax_code,
                secret_hash,
                rate_limit_class,
            )
        except asyncpg.ForeignKeyViolationError as error:
            assert tax_code is not None
            raise RecordMissing("taxpayer", tax_code) from error
        assert row is not None
        return ClientRow(**row)

    async def client(self, client_id: uuid.UUID) -> ClientRow | None:
        row = await self.pool.fetchrow(
            f"SELECT {_CLIENT_COLUMNS} FROM api_clients WHERE id = $1", client_id
        )
        return ClientRow(**row) if row else None

    async def revoke_client(self, client_id: uuid.UUID) -> ClientRow:
        row = await self.pool.fetchrow(
            "UPDATE api_clients SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 "
            f"RETURNING {_CLIENT_COLUMNS}",
            client_id,
        )
        if row is None:
            raise RecordMissing("api_client", client_id)
        return ClientRow(**row)

    # -- audit ----------------------------------------------------------------------------------

    async def record_officer_read(self, client_id: uuid.UUID, kind: str, subject: str) -> None:
        await self.pool.execute(
            "INSERT INTO officer_reads (client_id, kind, subject) VALUES ($1, $2, $3)",
            client_id,
            kind,
            subject,
        )

    async def record_admin_action(
        self,
        client_id: uuid.UUID,
        action: str,
        target: str,
        status: int,
        error_code: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """One row of `admin_actions` (append-only: storage/schema/postgres/0004_audit.sql)."""
        await self.pool.execute(
            "INSERT INTO admin_actions (client_id, action, target, status, error_code, detail) "
            "VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            client_id,
            action,
            target,
            status,
            error_code,
            None if detail is None else orjson.dumps(detail).decode(),
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Registry]:
        """This registry on one connection, in a transaction: what is done through it commits
        together when the block ends, or not at all when the block raises (an admin action and
        its audit row: einvoice/registry/admin.py)."""
        async with self.pool.acquire() as connection, connection.transaction():
            # A pooled connection answers the fetch/fetchrow/execute calls the methods make.
            yield Registry(cast(asyncpg.Pool, connection))


def _key_row(row: Any) -> SellerKeyRow:
    values = dict(row)
    if isinstance(values["public_jwk"], str):
        values["public_jwk"] = orjson.loads(values["public_jwk"])
    return SellerKeyRow(**values)
